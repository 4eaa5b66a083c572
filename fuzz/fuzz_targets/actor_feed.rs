//! Arbitrary bytes against the feed: every decoder gives a typed error or an exact round
//! trip, and the sync machine survives any head/block sequence.
//!
//! The input is split: its first byte picks how many of the following 64-byte records are
//! fed to a `FeedSync` as (head announcement, block) pairs; the whole input is also tried
//! as a DAG-CBOR block with every feed decoder (`FeedEntry`, `FeedHead`, `FeedPage`,
//! `ActorProfile`, `Equivocation`). Anything that decodes must re-encode to the same block.

#![no_main]
#![allow(clippy::expect_used, clippy::indexing_slicing, reason = "fuzz target: a panic is a found bug")]

use libfuzzer_sys::fuzz_target;
use quorate_actor_core::feed::{Equivocation, FeedEntry, FeedHead, FeedPage, head_name};
use quorate_actor_core::sync::{Config, FeedSync};
use quorate_actor_core::{ActorId, ActorProfile};
use quorate_mesh_proto::mesh::{Head, NodeId};
use quorate_mesh_proto::{Block, BlockPayload, Cid, Codec, Instant};

fuzz_target!(|data: &[u8]| {
    let cid = Cid::of(Codec::DagCbor, data);
    let Ok(block) = Block::from_untrusted(&cid, data.to_vec()) else {
        return;
    };
    round_trips::<FeedEntry>(&block);
    round_trips::<FeedHead>(&block);
    round_trips::<FeedPage>(&block);
    round_trips::<ActorProfile>(&block);
    round_trips::<Equivocation>(&block);
    let _ = FeedEntry::verify_block(&block);
    let _ = ActorProfile::verify(&block);
    if let Ok(head) = FeedHead::verify_block(&block) {
        for index in 0..head.pages.len().min(4) {
            let _ = FeedPage::verify_block(&block, &head, index);
        }
    }
    if let Ok(evidence) = block.decode::<Equivocation>() {
        let _ = evidence.payload.verify();
    }

    // The machine: the block announced as the head of an actor, by several peers, with
    // sequence numbers from the input; then the block itself, from a peer and the store.
    let actor = ActorId::from_bytes(data.get(..32).and_then(|s| s.try_into().ok()).unwrap_or([0; 32]));
    let mut sync = FeedSync::new(Config::default(), actor, Instant::ZERO);
    for (i, chunk) in data.chunks(8).take(8).enumerate() {
        let mut seq = [0u8; 8];
        seq[..chunk.len()].copy_from_slice(chunk);
        let head = Head { name: head_name(&actor), seq: u64::from_le_bytes(seq), cid };
        sync.handle_head(Instant::ZERO, &head, NodeId::from_bytes([i as u8; 32]));
    }
    sync.handle_block(Instant::ZERO, &block, Some(NodeId::from_bytes([1; 32])));
    sync.handle_block(Instant::ZERO, &block, None);
    sync.handle_timeout(Instant::from_millis(u64::MAX / 2000));
    while sync.poll_output().is_some() {}
    assert!(!sync.is_complete() || sync.snapshot().is_some());
});

fn round_trips<T: BlockPayload + PartialEq + std::fmt::Debug>(block: &Block) {
    let Ok(envelope) = block.decode::<T>() else {
        return;
    };
    let again = envelope.to_block().expect("a decoded envelope must re-encode");
    assert_eq!(again, *block, "accepted bytes are not canonical");
}
