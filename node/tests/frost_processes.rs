//! A FROST committee across real processes over real WebRTC: three actors on three nodes
//! form a group; the admin calls a 2-of-3 DKG (`quorate group committee --threshold 2`);
//! every node ends with the same `PK_G` and a share on disk (0600); a proposal passes and
//! the committee's attestation verifies as plain Ed25519 with `quorate verify` (and
//! OpenSSL). Then the admin's node goes away and a restarted member, its share read back
//! from disk, signs the next proposal with the third member: any 2 of 3.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

mod common;

use std::path::Path;
use std::process::Command;

use common::cli;
use common::process::{BIN, Proc};
use serde_json::Value;

const PASS: &str = "frost test passphrase";

fn group(dir: &Path, args: &[&str]) -> Value {
    cli::group(dir, PASS, args)
}

fn eventually(dir: &Path, args: &[&str], what: &str, check: impl Fn(&Value) -> bool) -> Value {
    cli::eventually(dir, PASS, args, what, check)
}

fn node(tmp: &Path, dir: &Path, name: &str, url: &str) -> Proc {
    Proc::start(
        tmp,
        name,
        &["node", "--data", dir.to_str().unwrap(), "--rendezvous", url],
    )
}

fn attestation_of(proposals: &Value, p: &str) -> Option<Value> {
    proposals["proposals"]
        .as_array()?
        .iter()
        .find(|x| x["proposal"] == p)
        .map(|x| x["attestation"].clone())
        .filter(|a| !a.is_null())
}

/// `quorate verify` with the group key and the attestation alone (and OpenSSL on it).
fn verify(tmp: &Path, key: &str, attestation: &Value) {
    let file = tmp.join("attestation.json");
    std::fs::write(&file, attestation.to_string()).unwrap();
    let openssl = openssl_dir(tmp);
    let out = Command::new(BIN)
        .args(["verify", "--group-key", key, "--attestation"])
        .arg(&file)
        .arg("--openssl")
        .arg(&openssl)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // OpenSSL on what `--openssl` wrote: the genuine message verifies, a tampered one not.
    let openssl = |message: &Path| {
        Command::new("openssl")
            .args(["pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey"])
            .arg(openssl.join("pk.der"))
            .arg("-rawin")
            .arg("-in")
            .arg(message)
            .arg("-sigfile")
            .arg(openssl.join("signature.bin"))
            .output()
            .expect("openssl is installed (.ci/run installs it)")
            .status
            .success()
    };
    assert!(
        openssl(&openssl_dir(tmp).join("message.bin")),
        "OpenSSL verifies the committee's signature"
    );
    let mut tampered = std::fs::read(openssl_dir(tmp).join("message.bin")).unwrap();
    *tampered.last_mut().unwrap() ^= 1;
    let bad = tmp.join("tampered.bin");
    std::fs::write(&bad, tampered).unwrap();
    assert!(!openssl(&bad), "OpenSSL rejects a tampered message");
}

fn openssl_dir(tmp: &Path) -> std::path::PathBuf {
    tmp.join("openssl")
}

#[test]
fn a_two_of_three_frost_committee_over_real_webrtc_signs_and_survives_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dirs: Vec<_> = ["a", "b", "c"].iter().map(|n| tmp.path().join(n)).collect();
    let ids: Vec<String> = dirs
        .iter()
        .zip(["Ann", "Bo", "Cy"])
        .map(|(d, n)| cli::new_actor(d, PASS, n))
        .collect();
    let server = Proc::start(
        tmp.path(),
        "rendezvous",
        &["rendezvous", "--listen", "127.0.0.1:0"],
    );
    let url = format!("ws://{}", server.word(2));
    let mut nodes: Vec<Option<Proc>> = dirs
        .iter()
        .zip(["a", "b", "c"])
        .map(|(d, n)| Some(node(tmp.path(), d, n, &url)))
        .collect();
    let (a, b, c) = (&dirs[0], &dirs[1], &dirs[2]);

    let g = group(a, &["create", "council", "--approve", "TRIGGER_X=1/3"])["group"]
        .as_str()
        .unwrap()
        .to_owned();
    for (dir, id) in [(b, &ids[1]), (c, &ids[2])] {
        group(a, &["invite", &g, id]);
        eventually(dir, &["invitations"], "the invitation arrives", |v| {
            v["invitations"]
                .as_array()
                .is_some_and(|l| l.iter().any(|i| i["group"] == g.as_str()))
        });
        group(dir, &["accept", &g]);
    }
    for dir in [a, b, c] {
        eventually(dir, &["list"], "three members", |v| {
            v["groups"][0]["members"].as_array().map(Vec::len) == Some(3)
        });
    }

    // The DKG over the group topic; recorded once all three derived PK_G.
    let called = group(a, &["committee", &g, "--threshold", "2"]);
    assert_eq!(called["threshold"], 2, "{called}");
    let mut key = String::new();
    for dir in [a, b, c] {
        let v = eventually(dir, &["proposals", &g], "the committee is recorded", |v| {
            v["committee"] == "frost 2-of-3"
        });
        let k = v["group_key"].as_str().unwrap().to_owned();
        assert!(key.is_empty() || key == k, "one PK_G everywhere");
        key = k;
    }
    for dir in [a, b, c] {
        let shares: Vec<_> = std::fs::read_dir(dir.join("committee"))
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".frost"))
            .collect();
        assert_eq!(shares.len(), 1, "one share on disk in {}", dir.display());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = shares[0].metadata().unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    // A proposal passes; the committee signs; outsiders verify with PK_G alone.
    let p = group(b, &["propose", &g, "TRIGGER_X", "--text", "first"])["proposal"]
        .as_str()
        .unwrap()
        .to_owned();
    eventually(c, &["proposals", &g], "c sees the proposal", |v| {
        v["proposals"].as_array().is_some_and(|l| !l.is_empty())
    });
    group(c, &["vote", &g, &p, "yes"]);
    let v = eventually(a, &["proposals", &g], "the attestation", |v| {
        attestation_of(v, &p).is_some()
    });
    verify(tmp.path(), &key, &attestation_of(&v, &p).unwrap());

    // The admin's node goes; c restarts (its share read back from disk); b and c sign.
    nodes[0] = None;
    nodes[2] = None;
    nodes[2] = Some(node(tmp.path(), c, "c2", &url));
    eventually(c, &["proposals", &g], "c is back with the committee", |v| {
        v["committee"] == "frost 2-of-3"
    });
    let q = group(b, &["propose", &g, "TRIGGER_X", "--text", "second"])["proposal"]
        .as_str()
        .unwrap()
        .to_owned();
    eventually(c, &["proposals", &g], "c sees the second proposal", |v| {
        v["proposals"]
            .as_array()
            .is_some_and(|l| l.iter().any(|x| x["proposal"] == q.as_str()))
    });
    group(c, &["vote", &g, &q, "yes"]);
    let v = eventually(b, &["proposals", &g], "b and c attest without a", |v| {
        attestation_of(v, &q).is_some()
    });
    verify(tmp.path(), &key, &attestation_of(&v, &q).unwrap());
    drop(nodes);
}
