//! Governance in the simulator: twelve members and two blind caches, 2% frame loss, a
//! few members away at any time. A TRIGGER_X proposal and a REMOVE_MEMBER proposal
//! gossip with their votes; the committee (the admin's node, single key) attests both;
//! every member online at the end computes the same outcome from the same votes (members
//! who missed votes fetch the ones the evidence names); the node configured for TRIGGER_X
//! hands out its HTTP POST exactly once; the admin's node carries out REMOVE_MEMBER as a
//! new epoch, after which the removed member cannot read new messages.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

use quorate_actor_core::{ActorSecret, Identity};
use quorate_attestation_core::SingleKeyCommittee;
use quorate_attestation_core::execute::{ActionHandlerRegistry, Effect, Job, internal_handlers};
use quorate_attestation_core::verify_attestation;
use quorate_governance_core::{ActionPayload, Outcome, VoteValue};
use quorate_group_core::{Eligible, Fraction, GroupId, GroupState, Member, Rule, ops};
use quorate_mesh_proto::Duration;
use quorate_mesh_transport::sim::seed_from_env;

mod common;

use common::sim::{T0, World};

const MEMBERS: usize = 12;
const CACHES: usize = 2;
const NODES: usize = MEMBERS + CACHES;
const ADMIN: usize = 0;
const TRIGGER_NODE: usize = 5;
const REMOVED: usize = 7;

fn person(i: usize) -> Identity {
    Identity::from_secret(ActorSecret::from_bytes([u8::try_from(i + 1).unwrap(); 32]))
}

fn registry(i: usize) -> ActionHandlerRegistry {
    if i == ADMIN {
        return internal_handlers();
    }
    let mut r = ActionHandlerRegistry::new();
    if i == TRIGGER_NODE {
        r.register("TRIGGER_X", |job: &Job, _: &GroupState| {
            Ok(Effect::HttpPost {
                url: "http://127.0.0.1:9/trigger".into(),
                body: b"{}".to_vec(),
                key: job.id.to_string(),
            })
        });
    }
    r
}

/// Churn: one of the ordinary members (not the admin, not the proposers) goes away,
/// one comes back.
fn churn(w: &mut World, step: usize) {
    let away = 8 + step % 4;
    let back = 8 + (step + 3) % 4;
    if w.sim.is_online(away) {
        w.sim.take_offline(away).unwrap();
    }
    if !w.sim.is_online(back) {
        w.bring_online(back);
    }
}

#[test]
fn proposals_and_votes_under_churn_reach_one_outcome_attestation_and_execution() {
    let seed = seed_from_env(3);
    let mut w = World::new(NODES, MEMBERS, seed, 0.02, person, registry);
    w.run(Duration::from_millis(500));

    // The group: everyone a member; TRIGGER_X at 25%, REMOVE_MEMBER at 50% of members.
    let rules = vec![
        Rule::FractionalApproval {
            threshold: Fraction::new(1, 4),
            eligible: Eligible::Members,
            action_types: vec!["TRIGGER_X".into()],
        },
        Rule::FractionalApproval {
            threshold: Fraction::new(1, 2),
            eligible: Eligible::Members,
            action_types: vec!["REMOVE_MEMBER".into()],
        },
    ];
    let members = (1..MEMBERS).map(|i| Member::of(&person(i))).collect();
    let created = ops::create_group_with_rules(
        &person(ADMIN),
        "sim-gov",
        members,
        vec![],
        rules,
        T0,
        &mut w.rng,
    )
    .unwrap();
    let group: GroupId = created.id;
    let now = w.sim.now();
    w.host(ADMIN)
        .groups_mut()
        .publish(group, created.blocks().cloned(), now);
    w.run(Duration::from_secs(1));
    // The admin's node holds the group key (single-key committee) from epoch 1.
    let committee = SingleKeyCommittee::generate(person(ADMIN).id(), &mut w.rng);
    let pk = committee.group_key();
    let (now, ms) = (w.sim.now(), w.ms());
    let mut rng = w.rng.clone();
    let epoch = w
        .host(ADMIN)
        .set_committee(group, committee, now, ms, &mut rng)
        .unwrap();
    assert_eq!(epoch.epoch, 1);
    w.run(Duration::from_secs(1));

    // Two proposals, then votes one by one under churn.
    let (now, ms) = (w.sim.now(), w.ms());
    let trigger = w
        .host(3)
        .propose(
            group,
            "TRIGGER_X",
            Some(ActionPayload::Data("go".into())),
            60_000,
            now,
            ms,
        )
        .unwrap();
    let remove = w
        .host(4)
        .propose(
            group,
            "REMOVE_MEMBER",
            Some(ActionPayload::RemoveMember(person(REMOVED).id())),
            60_000,
            now,
            ms,
        )
        .unwrap();
    w.run(Duration::from_millis(500));
    for (step, voter) in [1, 2, 3, 4, 5, 6, 0].into_iter().enumerate() {
        churn(&mut w, step);
        let now = w.sim.now();
        for proposal in [trigger, remove] {
            // Held by the voter once gossip delivered it (a voter away misses this turn).
            if w.host(voter)
                .proposals(&group)
                .iter()
                .any(|(id, _)| *id == proposal)
            {
                w.host(voter)
                    .vote(group, &proposal, VoteValue::Yes, now)
                    .unwrap();
            }
        }
        w.run(Duration::from_millis(300));
    }
    // Everyone back; settle.
    for i in 8..MEMBERS {
        if !w.sim.is_online(i) {
            w.bring_online(i);
        }
    }
    // Ledger heads are asked for every 5 s: members who were away catch up by then.
    w.run(Duration::from_secs(6));

    // One attestation per proposal, verifying under PK_G, seen by every member.
    let ms = w.ms();
    for proposal in [trigger, remove] {
        let reference = w.host(ADMIN).tally(&group, &proposal, ms).unwrap();
        for i in 0..MEMBERS {
            let a = w.host(i).attestation(&group, &proposal).cloned();
            let a = a.unwrap_or_else(|| panic!("member {i} lacks the attestation of {proposal}"));
            verify_attestation(&pk, &a).unwrap();
            // The same outcome everywhere; votes cast after the attestation reach only
            // the members online then, so counts may differ above what the rule needed.
            let t = w.host(i).tally(&group, &proposal, ms).unwrap();
            assert_eq!(t.outcome, reference.outcome, "member {i}: {t:?}");
            let needed = if proposal == trigger { 3 } else { 6 };
            assert!(t.yes >= needed, "member {i} counts {} YES", t.yes);
        }
        assert_eq!(reference.outcome, Outcome::Passed { at_expiry: false });
    }
    // TRIGGER_X: exactly one HTTP POST, from the configured node, keyed by the proposal.
    assert_eq!(w.http, vec![(TRIGGER_NODE, trigger, trigger.to_string())]);
    // REMOVE_MEMBER: the admin's node made the next epoch without the member.
    for i in 0..MEMBERS {
        let state = w.host(i).groups().state(&group).unwrap();
        let current = state.current().unwrap();
        assert!(
            !current.members.contains(&person(REMOVED).id()),
            "member {i}: {}",
            current.state.epoch
        );
    }
    let now = w.sim.now();
    let mut rng = w.rng.clone();
    w.host(1)
        .groups_mut()
        .send(group, "after the vote", now, &mut rng)
        .unwrap();
    w.run(Duration::from_secs(1));
    let last = |w: &mut World, i: usize| {
        w.host(i)
            .groups()
            .messages(&group, 1)
            .unwrap()
            .last()
            .map(|m| m.text.clone())
    };
    assert_eq!(last(&mut w, 2), Some(Some("after the vote".into())));
    assert_eq!(
        last(&mut w, REMOVED),
        Some(None),
        "the removed member cannot read it"
    );
}
