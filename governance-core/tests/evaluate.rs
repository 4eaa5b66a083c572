//! The evaluator on a 50-member group: the 10% rule, the quorum rule, and every kind of
//! vote that must not count.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::cast_possible_truncation,
    reason = "test code: a panic is a failed test"
)]

mod common;

use common::{HOUR, T0, person, world};
use quorate_governance_core::{
    Outcome, Proposal, ProposalFault, Vote, VoteRejection, VoteValue, admitted, evaluate,
};
use quorate_group_core::{Silent, Tie};

const NOW: u64 = T0 + 1000;

#[test]
fn fifty_members_ten_percent_four_yes_do_not_trigger_five_do() {
    let w = world(50, Silent::Yes, Tie::Reject);
    let (block, proposal) = w.propose(7, "TRIGGER_X");
    let id = block.cid();
    let mut votes: Vec<Vote> = (10..14)
        .map(|i| w.vote(i, &block, VoteValue::Yes))
        .collect();
    let four = evaluate(&w.snapshot(), id, &proposal, &votes, NOW);
    assert_eq!(four.outcome, Outcome::Pending);
    assert_eq!((four.yes, four.eligible, four.needed), (4, 50, Some(1)));

    // What must not count, on top of the four.
    let mut forged = w.vote(20, &block, VoteValue::Yes);
    forged.signature[0] ^= 1;
    let outsider = Vote::cast(&person(99), w.group, *id, 0, VoteValue::Yes);
    let (other_block, _) = w.propose(8, "TRIGGER_X");
    let mut replayed_proposal = w.vote(21, &other_block, VoteValue::Yes);
    replayed_proposal.proposal = *id; // a vote for another proposal, relabelled
    let mut replayed_epoch = w.vote(22, &block, VoteValue::Yes);
    replayed_epoch.epoch = 1; // relabelled epoch: its signature covers epoch 0
    let other_epoch = Vote::cast(&w.people[23], w.group, *id, 1, VoteValue::Yes); // genuine, wrong epoch
    let duplicate = votes[0].clone();
    let bad = [
        forged,
        outsider,
        replayed_proposal,
        replayed_epoch,
        other_epoch,
        duplicate,
    ];
    votes.extend(bad.iter().cloned());
    let still_four = evaluate(&w.snapshot(), id, &proposal, &votes, NOW);
    assert_eq!(still_four.outcome, Outcome::Pending, "{still_four:?}");
    assert_eq!(still_four.yes, 4);
    assert_eq!(
        still_four.rejected.get(&VoteRejection::BadSignature),
        Some(&2),
        "forged and relabelled proposal"
    );
    assert_eq!(
        still_four.rejected.get(&VoteRejection::NotEligible),
        Some(&1),
        "the outsider"
    );
    assert_eq!(
        still_four.rejected.get(&VoteRejection::WrongEpoch),
        Some(&2),
        "both epoch replays"
    );

    // The fifth genuine YES triggers.
    votes.push(w.vote(14, &block, VoteValue::Yes));
    let five = evaluate(&w.snapshot(), id, &proposal, &votes, NOW);
    assert_eq!(five.outcome, Outcome::Passed { at_expiry: false });
    assert_eq!(five.yes, 5);

    // Expired: the same five votes after the proposal closed do not trigger.
    let late = evaluate(&w.snapshot(), id, &proposal, &votes, T0 + HOUR);
    assert_eq!(late.outcome, Outcome::Expired);
}

#[test]
fn an_equivocating_voter_counts_for_neither_side_and_is_reported() {
    let w = world(50, Silent::Yes, Tie::Reject);
    let (block, proposal) = w.propose(1, "TRIGGER_X");
    let mut votes: Vec<Vote> = (10..15)
        .map(|i| w.vote(i, &block, VoteValue::Yes))
        .collect();
    votes.push(w.vote(14, &block, VoteValue::No));
    let result = evaluate(&w.snapshot(), block.cid(), &proposal, &votes, NOW);
    assert_eq!(result.outcome, Outcome::Pending);
    assert_eq!((result.yes, result.no), (4, 0));
    assert_eq!(result.equivocations.len(), 1);
    let evidence = &result.equivocations[0];
    assert_eq!(evidence.voter, w.people[14].id());
    assert_eq!(
        (evidence.yes.value, evidence.no.value),
        (VoteValue::Yes, VoteValue::No)
    );
}

#[test]
fn fractional_approval_is_rejected_once_it_cannot_be_reached() {
    let w = world(50, Silent::Yes, Tie::Reject);
    let (block, proposal) = w.propose(1, "TRIGGER_X");
    let no: Vec<Vote> = (0..45).map(|i| w.vote(i, &block, VoteValue::No)).collect();
    let still = evaluate(&w.snapshot(), block.cid(), &proposal, &no, NOW);
    assert_eq!(still.outcome, Outcome::Pending, "5 could still say YES");
    let more: Vec<Vote> = (0..46).map(|i| w.vote(i, &block, VoteValue::No)).collect();
    let out = evaluate(&w.snapshot(), block.cid(), &proposal, &more, NOW);
    assert_eq!(out.outcome, Outcome::Rejected);
}

#[test]
fn proposals_from_outsiders_wrong_epochs_and_unknown_actions_are_faults() {
    let w = world(10, Silent::Yes, Tie::Reject);
    let outsider = person(77);
    let proposal = Proposal {
        created_by: outsider.id(),
        ..w.propose(1, "TRIGGER_X").1
    };
    let block = proposal.sign(&outsider).unwrap();
    let r = evaluate(&w.snapshot(), block.cid(), &proposal, [], NOW);
    assert_eq!(
        r.outcome,
        Outcome::Invalid(ProposalFault::NotAMember(outsider.id()))
    );

    let (block, mut proposal) = w.propose(1, "TRIGGER_X");
    proposal.epoch = 3;
    let r = evaluate(&w.snapshot(), block.cid(), &proposal, [], NOW);
    assert_eq!(r.outcome, Outcome::Invalid(ProposalFault::WrongEpoch));

    let (block, proposal) = w.propose(1, "LAUNCH_ROCKET");
    let r = evaluate(&w.snapshot(), block.cid(), &proposal, [], NOW);
    assert_eq!(
        r.outcome,
        Outcome::Invalid(ProposalFault::NoRule("LAUNCH_ROCKET".into()))
    );

    // A proposal block signed by someone else than its proposer does not decode.
    let forged = Proposal {
        created_by: w.people[2].id(),
        ..proposal.clone()
    };
    assert!(forged.sign(&w.people[1]).is_err());
}

#[test]
fn quorum_needs_two_thirds_and_a_majority_silent_voters_count_at_expiry() {
    // n = 9: quorum 6 voters; a strict majority is 5.
    let w = world(9, Silent::Yes, Tie::Reject);
    let (block, proposal) = w.propose(1, "REMOVE_MEMBER");
    let id = block.cid();
    let yes = |r: std::ops::Range<usize>| r.map(|i| w.vote(i, &block, VoteValue::Yes));
    let no = |r: std::ops::Range<usize>| r.map(|i| w.vote(i, &block, VoteValue::No));
    // 5 YES from 5 voters: a majority of n, but no quorum yet.
    let v: Vec<Vote> = yes(0..5).collect();
    assert_eq!(
        evaluate(&w.snapshot(), id, &proposal, &v, NOW).outcome,
        Outcome::Pending
    );
    // 5 YES + 1 NO: quorum, majority: passes before expiry.
    let v: Vec<Vote> = yes(0..5).chain(no(5..6)).collect();
    assert_eq!(
        evaluate(&w.snapshot(), id, &proposal, &v, NOW).outcome,
        Outcome::Passed { at_expiry: false }
    );
    // 3 YES + 3 NO: quorum but undecided; at expiry the 3 silent count as YES → passes.
    let v: Vec<Vote> = yes(0..3).chain(no(3..6)).collect();
    assert_eq!(
        evaluate(&w.snapshot(), id, &proposal, &v, NOW).outcome,
        Outcome::Pending
    );
    assert_eq!(
        evaluate(&w.snapshot(), id, &proposal, &v, T0 + HOUR).outcome,
        Outcome::Passed { at_expiry: true }
    );
    // Silent as NO: the same votes are rejected at expiry.
    let strict = world(9, Silent::No, Tie::Reject);
    let (b2, p2) = strict.propose(1, "REMOVE_MEMBER");
    let v2: Vec<Vote> = (0..3)
        .map(|i| strict.vote(i, &b2, VoteValue::Yes))
        .chain((3..6).map(|i| strict.vote(i, &b2, VoteValue::No)))
        .collect();
    assert_eq!(
        evaluate(&strict.snapshot(), b2.cid(), &p2, &v2, T0 + HOUR).outcome,
        Outcome::Rejected
    );
    // Only 5 voters at expiry: no quorum, expired.
    let v: Vec<Vote> = yes(0..2).chain(no(2..5)).collect();
    assert_eq!(
        evaluate(&w.snapshot(), id, &proposal, &v, T0 + HOUR).outcome,
        Outcome::Expired
    );
    // After the decision window nothing is decided any more.
    let v: Vec<Vote> = yes(0..3).chain(no(3..6)).collect();
    let after = T0 + HOUR + quorate_governance_core::DECISION_WINDOW_MS + 1;
    assert_eq!(
        evaluate(&w.snapshot(), id, &proposal, &v, after).outcome,
        Outcome::Expired
    );
}

#[test]
fn quorum_ties_follow_the_tie_policy_and_two_members_need_unanimity() {
    // n = 6, silent as NO: 3 YES + 1 NO (quorum 4) → at expiry 3 vs 3.
    for (tie, expected) in [
        (Tie::Reject, Outcome::Rejected),
        (Tie::Retry, Outcome::Tied),
    ] {
        let w = world(6, Silent::No, tie);
        let (block, proposal) = w.propose(1, "REMOVE_MEMBER");
        let v: Vec<Vote> = (0..3)
            .map(|i| w.vote(i, &block, VoteValue::Yes))
            .chain([w.vote(3, &block, VoteValue::No)])
            .collect();
        assert_eq!(
            evaluate(&w.snapshot(), block.cid(), &proposal, &v, T0 + HOUR).outcome,
            expected
        );
    }
    let w = world(2, Silent::Yes, Tie::Reject);
    let (block, proposal) = w.propose(0, "REMOVE_MEMBER");
    let one = [w.vote(0, &block, VoteValue::Yes)];
    assert_eq!(
        evaluate(&w.snapshot(), block.cid(), &proposal, &one, NOW).outcome,
        Outcome::Pending
    );
    let both = [
        w.vote(0, &block, VoteValue::Yes),
        w.vote(1, &block, VoteValue::Yes),
    ];
    assert_eq!(
        evaluate(&w.snapshot(), block.cid(), &proposal, &both, NOW).outcome,
        Outcome::Passed { at_expiry: false }
    );
    let split = [
        w.vote(0, &block, VoteValue::Yes),
        w.vote(1, &block, VoteValue::No),
    ];
    assert_eq!(
        evaluate(&w.snapshot(), block.cid(), &proposal, &split, NOW).outcome,
        Outcome::Rejected
    );
}

#[test]
fn admin_only_rules_count_only_admin_votes() {
    let w = world(10, Silent::Yes, Tie::Reject);
    let (block, proposal) = w.propose(4, "CHANGE_POLICY");
    // Only the creator is an admin: n = 1; a member's YES is not eligible.
    let member = [w.vote(4, &block, VoteValue::Yes)];
    let r = evaluate(&w.snapshot(), block.cid(), &proposal, &member, NOW);
    assert_eq!((r.outcome.clone(), r.eligible), (Outcome::Pending, 1));
    assert_eq!(r.rejected.get(&VoteRejection::NotEligible), Some(&1));
    let admin = [w.vote(0, &block, VoteValue::Yes)];
    let r = evaluate(&w.snapshot(), block.cid(), &proposal, &admin, NOW);
    assert_eq!(r.outcome, Outcome::Passed { at_expiry: false });
}

#[test]
fn the_rate_limit_keeps_the_earliest_proposals_per_member_and_epoch() {
    let w = world(4, Silent::Yes, Tie::Reject);
    let mut all = Vec::new();
    for i in 0..5u64 {
        let p = Proposal {
            created_at: T0 + 10 - i,
            ..w.propose(1, "TRIGGER_X").1
        };
        all.push((*p.sign(&w.people[1]).unwrap().cid(), p));
    }
    let other = w.propose(2, "TRIGGER_X");
    all.push((*other.0.cid(), other.1));
    let kept = admitted(all.iter().map(|(c, p)| (c, p)), 2);
    assert_eq!(kept.len(), 3, "two of person 1's, person 2's one");
    assert!(
        kept.contains(&all[4].0) && kept.contains(&all[3].0),
        "the two earliest"
    );
    let reversed = admitted(all.iter().rev().map(|(c, p)| (c, p)), 2);
    assert_eq!(kept, reversed);
}
