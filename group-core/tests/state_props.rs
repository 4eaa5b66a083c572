//! Order independence and idempotence of the group reducer: any permutation of a group's
//! blocks, with duplicates, gives the same membership, epoch, keys and message order.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

mod common;

use std::collections::BTreeSet;
use std::sync::OnceLock;

use common::*;
use proptest::prelude::*;
use quorate_group_core::ops::{self, EpochChange};
use quorate_group_core::{CoAdminCert, GroupId, GroupMessage, GroupState, Member, Permission};
use quorate_mesh_proto::{Block, Cid, Envelope};

struct Scenario {
    group: GroupId,
    blocks: Vec<Block>,
}

/// Three epochs (a co-admin grant, then two concurrent changes by two admins: a fork),
/// members added and removed, messages in every epoch from several authors, and junk
/// (a forged message, a tampered one).
fn scenario() -> &'static Scenario {
    static S: OnceLock<Scenario> = OnceLock::new();
    S.get_or_init(|| {
        let mut r = rng(42);
        let g = group_of(4, &mut r);
        let mut blocks: Vec<Block> = g.blocks().cloned().collect();
        for (who, text) in [(2, "a"), (3, "b"), (1, "c")] {
            let m = post(&person(who), &blocks, g.id, text, &mut r);
            blocks.push(m);
        }
        let grant = EpochChange {
            add: vec![Member::of(&person(5))],
            co_admins: Some(vec![
                CoAdminCert::grant(
                    &person(1),
                    g.id,
                    &person(2).verifying_key(),
                    Permission::MembersOnly,
                )
                .unwrap(),
            ]),
            ..EpochChange::default()
        };
        let e1 = next(&person(1), &blocks, g.id, &grant, &mut r);
        blocks.extend(e1.blocks().cloned());
        for (who, text) in [(5, "d"), (2, "e")] {
            let m = post(&person(who), &blocks, g.id, text, &mut r);
            blocks.push(m);
        }
        let fork_a = next(
            &person(1),
            &blocks,
            g.id,
            &EpochChange {
                remove: vec![person(3).id()],
                ..EpochChange::default()
            },
            &mut r,
        );
        let fork_b = next(
            &person(2),
            &blocks,
            g.id,
            &EpochChange {
                add: vec![Member::of(&person(6))],
                ..EpochChange::default()
            },
            &mut r,
        );
        let mut with_a = blocks.clone();
        with_a.extend(fork_a.blocks().cloned());
        let mut with_b = blocks.clone();
        with_b.extend(fork_b.blocks().cloned());
        let on_a = post(&person(4), &with_a, g.id, "f", &mut r);
        let on_b = post(&person(6), &with_b, g.id, "g", &mut r);
        blocks.extend(fork_a.blocks().cloned());
        blocks.extend(fork_b.blocks().cloned());
        blocks.push(on_a.clone());
        blocks.push(on_b);
        // Requests: 7 invited and joining (not yet admitted), 4 asking to leave.
        let (view, _) = state_of(g.id, Some(&person(1)), &blocks);
        let invite = ops::invite(&person(1), &view, person(7).id(), T0 + 60_000).unwrap();
        let join = ops::accept(&person(7), g.id, *invite.cid(), T0).unwrap();
        let leave = ops::leave(&person(4), &view, T0).unwrap();
        blocks.extend([invite, join, leave]);
        let mut forged = on_a.decode::<GroupMessage>().unwrap().payload;
        forged.lamport += 1;
        blocks.push(Envelope::unsigned(forged).to_block().unwrap());
        Scenario {
            group: g.id,
            blocks,
        }
    })
}

#[derive(Debug, PartialEq, Eq)]
struct Digest {
    current: Option<Cid>,
    members: Vec<quorate_actor_core::ActorId>,
    epochs: BTreeSet<Cid>,
    keys: BTreeSet<Cid>,
    messages: Vec<(Cid, Option<Vec<u8>>)>,
    rejected: BTreeSet<Cid>,
    frontier: BTreeSet<Cid>,
    joins: Vec<Cid>,
    leaves: Vec<quorate_actor_core::ActorId>,
}

fn digest(state: &GroupState) -> Digest {
    Digest {
        current: state.current().map(|e| e.cid),
        members: state
            .current()
            .map(|e| e.members.members.iter().map(|m| m.actor).collect())
            .unwrap_or_default(),
        epochs: state.epochs().map(|e| e.cid).collect(),
        keys: state.keys().copied().collect(),
        messages: state
            .messages()
            .map(|m| (m.cid, m.plaintext.clone()))
            .collect(),
        rejected: state.rejected().keys().copied().collect(),
        frontier: state.frontier().clone(),
        joins: state.pending_joins().iter().map(|p| p.cid).collect(),
        leaves: state.pending_leaves(),
    }
}

fn run(me: u8, order: &[usize]) -> Digest {
    let s = scenario();
    let me = (me != 0).then(|| person(me));
    let (state, _) = state_of(
        s.group,
        me.as_ref(),
        order.iter().filter_map(|i| s.blocks.get(*i)),
    );
    digest(&state)
}

fn reference(me: u8) -> &'static Digest {
    static R: OnceLock<Vec<Digest>> = OnceLock::new();
    let all = R.get_or_init(|| {
        let n = scenario().blocks.len();
        (0..=6)
            .map(|me| run(me, &(0..n).collect::<Vec<_>>()))
            .collect()
    });
    all.get(usize::from(me)).unwrap()
}

#[test]
fn the_scenario_exercises_what_it_claims() {
    let d = reference(4);
    assert_eq!(
        d.epochs.len(),
        4,
        "genesis epoch, epoch 1, two forks of epoch 2"
    );
    assert_eq!(d.messages.len(), 7);
    assert_eq!(d.rejected.len(), 1);
    assert_eq!(d.joins.len(), 1);
    // 4 is still a member on the winning fork only if fork B won; either way the
    // request is pending exactly when 4 is in the current epoch.
    assert_eq!(
        d.leaves.len(),
        usize::from(d.members.contains(&person(4).id()))
    );
    // Person 3 was removed on fork A only; whichever fork wins decides what 3 reads.
    let three = reference(3);
    assert!(three.messages.iter().any(|(_, p)| p.is_none()));
    assert!(reference(0).messages.iter().all(|(_, p)| p.is_none()));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, ..ProptestConfig::default() })]

    /// Any order, any duplicates: the same state, for every viewer (members, the removed
    /// member, the newcomers, a blind cache).
    #[test]
    fn any_order_with_duplicates_gives_the_same_state(
        me in 0u8..=6,
        order in Just(()).prop_flat_map(|()| {
            let n = scenario().blocks.len();
            (Just((0..n).collect::<Vec<_>>()).prop_shuffle(), proptest::collection::vec(0..n, 0..8))
        }),
    ) {
        let (mut order, dups) = order;
        for (k, d) in dups.into_iter().enumerate() {
            let at = (k * 7) % (order.len() + 1);
            order.insert(at, d);
        }
        prop_assert_eq!(&run(me, &order), reference(me));
    }
}
