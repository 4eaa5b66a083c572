//! Every governance and attestation decoder, and the evaluator, on untrusted bytes.
//!
//! The input, as one block (DAG-CBOR or raw, by its first byte), goes through
//! `Proposal::decode`, `Vote::decode` (then `Vote::verify` with a member's key),
//! `ActionPayload::decode`, `GroupAttestation::decode` (then `verify_attestation` with a
//! fixed group key) and `Committee::decode`: each must return a typed error or a value
//! that re-encodes to the same block where the type has an encoder.
//!
//! Then the evaluator: the input also selects, from a pool of genuine and invalid votes on
//! a genuine proposal of a five-member group, a bag (with repeats), plus any vote the input
//! decoded to; evaluated at a time the input picks, in the given order and reversed, the
//! results must be equal, and the counts must be consistent with the outcome. The same
//! blocks go into a `Ballots` in both orders: the same verified votes and tally.

#![no_main]
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "fuzz target: a panic is a found bug"
)]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use quorate_actor_core::{ActorSecret, Identity};
use quorate_attestation_core::{Committee, GroupAttestation, verify_attestation};
use quorate_governance_core::{
    ActionPayload, BallotLimits, Ballots, Outcome, Proposal, Snapshot, Vote, VoteValue, evaluate,
};
use quorate_group_core::{Eligible, Fraction, GroupState, Member, Rule, StateConfig, ops};
use quorate_mesh_proto::{Block, Cid, Codec};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

const T0: u64 = 1_700_000_000_000;

struct Fixture {
    people: Vec<Identity>,
    state: GroupState,
    proposal: Proposal,
    block: Block,
    pool: Vec<Vote>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let people: Vec<Identity> = (1..=6u8)
            .map(|i| Identity::from_secret(ActorSecret::from_bytes([i; 32])))
            .collect();
        let rules = vec![Rule::FractionalApproval {
            threshold: Fraction::new(2, 5),
            eligible: Eligible::Members,
            action_types: vec!["TRIGGER_X".into()],
        }];
        let members = people[1..5].iter().map(Member::of).collect();
        let g = ops::create_group_with_rules(&people[0], "fuzz", members, vec![], rules, T0, &mut rng)
            .expect("group");
        let mut state = GroupState::new(g.id, None, StateConfig::default());
        g.blocks().for_each(|b| state.insert(b.clone()));
        let epoch = state.current().expect("epoch");
        let proposal = Proposal {
            group: g.id,
            epoch: 0,
            epoch_state: epoch.cid,
            action_type: "TRIGGER_X".into(),
            action_payload: None,
            created_by: people[1].id(),
            created_at: T0,
            expires_at: T0 + 60_000,
        };
        let block = proposal.sign(&people[1]).expect("sign");
        let mut pool = Vec::new();
        for (i, p) in people.iter().enumerate() {
            for value in [VoteValue::Yes, VoteValue::No] {
                pool.push(Vote::cast(p, g.id, *block.cid(), 0, value));
                pool.push(Vote::cast(p, g.id, *block.cid(), u64::try_from(i).expect("small"), value));
            }
        }
        let mut forged = pool[0].clone();
        forged.signature[1] ^= 4;
        pool.push(forged);
        Fixture { people, state, proposal, block, pool }
    })
}

fn roundtrip(block: &Block, again: Result<Block, impl std::fmt::Debug>) {
    let again = again.expect("a decoded value re-encodes");
    assert_eq!(again.bytes(), block.bytes(), "re-encoding changed the bytes");
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let (&first, rest) = data.split_first().unwrap_or((&0, &[]));
    let codec = if first & 1 == 0 { Codec::DagCbor } else { Codec::Raw };
    let Ok(block) = Block::from_untrusted(&Cid::of(codec, rest), rest.to_vec()) else {
        return;
    };
    let group = f.state.group();
    if let Ok(p) = Proposal::decode(&block) {
        assert!(p.expires_at > p.created_at);
    }
    let mut decoded_vote = None;
    if let Ok(v) = Vote::decode(&block) {
        roundtrip(&block, v.to_block());
        let key = f.people[usize::from(first >> 1) % f.people.len()].signing_key().verifying_key();
        let _ = v.verify(&key);
        decoded_vote = Some(v);
    }
    if let Ok(a) = ActionPayload::decode(&block) {
        roundtrip(&block, a.to_block());
    }
    if let Ok(a) = GroupAttestation::decode(&block) {
        roundtrip(&block, a.to_block());
        let key = f.people[0].signing_key().verifying_key().to_bytes();
        let _ = verify_attestation(&key, &a);
    }
    if let Ok(c) = Committee::decode(&block, &group) {
        roundtrip(&block, c.to_block());
    }

    // The evaluator on a bag of votes the input picks.
    let mut bag: Vec<&Vote> = rest.iter().take(64).map(|b| &f.pool[usize::from(*b) % f.pool.len()]).collect();
    if let Some(v) = &decoded_vote {
        bag.push(v);
    }
    let now = T0 + u64::from(first) * 500;
    let epoch = f.state.current().expect("epoch");
    let genesis = f.state.genesis().expect("genesis").1;
    let snapshot = Snapshot::of(epoch, genesis);
    let forward = evaluate(&snapshot, f.block.cid(), &f.proposal, bag.iter().copied(), now);
    let backward = evaluate(&snapshot, f.block.cid(), &f.proposal, bag.iter().rev().copied(), now);
    assert_eq!(forward, backward, "order changed the evaluation");
    assert!(forward.yes + forward.no <= forward.eligible, "{forward:?}");
    if forward.outcome == (Outcome::Passed { at_expiry: false }) {
        assert!(forward.yes * 5 >= forward.eligible * 2, "passed under the threshold: {forward:?}");
    }

    // The ballot box: the same blocks (the fuzzed one among them) in both orders hold the
    // same verified votes and tally the same.
    let mut blocks: Vec<Block> = vec![f.block.clone(), block.clone()];
    blocks.extend(bag.iter().filter_map(|v| v.to_block().ok()));
    let fill = |order: &mut dyn Iterator<Item = &Block>| {
        let mut b = Ballots::new(group, BallotLimits::default());
        for blk in order {
            let _ = b.insert(blk, &f.state);
        }
        (b.vote_cids(f.block.cid()), b.tally(f.block.cid(), &f.state, now))
    };
    let a = fill(&mut blocks.iter());
    let b = fill(&mut blocks.iter().rev());
    assert_eq!(a, b, "the ballot box depends on the order");
});
