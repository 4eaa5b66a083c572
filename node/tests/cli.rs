//! The `quorate` binary: the rendezvous command end to end, clear errors, help texts,
//! and the commands that are not built yet.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::process::{BIN, quorate, sigint, stderr};
use common::{client, next, node};
use quorate_node::rendezvous::Event;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, BufReader};

#[tokio::test]
async fn rendezvous_prints_its_address_serves_and_exits_0_on_sigint() {
    let mut child = tokio::process::Command::new(BIN)
        .args(["rendezvous", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(10), stdout.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let addr = first.strip_prefix("listening on 127.0.0.1:").expect(&first);
    let url = format!("ws://127.0.0.1:{addr}");

    let mut a = client(&url, "cli", 1).await;
    let b = client(&url, "cli", 2).await;
    assert_eq!(next(&mut a).await, Event::Joined(node(2)));
    b.send_signal(node(1), b"via the binary").await.unwrap();
    assert_eq!(
        next(&mut a).await,
        Event::Signal {
            from: node(2),
            payload: b"via the binary".to_vec()
        }
    );

    sigint(child.id().unwrap());
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
    // Connected clients were told the server went away.
    assert!(matches!(next(&mut a).await, Event::Closed(_)));
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .await
        .unwrap();
    assert!(!log.contains("ERROR"), "{log}");
}

#[test]
fn a_port_in_use_is_exit_1_naming_the_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = quorate(&["rendezvous", "--listen", &addr]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains(&format!("cannot listen on {addr}")), "{err}");
}

#[test]
fn an_unparsable_listen_address_is_named() {
    let out = quorate(&["rendezvous", "--listen", "localhost:not-a-port"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("localhost:not-a-port") && err.contains("--listen"),
        "{err}"
    );
}

#[test]
fn bad_flags_are_clap_errors() {
    for args in [
        &["rendezvous", "--bogus"][..],
        &["frobnicate"],
        &["node"],
        &[],
    ] {
        let out = quorate(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&out).contains("Usage:"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn every_command_has_help() {
    let cases: [(&[&str], &[&str]); 11] = [
        (
            &["--help"],
            &[
                "rendezvous",
                "node",
                "put",
                "get",
                "status",
                "signal",
                "verify",
                "demo",
            ],
        ),
        (&["status", "--help"], &["--data", "--json"]),
        (&["signal", "--help"], &["offer", "accept"]),
        (&["signal", "offer", "--help"], &["--to", "--data"]),
        (&["signal", "accept", "--help"], &["BLOB", "--data"]),
        (
            &["rendezvous", "--help"],
            &[
                "--listen",
                "--max-connections",
                "--rate",
                "SIGINT",
                "--serve-web",
                "--web-dir",
            ],
        ),
        (
            &["node", "--help"],
            &[
                "--rendezvous",
                "--data",
                "--listen",
                "127.0.0.1:0",
                "--ice-server",
                "--stack",
                "SIGINT",
                "--serve-web",
                "--web-dir",
                "scripts/build-web",
            ],
        ),
        (&["put", "--help"], &["FILE", "--data"]),
        (&["get", "--help"], &["CID", "--data", "--out", "--timeout"]),
        (
            &["verify", "--help"],
            &["--group-key", "--attestation", "--openssl", "--json"],
        ),
        (
            &["demo", "--help"],
            &["--nodes", "--data", "--json", "--serve", "--web-dir"],
        ),
    ];
    for (args, needles) in cases {
        let out = quorate(args);
        assert!(out.status.success(), "{args:?}");
        let help = String::from_utf8(out.stdout).unwrap();
        for needle in needles {
            assert!(help.contains(needle), "{args:?} lacks {needle}:\n{help}");
        }
    }
}

#[test]
fn an_unreachable_rendezvous_server_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let out = quorate(&["node", "--rendezvous", "ws://127.0.0.1:1", "--data", data]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("rendezvous server") && err.contains("127.0.0.1:1"),
        "{err}"
    );
    // Nothing was left listening.
    assert!(!dir.path().join("control.sock").exists());
}

#[test]
fn a_corrupt_node_key_is_named_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("node.key");
    std::fs::write(&key, b"short").unwrap();
    let data = dir.path().to_str().unwrap();
    let out = quorate(&["node", "--data", data]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("node.key"), "{}", stderr(&out));
    assert_eq!(std::fs::read(&key).unwrap(), b"short");
}

#[test]
fn put_and_get_work_offline_on_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let file = dir.path().join("f.bin");
    let content: Vec<u8> = (0..2_500_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&file, &content).unwrap();
    std::fs::create_dir_all(data).unwrap();
    let out = quorate(&["put", file.to_str().unwrap(), "--data", data]);
    assert!(out.status.success(), "{}", stderr(&out));
    let cid = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(cid.starts_with("bafyrei"), "{cid}");
    let back = dir.path().join("back.bin");
    let out = quorate(&["get", &cid, "--data", data, "--out", back.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read(&back).unwrap(), content);
    assert!(stderr(&out).contains("from the local store"));
}

#[test]
fn local_mistakes_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let missing = "bafkreicvy3ovrlbew36priv6j5ugwdiqoyqlvkh5kcwdq624iqsfvmcbvm";
    let cases: [(&[&str], i32, &str); 6] = [
        (&["get", "not-a-cid", "--data", data], 1, "is not a CID"),
        (
            &["put", "/nonexistent/file", "--data", data],
            1,
            "/nonexistent/file",
        ),
        (&["get", missing, "--data", data], 1, "no node runs there"),
        (&["status", "--data", data], 1, "no node is running"),
        (
            &["node", "--data", data, "--ice-server", "stun:"],
            1,
            "ICE server",
        ),
        (
            &["node", "--data", data, "--stack", "quic"],
            2,
            "unknown WebRTC stack",
        ),
    ];
    for (args, code, needle) in cases {
        let out = quorate(args);
        assert_eq!(out.status.code(), Some(code), "{args:?}");
        assert!(stderr(&out).contains(needle), "{}", stderr(&out));
    }
}
