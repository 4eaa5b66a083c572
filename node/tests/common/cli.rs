//! Running `quorate` commands against a data directory as an actor (passphrase from the
//! environment), for the process tests.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use super::process::BIN;

/// `quorate ARGS --data DIR` with `pass` as the actor passphrase.
pub fn run(dir: &Path, pass: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .args(["--data", dir.to_str().unwrap()])
        .env("RUST_LOG", "warn")
        .env("QUORATE_PASSPHRASE", pass)
        .output()
        .unwrap()
}

/// Its stdout, after checking it succeeded.
pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// `quorate group ARGS --json`, parsed.
pub fn group(dir: &Path, pass: &str, args: &[&str]) -> Value {
    let mut all = vec!["group"];
    all.extend_from_slice(args);
    all.push("--json");
    serde_json::from_str(&ok(&run(dir, pass, &all))).unwrap()
}

/// Retries `check` on `quorate group ARGS --json` for up to 60 s; returns the answer that
/// passed.
pub fn eventually(
    dir: &Path,
    pass: &str,
    args: &[&str],
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let started = std::time::Instant::now();
    loop {
        let value = group(dir, pass, args);
        if check(&value) {
            return value;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "{what}: last answer {value}"
        );
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
}

/// `quorate actor new --name NAME`: the new actor's id.
pub fn new_actor(dir: &Path, pass: &str, name: &str) -> String {
    let out = ok(&run(dir, pass, &["actor", "new", "--name", name]));
    out.lines()
        .next()
        .unwrap()
        .strip_prefix("actor ")
        .unwrap()
        .to_owned()
}
