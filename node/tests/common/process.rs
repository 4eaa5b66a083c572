//! `quorate` as a process: one-shot commands, long-running ones killed on drop, and the
//! node's status over `quorate status --json`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use quorate_node::runtime::control::Status;

/// The `quorate` binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_quorate");

/// Runs `quorate ARGS` to completion, logging only warnings.
pub fn quorate(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

/// Runs `quorate ARGS`, asserts that it succeeded (showing its stderr if not) and returns
/// its stdout.
pub fn quorate_ok(args: &[&str]) -> Vec<u8> {
    let out = quorate(args);
    assert!(out.status.success(), "{}", stderr(&out));
    out.stdout
}

/// A finished command's stderr, as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `quorate status --json --data DATA`, which must succeed.
pub fn status(data: &Path) -> Status {
    let stdout = quorate_ok(&["status", "--json", "--data", data.to_str().unwrap()]);
    serde_json::from_slice(&stdout).unwrap()
}

/// Sends SIGINT to the process `pid`.
pub fn sigint(pid: u32) {
    let pid = pid.to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
}

/// A `quorate` process killed when dropped.
pub struct Proc {
    child: Child,
    /// The first line it printed.
    pub first_line: String,
    /// The name it was started under (its log is `NAME.log`).
    pub name: String,
    log: PathBuf,
}

impl Drop for Proc {
    fn drop(&mut self) {
        drop(self.child.kill());
        drop(self.child.wait());
    }
}

impl Proc {
    /// Starts `quorate ARGS`, with stderr logged to `DIR/NAME.log`, and waits for its
    /// first line.
    pub fn start(dir: &Path, name: &str, args: &[&str]) -> Proc {
        Proc::start_with_env(dir, name, args, &[])
    }

    /// [`Proc::start`] with extra environment variables.
    pub fn start_with_env(dir: &Path, name: &str, args: &[&str], env: &[(&str, &str)]) -> Proc {
        use std::io::BufRead as _;
        let log = dir.join(format!("{name}.log"));
        let mut child = Command::new(BIN)
            .args(args)
            .envs(env.iter().copied())
            .env("RUST_LOG", "info,quorate_node=debug")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = std::io::BufReader::new(stdout).lines();
            drop(tx.send(lines.next()));
            for _ in lines {} // keep the pipe open and drained
        });
        let first = rx.recv_timeout(Duration::from_secs(30));
        let Ok(Some(Ok(first_line))) = first else {
            panic!(
                "{name} did not start: {}",
                std::fs::read_to_string(&log).unwrap()
            );
        };
        Proc {
            child,
            first_line,
            name: name.to_owned(),
            log,
        }
    }

    /// Word `n` (from 0) of the first line.
    pub fn word(&self, n: usize) -> String {
        self.first_line.split(' ').nth(n).unwrap().to_owned()
    }

    /// The word after `key` on the first line.
    pub fn after(&self, key: &str) -> String {
        let mut words = self.first_line.split(' ');
        words.find(|w| *w == key).expect(&self.first_line);
        words.next().unwrap().to_owned()
    }

    /// The web server's address, from `web http://ADDR/` on the first line.
    pub fn web(&self) -> SocketAddr {
        let url = self.after("web");
        let addr = url
            .strip_prefix("http://")
            .unwrap()
            .strip_suffix('/')
            .unwrap();
        addr.parse().unwrap()
    }

    /// Its log so far, headed by its name.
    pub fn logs(&self) -> String {
        format!(
            "--- {} ---\n{}",
            self.name,
            std::fs::read_to_string(&self.log).unwrap()
        )
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Sends SIGINT and waits for the exit status.
    pub fn interrupt(mut self, within: Duration) -> ExitStatus {
        sigint(self.child.id());
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "no exit on SIGINT\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
