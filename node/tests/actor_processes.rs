//! `quorate actor` end to end with real processes: create an actor and post offline, log
//! in on a fresh node over real WebRTC with only handle and passphrase, and the clear
//! failures (an existing keystore, a wrong passphrase, a login nobody can answer).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

mod common;

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::process::{BIN, Proc};

const PASS: &str = "four random words are better";

/// `quorate actor ARGS --data DIR` with the passphrase in the environment and `stdin`.
fn actor(dir: &Path, passphrase: &str, stdin: &str, args: &[&str]) -> Output {
    let mut child = Command::new(BIN)
        .arg("actor")
        .args(args)
        .args(["--data", dir.to_str().unwrap()])
        .env("RUST_LOG", "warn")
        .env("QUORATE_PASSPHRASE", passphrase)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn show(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&ok(&actor(dir, "", "", &["show", "--json"]))).unwrap()
}

#[test]
fn an_actor_created_offline_logs_in_on_a_fresh_node_with_only_handle_and_passphrase() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, c, d, e) = (
        tmp.path().join("a"),
        tmp.path().join("c"),
        tmp.path().join("d"),
        tmp.path().join("e"),
    );

    // Create and post, no node running: blocks go straight into a's store.
    let created = ok(&actor(
        &a,
        PASS,
        "",
        &["new", "--handle", "Alice", "--name", "Alice"],
    ));
    let id = created
        .lines()
        .next()
        .unwrap()
        .strip_prefix("actor ")
        .unwrap()
        .to_owned();
    let phrase = created
        .lines()
        .nth(1)
        .unwrap()
        .strip_prefix("recovery phrase: ")
        .unwrap()
        .to_owned();
    assert_eq!(phrase.split(' ').count(), 24);
    ok(&actor(&a, PASS, "", &["post", "hello", "--repeat", "300"]));
    assert_eq!(show(&a)["entries"], 301);
    assert_eq!(show(&a)["actor"], id.as_str());

    // Mistakes lose nothing.
    let keystore = std::fs::read(a.join("actor.keystore")).unwrap();
    let again = actor(&a, PASS, "", &["new"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    let wrong = actor(&a, "not the passphrase", "", &["export"]);
    assert_eq!(wrong.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("wrong passphrase"),
        "{}",
        String::from_utf8_lossy(&wrong.stderr)
    );
    assert_eq!(std::fs::read(a.join("actor.keystore")).unwrap(), keystore);
    let bad_phrase = actor(&e, PASS, "abandon abandon abandon\n", &["import"]);
    assert_eq!(bad_phrase.status.code(), Some(2));
    assert!(!e.join("actor.keystore").exists());

    // The recovery phrase restores the same actor elsewhere.
    assert_eq!(ok(&actor(&a, PASS, "", &["export"])).trim(), phrase);
    let imported = ok(&actor(
        &e,
        "a new passphrase",
        &format!("{phrase}\n"),
        &["import"],
    ));
    assert_eq!(imported.trim(), format!("actor {id}"));

    // Real processes: a rendezvous server, a's node, and a fresh node c.
    let server = Proc::start(
        tmp.path(),
        "rendezvous",
        &["rendezvous", "--listen", "127.0.0.1:0"],
    );
    let url = format!("ws://{}", server.word(2));
    let _node_a = Proc::start(
        tmp.path(),
        "a",
        &["node", "--data", a.to_str().unwrap(), "--rendezvous", &url],
    );
    let _node_c = Proc::start(
        tmp.path(),
        "c",
        &["node", "--data", c.to_str().unwrap(), "--rendezvous", &url],
    );
    let logged = ok(&actor(
        &c,
        PASS,
        "",
        &["login", "--handle", "alice", "--timeout", "60"],
    ));
    assert!(
        logged.starts_with(&format!("actor {id}\nentries 301 payloads 301 ")),
        "{logged}"
    );
    let shown = show(&c);
    assert_eq!(
        (shown["actor"].as_str(), shown["entries"].as_u64()),
        (Some(id.as_str()), Some(301))
    );
    assert_eq!(shown["head"], show(&a)["head"]);
    // The logged-in node continues the same feed.
    ok(&actor(&c, PASS, "", &["post", "from the new device"]));
    assert_eq!(show(&c)["entries"], 302);

    // A wrong passphrase finds no backup: a clear error, and no keystore is written.
    let _node_d = Proc::start(
        tmp.path(),
        "d",
        &["node", "--data", d.to_str().unwrap(), "--rendezvous", &url],
    );
    let failed = actor(
        &d,
        "wrong",
        "",
        &["login", "--handle", "alice", "--timeout", "5"],
    );
    assert_eq!(failed.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&failed.stderr).contains("no peer answered with a backup"),
        "{}",
        String::from_utf8_lossy(&failed.stderr)
    );
    assert!(!d.join("actor.keystore").exists());
}
