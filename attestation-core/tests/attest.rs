//! The MVP committee end to end on a 50-member group with a 10% rule: it refuses what
//! has not passed, signs what has, and outsiders verify with only `PK_G` — here, and with
//! OpenSSL's Ed25519 (`openssl pkeyutl -verify -rawin`) as an independent verifier.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

mod common;

use common::openssl::openssl_verifies;
use common::{T0, setup};
use quorate_attestation_core::{
    AttestationError, GroupAttestation, Refusal, SingleKeyCommittee, verify_attestation,
};
use quorate_governance_core::{Outcome, Proposal};
use quorate_mesh_proto::Block;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

#[test]
fn the_committee_signs_only_what_passed_and_outsiders_verify_with_pk_g_alone() {
    let s = setup();
    let (block, _) = s.propose(3);
    let now = T0 + 1000;
    let four = s.votes(&block, 10..14);
    match s.committee.attest(&s.state, &block, &four, now) {
        Err(Refusal::NotPassed(e)) => assert_eq!((e.outcome, e.yes), (Outcome::Pending, 4)),
        other => panic!("four votes: {other:?}"),
    }
    let five = s.votes(&block, 10..15);
    let attested = s.committee.attest(&s.state, &block, &five, now).unwrap();
    let a = &attested.attestation;
    assert_eq!((a.epoch, a.proposal, a.issued_at), (1, *block.cid(), now));
    let pk = s.committee.group_key();
    verify_attestation(&pk, a).unwrap();
    // Round trip through the block.
    assert_eq!(&GroupAttestation::decode(&attested.block).unwrap(), a);

    // Anything changed fails.
    let mut t = a.clone();
    t.group_signature[10] ^= 1;
    assert_eq!(
        verify_attestation(&pk, &t),
        Err(AttestationError::BadSignature)
    );
    let mut t = a.clone();
    t.epoch = 2;
    assert_eq!(
        verify_attestation(&pk, &t),
        Err(AttestationError::HashMismatch)
    );
    let mut t = a.clone();
    t.signed_message_hash[0] ^= 1;
    assert_eq!(
        verify_attestation(&pk, &t),
        Err(AttestationError::HashMismatch)
    );
    let other = SingleKeyCommittee::generate(s.people[1].id(), &mut ChaCha20Rng::seed_from_u64(1));
    assert_eq!(
        verify_attestation(&other.group_key(), a),
        Err(AttestationError::BadSignature)
    );
    let not_a_point = (0..=255u8)
        .map(|i| [i; 32])
        .find(|k| ed25519_dalek::VerifyingKey::from_bytes(k).is_err())
        .unwrap();
    assert_eq!(
        verify_attestation(&not_a_point, a),
        Err(AttestationError::BadGroupKey)
    );
}

#[test]
fn the_committee_refuses_expired_other_epoch_and_foreign_committee_requests() {
    let s = setup();
    let (block, _) = s.propose(3);
    let five = s.votes(&block, 10..15);
    // Expired.
    match s.committee.attest(&s.state, &block, &five, T0 + 3_600_000) {
        Err(Refusal::NotPassed(e)) => assert_eq!(e.outcome, Outcome::Expired),
        other => panic!("expired: {other:?}"),
    }
    // A proposal for epoch 0, now that the group is at epoch 1.
    let epoch0 = s.state.epochs().find(|e| e.state.epoch == 0).unwrap();
    let old = Proposal {
        group: s.state.group(),
        epoch: 0,
        epoch_state: epoch0.cid,
        action_type: "TRIGGER_X".into(),
        action_payload: None,
        created_by: s.people[3].id(),
        created_at: T0,
        expires_at: T0 + 3_600_000,
    };
    let old_block = old.sign(&s.people[3]).unwrap();
    assert!(matches!(
        s.committee.attest(&s.state, &old_block, &five, T0 + 1000),
        Err(Refusal::NotCurrentEpoch {
            proposal: 0,
            current: 1
        })
    ));
    // A key the group's epoch does not name.
    let stranger =
        SingleKeyCommittee::generate(s.people[2].id(), &mut ChaCha20Rng::seed_from_u64(3));
    assert!(matches!(
        stranger.attest(&s.state, &block, &five, T0 + 1000),
        Err(Refusal::NotCommittee)
    ));
    // Junk instead of a proposal.
    let junk = Block::raw(b"not a proposal".to_vec()).unwrap();
    assert!(matches!(
        s.committee.attest(&s.state, &junk, &five, T0 + 1000),
        Err(Refusal::Proposal(_))
    ));
}

#[test]
fn openssl_verifies_the_attestation_as_plain_ed25519() {
    let s = setup();
    let (block, _) = s.propose(3);
    let five = s.votes(&block, 10..15);
    let a = s
        .committee
        .attest(&s.state, &block, &five, T0 + 1000)
        .unwrap()
        .attestation;
    let pk = s.committee.group_key();
    assert!(openssl_verifies(
        &pk,
        &a.signed_message(),
        &a.group_signature
    ));
    let mut bad = a.group_signature;
    bad[3] ^= 1;
    assert!(
        !openssl_verifies(&pk, &a.signed_message(), &bad),
        "tampered signature"
    );
    let mut msg = a.signed_message();
    msg[40] ^= 1;
    assert!(
        !openssl_verifies(&pk, &msg, &a.group_signature),
        "tampered message"
    );
    let other = SingleKeyCommittee::generate(s.people[1].id(), &mut ChaCha20Rng::seed_from_u64(1));
    assert!(
        !openssl_verifies(&other.group_key(), &a.signed_message(), &a.group_signature),
        "other key"
    );
}
