//! Governance on a real node: a group with a 1/1 TRIGGER_X rule, this node as its
//! committee, a proposal and a vote; the committee attests; the execution engine POSTs to
//! a real listener on 127.0.0.1 — exactly once, even when the node is killed after the
//! attestation and before the execution finished (the `Started` marker is in redb; the
//! restarted node resumes and POSTs once); a further restart never runs it again. The
//! attestation verifies with `quorate verify` and the group key alone.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

mod common;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::cli;
use common::process::{BIN, Proc};
use serde_json::Value;

const PASS: &str = "governance test passphrase";

fn run(dir: &Path, args: &[&str]) -> Output {
    cli::run(dir, PASS, args)
}

fn group(dir: &Path, args: &[&str]) -> Value {
    cli::group(dir, PASS, args)
}

/// The requests a listener received: (Idempotency-Key, body).
type Requests = Arc<Mutex<Vec<(String, String)>>>;

/// A listener answering 200 to every request; records (Idempotency-Key, body).
fn listener() -> (String, Requests) {
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", server.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in server.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let (mut key, mut length) = (String::new(), 0usize);
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("idempotency-key:") {
                    key = v.trim().to_owned();
                }
                if let Some(v) = lower.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0u8; length];
            reader.read_exact(&mut body).unwrap();
            log.lock()
                .unwrap()
                .push((key, String::from_utf8(body).unwrap()));
            let mut stream = stream;
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (url, seen)
}

fn start(tmp: &Path, dir: &Path, name: &str, url: &str, crash: bool) -> Proc {
    let args = [
        "node",
        "--data",
        dir.to_str().unwrap(),
        "--trigger-url",
        url,
    ];
    let env: &[(&str, &str)] = if crash {
        &[("QUORATE_CRASH_BEFORE_EFFECT", "1")]
    } else {
        &[]
    };
    Proc::start_with_env(tmp, name, &args, env)
}

fn wait(what: &str, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "timed out: {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn an_attested_trigger_runs_exactly_once_across_a_crash_and_restarts() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    assert!(run(&a, &["actor", "new", "--name", "Ann"]).status.success());
    let (url, seen) = listener();

    // Run 1: the node dies right after the `Started` marker, before the POST.
    let mut node = start(tmp.path(), &a, "run1", &url, true);
    let g = group(&a, &["create", "club", "--approve", "TRIGGER_X=1/1"])["group"]
        .as_str()
        .unwrap()
        .to_owned();
    let key = group(&a, &["committee", &g])["group_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let p = group(&a, &["propose", &g, "TRIGGER_X", "--text", "open the gate"])["proposal"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = group(&a, &["proposals", &g]);
    assert_eq!(before["proposals"][0]["outcome"], "pending", "{before}");
    let _ = run(&a, &["group", "vote", &g, &p, "yes"]); // the node may die while answering
    wait("the node exits at the crash point", || !node.is_running());
    assert!(
        seen.lock().unwrap().is_empty(),
        "nothing was posted before the crash"
    );
    let log = node.logs();
    assert!(log.contains("QUORATE_CRASH_BEFORE_EFFECT is set"), "{log}");
    drop(node);

    // Run 2: the restarted node resumes the job and POSTs once.
    let node = start(tmp.path(), &a, "run2", &url, false);
    wait("the resumed POST", || !seen.lock().unwrap().is_empty());
    std::thread::sleep(Duration::from_secs(2));
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert_eq!(
            seen[0].0,
            p.to_ascii_lowercase(),
            "keyed by the proposal id"
        );
        let body: Value = serde_json::from_str(&seen[0].1).unwrap();
        assert_eq!(
            (body["group"].as_str(), body["data"].as_str()),
            (Some(g.as_str()), Some("open the gate"))
        );
    }
    let after = group(&a, &["proposals", &g]);
    let proposal = &after["proposals"][0];
    assert_eq!(proposal["outcome"], "passed", "{after}");
    assert_eq!(after["group_key"].as_str(), Some(key.as_str()));
    // The outsider's check: the group key and the attestation, nothing else.
    let file = tmp.path().join("attestation.json");
    std::fs::write(&file, proposal["attestation"].to_string()).unwrap();
    let verify = Command::new(BIN)
        .args([
            "verify",
            "--group-key",
            &key,
            "--attestation",
            file.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    drop(node);

    // Run 3: done is done.
    let _node = start(tmp.path(), &a, "run3", &url, false);
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "a restart never re-runs a finished job"
    );
}
