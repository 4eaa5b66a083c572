//! `quorate verify`: an outsider checks a group attestation with only `PK_G` — from the
//! block or its JSON form — and OpenSSL checks the same signature from the files
//! `--openssl` writes. Tampering, a wrong key and bad input fail clearly.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

mod common;

use std::process::Command;

use common::process::{quorate, stderr};
use quorate_actor_core::{ActorSecret, Identity};
use quorate_attestation_core::SingleKeyCommittee;
use quorate_governance_core::{Proposal, Vote, VoteValue};
use quorate_group_core::ops::{self, EpochChange};
use quorate_group_core::{Eligible, Fraction, GroupState, Member, Rule, StateConfig};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

const T0: u64 = 1_700_000_000_000;

/// An attestation of a passed TRIGGER_X proposal in a five-member group, and `PK_G`.
fn attestation() -> (quorate_mesh_proto::Block, [u8; 32]) {
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    let people: Vec<Identity> = (1..=5u8)
        .map(|i| Identity::from_secret(ActorSecret::from_bytes([i; 32])))
        .collect();
    let rule = Rule::FractionalApproval {
        threshold: Fraction::new(2, 5),
        eligible: Eligible::Members,
        action_types: vec!["TRIGGER_X".into()],
    };
    let members = people[1..].iter().map(Member::of).collect();
    let g =
        ops::create_group_with_rules(&people[0], "v", members, vec![], vec![rule], T0, &mut rng)
            .unwrap();
    let mut state = GroupState::new(g.id, None, StateConfig::default());
    g.blocks().for_each(|b| state.insert(b.clone()));
    let committee = SingleKeyCommittee::generate(people[0].id(), &mut rng);
    let change = EpochChange {
        committee: Some(*committee.committee(g.id).to_block().unwrap().cid()),
        ..EpochChange::default()
    };
    let e1 = ops::next_epoch(&people[0], &state, &change, T0, &mut rng).unwrap();
    e1.blocks().for_each(|b| state.insert(b.clone()));
    let current = state.current().unwrap();
    let proposal = Proposal {
        group: g.id,
        epoch: 1,
        epoch_state: current.cid,
        action_type: "TRIGGER_X".into(),
        action_payload: None,
        created_by: people[1].id(),
        created_at: T0,
        expires_at: T0 + 60_000,
    };
    let block = proposal.sign(&people[1]).unwrap();
    let votes: Vec<Vote> = people[..2]
        .iter()
        .map(|p| Vote::cast(p, g.id, *block.cid(), 1, VoteValue::Yes))
        .collect();
    let attested = committee.attest(&state, &block, &votes, T0 + 1).unwrap();
    (attested.block, committee.group_key())
}

/// `quorate verify --group-key KEY --attestation FILE`.
fn verify(key: &str, file: &std::path::Path) -> std::process::Output {
    quorate(&[
        "verify",
        "--group-key",
        key,
        "--attestation",
        file.to_str().unwrap(),
    ])
}

/// The attestation in `file` does not verify under `key`, for the reason `needle`.
fn refused(key: &str, file: &std::path::Path, needle: &str) {
    let out = verify(key, file);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains(needle), "{}", stderr(&out));
}

#[test]
fn an_outsider_verifies_with_the_group_key_alone_and_openssl_agrees() {
    let (block, key) = attestation();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("attestation.cbor");
    std::fs::write(&file, block.bytes()).unwrap();
    let key_hex = hex::encode(key);
    let ssl = dir.path().join("openssl");
    let out = quorate(&[
        "verify",
        "--group-key",
        &key_hex,
        "--attestation",
        file.to_str().unwrap(),
        "--openssl",
        ssl.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(out.status.success(), "{stdout}{}", stderr(&out));
    assert!(stdout.starts_with("valid: group "), "{stdout}");
    // The printed OpenSSL command verifies the same signature.
    let command = stdout
        .lines()
        .find(|l| l.trim().starts_with("openssl "))
        .unwrap();
    let args: Vec<&str> = command.split_whitespace().skip(1).collect();
    let ssl_out = Command::new("openssl").args(&args).output().unwrap();
    assert!(
        ssl_out.status.success(),
        "{}",
        String::from_utf8_lossy(&ssl_out.stderr)
    );

    // The JSON form verifies too; `--json` says so in JSON.
    let out = quorate(&[
        "verify",
        "--group-key",
        &key_hex,
        "--attestation",
        file.to_str().unwrap(),
        "--json",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["valid"], true);
    let json_file = dir.path().join("attestation.json");
    std::fs::write(&json_file, report["attestation"].to_string()).unwrap();
    let out = verify(&key_hex, &json_file);
    assert!(out.status.success(), "{}", stderr(&out));

    // A tampered signature, a tampered field, another key: exit 1 with the reason.
    let mut tampered = report["attestation"].clone();
    let sig = tampered["groupSignature"].as_str().unwrap().to_owned();
    let flipped = if sig.starts_with('0') { "1" } else { "0" };
    tampered["groupSignature"] = format!("{flipped}{}", &sig[1..]).into();
    std::fs::write(&json_file, tampered.to_string()).unwrap();
    refused(&key_hex, &json_file, "does not verify under this group key");
    let mut moved = report["attestation"].clone();
    moved["epoch"] = 7.into();
    std::fs::write(&json_file, moved.to_string()).unwrap();
    refused(&key_hex, &json_file, "signedMessageHash does not match");
    let other = hex::encode(
        SingleKeyCommittee::generate(
            Identity::from_secret(ActorSecret::from_bytes([9; 32])).id(),
            &mut ChaCha20Rng::seed_from_u64(9),
        )
        .group_key(),
    );
    refused(&other, &file, "does not verify under this group key");
}

#[test]
fn bad_input_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk");
    std::fs::write(&junk, b"\x00\x01junk").unwrap();
    let key = "00".repeat(32);
    let cases: [(&[&str], i32, &str); 4] = [
        (
            &["verify", "--group-key", "zz", "--attestation", "x"],
            2,
            "--group-key is not 64 hex",
        ),
        (
            &[
                "verify",
                "--group-key",
                &key,
                "--attestation",
                "/nonexistent/a",
            ],
            2,
            "cannot read /nonexistent/a",
        ),
        (
            &[
                "verify",
                "--group-key",
                &key,
                "--attestation",
                junk.to_str().unwrap(),
            ],
            1,
            "not an attestation",
        ),
        (&["verify", "--attestation", "x"], 2, "--group-key"),
    ];
    for (args, code, needle) in cases {
        let out = quorate(args);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
    }
}
