//! Property tests for the feed codecs: every entry, head and page round-trips through its
//! block; any mutation of a valid block, and any random bytes, give a typed error and never
//! a panic or a different accepted value; sync is order-independent.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    reason = "tests"
)]

use std::collections::BTreeMap;

use proptest::prelude::*;
use quorate_actor_core::feed::{FeedEntry, FeedHead, FeedLog, FeedPage};
use quorate_actor_core::sync::{self, Event, FeedSync};
use quorate_actor_core::{ActorProfile, ActorSecret, Identity};
use quorate_mesh_proto::mesh::NodeId;
use quorate_mesh_proto::{Block, Cid, Codec, Instant};

fn identity(seed: u8) -> Identity {
    Identity::from_secret(ActorSecret::from_bytes([seed; 32]))
}

fn cid(n: u64) -> Cid {
    Cid::of(Codec::Raw, &n.to_be_bytes())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn entries_round_trip_and_mutations_never_verify_as_something_else(
        seed in any::<u8>(),
        seq in 0u64..1_000_000,
        timestamp in any::<u64>(),
        payloads in proptest::collection::vec(any::<u64>(), 0..8),
        flip in any::<prop::sample::Index>(),
        mask in 1u8..=255,
    ) {
        let id = identity(seed);
        let prev = (seq > 0).then(|| cid(seq - 1));
        let payloads: Vec<Cid> = payloads.into_iter().map(cid).collect();
        let entry = FeedEntry::sign(&id, seq, prev, timestamp, payloads).unwrap();
        let block = entry.to_block().unwrap();
        prop_assert_eq!(FeedEntry::verify_block(&block).unwrap(), entry.clone());
        // One flipped byte: the block no longer matches its CID, and as a new block it
        // either fails to decode or fails its signature — never a valid other entry.
        let mut bytes = block.bytes().to_vec();
        let i = flip.index(bytes.len());
        bytes[i] ^= mask;
        prop_assert!(Block::from_untrusted(block.cid(), bytes.clone()).is_err());
        let mutated = Block::from_untrusted(&Cid::of(Codec::DagCbor, &bytes), bytes).unwrap();
        if let Ok(other) = FeedEntry::verify_block(&mutated) {
            prop_assert_eq!(other, entry);
        }
    }

    #[test]
    fn random_bytes_are_typed_errors_for_every_feed_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let block = Block::from_untrusted(&Cid::of(Codec::DagCbor, &bytes), bytes).unwrap();
        let _ = FeedEntry::verify_block(&block);
        let _ = ActorProfile::verify(&block);
        if let Ok(head) = FeedHead::verify_block(&block) {
            let _ = FeedPage::verify_block(&block, &head, 0);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn heads_and_pages_round_trip(len in 1usize..2100, seed in any::<u8>()) {
        let id = identity(seed);
        let mut log = FeedLog::new(id.id());
        for t in 0..len as u64 {
            log.append(&id, t, vec![]).unwrap();
        }
        let publication = log.publish(&id, cid(0)).unwrap();
        let head = FeedHead::verify_block(&publication.head).unwrap();
        prop_assert_eq!(&head, &publication.feed_head);
        prop_assert_eq!(head.pages.len(), len.div_ceil(1024));
        let mut listed = Vec::new();
        for (index, page) in publication.pages.iter().enumerate() {
            listed.extend(FeedPage::verify_block(page, &head, index).unwrap().entries);
        }
        prop_assert_eq!(listed, log.entries());
        // A page presented at the wrong index is refused.
        if publication.pages.len() > 1 {
            prop_assert!(FeedPage::verify_block(&publication.pages[0], &head, 1).is_err());
        }
    }

    /// Blocks answered in any order, with duplicates, rebuild the same feed.
    #[test]
    fn sync_is_order_independent_and_idempotent(len in 1usize..200, order in any::<u64>()) {
        let id = identity(3);
        let mut blocks: BTreeMap<Cid, Block> = BTreeMap::new();
        let profile = ActorProfile::publish(&id, BTreeMap::new()).unwrap();
        let mut log = FeedLog::new(id.id());
        for t in 0..len as u64 {
            let b = log.append(&id, t, vec![*profile.cid()]).unwrap();
            blocks.insert(*b.cid(), b);
        }
        let publication = log.publish(&id, *profile.cid()).unwrap();
        let head = publication.feed_head.mesh_head(*publication.head.cid());
        blocks.insert(*profile.cid(), profile);
        blocks.insert(*publication.head.cid(), publication.head);
        for p in publication.pages {
            blocks.insert(*p.cid(), p);
        }
        let now = Instant::ZERO;
        let mut machine = FeedSync::new(sync::Config::default(), id.id(), now);
        machine.handle_head(now, &head, NodeId::from_bytes([1; 32]));
        // Answer needs in a shuffled order, each twice.
        let mut rng = order;
        let mut snapshot = None;
        let mut pending: Vec<Cid> = Vec::new();
        loop {
            while let Some(out) = machine.poll_output() {
                match out {
                    sync::Output::Need { cid, .. } => pending.push(cid),
                    sync::Output::Event(Event::Complete(s)) => snapshot = Some(*s),
                    _ => {}
                }
            }
            if pending.is_empty() {
                break;
            }
            rng = rng.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let cid = pending.swap_remove((rng >> 33) as usize % pending.len());
            let block = &blocks[&cid];
            machine.handle_block(now, block, Some(NodeId::from_bytes([1; 32])));
            machine.handle_block(now, block, None);
        }
        let snapshot = snapshot.expect("complete");
        prop_assert_eq!(snapshot.entries, log.entries());
    }
}
