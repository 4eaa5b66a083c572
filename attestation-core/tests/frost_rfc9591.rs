//! Ciphersuite sanity for FROST(Ed25519, SHA-512), RFC 9591: its signatures are RFC 8032
//! Ed25519 signatures. The RFC's own test vector (Appendix E.1: group key, message
//! "test", the aggregated signature) and a signature our committee produced through a
//! signing session both verify with ed25519-dalek (strict) and OpenSSL; a tampered
//! message, key or signature fails both. (Chromium's WebCrypto: `web/e2e/frost-webcrypto.mjs`.)

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

use ed25519_dalek::{Signature, VerifyingKey};
use quorate_attestation_core::frost::sign::{
    FrostSigner, MemoryNonces, SessionOutput, SignBody, SignMessage, SignSession, SignTarget,
};
use quorate_mesh_proto::{Block, Cid, Codec};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

mod common;

use common::frost::{committee, people};
use common::openssl::openssl_verifies;

fn hex32(s: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

fn hex64(s: &str) -> [u8; 64] {
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(&hex32(&s[..64]));
    out[32..].copy_from_slice(&hex32(&s[64..]));
    out
}

fn dalek_verifies(pk: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    VerifyingKey::from_bytes(pk).is_ok_and(|k| {
        k.verify_strict(message, &Signature::from_bytes(signature))
            .is_ok()
    })
}

/// Genuine verifies with both verifiers; each tampering fails with both.
fn check_both(pk: &[u8; 32], message: &[u8], signature: &[u8; 64]) {
    assert!(dalek_verifies(pk, message, signature), "dalek, genuine");
    assert!(openssl_verifies(pk, message, signature), "OpenSSL, genuine");
    let mut m = message.to_vec();
    *m.last_mut().unwrap() ^= 1;
    let mut k = *pk;
    k[0] ^= 1;
    let mut s = *signature;
    s[40] ^= 1;
    for (what, (pk, message, signature)) in [
        ("message", (pk, m.as_slice(), signature)),
        ("key", (&k, message, signature)),
        ("signature", (pk, message, &s)),
    ] {
        assert!(
            !dalek_verifies(pk, message, signature),
            "dalek, tampered {what}"
        );
        assert!(
            !openssl_verifies(pk, message, signature),
            "OpenSSL, tampered {what}"
        );
    }
}

#[test]
fn the_rfc_9591_ed25519_vector_is_plain_ed25519() {
    // RFC 9591, Appendix E.1, FROST(Ed25519, SHA-512): group public key, message, and the
    // signature aggregated from participants 1 and 3.
    let pk = hex32("15d21ccd7ee42959562fc8aa63224c8851fb3ec85a3faf66040d380fb9738673");
    let sig = hex64(concat!(
        "154fb694ee7fcb37bf2381d94488c2a84b03b3352ad085feca81ad26d45852b7",
        "ecfe971ce4da95c4a95db93ac376b053897fca212ef85f99cf696bffeb178f07"
    ));
    check_both(&pk, b"test", &sig);
}

#[test]
fn a_committee_signature_from_a_session_is_plain_ed25519() {
    let people = people(5);
    let (c, root, keys) = committee(&people, 3, 21);
    let target = SignTarget {
        proposal: Cid::of(Codec::DagCbor, b"sanity"),
        epoch: 2,
        issued_at: 1_700_000_000_000,
    };
    let mut session = SignSession::start(people[0].clone(), c.clone(), root, target, 0).unwrap();
    let mut signers: Vec<(FrostSigner, MemoryNonces)> = people
        .iter()
        .zip(keys)
        .map(|(p, k)| {
            (
                FrostSigner::new(p.clone(), &c, root, k).unwrap(),
                MemoryNonces::default(),
            )
        })
        .collect();
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    let mut queue: Vec<Block> = Vec::new();
    let attestation = loop {
        let mut done = None;
        while let Some(o) = session.poll_output() {
            match o {
                SessionOutput::Send(b) => queue.push(b),
                SessionOutput::Signed { attestation, .. } => done = Some(attestation),
                other => panic!("{other:?}"),
            }
        }
        if let Some(a) = done {
            break a;
        }
        assert!(!queue.is_empty(), "the session stalled");
        for block in std::mem::take(&mut queue) {
            let m = SignMessage::decode(&block).unwrap();
            session.handle(&m, &block, 0);
            for (s, n) in &mut signers {
                let answer = match m.body {
                    SignBody::Request { .. } => s.commit(&m, n, &mut rng),
                    SignBody::Package { .. } => s.sign(&m, n),
                    _ => continue,
                };
                if let Ok(b) = answer {
                    queue.push(b);
                }
            }
        }
    };
    check_both(
        &c.group_key,
        &attestation.signed_message(),
        &attestation.group_signature,
    );
}
