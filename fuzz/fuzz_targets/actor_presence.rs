//! Presence announcements through `verify_presence`, `Inbox::handle` and `PresenceBook`.
//!
//! Input: `mode ‖ now(8) ‖ rest`, `now` a big-endian time in ms.
//! - Even `mode`: `rest` is the bytes of a DAG-CBOR block. When `verify_presence` accepts,
//!   the block decodes and re-encodes to the same bytes, its actor is the hash of its key,
//!   `now` lies in its window, and `Inbox::handle` reports the same presence.
//! - Odd `mode`: `rest = at(8) ‖ ttl(4) ‖ flip_at(2) ‖ mask(1) ‖ node…`: a presence signed
//!   by a fixed actor. It verifies exactly when its time checks say it should; the
//!   mutated block never verifies as anything else; and a `PresenceBook` of two fed the
//!   presences stays within its bound and keeps the newest.

#![no_main]
#![allow(
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "fuzz target: a panic is a found bug"
)]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use quorate_actor_core::rendezvous::{
    Inbox, InboxConfig, InboxOutcome, MAX_CLOCK_SKEW_MS, MAX_PRESENCE_TTL_MS, Presence,
    PresenceBook, verify_presence,
};
use quorate_actor_core::{ActorSecret, Identity};
use quorate_mesh_proto::mesh::NodeId;
use quorate_mesh_proto::{Block, Cid, Codec, MAX_BLOCK_SIZE};

fn as_block(bytes: &[u8]) -> Option<Block> {
    match Block::from_untrusted(&Cid::of(Codec::DagCbor, bytes), bytes.to_vec()) {
        Ok(block) => Some(block),
        Err(e) => {
            assert!(bytes.len() > MAX_BLOCK_SIZE, "own hash refused: {e}");
            None
        }
    }
}

// Derived once: key derivation would otherwise dominate every run.
static IDENTITIES: LazyLock<[Identity; 5]> = LazyLock::new(|| {
    [0u8, 1, 2, 3, 4].map(|n| Identity::from_secret(ActorSecret::from_bytes([n; 32])))
});

fn identity(n: u8) -> &'static Identity {
    &IDENTITIES[usize::from(n)]
}

fuzz_target!(|data: &[u8]| {
    let [mode, n0, n1, n2, n3, n4, n5, n6, n7, rest @ ..] = data else {
        return;
    };
    let now = u64::from_be_bytes([*n0, *n1, *n2, *n3, *n4, *n5, *n6, *n7]);
    if mode & 1 == 0 {
        raw_block(now, rest);
    } else {
        signed(now, rest);
    }
});

fn raw_block(now: u64, bytes: &[u8]) {
    let Some(block) = as_block(bytes) else {
        return;
    };
    let verified = verify_presence(&block, now);
    let outcome = Inbox::new(identity(2), InboxConfig::default()).handle(now, &block);
    if let Ok(p) = &verified {
        let envelope = block
            .decode::<Presence>()
            .expect("verified presence decodes");
        assert_eq!(&envelope.payload, p);
        assert_eq!(envelope.to_block().expect("re-encodes"), block);
        let key = quorate_mesh_proto::ed25519_dalek::VerifyingKey::from_bytes(&p.actor_key)
            .expect("verified key");
        assert!(p.actor.is_key_of(&key));
        assert!(p.at_ms <= now.saturating_add(MAX_CLOCK_SKEW_MS));
        assert!(now <= p.expires_at_ms());
        assert_eq!(
            outcome,
            InboxOutcome::Presence {
                actor: p.actor,
                node: p.node,
                updated: true
            }
        );
    } else {
        assert!(
            !matches!(outcome, InboxOutcome::Presence { .. }),
            "{outcome:?}"
        );
    }
}

fn signed(now: u64, rest: &[u8]) {
    let [
        a0,
        a1,
        a2,
        a3,
        a4,
        a5,
        a6,
        a7,
        t0,
        t1,
        t2,
        t3,
        f0,
        f1,
        mask,
        node @ ..,
    ] = rest
    else {
        return;
    };
    let at_ms = u64::from_be_bytes([*a0, *a1, *a2, *a3, *a4, *a5, *a6, *a7]);
    let ttl_ms = u32::from_be_bytes([*t0, *t1, *t2, *t3]);
    let mut node_id = [0u8; 32];
    for (d, s) in node_id.iter_mut().zip(node) {
        *d = *s;
    }
    let actor = identity(1);
    let p = Presence::new(actor, NodeId::from_bytes(node_id), at_ms, ttl_ms);
    let block = p.to_block(actor).expect("encodes");
    let should = ttl_ms != 0
        && ttl_ms <= MAX_PRESENCE_TTL_MS
        && at_ms <= now.saturating_add(MAX_CLOCK_SKEW_MS)
        && now <= p.expires_at_ms();
    let verified = verify_presence(&block, now);
    assert_eq!(verified.is_ok(), should, "{verified:?}");

    let mut bytes = block.bytes().to_vec();
    let at = usize::from(u16::from_be_bytes([*f0, *f1])) % bytes.len();
    bytes[at] ^= *mask;
    if let Some(changed) = as_block(&bytes) {
        if let Ok(q) = verify_presence(&changed, now) {
            assert_eq!(q, p, "a mutation verified as another presence");
        }
    }

    // A book of two: three actors, the newest presences win.
    let mut book = PresenceBook::new(2);
    for (i, n) in [1u8, 3, 4].into_iter().enumerate() {
        let who = identity(n);
        let mut q = Presence::new(who, NodeId::from_bytes(node_id), at_ms, ttl_ms);
        q.at_ms = at_ms.wrapping_add(i as u64);
        book.insert(q.clone());
        assert!(book.len() <= 2);
        assert!(!book.insert(q));
    }
    let kept = book.iter().count();
    assert_eq!(kept, book.len());
    let _ = book.prune(now);
}
