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

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{client, next, node};
use quorate_node::rendezvous::Event;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, BufReader};

const BIN: &str = env!("CARGO_BIN_EXE_quorate");

fn quorate(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

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

    let pid = child.id().unwrap().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
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
    let cases: [(&[&str], &[&str]); 7] = [
        (
            &["--help"],
            &["rendezvous", "node", "put", "get", "verify", "demo"],
        ),
        (
            &["rendezvous", "--help"],
            &["--listen", "--max-connections", "--rate", "SIGINT"],
        ),
        (
            &["node", "--help"],
            &[
                "--rendezvous",
                "--data",
                "--listen",
                "127.0.0.1:0",
                "--ice-server",
            ],
        ),
        (&["put", "--help"], &["FILE", "--data"]),
        (&["get", "--help"], &["CID", "--data", "--out"]),
        (&["verify", "--help"], &["CID", "--data"]),
        (&["demo", "--help"], &["--nodes"]),
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
fn unbuilt_commands_say_so_and_exit_2() {
    let file = std::env::current_exe().unwrap();
    let file = file.to_str().unwrap();
    let runs: [&[&str]; 5] = [
        &[
            "node",
            "--rendezvous",
            "ws://127.0.0.1:1",
            "--data",
            "/nonexistent",
        ],
        &["put", file, "--data", "/nonexistent"],
        &["get", "bafyreigh2akiscaildc", "--data", "/nonexistent"],
        &["verify", "bafyreigh2akiscaildc", "--data", "/nonexistent"],
        &["demo"],
    ];
    for args in runs {
        let out = quorate(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&out).contains("not implemented yet in this build"),
            "{args:?}"
        );
    }
}
