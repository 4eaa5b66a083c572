//! `Ballots`: the same blocks in any order give the same verified votes and tally; a
//! forged vote never displaces a genuine one; votes that arrive before their proposal
//! wait and count once it arrives.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

mod common;

use common::{T0, world};
use quorate_governance_core::{ActionPayload, BallotLimits, Ballots, Outcome, Taken, VoteValue};
use quorate_group_core::{Silent, Tie};
use quorate_mesh_proto::Block;

#[test]
fn any_order_gives_the_same_ballots_and_forgeries_never_win() {
    let w = world(20, Silent::Yes, Tie::Reject);
    let (proposal, _) = w.propose(3, "TRIGGER_X");
    let payload = ActionPayload::Data("go".into()).to_block().unwrap();
    let mut blocks: Vec<Block> = vec![proposal.clone(), payload];
    for i in 0..3 {
        blocks.push(w.vote(i, &proposal, VoteValue::Yes).to_block().unwrap());
        // A forgery claiming the same (voter, value): some of these sort before the genuine one.
        for k in 0..4u8 {
            let mut forged = w.vote(i, &proposal, VoteValue::Yes);
            forged.signature[k as usize] ^= 0x80;
            blocks.push(forged.to_block().unwrap());
        }
    }
    let junk = Block::raw(b"junk".to_vec()).unwrap();
    blocks.push(junk);
    let orders: Vec<Vec<Block>> = vec![
        blocks.clone(),
        blocks.iter().rev().cloned().collect(),
        blocks[5..].iter().chain(&blocks[..5]).cloned().collect(),
    ];
    let mut results = Vec::new();
    for order in orders {
        let mut b = Ballots::new(w.group, BallotLimits::default());
        for block in order.iter().chain(order.iter()) {
            b.insert(block, &w.state);
        }
        let tally = b.tally(proposal.cid(), &w.state, T0 + 1).unwrap();
        results.push((b.vote_cids(proposal.cid()), tally));
    }
    assert!(results.windows(2).all(|r| r[0] == r[1]), "{results:?}");
    let (cids, tally) = &results[0];
    assert_eq!(cids.len(), 3, "the three genuine votes, no forgery");
    assert_eq!(
        (tally.yes, tally.outcome.clone()),
        (3, Outcome::Passed { at_expiry: false })
    );
}

#[test]
fn votes_before_their_proposal_wait_then_count() {
    let w = world(10, Silent::Yes, Tie::Reject);
    let (proposal, _) = w.propose(1, "TRIGGER_X");
    let mut b = Ballots::new(w.group, BallotLimits::default());
    let vote = w.vote(4, &proposal, VoteValue::Yes).to_block().unwrap();
    assert_eq!(b.insert(&vote, &w.state), Taken::Waiting);
    assert!(b.has_vote(vote.cid()));
    assert_eq!(
        b.insert(&proposal, &w.state),
        Taken::Proposal(*proposal.cid())
    );
    assert_eq!(b.vote_cids(proposal.cid()), vec![*vote.cid()]);
    assert_eq!(b.insert(&vote, &w.state), Taken::Duplicate);
    // Another group's vote is refused.
    let other = world(3, Silent::Yes, Tie::Reject);
    let (op, _) = other.propose(0, "TRIGGER_X");
    let foreign = other.vote(0, &op, VoteValue::Yes).to_block().unwrap();
    assert!(matches!(b.insert(&foreign, &w.state), Taken::Rejected(_)));
}

#[test]
fn proposals_over_the_per_member_limit_do_not_count() {
    use quorate_governance_core::{PROPOSALS_PER_MEMBER, Proposal, ProposalFault};
    let w = world(5, Silent::Yes, Tie::Reject);
    let mut b = Ballots::new(w.group, BallotLimits::default());
    let mut blocks = Vec::new();
    for i in 0..=PROPOSALS_PER_MEMBER as u64 {
        let p = Proposal {
            created_at: T0 + i,
            ..w.propose(2, "TRIGGER_X").1
        };
        let block = p.sign(&w.people[2]).unwrap();
        b.insert(&block, &w.state);
        blocks.push(block);
    }
    let last = blocks.last().unwrap().cid();
    let first = blocks[0].cid();
    let over = b.tally(last, &w.state, T0 + 100).unwrap();
    assert_eq!(over.outcome, Outcome::Invalid(ProposalFault::RateLimited));
    assert!(!matches!(
        b.tally(first, &w.state, T0 + 100).unwrap().outcome,
        Outcome::Invalid(_)
    ));
}
