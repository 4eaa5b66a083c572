//! `quorate demo`, the README's main command, end to end: five real node processes over
//! real WebRTC run the whole flow and the transcript says what happened — checked here
//! against the files it leaves (the attestation verifies with `quorate verify` and PK_G
//! alone, also after the committee is reshared without the removed member). `--serve` keeps the group open: a new actor on its own node asks to join over
//! HTTP, is invited by the demo's admin, accepts and is admitted. A non-empty data
//! directory is refused without touching it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

mod common;

use std::io::{Read as _, Write as _};
use std::process::Command;

use common::cli;
use common::process::{BIN, Proc};
use serde_json::Value;

#[test]
fn the_demo_runs_the_whole_flow_and_its_attestation_verifies_as_an_outsider() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("demo");
    let out = Command::new(BIN)
        .args(["demo", "--json", "--data", data.to_str().unwrap()])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let narration = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{narration}");
    let t: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(t["ok"], true);
    let steps: Vec<&str> = t["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "servers",
            "actors",
            "mesh",
            "group",
            "invite",
            "messages",
            "committee",
            "propose",
            "attest",
            "verify",
            "action",
            "remove",
            "rotate"
        ]
    );
    let r = &t["result"];
    assert_eq!(r["committee"]["threshold"], 3);
    assert_eq!(r["committee"]["members"], 5);
    assert_eq!(r["trigger_posts"], 1, "TRIGGER_X fired exactly once");
    let step = |name: &str| {
        t["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["step"] == name)
            .unwrap()["facts"]
            .clone()
    };
    assert_eq!(step("mesh")["links"], 10, "a full mesh of 5 nodes");
    assert_eq!(step("propose")["outcome"], "passed");
    assert_eq!(step("propose")["yes"], 2, "TRIGGER_X=2/5 of 5 members");
    assert_eq!(step("verify")["tampered_rejected"], true);
    assert_eq!(
        step("action")["idempotency_key"],
        r["trigger_proposal"],
        "the POST is keyed by the proposal"
    );
    assert_eq!(step("remove")["removed"], step("actors")["actors"][4]["id"]);
    let rotated = &r["rotated"];
    assert_eq!(rotated["threshold"], 3, "3-of-4 after the removal");
    assert_eq!(rotated["members"], 4);
    assert_eq!(rotated["group_key"], r["group_key"], "resharing keeps PK_G");
    assert_eq!(rotated["removed_share_erased"], true);
    assert!(
        !data.join("ed/committee").exists()
            || std::fs::read_dir(data.join("ed/committee"))
                .unwrap()
                .count()
                == 0
    );
    assert!(narration.contains("Summary"), "{narration}");

    // An outsider: PK_G and the file, nothing else.
    let key = std::fs::read_to_string(data.join("group-key.txt")).unwrap();
    assert_eq!(key.trim(), r["group_key"].as_str().unwrap());
    let verify = |file: &std::path::Path| {
        Command::new(BIN)
            .args(["verify", "--group-key", key.trim(), "--attestation"])
            .arg(file)
            .output()
            .unwrap()
            .status
            .success()
    };
    assert!(verify(&data.join("attestation.json")));
    assert!(
        verify(&data.join("attestation-after-rotation.json")),
        "the rotated committee signs under the same key"
    );
    let mut tampered: Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("attestation.json")).unwrap())
            .unwrap();
    tampered["epoch"] = (tampered["epoch"].as_u64().unwrap() + 1).into();
    let bad = tmp.path().join("tampered.json");
    std::fs::write(&bad, tampered.to_string()).unwrap();
    assert!(!verify(&bad), "a relabelled epoch does not verify");
    // Every node kept its own store.
    for name in ["ann", "bo", "cy", "di", "ed"] {
        assert!(data.join(name).join("blocks.redb").exists());
    }
}

#[test]
fn a_non_empty_data_directory_is_refused_and_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("precious"), "keep me").unwrap();
    let out = Command::new(BIN)
        .args(["demo", "--data", tmp.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("precious")).unwrap(),
        "keep me"
    );
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
}

/// POSTs `body` to `url` (`http://ADDR/PATH`); the status code.
fn post(url: &str, body: &str) -> u16 {
    let rest = url.strip_prefix("http://").unwrap();
    let (addr, path) = rest.split_once('/').unwrap();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST /{path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    answer.split(' ').nth(1).unwrap().parse().unwrap()
}

#[test]
fn with_serve_a_new_actor_asks_to_join_and_is_admitted() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("demo");
    let demo = Proc::start(
        tmp.path(),
        "demo",
        &[
            "demo",
            "--serve",
            "--json",
            "--nodes",
            "3",
            "--data",
            data.to_str().unwrap(),
        ],
    );
    let t: Value = serde_json::from_str(&demo.first_line).unwrap();
    assert_eq!(t["ok"], true, "{t}");
    let r = &t["result"];
    let group = r["group"].as_str().unwrap();
    let join = r["join_url"].as_str().unwrap();

    // A newcomer on its own node in the demo's room.
    const PASS: &str = "newcomer passphrase";
    let dir = tmp.path().join("newcomer");
    let id = cli::new_actor(&dir, PASS, "Newcomer");
    let _node = Proc::start(
        tmp.path(),
        "newcomer-node",
        &[
            "node",
            "--data",
            dir.to_str().unwrap(),
            "--rendezvous",
            r["rendezvous"].as_str().unwrap(),
        ],
    );
    assert_eq!(
        post(join, "{\"actor\":\"nope\"}"),
        400,
        "a bad id is refused"
    );
    assert_eq!(post(join, &format!("{{\"actor\":\"{id}\"}}")), 202);
    cli::eventually(&dir, PASS, &["invitations"], "the demo's invitation", |v| {
        v["invitations"]
            .as_array()
            .is_some_and(|l| l.iter().any(|i| i["group"] == group))
    });
    cli::group(&dir, PASS, &["accept", group]);
    // 3 nodes, one removed by the script, plus the newcomer.
    cli::eventually(&dir, PASS, &["list"], "admission", |v| {
        v["groups"].as_array().is_some_and(|l| {
            l.iter().any(|g| {
                g["group"] == group
                    && g["member"] == true
                    && g["members"].as_array().unwrap().len() == 3
            })
        })
    });
    // The newcomer reads what members write from now on.
    cli::group(&dir, PASS, &["send", group, "hello from a newcomer"]);
    drop(demo);
}
