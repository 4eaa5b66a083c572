//! Evaluation is a function of the *set* of votes: any order and any duplication of the
//! same votes gives the same evaluation — outcome, counts, rejections and equivocation
//! evidence — at any time before, at or after expiry. 10,000 cases.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::cast_possible_truncation,
    reason = "test code: a panic is a failed test; a shuffle index fits usize"
)]

mod common;

use std::sync::OnceLock;

use common::{HOUR, T0, World, person, world};
use proptest::prelude::*;
use quorate_governance_core::{DECISION_WINDOW_MS, Proposal, Vote, VoteValue, evaluate};
use quorate_group_core::{Silent, Tie};
use quorate_mesh_proto::Block;

/// A world, a proposal, and a pool of votes of every kind for it.
struct Case {
    world: World,
    block: Block,
    proposal: Proposal,
    pool: Vec<Vote>,
}

fn case(n: usize, action: &str) -> Case {
    let world = world(n, Silent::Yes, Tie::Retry);
    let (block, proposal) = world.propose(0, action);
    let mut pool = Vec::new();
    for i in 0..n {
        let value = if i % 3 == 0 {
            VoteValue::No
        } else {
            VoteValue::Yes
        };
        pool.push(world.vote(i, &block, value));
    }
    // Equivocations, forgeries, outsiders, replays.
    for i in [1 % n, 2 % n] {
        let flipped = if i % 3 == 0 {
            VoteValue::Yes
        } else {
            VoteValue::No
        };
        pool.push(world.vote(i, &block, flipped));
    }
    let mut forged = world.vote(n - 1, &block, VoteValue::Yes);
    forged.signature[5] ^= 0x40;
    pool.push(forged);
    pool.push(Vote::cast(
        &person(500),
        world.group,
        *block.cid(),
        0,
        VoteValue::Yes,
    ));
    pool.push(Vote::cast(
        &world.people[0],
        world.group,
        *block.cid(),
        1,
        VoteValue::Yes,
    ));
    let (other, _) = world.propose(1, action);
    pool.push(world.vote(0, &other, VoteValue::Yes));
    Case {
        world,
        block,
        proposal,
        pool,
    }
}

fn cases() -> &'static [Case] {
    static CASES: OnceLock<Vec<Case>> = OnceLock::new();
    CASES.get_or_init(|| {
        vec![
            case(2, "REMOVE_MEMBER"),
            case(9, "REMOVE_MEMBER"),
            case(20, "TRIGGER_X"),
            case(30, "REMOVE_MEMBER"),
        ]
    })
}

/// Times around the edges: open, just before expiry, at expiry, in and after the window.
const TIMES: [u64; 5] = [
    T0 + 1,
    T0 + HOUR - 1,
    T0 + HOUR,
    T0 + HOUR + DECISION_WINDOW_MS,
    T0 + HOUR + DECISION_WINDOW_MS + 1,
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, ..ProptestConfig::default() })]

    #[test]
    fn any_order_and_duplication_of_the_same_votes_evaluates_the_same(
        which in 0..4usize,
        picks in proptest::collection::vec((any::<prop::sample::Index>(), 1..3usize), 0..24),
        order in any::<u64>(),
        time in 0..5usize,
    ) {
        let c = &cases()[which];
        let snapshot = c.world.snapshot();
        let now = TIMES[time];
        // The set: the picked votes once each, in pool order.
        let mut chosen: Vec<usize> = picks.iter().map(|(i, _)| i.index(c.pool.len())).collect();
        chosen.sort_unstable();
        chosen.dedup();
        let set: Vec<&Vote> = chosen.iter().map(|&i| &c.pool[i]).collect();
        let reference = evaluate(&snapshot, c.block.cid(), &c.proposal, set.iter().copied(), now);
        // The bag: each picked vote `copies` times, shuffled by `order`.
        let mut bag: Vec<&Vote> = picks
            .iter()
            .flat_map(|(i, copies)| std::iter::repeat_n(&c.pool[i.index(c.pool.len())], *copies))
            .collect();
        let mut state = order | 1;
        for k in (1..bag.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            bag.swap(k, (state % (k as u64 + 1)) as usize);
        }
        let shuffled = evaluate(&snapshot, c.block.cid(), &c.proposal, bag.iter().copied(), now);
        prop_assert_eq!(shuffled, reference);
    }
}
