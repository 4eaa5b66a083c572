//! Global rendezvous envelopes through `GlobalEnvelope::from_block` and `Inbox::handle`.
//!
//! Input: `mode ‖ rest`.
//! - `mode % 3 == 0`: `rest` is the bytes of a DAG-CBOR block (its own CID, so
//!   `Block::from_untrusted` accepts). Every `Ok` of `GlobalEnvelope::from_block` must
//!   re-encode to the very same block; `Inbox::handle` (difficulty 0 and 8) never panics and
//!   never delivers (nobody can forge the AEAD).
//! - `mode % 3 == 1`: `rest` is the plaintext of an envelope correctly tagged and HPKE-sealed
//!   to the inbox: the sealed-content decoder and signature checks see arbitrary bytes. The
//!   outcome is a rejection only the recipient could see, unless `rest` is a validly signed
//!   `Sealed`; a `Sealed` that decodes re-encodes to `rest`.
//! - `mode % 3 == 2`: `rest` picks a body, an outer signature and one mutation
//!   (`flip_at(2) ‖ mask(1) ‖ body…`). The genuine envelope must be delivered with its body;
//!   the mutated block must never deliver anything else.

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
    Body, GlobalEnvelope, INFO, Inbox, InboxConfig, InboxOutcome, MAX_NOTE, RejectReason, Sealed,
    envelope_aad, slot, suite, to_tag,
};
use quorate_actor_core::{ActorSecret, Identity};
use quorate_mesh_proto::{Block, Cid, Codec, MAX_BLOCK_SIZE};

const NOW: u64 = 1_750_000_000_000;
const TTL: u64 = 60_000;
const IKM: [u8; 32] = [0x42; 32];

// Derived once: key derivation would otherwise dominate every run.
static ALICE: LazyLock<Identity> =
    LazyLock::new(|| Identity::from_secret(ActorSecret::from_bytes([1; 32])));
static BOB: LazyLock<Identity> =
    LazyLock::new(|| Identity::from_secret(ActorSecret::from_bytes([2; 32])));

fn alice() -> &'static Identity {
    &ALICE
}

fn bob() -> &'static Identity {
    &BOB
}

fn inbox(difficulty: u8) -> Inbox {
    Inbox::new(
        bob(),
        InboxConfig {
            difficulty,
            allow: [alice().id()].into(),
            ..InboxConfig::default()
        },
    )
}

fn as_block(bytes: &[u8]) -> Option<Block> {
    match Block::from_untrusted(&Cid::of(Codec::DagCbor, bytes), bytes.to_vec()) {
        Ok(block) => Some(block),
        Err(e) => {
            assert!(bytes.len() > MAX_BLOCK_SIZE, "own hash refused: {e}");
            None
        }
    }
}

/// An envelope to Bob, tagged for now, whose plaintext is `plaintext`.
fn sealed_to_bob(plaintext: &[u8]) -> GlobalEnvelope {
    let tag = to_tag(&bob().encryption_public(), slot(NOW));
    let expires_at_ms = NOW + TTL;
    let aad = envelope_aad(&tag, expires_at_ms);
    let ciphertext = suite::seal_with_ikm(&bob().encryption_public(), INFO, &aad, plaintext, &IKM)
        .expect("sealing to a valid key");
    GlobalEnvelope {
        to_tag: tag,
        ciphertext,
        expires_at_ms,
        pow: None,
        signature: None,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => raw_block(rest),
        1 => sealed_plaintext(rest),
        _ => mutated(mode, rest),
    }
});

fn raw_block(bytes: &[u8]) {
    let Some(block) = as_block(bytes) else {
        return;
    };
    if let Ok(envelope) = GlobalEnvelope::from_block(&block) {
        let again = envelope.to_block().expect("a decoded envelope re-encodes");
        assert_eq!(again, block, "accepted bytes are not canonical");
    }
    for difficulty in [0, 8] {
        match inbox(difficulty).handle(NOW, &block) {
            InboxOutcome::Delivered(_) | InboxOutcome::Held { .. } | InboxOutcome::Duplicate => {
                panic!("arbitrary bytes were delivered")
            }
            InboxOutcome::Rejected(reason) => {
                let _ = reason.forwarder_accountable();
            }
            _ => {}
        }
    }
}

fn sealed_plaintext(plaintext: &[u8]) {
    let decoded = Sealed::from_bytes(plaintext);
    if let Ok(sealed) = &decoded {
        assert_eq!(sealed.to_bytes().expect("re-encodes"), plaintext);
    }
    let Ok(block) = sealed_to_bob(plaintext).to_block() else {
        return;
    };
    match inbox(0).handle(NOW, &block) {
        InboxOutcome::Rejected(RejectReason::Envelope(e)) => {
            // Either the plaintext is too large for an envelope (a relay sees that), or
            // the fault is inside: the forwarder could not have known.
            assert!(
                !e.forwarder_accountable()
                    || matches!(
                        e,
                        quorate_actor_core::rendezvous::EnvelopeError::CiphertextSize { .. }
                    ),
                "{e:?}"
            );
        }
        InboxOutcome::Delivered(d) => {
            let sealed = decoded.expect("delivered content decodes");
            assert_eq!(d.from, sealed.from);
            assert_eq!(d.body, sealed.body);
        }
        InboxOutcome::Held { from } => {
            assert_eq!(Some(from), decoded.ok().map(|s| s.from));
        }
        other => panic!("unexpected outcome {other:?}"),
    }
}

fn mutated(mode: u8, rest: &[u8]) {
    let (flip_at, mask, body_bytes) = match rest {
        [a, b, m, body @ ..] => (usize::from(u16::from_be_bytes([*a, *b])), *m, body),
        _ => return,
    };
    let body = if mode & 4 == 0 {
        let mut note: String = String::from_utf8_lossy(body_bytes).into_owned();
        while note.len() > MAX_NOTE {
            note.pop();
        }
        Body::Invitation {
            group: body_bytes
                .get(..32)
                .map(|g| g.try_into().expect("32 bytes")),
            note,
            payload: None,
        }
    } else {
        Body::Bootstrap {
            data: body_bytes.to_vec(),
        }
    };
    let tag = to_tag(&bob().encryption_public(), slot(NOW));
    let sealed = Sealed::sign(alice(), &tag, NOW + TTL, body.clone()).expect("within limits");
    let mut envelope = sealed_to_bob(&sealed.to_bytes().expect("encodes"));
    if mode & 8 != 0 {
        envelope.sign(alice().signing_key()).expect("signs");
    }
    let block = envelope.to_block().expect("fits");
    match inbox(0).handle(NOW, &block) {
        InboxOutcome::Delivered(d) => {
            assert_eq!(d.body, body);
            assert_eq!(d.public, mode & 8 != 0);
        }
        other => panic!("genuine envelope not delivered: {other:?}"),
    }
    let mut bytes = block.bytes().to_vec();
    let at = flip_at % bytes.len();
    bytes[at] ^= mask;
    if mode & 16 != 0 {
        bytes.truncate(at);
    }
    let Some(changed) = as_block(&bytes) else {
        return;
    };
    match inbox(0).handle(NOW, &changed) {
        InboxOutcome::Delivered(d) => {
            assert_eq!(d.from, alice().id());
            assert_eq!(d.body, body, "a mutation delivered another body");
        }
        InboxOutcome::Held { .. } => panic!("alice is allowed"),
        _ => {}
    }
}
