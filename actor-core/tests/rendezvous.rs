//! The rendezvous topic: RFC 9180 known answers, envelopes end to end through an `Inbox`,
//! every refusal by name, presence, golden vectors, and garbage that must never panic.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::unimplemented,
    clippy::cast_possible_truncation,
    reason = "test code: a panic is a failed test"
)]

use std::collections::BTreeSet;

use quorate_actor_core::rendezvous::{
    Body, EnvelopeError, GlobalEnvelope, INFO, Inbox, InboxConfig, InboxOutcome, MAX_BOOTSTRAP,
    MAX_CIPHERTEXT, MAX_CLOCK_SKEW_MS, MAX_ENVELOPE_SIZE, MAX_NOTE, MAX_PRESENCE_TTL_MS,
    MAX_TTL_MS, PowError, Presence, PresenceError, RejectReason, SLOT_MS, SealError, Sealed,
    check_pow, envelope_aad, mint_pow, pow_hash, slot, suite, to_tag, verify_presence,
};
use quorate_actor_core::{ActorSecret, Identity};
use quorate_mesh_proto::mesh::NodeId;
use quorate_mesh_proto::payloads::Text;
use quorate_mesh_proto::{Block, Cid, Codec, DecodeError, Envelope, ObjectSig};
use rand_chacha::ChaCha20Rng;
use rand_core::{CryptoRng, RngCore, SeedableRng};
use x25519_dalek::{PublicKey, StaticSecret};

/// 2025-06-15T15:06:40Z: in the middle of a slot.
const NOW: u64 = 1_750_000_000_000;
const TTL: u64 = 10 * 60 * 1000;

fn identity(n: u8) -> Identity {
    Identity::from_secret(ActorSecret::from_bytes([n; 32]))
}

fn alice() -> Identity {
    identity(1)
}

fn bob() -> Identity {
    identity(2)
}

fn carol() -> Identity {
    identity(3)
}

fn rng() -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(9180)
}

fn invitation(note: &str) -> Body {
    Body::Invitation {
        group: Some([7; 32]),
        note: note.into(),
        payload: Some(Cid::of(Codec::Raw, b"group card")),
    }
}

fn seal(from: &Identity, to: &Identity, body: Body) -> GlobalEnvelope {
    GlobalEnvelope::seal(from, &to.encryption_public(), body, NOW, TTL, &mut rng()).unwrap()
}

fn block(envelope: &GlobalEnvelope) -> Block {
    envelope.to_block().unwrap()
}

/// An envelope built by hand from the public pieces: any tag, any expiry, any plaintext.
fn seal_raw(
    to: &Identity,
    to_tag: [u8; 32],
    expires_at_ms: u64,
    plaintext: &[u8],
) -> GlobalEnvelope {
    let aad = envelope_aad(&to_tag, expires_at_ms);
    let ciphertext =
        suite::seal(&to.encryption_public(), INFO, &aad, plaintext, &mut rng()).unwrap();
    GlobalEnvelope {
        to_tag,
        ciphertext,
        expires_at_ms,
        pow: None,
        signature: None,
    }
}

/// A correctly signed envelope for `to` tagged for slot `s`.
fn seal_for_slot(from: &Identity, to: &Identity, s: u64, expires_at_ms: u64) -> GlobalEnvelope {
    let tag = to_tag(&to.encryption_public(), s);
    let sealed = Sealed::sign(from, &tag, expires_at_ms, invitation("slot")).unwrap();
    seal_raw(to, tag, expires_at_ms, &sealed.to_bytes().unwrap())
}

fn inbox(of: &Identity, allow: &[&Identity]) -> Inbox {
    Inbox::new(
        of,
        InboxConfig {
            allow: allow.iter().map(|i| i.id()).collect(),
            ..InboxConfig::default()
        },
    )
}

fn delivered(outcome: InboxOutcome) -> quorate_actor_core::rendezvous::Delivery {
    match outcome {
        InboxOutcome::Delivered(d) => *d,
        other => panic!("expected a delivery, got {other:?}"),
    }
}

fn rejected(outcome: InboxOutcome) -> EnvelopeError {
    match outcome {
        InboxOutcome::Rejected(RejectReason::Envelope(e)) => e,
        other => panic!("expected an envelope rejection, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// RFC 9180 Appendix A.2.1: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20Poly1305,
// mode 0 (base), kem_id 0x0020, kdf_id 0x0001, aead_id 0x0003; its encryption with
// sequence number 0 (what single-shot HPKE does). Values copied from the RFC.

const A21_INFO: &str = "4f6465206f6e2061204772656369616e2055726e";
const A21_IKM_E: &str = "909a9b35d3dc4713a5e72a4da274b55d3d3821a37e5d099e74a647db583a904b";
const A21_PK_EM: &str = "1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a";
const A21_SK_EM: &str = "f4ec9b33b792c372c1d2c2063507b684ef925b8c75a42dbcbf57d63ccd381600";
const A21_IKM_R: &str = "1ac01f181fdf9f352797655161c58b75c656a6cc2716dcb66372da835542e1df";
const A21_PK_RM: &str = "4310ee97d88cc1f088a5576c77ab0cf5c3ac797f3d95139c6c84b5429c59662a";
const A21_SK_RM: &str = "8057991eef8f1f1af18f4a9491d16a1ce333f695d4db8e38da75975c4478e0fb";
const A21_PT: &str = "4265617574792069732074727574682c20747275746820626561757479";
const A21_AAD0: &str = "436f756e742d30";
const A21_CT0: &str =
    "1c5250d8034ec2b784ba2cfd69dbdb8af406cfe3ff938e131f0def8c8b60b4db21993c62ce81883d2dd1b51a28";

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn h32(s: &str) -> [u8; 32] {
    h(s).try_into().unwrap()
}

/// Yields fixed bytes, then panics: proves the seal drew exactly the ephemeral `ikm`.
struct FixedRng(Vec<u8>);

impl RngCore for FixedRng {
    fn next_u32(&mut self) -> u32 {
        unimplemented!()
    }
    fn next_u64(&mut self) -> u64 {
        unimplemented!()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        assert!(dest.len() <= self.0.len(), "drew more than the fixed bytes");
        let rest = self.0.split_off(dest.len());
        dest.copy_from_slice(&self.0);
        self.0 = rest;
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for FixedRng {}

#[test]
fn rfc9180_a21_key_derivation() {
    use hpke::{Kem as _, Serializable as _};
    type Kem = hpke::kem::X25519HkdfSha256;
    let (sk_r, pk_r) = Kem::derive_keypair(&h(A21_IKM_R));
    assert_eq!(sk_r.to_bytes().to_vec(), h(A21_SK_RM));
    assert_eq!(pk_r.to_bytes().to_vec(), h(A21_PK_RM));
    let (sk_e, _) = Kem::derive_keypair(&h(A21_IKM_E));
    assert_eq!(sk_e.to_bytes().to_vec(), h(A21_SK_EM));
    assert_eq!(
        suite::derive_public(&h(A21_IKM_E)).to_bytes(),
        h32(A21_PK_EM)
    );
    assert_eq!(
        suite::derive_public(&h(A21_IKM_R)).to_bytes(),
        h32(A21_PK_RM)
    );
    // The dalek keys the actor identity uses agree with the RFC's.
    let sk = StaticSecret::from(h32(A21_SK_RM));
    assert_eq!(PublicKey::from(&sk).to_bytes(), h32(A21_PK_RM));
}

#[test]
fn rfc9180_a21_seal_reproduces_the_ciphertext() {
    let pk_r = PublicKey::from(h32(A21_PK_RM));
    let expected = [h(A21_PK_EM), h(A21_CT0)].concat();
    let sealed = suite::seal_with_ikm(
        &pk_r,
        &h(A21_INFO),
        &h(A21_AAD0),
        &h(A21_PT),
        &h32(A21_IKM_E),
    )
    .unwrap();
    assert_eq!(hex::encode(&sealed), hex::encode(&expected));
    // The RNG path draws exactly the 32 ephemeral bytes and gets the same answer.
    let mut fixed = FixedRng(h(A21_IKM_E));
    let sealed = suite::seal(&pk_r, &h(A21_INFO), &h(A21_AAD0), &h(A21_PT), &mut fixed).unwrap();
    assert_eq!(sealed, expected);
    assert!(fixed.0.is_empty());
}

#[test]
fn rfc9180_a21_open_recovers_the_plaintext() {
    let sk_r = StaticSecret::from(h32(A21_SK_RM));
    let sealed = [h(A21_PK_EM), h(A21_CT0)].concat();
    let pt = suite::open(&sk_r, &h(A21_INFO), &h(A21_AAD0), &sealed).unwrap();
    assert_eq!(pt.to_vec(), h(A21_PT));
    // Any change to enc, ct, info or aad fails.
    for i in [0, 31, 32, sealed.len() - 1] {
        let mut bad = sealed.clone();
        bad[i] ^= 1;
        assert_eq!(
            suite::open(&sk_r, &h(A21_INFO), &h(A21_AAD0), &bad).map(|p| p.to_vec()),
            Err(suite::SuiteError::Open),
            "byte {i}"
        );
    }
    assert!(suite::open(&sk_r, b"other info", &h(A21_AAD0), &sealed).is_err());
    assert!(suite::open(&sk_r, &h(A21_INFO), b"Count-1", &sealed).is_err());
    let other = StaticSecret::from([5; 32]);
    assert!(suite::open(&other, &h(A21_INFO), &h(A21_AAD0), &sealed).is_err());
}

// ---------------------------------------------------------------------------------------
// Envelopes end to end.

#[test]
fn envelope_reaches_its_recipient_and_nobody_else() {
    let env = seal(&alice(), &bob(), invitation("join us"));
    let blk = block(&env);
    let d = delivered(inbox(&bob(), &[&alice()]).handle(NOW, &blk));
    assert_eq!(d.from, alice().id());
    assert_eq!(d.from_key, alice().verifying_key());
    assert_eq!(d.body, invitation("join us"));
    assert_eq!(d.envelope, *blk.cid());
    assert_eq!(d.expires_at_ms, NOW + TTL);
    assert!(!d.public);
    assert_eq!(d.received_at_ms, NOW);
    assert_eq!(
        inbox(&carol(), &[&alice()]).handle(NOW, &blk),
        InboxOutcome::NotForUs
    );
    assert_eq!(
        inbox(&alice(), &[&alice()]).handle(NOW, &blk),
        InboxOutcome::NotForUs
    );
    // Standalone open agrees.
    let opened = env.open(&bob(), NOW).unwrap();
    assert_eq!(opened.from, alice().id());
    assert_eq!(env.open(&carol(), NOW), Err(EnvelopeError::NotAddressed));
    // Bootstrap bodies travel the same way.
    let boot = Body::Bootstrap {
        data: vec![0xab; MAX_BOOTSTRAP],
    };
    let blk = block(&seal(&alice(), &bob(), boot.clone()));
    assert!(blk.len() <= MAX_ENVELOPE_SIZE);
    assert_eq!(
        delivered(inbox(&bob(), &[&alice()]).handle(NOW, &blk)).body,
        boot
    );
}

#[test]
fn recipient_accepts_its_slot_and_one_either_side_only() {
    let s = slot(NOW);
    for (slot_of_tag, expect_ours) in [
        (s - 2, false),
        (s - 1, true),
        (s, true),
        (s + 1, true),
        (s + 2, false),
    ] {
        let env = seal_for_slot(&alice(), &bob(), slot_of_tag, NOW + TTL);
        let outcome = inbox(&bob(), &[&alice()]).handle(NOW, &block(&env));
        if expect_ours {
            assert!(
                matches!(outcome, InboxOutcome::Delivered(_)),
                "slot {slot_of_tag}: {outcome:?}"
            );
        } else {
            assert_eq!(outcome, InboxOutcome::NotForUs, "slot {slot_of_tag}");
        }
    }
    // Sealed in the last millisecond of a slot, read in the next one.
    let end = (s + 1) * SLOT_MS - 1;
    let env = GlobalEnvelope::seal(
        &alice(),
        &bob().encryption_public(),
        invitation("x"),
        end,
        TTL,
        &mut rng(),
    )
    .unwrap();
    let outcome = inbox(&bob(), &[&alice()]).handle(end + 2, &block(&env));
    assert!(matches!(outcome, InboxOutcome::Delivered(_)), "{outcome:?}");
}

#[test]
fn tampering_with_ciphertext_tag_or_expiry_fails_the_aead() {
    let env = seal(&alice(), &bob(), invitation("x"));
    let mut bob_inbox = inbox(&bob(), &[&alice()]);
    for i in [0, 32, env.ciphertext.len() - 1] {
        let mut bad = env.clone();
        bad.ciphertext[i] ^= 0x40;
        assert_eq!(
            rejected(bob_inbox.handle(NOW, &block(&bad))),
            EnvelopeError::Decrypt
        );
    }
    // Retargeted to Bob's tag of the next slot: still Bob's, but the aad differs.
    let mut bad = env.clone();
    bad.to_tag = to_tag(&bob().encryption_public(), slot(NOW) + 1);
    assert_eq!(
        rejected(bob_inbox.handle(NOW, &block(&bad))),
        EnvelopeError::Decrypt
    );
    // Extended (or shortened) by a millisecond.
    for expires in [env.expires_at_ms + 1, env.expires_at_ms - 1] {
        let mut bad = env.clone();
        bad.expires_at_ms = expires;
        assert_eq!(
            rejected(bob_inbox.handle(NOW, &block(&bad))),
            EnvelopeError::Decrypt
        );
    }
    // The genuine one was not shadowed by the tampered copies.
    assert!(matches!(
        bob_inbox.handle(NOW, &block(&env)),
        InboxOutcome::Delivered(_)
    ));
}

#[test]
fn forged_or_inconsistent_sealed_content_is_rejected() {
    let b = bob();
    let tag = to_tag(&b.encryption_public(), slot(NOW));
    let exp = NOW + TTL;
    let good = Sealed::sign(&alice(), &tag, exp, invitation("x")).unwrap();
    let check = |sealed: &Sealed| {
        let env = seal_raw(&b, tag, exp, &sealed.to_bytes().unwrap());
        rejected(inbox(&b, &[&alice(), &carol()]).handle(NOW, &block(&env)))
    };

    let mut forged = good.clone();
    forged.sig[0] ^= 1;
    assert_eq!(check(&forged), EnvelopeError::BadInnerSignature);

    let mut changed = good.clone();
    changed.body = invitation("y");
    assert_eq!(check(&changed), EnvelopeError::BadInnerSignature);

    // Claims to be Carol, with Alice's key and signature.
    let mut claimed = good.clone();
    claimed.from = carol().id();
    assert_eq!(check(&claimed), EnvelopeError::FromKeyMismatch);

    // Carol's id and key, Alice's signature.
    let mut swapped = good.clone();
    swapped.from = carol().id();
    swapped.from_key = carol().verifying_key().to_bytes();
    assert_eq!(check(&swapped), EnvelopeError::BadInnerSignature);

    // Signed for another tag (a re-seal of what Alice sent Carol) or another expiry.
    let for_carol = Sealed::sign(
        &alice(),
        &to_tag(&carol().encryption_public(), slot(NOW)),
        exp,
        invitation("x"),
    )
    .unwrap();
    assert_eq!(check(&for_carol), EnvelopeError::BadInnerSignature);
    let other_expiry = Sealed::sign(&alice(), &tag, exp - 1, invitation("x")).unwrap();
    assert_eq!(check(&other_expiry), EnvelopeError::BadInnerSignature);

    let mut oversize = good.clone();
    oversize.body = Body::Invitation {
        group: None,
        note: "n".repeat(MAX_NOTE + 1),
        payload: None,
    };
    assert_eq!(
        check(&oversize),
        EnvelopeError::BodyTooLarge {
            len: MAX_NOTE + 1,
            max: MAX_NOTE
        }
    );

    for junk in [&b""[..], b"\xa0", b"not cbor at all"] {
        let env = seal_raw(&b, tag, exp, junk);
        assert_eq!(
            rejected(inbox(&b, &[]).handle(NOW, &block(&env))),
            EnvelopeError::SealedMalformed
        );
    }
    // Non-canonical: a valid Sealed with a trailing byte.
    let mut trailing = good.to_bytes().unwrap();
    trailing.push(0);
    let env = seal_raw(&b, tag, exp, &trailing);
    assert_eq!(
        rejected(inbox(&b, &[]).handle(NOW, &block(&env))),
        EnvelopeError::SealedMalformed
    );
    assert!(Sealed::from_bytes(&good.to_bytes().unwrap()).is_ok());
    // Only the recipient sees these: not the forwarder's fault.
    assert!(!EnvelopeError::BadInnerSignature.forwarder_accountable());
    assert!(!EnvelopeError::Decrypt.forwarder_accountable());
}

#[test]
fn a_public_sender_signs_the_outside_and_nobody_else_can() {
    let mut env = seal(&alice(), &bob(), invitation("hello world"));
    env.sign(alice().signing_key()).unwrap();
    assert_eq!(
        env.verify_signature().unwrap(),
        Some(alice().verifying_key())
    );
    let d = delivered(inbox(&bob(), &[&alice()]).handle(NOW, &block(&env)));
    assert!(d.public);

    // Mallory signs Alice's envelope as its own.
    let mut wrapped = env.clone();
    wrapped.sign(carol().signing_key()).unwrap();
    assert_eq!(
        rejected(inbox(&bob(), &[&alice()]).handle(NOW, &block(&wrapped))),
        EnvelopeError::SignerMismatch
    );

    let mut bad = env.clone();
    bad.signature.as_mut().unwrap().sig[5] ^= 1;
    assert_eq!(
        rejected(inbox(&bob(), &[&alice()]).handle(NOW, &block(&bad))),
        EnvelopeError::BadSignature
    );
    // The signature covers the pow.
    let mut bad = env.clone();
    bad.pow = Some(1);
    assert_eq!(
        rejected(inbox(&bob(), &[&alice()]).handle(NOW, &block(&bad))),
        EnvelopeError::BadSignature
    );
    // A key that is no curve point.
    let mut bad = env.clone();
    bad.signature.as_mut().unwrap().key =
        h32("0200000000000000000000000000000000000000000000000000000000000000");
    assert_eq!(
        rejected(inbox(&bob(), &[&alice()]).handle(NOW, &block(&bad))),
        EnvelopeError::BadSignerKey
    );
    // The mesh-level block signature is not where envelopes sign.
    let signed_block = Block::encode_signed(&env, alice().signing_key()).unwrap();
    assert_eq!(
        rejected(inbox(&bob(), &[&alice()]).handle(NOW, &signed_block)),
        EnvelopeError::BlockSigned
    );
}

#[test]
fn proof_of_work_is_checked_before_anything_else() {
    let config = |difficulty| InboxConfig {
        difficulty,
        allow: BTreeSet::from([alice().id()]),
        ..InboxConfig::default()
    };
    // A huge garbage "ciphertext" that is addressed to Bob.
    let mut junk = vec![0u8; MAX_CIPHERTEXT];
    rng().fill_bytes(&mut junk);
    let garbage = GlobalEnvelope {
        to_tag: to_tag(&bob().encryption_public(), slot(NOW)),
        ciphertext: junk,
        expires_at_ms: NOW + TTL,
        pow: None,
        signature: None,
    };
    let mut strict = Inbox::new(&bob(), config(16));
    assert_eq!(
        rejected(strict.handle(NOW, &block(&garbage))),
        EnvelopeError::MissingPow { required: 16 }
    );
    // A nonce below the difficulty: refused as bad PoW, not as a decryption failure.
    let weak_nonce = (0u64..)
        .find(|n| leading_zeros(&pow_hash(&garbage, *n).unwrap()) < 16)
        .unwrap();
    let mut weak = garbage.clone();
    weak.pow = Some(weak_nonce);
    let found = leading_zeros(&pow_hash(&garbage, weak_nonce).unwrap());
    assert_eq!(
        rejected(strict.handle(NOW, &block(&weak))),
        EnvelopeError::InsufficientPow {
            required: 16,
            found
        }
    );
    assert!(EnvelopeError::MissingPow { required: 16 }.forwarder_accountable());
    // Without a PoW requirement the same garbage costs a decryption, and fails it.
    assert_eq!(
        rejected(Inbox::new(&bob(), config(0)).handle(NOW, &block(&garbage))),
        EnvelopeError::Decrypt
    );
    // PoW comes before the expiry and the tag too: expired junk for someone else.
    let mut elsewhere = garbage.clone();
    elsewhere.to_tag = [0; 32];
    elsewhere.expires_at_ms = NOW - 1;
    assert_eq!(
        rejected(strict.handle(NOW, &block(&elsewhere))),
        EnvelopeError::MissingPow { required: 16 }
    );

    // Honest envelopes with enough work pass; the minted nonce is the first that works.
    let mut env = seal(&alice(), &bob(), invitation("work"));
    let nonce = mint_pow(&mut env, 12).unwrap();
    assert_eq!(env.pow, Some(nonce));
    assert!(check_pow(&env, 12).is_ok());
    assert!((0..nonce).all(|n| leading_zeros(&pow_hash(&env, n).unwrap()) < 12));
    assert!(matches!(
        Inbox::new(&bob(), config(12)).handle(NOW, &block(&env)),
        InboxOutcome::Delivered(_)
    ));
    // Envelopes for others are checked too.
    assert_eq!(
        Inbox::new(&carol(), config(12)).handle(NOW, &block(&env)),
        InboxOutcome::NotForUs
    );
    let mut unpaid = env.clone();
    unpaid.pow = None;
    assert_eq!(
        rejected(Inbox::new(&carol(), config(12)).handle(NOW, &block(&unpaid))),
        EnvelopeError::MissingPow { required: 12 }
    );
    // Sign after minting; minting after signing is refused.
    env.sign(alice().signing_key()).unwrap();
    assert!(check_pow(&env, 12).is_ok());
    assert!(matches!(
        Inbox::new(&bob(), config(12)).handle(NOW, &block(&env)),
        InboxOutcome::Delivered(_)
    ));
    assert_eq!(mint_pow(&mut env, 12), Err(PowError::AlreadySigned));
}

fn leading_zeros(hash: &[u8; 32]) -> u32 {
    let mut bits = 0;
    for b in hash {
        bits += b.leading_zeros();
        if *b != 0 {
            break;
        }
    }
    bits
}

#[test]
fn expiry_is_enforced_both_ways() {
    let env = seal(&alice(), &bob(), invitation("x"));
    let mut bob_inbox = inbox(&bob(), &[&alice()]);
    let late = NOW + TTL + 1;
    assert_eq!(
        rejected(bob_inbox.handle(late, &block(&env))),
        EnvelopeError::Expired {
            expires_at_ms: NOW + TTL,
            now_ms: late
        }
    );
    // Expired envelopes for others are rejected too: every relay can see it.
    assert!(matches!(
        rejected(inbox(&carol(), &[]).handle(late, &block(&env))),
        EnvelopeError::Expired { .. }
    ));
    // The last valid millisecond.
    assert!(matches!(
        bob_inbox.handle(NOW + TTL, &block(&env)),
        InboxOutcome::Delivered(_)
    ));
    // An expiry no honest sender sets.
    let far = NOW + MAX_TTL_MS + MAX_CLOCK_SKEW_MS + 1;
    let env = seal_for_slot(&alice(), &bob(), slot(NOW), far);
    assert!(matches!(
        rejected(inbox(&bob(), &[&alice()]).handle(NOW, &block(&env))),
        EnvelopeError::ExpiryTooFar { .. }
    ));
}

#[test]
fn unsolicited_messages_wait_for_the_user() {
    let mut bob_inbox = inbox(&bob(), &[]);
    let first = block(&seal(&alice(), &bob(), invitation("first")));
    assert_eq!(
        bob_inbox.handle(NOW, &first),
        InboxOutcome::Held { from: alice().id() }
    );
    let from_carol = block(&seal(&carol(), &bob(), invitation("carol")));
    assert_eq!(
        bob_inbox.handle(NOW, &from_carol),
        InboxOutcome::Held { from: carol().id() }
    );
    let second = GlobalEnvelope::seal(
        &alice(),
        &bob().encryption_public(),
        invitation("second"),
        NOW,
        TTL,
        &mut ChaCha20Rng::seed_from_u64(2),
    )
    .unwrap();
    assert_eq!(
        bob_inbox.handle(NOW, &block(&second)),
        InboxOutcome::Held { from: alice().id() }
    );
    assert_eq!(bob_inbox.pending().count(), 3);
    assert!(!bob_inbox.is_allowed(&alice().id()));

    let released = bob_inbox.accept(alice().id());
    let notes: Vec<_> = released.iter().map(|d| d.body.clone()).collect();
    assert_eq!(notes, vec![invitation("first"), invitation("second")]);
    assert_eq!(
        bob_inbox.pending().map(|d| d.from).collect::<Vec<_>>(),
        vec![carol().id()]
    );
    // From now on Alice is delivered at once.
    let third = GlobalEnvelope::seal(
        &alice(),
        &bob().encryption_public(),
        invitation("third"),
        NOW,
        TTL,
        &mut ChaCha20Rng::seed_from_u64(3),
    )
    .unwrap();
    assert_eq!(
        delivered(bob_inbox.handle(NOW, &block(&third))).body,
        invitation("third")
    );
    // Seen before: ignored, not delivered twice.
    assert_eq!(bob_inbox.handle(NOW, &first), InboxOutcome::Duplicate);
    assert_eq!(bob_inbox.dismiss(&carol().id()), 1);
    assert_eq!(bob_inbox.pending().count(), 0);
    assert!(bob_inbox.revoke(&alice().id()));
    let fourth = GlobalEnvelope::seal(
        &alice(),
        &bob().encryption_public(),
        invitation("4"),
        NOW,
        TTL,
        &mut ChaCha20Rng::seed_from_u64(4),
    )
    .unwrap();
    assert_eq!(
        bob_inbox.handle(NOW, &block(&fourth)),
        InboxOutcome::Held { from: alice().id() }
    );
}

#[test]
fn allow_listed_senders_are_delivered_at_once() {
    let mut bob_inbox = inbox(&bob(), &[&carol()]);
    let d = delivered(bob_inbox.handle(NOW, &block(&seal(&carol(), &bob(), invitation("hi")))));
    assert_eq!(d.from, carol().id());
    assert_eq!(bob_inbox.pending().count(), 0);
    assert!(bob_inbox.accept(carol().id()).is_empty());
}

#[test]
fn pending_is_bounded_and_drops_the_oldest() {
    let mut bob_inbox = Inbox::new(
        &bob(),
        InboxConfig {
            max_pending: 3,
            ..InboxConfig::default()
        },
    );
    let senders: Vec<Identity> = (10..16).map(identity).collect();
    for s in &senders {
        assert_eq!(
            bob_inbox.handle(NOW, &block(&seal(s, &bob(), invitation("x")))),
            InboxOutcome::Held { from: s.id() }
        );
    }
    let held: Vec<_> = bob_inbox.pending().map(|d| d.from).collect();
    assert_eq!(
        held,
        senders[3..].iter().map(Identity::id).collect::<Vec<_>>()
    );
    assert!(bob_inbox.accept(senders[0].id()).is_empty());

    let mut none = Inbox::new(
        &bob(),
        InboxConfig {
            max_pending: 0,
            ..InboxConfig::default()
        },
    );
    let blk = block(&seal(&alice(), &bob(), invitation("x")));
    assert_eq!(
        none.handle(NOW, &blk),
        InboxOutcome::Held { from: alice().id() }
    );
    assert_eq!(none.pending().count(), 0);
}

#[test]
fn duplicates_are_recognised_even_rewrapped() {
    let env = seal(&alice(), &bob(), invitation("x"));
    let mut bob_inbox = inbox(&bob(), &[&alice()]);
    assert!(matches!(
        bob_inbox.handle(NOW, &block(&env)),
        InboxOutcome::Delivered(_)
    ));
    assert_eq!(bob_inbox.handle(NOW, &block(&env)), InboxOutcome::Duplicate);
    // A relay added a (pointless) pow: another block, same content.
    let mut rewrapped = env.clone();
    rewrapped.pow = Some(42);
    assert_ne!(block(&rewrapped).cid(), block(&env).cid());
    assert_eq!(
        bob_inbox.handle(NOW, &block(&rewrapped)),
        InboxOutcome::Duplicate
    );
    // The seen-set is bounded.
    let mut small = Inbox::new(
        &bob(),
        InboxConfig {
            allow: BTreeSet::from([alice().id()]),
            max_seen: 2,
            ..InboxConfig::default()
        },
    );
    assert!(matches!(
        small.handle(NOW, &block(&env)),
        InboxOutcome::Delivered(_)
    ));
    let other = block(
        &GlobalEnvelope::seal(
            &alice(),
            &bob().encryption_public(),
            invitation("o"),
            NOW,
            TTL,
            &mut ChaCha20Rng::seed_from_u64(5),
        )
        .unwrap(),
    );
    assert!(matches!(
        small.handle(NOW, &other),
        InboxOutcome::Delivered(_)
    ));
    assert!(matches!(
        small.handle(NOW, &block(&env)),
        InboxOutcome::Delivered(_)
    ));
}

#[test]
fn other_blocks_on_the_topic_are_rejected_by_kind() {
    let mut bob_inbox = inbox(&bob(), &[]);
    let text = Block::encode(&Text {
        body: "plaintext".into(),
    })
    .unwrap();
    assert_eq!(
        bob_inbox.handle(NOW, &text),
        InboxOutcome::Rejected(RejectReason::UnexpectedType("text".into()))
    );
    let raw = Block::raw(&b"raw"[..]).unwrap();
    assert_eq!(
        bob_inbox.handle(NOW, &raw),
        InboxOutcome::Rejected(RejectReason::Malformed(DecodeError::NotDagCbor))
    );
    let big = Block::raw(vec![0u8; MAX_ENVELOPE_SIZE + 1]).unwrap();
    assert_eq!(
        bob_inbox.handle(NOW, &big),
        InboxOutcome::Rejected(RejectReason::TooLarge {
            size: MAX_ENVELOPE_SIZE + 1
        })
    );
    // Ciphertext bounds.
    for size in [suite::OVERHEAD - 1, MAX_CIPHERTEXT + 1] {
        let env = GlobalEnvelope {
            to_tag: [0; 32],
            ciphertext: vec![0; size],
            expires_at_ms: NOW + TTL,
            pow: None,
            signature: None,
        };
        let blk = Block::encode(&env).unwrap();
        assert_eq!(
            rejected(bob_inbox.handle(NOW, &blk)),
            EnvelopeError::CiphertextSize { size }
        );
    }
}

#[test]
fn sealing_refuses_what_receivers_would_refuse() {
    let pk = bob().encryption_public();
    let mut r = rng();
    for ttl in [0, MAX_TTL_MS + 1] {
        assert_eq!(
            GlobalEnvelope::seal(&alice(), &pk, invitation("x"), NOW, ttl, &mut r),
            Err(SealError::BadTtl { ttl_ms: ttl })
        );
    }
    assert_eq!(
        GlobalEnvelope::seal(&alice(), &pk, invitation("x"), u64::MAX, 1, &mut r),
        Err(SealError::BadTtl { ttl_ms: 1 })
    );
    let long_note = invitation(&"é".repeat(MAX_NOTE / 2 + 1));
    assert_eq!(
        GlobalEnvelope::seal(&alice(), &pk, long_note, NOW, TTL, &mut r),
        Err(SealError::BodyTooLarge {
            len: MAX_NOTE + 2,
            max: MAX_NOTE
        })
    );
    let big = Body::Bootstrap {
        data: vec![0; MAX_BOOTSTRAP + 1],
    };
    assert!(matches!(
        GlobalEnvelope::seal(&alice(), &pk, big, NOW, TTL, &mut r),
        Err(SealError::BodyTooLarge { .. })
    ));
    assert_eq!(
        GlobalEnvelope::seal(
            &alice(),
            &PublicKey::from([0; 32]),
            invitation("x"),
            NOW,
            TTL,
            &mut r
        ),
        Err(SealError::BadRecipientKey)
    );
    assert!(matches!(
        GlobalEnvelope {
            to_tag: [0; 32],
            ciphertext: vec![0; MAX_ENVELOPE_SIZE],
            expires_at_ms: 0,
            pow: None,
            signature: None
        }
        .to_block(),
        Err(SealError::TooLarge { .. })
    ));
}

// ---------------------------------------------------------------------------------------
// Presence.

fn node() -> NodeId {
    NodeId::from_bytes([0x4e; 32])
}

#[test]
fn presence_binds_an_actor_to_its_node() {
    let a = alice();
    let p = Presence::new(&a, node(), NOW, 60_000);
    let blk = p.to_block(&a).unwrap();
    assert_eq!(verify_presence(&blk, NOW).unwrap(), p);
    assert_eq!(verify_presence(&blk, NOW + 60_000).unwrap(), p);

    let mut bob_inbox = inbox(&bob(), &[]);
    let seen = InboxOutcome::Presence {
        actor: a.id(),
        node: node(),
        updated: true,
    };
    assert_eq!(bob_inbox.handle(NOW, &blk), seen);
    assert_eq!(
        bob_inbox.handle(NOW, &blk),
        InboxOutcome::Presence {
            actor: a.id(),
            node: node(),
            updated: false
        }
    );
    let moved = Presence::new(&a, NodeId::from_bytes([1; 32]), NOW + 1, 60_000);
    assert!(matches!(
        bob_inbox.handle(NOW + 1, &moved.to_block(&a).unwrap()),
        InboxOutcome::Presence { updated: true, .. }
    ));
    assert_eq!(
        bob_inbox.presence().get(&a.id(), NOW + 2).map(|p| p.node),
        Some(NodeId::from_bytes([1; 32]))
    );
    assert_eq!(bob_inbox.prune(NOW + 60_002), 1);
    assert!(bob_inbox.presence().is_empty());
}

#[test]
fn stale_future_and_forged_presence_is_refused() {
    let a = alice();
    let p = Presence::new(&a, node(), NOW, 60_000);
    let blk = p.to_block(&a).unwrap();
    assert_eq!(
        verify_presence(&blk, NOW + 60_001),
        Err(PresenceError::Expired {
            expires_at_ms: NOW + 60_000,
            now_ms: NOW + 60_001
        })
    );
    // Within the skew bound it is fine; beyond it, it is from the future.
    assert!(verify_presence(&blk, NOW - MAX_CLOCK_SKEW_MS).is_ok());
    assert_eq!(
        verify_presence(&blk, NOW - MAX_CLOCK_SKEW_MS - 1),
        Err(PresenceError::FromFuture {
            at_ms: NOW,
            now_ms: NOW - MAX_CLOCK_SKEW_MS - 1
        })
    );
    for ttl in [0, MAX_PRESENCE_TTL_MS + 1] {
        let bad = Presence::new(&a, node(), NOW, ttl).to_block(&a).unwrap();
        assert_eq!(
            verify_presence(&bad, NOW),
            Err(PresenceError::BadTtl { ttl_ms: ttl })
        );
    }
    // Signed by Carol, naming Alice.
    let forged = p.to_block(&carol()).unwrap();
    assert_eq!(
        verify_presence(&forged, NOW),
        Err(PresenceError::SignerMismatch)
    );
    // Carol's key and signature, Alice's id.
    let mut claim = Presence::new(&carol(), node(), NOW, 60_000);
    claim.actor = a.id();
    assert_eq!(
        verify_presence(&claim.to_block(&carol()).unwrap(), NOW),
        Err(PresenceError::ActorMismatch)
    );
    // Alice's signature over another node.
    let signed = Envelope::<Presence>::signed(p.clone(), a.signing_key()).unwrap();
    let moved = Envelope {
        payload: Presence {
            node: NodeId::from_bytes([6; 32]),
            ..p.clone()
        },
        sig: signed.sig,
    };
    assert_eq!(
        verify_presence(&moved.to_block().unwrap(), NOW),
        Err(PresenceError::BadSignature)
    );
    let mut bad_sig = signed.clone();
    bad_sig.sig.as_mut().unwrap().sig[0] ^= 1;
    assert_eq!(
        verify_presence(&bad_sig.to_block().unwrap(), NOW),
        Err(PresenceError::BadSignature)
    );
    assert_eq!(
        verify_presence(&Block::encode(&p).unwrap(), NOW),
        Err(PresenceError::Unsigned)
    );
    let mut bad_key = p.clone();
    bad_key.actor_key = h32("0200000000000000000000000000000000000000000000000000000000000000");
    assert_eq!(
        verify_presence(&Block::encode(&bad_key).unwrap(), NOW),
        Err(PresenceError::BadKey)
    );
    assert!(matches!(
        verify_presence(&Block::encode(&Text { body: "x".into() }).unwrap(), NOW),
        Err(PresenceError::Decode(_))
    ));
    // Through the inbox: typed, and the forwarder could have checked.
    let outcome = inbox(&bob(), &[]).handle(NOW, &forged);
    assert_eq!(
        outcome,
        InboxOutcome::Rejected(RejectReason::Presence(PresenceError::SignerMismatch))
    );
    if let InboxOutcome::Rejected(reason) = outcome {
        assert!(reason.forwarder_accountable());
    }
}

// ---------------------------------------------------------------------------------------
// Golden vectors: a red test here is a wire-format break. Regenerate on purpose only:
// `QUORATE_BLESS=1 cargo test -p quorate-actor-core --test rendezvous golden`.

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/rendezvous.txt");

fn golden_values() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let b = bob();
    out.push((
        "to-tag-bob-slot-486111".to_owned(),
        hex::encode(to_tag(&b.encryption_public(), 486_111)),
    ));
    let mut env = GlobalEnvelope::seal(
        &alice(),
        &b.encryption_public(),
        invitation("golden"),
        NOW,
        TTL,
        &mut ChaCha20Rng::seed_from_u64(1),
    )
    .unwrap();
    let nonce = mint_pow(&mut env, 8).unwrap();
    out.push(("envelope-pow-nonce-d8".to_owned(), format!("{nonce:016x}")));
    out.push((
        "envelope-pow-hash".to_owned(),
        hex::encode(pow_hash(&env, nonce).unwrap()),
    ));
    env.sign(alice().signing_key()).unwrap();
    let blk = env.to_block().unwrap();
    out.push(("envelope-block".to_owned(), hex::encode(blk.bytes())));
    out.push(("envelope-cid".to_owned(), blk.cid().to_string()));
    let p = Presence::new(&alice(), node(), NOW, 60_000)
        .to_block(&alice())
        .unwrap();
    out.push(("presence-block".to_owned(), hex::encode(p.bytes())));
    out.push(("presence-cid".to_owned(), p.cid().to_string()));
    out
}

#[test]
fn golden_vectors() {
    let fresh = golden_values();
    if std::env::var_os("QUORATE_BLESS").is_some() {
        let text: String = fresh.iter().map(|(k, v)| format!("{k} = {v}\n")).collect();
        std::fs::write(VECTORS, text).unwrap();
    }
    let stored: Vec<(String, String)> = std::fs::read_to_string(VECTORS)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l.split_once(" = ").unwrap();
            (k.to_owned(), v.to_owned())
        })
        .collect();
    assert_eq!(stored, fresh);
    // The stored bytes, independent of today's encoder, still open for Bob.
    let get = |name: &str| &stored.iter().find(|(k, _)| k == name).unwrap().1;
    let cid: Cid = get("envelope-cid").parse().unwrap();
    let blk = Block::from_untrusted(&cid, h(get("envelope-block"))).unwrap();
    let mut bob_inbox = Inbox::new(
        &bob(),
        InboxConfig {
            difficulty: 8,
            allow: BTreeSet::from([alice().id()]),
            ..InboxConfig::default()
        },
    );
    let d = delivered(bob_inbox.handle(NOW, &blk));
    assert_eq!(d.body, invitation("golden"));
    assert!(d.public);
    let cid: Cid = get("presence-cid").parse().unwrap();
    let blk = Block::from_untrusted(&cid, h(get("presence-block"))).unwrap();
    assert_eq!(verify_presence(&blk, NOW).unwrap().actor, alice().id());
}

/// Cost of minting, for the record (`cargo test --release -p quorate-actor-core --test
/// rendezvous -- --ignored --nocapture pow_cost`). Not a timing assertion.
#[test]
#[ignore = "measurement, run by hand in release"]
fn pow_cost() {
    for difficulty in [16u8, 20] {
        let mut total = std::time::Duration::ZERO;
        let mut hashes = 0u64;
        let runs = 8u64;
        for seed in 0..runs {
            let mut env = GlobalEnvelope::seal(
                &alice(),
                &bob().encryption_public(),
                invitation("pow"),
                NOW,
                TTL,
                &mut ChaCha20Rng::seed_from_u64(seed),
            )
            .unwrap();
            let start = std::time::Instant::now();
            let nonce = mint_pow(&mut env, difficulty).unwrap();
            total += start.elapsed();
            hashes += nonce + 1;
        }
        let start = std::time::Instant::now();
        let env = seal(&alice(), &bob(), invitation("pow"));
        for _ in 0..1000 {
            let _ = check_pow(&env, 1);
        }
        let check = start.elapsed() / 1000;
        println!(
            "difficulty {difficulty}: mean {:?} per mint over {runs} envelopes ({} hashes on average); check {check:?}",
            total / runs as u32,
            hashes / runs
        );
    }
    // Junk addressed to Bob: what refusing it by PoW costs, against trying to open it.
    for size in [256, MAX_CIPHERTEXT] {
        let blocks: Vec<Block> = (0..100u64)
            .map(|i| {
                block(&GlobalEnvelope {
                    to_tag: to_tag(&bob().encryption_public(), slot(NOW)),
                    ciphertext: vec![7; size],
                    expires_at_ms: NOW + TTL,
                    pow: Some(i),
                    signature: None,
                })
            })
            .collect();
        let mut strict = Inbox::new(
            &bob(),
            InboxConfig {
                difficulty: 20,
                ..InboxConfig::default()
            },
        );
        let mut open = Inbox::new(&bob(), InboxConfig::default());
        let start = std::time::Instant::now();
        for b in &blocks {
            assert!(matches!(strict.handle(NOW, b), InboxOutcome::Rejected(_)));
        }
        let refused = start.elapsed() / 100;
        let start = std::time::Instant::now();
        for b in &blocks {
            assert!(matches!(open.handle(NOW, b), InboxOutcome::Rejected(_)));
        }
        let opened = start.elapsed() / 100;
        println!(
            "{size}-byte junk for Bob: refused by PoW in {refused:?}; without PoW (through HPKE) {opened:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Garbage never panics; mutations never change what is delivered.

mod props {
    use super::*;
    use proptest::prelude::*;

    fn body() -> impl Strategy<Value = Body> {
        prop_oneof![
            (
                proptest::option::of(any::<[u8; 32]>()),
                ".{0,64}",
                proptest::option::of(any::<[u8; 32]>())
            )
                .prop_map(|(group, note, payload)| Body::Invitation {
                    group,
                    note,
                    payload: payload.map(|d| Cid::from_digest(Codec::DagCbor, d)),
                }),
            proptest::collection::vec(any::<u8>(), 0..256)
                .prop_map(|data| Body::Bootstrap { data }),
        ]
    }

    fn envelope() -> impl Strategy<Value = GlobalEnvelope> {
        (
            any::<[u8; 32]>(),
            proptest::collection::vec(any::<u8>(), suite::OVERHEAD..1024),
            any::<u64>(),
            proptest::option::of(any::<u64>()),
            proptest::option::of((
                any::<[u8; 32]>(),
                proptest::collection::vec(any::<u8>(), 64),
            )),
        )
            .prop_map(
                |(to_tag, ciphertext, expires_at_ms, pow, sig)| GlobalEnvelope {
                    to_tag,
                    ciphertext,
                    expires_at_ms,
                    pow,
                    signature: sig.map(|(key, sig)| ObjectSig {
                        key,
                        sig: sig.try_into().unwrap(),
                    }),
                },
            )
    }

    fn mutate(bytes: &[u8], edits: &[(usize, u8, u8)]) -> Vec<u8> {
        let mut out = bytes.to_vec();
        for &(at, kind, value) in edits {
            if out.is_empty() {
                out.push(value);
                continue;
            }
            let at = at % out.len();
            match kind % 4 {
                0 => out[at] ^= value | 1,
                1 => out.insert(at, value),
                2 => {
                    out.remove(at);
                }
                _ => out.truncate(at),
            }
        }
        out
    }

    fn as_block(bytes: Vec<u8>) -> Block {
        Block::from_untrusted(&Cid::of(Codec::DagCbor, &bytes), bytes).unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn envelope_codec_round_trips(env in envelope()) {
            let blk = env.to_block().unwrap();
            let back = GlobalEnvelope::from_block(&blk).unwrap();
            prop_assert_eq!(&back, &env);
            prop_assert_eq!(back.to_block().unwrap(), blk);
        }

        #[test]
        fn sealed_codec_round_trips(body in body(), tag in any::<[u8; 32]>(), exp in any::<u64>()) {
            let sealed = Sealed::sign(&alice(), &tag, exp, body).unwrap();
            let bytes = sealed.to_bytes().unwrap();
            prop_assert_eq!(&Sealed::from_bytes(&bytes).unwrap(), &sealed);
            prop_assert_eq!(sealed.verify(&tag, exp).unwrap(), alice().verifying_key());
            prop_assert!(sealed.verify(&tag, exp ^ 1).is_err());
        }

        #[test]
        fn sealed_round_trips_through_an_inbox(body in body(), seed in any::<u64>()) {
            let env = GlobalEnvelope::seal(
                &alice(), &bob().encryption_public(), body.clone(), NOW, TTL,
                &mut ChaCha20Rng::seed_from_u64(seed),
            ).unwrap();
            let d = delivered(inbox(&bob(), &[&alice()]).handle(NOW, &env.to_block().unwrap()));
            prop_assert_eq!(d.body, body);
        }

        #[test]
        fn random_bytes_give_typed_errors(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let blk = as_block(bytes.clone());
            if let Ok(env) = GlobalEnvelope::from_block(&blk) {
                prop_assert_eq!(env.to_block().unwrap(), blk.clone());
            }
            let _ = verify_presence(&blk, NOW);
            let _ = Sealed::from_bytes(&bytes);
            let outcome = inbox(&bob(), &[]).handle(NOW, &blk);
            prop_assert!(matches!(outcome, InboxOutcome::Rejected(_) | InboxOutcome::NotForUs), "{:?}", outcome);
        }

        #[test]
        fn mutated_envelopes_never_deliver_anything_else(
            edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..4),
            public in any::<bool>(),
        ) {
            let mut env = seal(&alice(), &bob(), invitation("original"));
            if public {
                env.sign(alice().signing_key()).unwrap();
            }
            let original = env.to_block().unwrap();
            let bytes = mutate(original.bytes(), &edits);
            let blk = as_block(bytes);
            match inbox(&bob(), &[&alice()]).handle(NOW, &blk) {
                InboxOutcome::Delivered(d) => {
                    prop_assert_eq!(d.from, alice().id());
                    prop_assert_eq!(d.body, invitation("original"));
                }
                InboxOutcome::Rejected(_) | InboxOutcome::NotForUs => {}
                other => prop_assert!(false, "unexpected {:?}", other),
            }
        }

        #[test]
        fn mutated_sealed_plaintext_never_delivers_anything_else(
            edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..4),
        ) {
            let b = bob();
            let tag = to_tag(&b.encryption_public(), slot(NOW));
            let sealed = Sealed::sign(&alice(), &tag, NOW + TTL, invitation("original")).unwrap();
            let plaintext = mutate(&sealed.to_bytes().unwrap(), &edits);
            let env = seal_raw(&b, tag, NOW + TTL, &plaintext);
            match inbox(&b, &[&alice()]).handle(NOW, &env.to_block().unwrap()) {
                InboxOutcome::Delivered(d) => {
                    prop_assert_eq!(d.from, alice().id());
                    prop_assert_eq!(d.body, invitation("original"));
                }
                InboxOutcome::Rejected(RejectReason::Envelope(e)) => prop_assert!(!e.forwarder_accountable(), "{:?}", e),
                other => prop_assert!(false, "unexpected {:?}", other),
            }
        }

        #[test]
        fn mutated_presence_never_verifies_as_anything_else(
            edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..4),
        ) {
            let p = Presence::new(&alice(), node(), NOW, 60_000);
            let blk = p.to_block(&alice()).unwrap();
            let mutated = as_block(mutate(blk.bytes(), &edits));
            if let Ok(q) = verify_presence(&mutated, NOW) {
                prop_assert_eq!(q, p);
            }
        }
    }
}
