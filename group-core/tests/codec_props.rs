//! Property tests for the group codecs: every block type of a real group round-trips;
//! a flipped byte or random bytes give a typed error (or, for a still-canonical mutation,
//! never a *different* accepted value of a signed object) and never a panic.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

mod common;

use std::sync::OnceLock;

use common::*;
use proptest::prelude::*;
use quorate_group_core::ops::{self, EpochChange};
use quorate_group_core::{
    GroupEpochState, GroupGenesis, GroupId, GroupInvite, GroupMessage, JoinRequest, KeyIndex,
    KeyPage, LeaveRequest, Member, MemberSet, Policy,
};
use quorate_mesh_proto::{Block, BlockPayload, Cid, Codec};

/// A small group's blocks: every block type at least once.
fn blocks() -> &'static (GroupId, Vec<Block>) {
    static B: OnceLock<(GroupId, Vec<Block>)> = OnceLock::new();
    B.get_or_init(|| {
        let mut r = rng(9);
        let g = group_of(3, &mut r);
        let mut blocks: Vec<Block> = g.blocks().cloned().collect();
        blocks.push(post(&person(2), &blocks, g.id, "hello", &mut r));
        let (view, _) = state_of(g.id, Some(&person(1)), &blocks);
        let invite = ops::invite(&person(1), &view, person(4).id(), T0 + 1).unwrap();
        blocks.push(ops::accept(&person(4), g.id, *invite.cid(), T0).unwrap());
        blocks.push(invite);
        blocks.push(ops::leave(&person(3), &view, T0).unwrap());
        let change = EpochChange {
            add: vec![Member::of(&person(5))],
            ..EpochChange::default()
        };
        blocks.extend(
            next(&person(1), &blocks, g.id, &change, &mut r)
                .blocks()
                .cloned(),
        );
        (g.id, blocks)
    })
}

/// The group's state as a blind cache sees it (all its blocks).
fn reference() -> &'static quorate_group_core::GroupState {
    static S: OnceLock<quorate_group_core::GroupState> = OnceLock::new();
    S.get_or_init(|| {
        let (group, blocks) = blocks();
        state_of(*group, None, blocks).0
    })
}

/// Decodes `block` with every group decoder; returns which type accepted it, if any.
/// Signed types must verify; decoding must re-encode to the same bytes.
fn decode_all(group: &GroupId, block: &Block) -> Vec<&'static str> {
    fn canonical<T: BlockPayload + Clone>(block: &Block) -> bool {
        block
            .decode::<T>()
            .is_ok_and(|e| e.to_block().is_ok_and(|b| b == *block))
    }
    let mut ok = Vec::new();
    if GroupGenesis::verify(block).is_ok() {
        ok.push("genesis");
    }
    if MemberSet::verify(block, group).is_ok() && canonical::<MemberSet>(block) {
        ok.push("members");
    }
    if Policy::verify(block, group, &person(1).id()).is_ok() && canonical::<Policy>(block) {
        ok.push("policy");
    }
    if let Ok(index) = block.decode::<KeyIndex>()
        && KeyIndex::verify(block, group, index.payload.epoch).is_ok()
    {
        ok.push("key index");
    }
    if block.decode::<KeyPage>().is_ok() && canonical::<KeyPage>(block) {
        ok.push("key page");
    }
    if GroupEpochState::decode(block).is_ok() {
        ok.push("epoch");
    }
    // A message is valid only against its epoch's member set (signature, aad).
    if let Ok(msg) = GroupMessage::decode(block, group) {
        let reference = reference();
        let authentic = reference
            .epoch(&msg.epoch_state)
            .is_some_and(|e| msg.authenticate(e.state.epoch, &e.members).is_ok());
        if authentic {
            ok.push("message");
        }
    }
    if GroupInvite::decode(block, group).is_ok() {
        ok.push("invite");
    }
    if JoinRequest::decode(block, group).is_ok() {
        ok.push("join");
    }
    if LeaveRequest::decode(block, group).is_ok() {
        ok.push("leave");
    }
    ok
}

#[test]
fn every_block_of_a_real_group_decodes_as_exactly_its_type() {
    let (group, blocks) = blocks();
    let mut seen = std::collections::BTreeSet::new();
    for b in blocks {
        let kinds = decode_all(group, b);
        assert_eq!(kinds.len(), 1, "{} decodes as {kinds:?}", b.cid());
        seen.insert(kinds[0]);
    }
    assert_eq!(seen.len(), 10, "{seen:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    /// One flipped byte: the old CID no longer matches, and as a new block it is either
    /// rejected by every decoder or (signed objects) still says exactly what was signed.
    #[test]
    fn a_flipped_byte_is_rejected_or_changes_nothing_signed(
        which in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        mask in 1u8..=255,
    ) {
        let (group, blocks) = blocks();
        let block = &blocks[which.index(blocks.len())];
        let mut bytes = block.bytes().to_vec();
        let i = at.index(bytes.len());
        bytes[i] ^= mask;
        prop_assert!(Block::from_untrusted(block.cid(), bytes.clone()).is_err());
        let mutated = Block::from_untrusted(&Cid::of(Codec::DagCbor, &bytes), bytes).unwrap();
        for kind in decode_all(group, &mutated) {
            // Only unsigned parts (member sets, policies, key material) can mutate into
            // another valid value; their epoch state names them by CID, so it would not
            // accept them.
            prop_assert!(
                matches!(kind, "members" | "policy" | "key index" | "key page"),
                "a mutated {} still verifies as {kind}", block.cid()
            );
        }
    }

    /// Random bytes never panic any decoder, and a state fed them stays empty.
    #[test]
    fn random_bytes_are_typed_errors(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let (group, _) = blocks();
        let block = Block::from_untrusted(&Cid::of(Codec::DagCbor, &bytes), bytes).unwrap();
        let _ = decode_all(group, &block);
        let (state, _) = state_of(*group, Some(&person(1)), [&block]);
        prop_assert!(state.current().is_none() && state.message_count() == 0);
    }
}
