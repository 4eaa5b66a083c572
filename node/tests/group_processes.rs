//! `quorate group` end to end with real processes over real WebRTC: three actors on three
//! nodes; create, invite through the rendezvous topic, accept, admission by the admin's
//! node, messages, removal with a rekey the removed member cannot read, and clear errors.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

mod common;

use std::path::Path;
use std::process::Output;

use common::cli;
use common::process::Proc;
use serde_json::Value;

const PASS: &str = "group test passphrase";

fn run(dir: &Path, args: &[&str]) -> Output {
    cli::run(dir, PASS, args)
}

fn group(dir: &Path, args: &[&str]) -> Value {
    cli::group(dir, PASS, args)
}

fn eventually(dir: &Path, args: &[&str], what: &str, check: impl Fn(&Value) -> bool) -> Value {
    cli::eventually(dir, PASS, args, what, check)
}

fn new_actor(dir: &Path, name: &str) -> String {
    cli::new_actor(dir, PASS, name)
}

fn members(list: &Value, group: &str) -> usize {
    list["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["group"] == group)
        .map_or(0, |g| g["members"].as_array().unwrap().len())
}

fn texts(read: &Value) -> Vec<Option<String>> {
    read["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn three_actors_create_invite_accept_talk_and_remove_over_real_webrtc() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        tmp.path().join("a"),
        tmp.path().join("b"),
        tmp.path().join("c"),
    );
    let (_, id_b, id_c) = (
        new_actor(&a, "Ann"),
        new_actor(&b, "Bo"),
        new_actor(&c, "Cy"),
    );
    let server = Proc::start(
        tmp.path(),
        "rendezvous",
        &["rendezvous", "--listen", "127.0.0.1:0"],
    );
    let url = format!("ws://{}", server.word(2));
    let _nodes: Vec<Proc> = [(&a, "a"), (&b, "b"), (&c, "c")]
        .into_iter()
        .map(|(dir, name)| {
            Proc::start(
                tmp.path(),
                name,
                &[
                    "node",
                    "--data",
                    dir.to_str().unwrap(),
                    "--rendezvous",
                    &url,
                ],
            )
        })
        .collect();

    // A local mistake is a clear usage error.
    let bad = run(&a, &["group", "send", "nonsense", "hi"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("is not a group id"));

    let created = group(&a, &["create", "book club"]);
    let g = created["group"].as_str().unwrap().to_owned();
    for (dir, id) in [(&b, &id_b), (&c, &id_c)] {
        let invited = group(&a, &["invite", &g, id, "--note", "join us"]);
        assert!(invited["invite"].is_string(), "{invited}");
        eventually(dir, &["invitations"], "invitation arrives", |v| {
            v["invitations"].as_array().is_some_and(|l| {
                l.iter()
                    .any(|i| i["group"] == g.as_str() && i["note"] == "join us")
            })
        });
        group(dir, &["accept", &g]);
    }
    // The admin's node admits both (one epoch each, or one for both).
    eventually(&a, &["list"], "admin admits the joins", |v| {
        members(v, &g) == 3
    });
    eventually(&b, &["list"], "b sees three members", |v| {
        members(v, &g) == 3
    });

    group(&b, &["send", &g, "hello from Bo"]);
    group(&c, &["send", &g, "hi from Cy"]);
    for dir in [&a, &b, &c] {
        eventually(dir, &["read", &g], "messages reach everyone", |v| {
            let t = texts(v);
            t.contains(&Some("hello from Bo".into())) && t.contains(&Some("hi from Cy".into()))
        });
    }

    // Removing c rotates the key: c still receives what follows and cannot read it.
    let removed = group(&a, &["remove", &g, &id_c]);
    assert!(removed["bytes"].as_u64().unwrap() > 0);
    eventually(&b, &["list"], "b sees the removal", |v| members(v, &g) == 2);
    group(&b, &["send", &g, "after the removal"]);
    eventually(&a, &["read", &g], "a reads after the removal", |v| {
        texts(v).contains(&Some("after the removal".into()))
    });
    eventually(
        &c,
        &["read", &g],
        "c holds the new message, unreadable",
        |v| {
            let t = texts(v);
            t.len() == 3 && t.contains(&None) && t.contains(&Some("hello from Bo".into()))
        },
    );
    let refused = run(&c, &["group", "send", &g, "am I still here?"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("not a member"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}
