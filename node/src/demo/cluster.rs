//! The demo's cast: one actor per data directory, each with its own `quorate node` child
//! process (redb store, WebRTC, control socket), driven over the control socket exactly as
//! `quorate group …` drives a node.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use quorate_actor_core::Identity;
use quorate_node::runtime::control::{self, Reply, Request, Status};
use quorate_node::runtime::group_control::{GroupCommand, GroupReply};
use zeroize::Zeroizing;

use crate::Failure;

/// How often a condition is polled.
const POLL: Duration = Duration::from_millis(50);

/// A `quorate node` child process, stopped (SIGKILL) when dropped.
pub(crate) struct NodeProcess {
    child: Child,
    /// The write end of the node's standard input: when this process ends, however it
    /// ends, the pipe closes and the node stops (`--exit-with-stdin`).
    _stdin: Option<std::process::ChildStdin>,
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        if let Err(e) = self.child.kill() {
            tracing::debug!("stopping a demo node: {e}");
        }
        drop(self.child.wait());
    }
}

/// One actor and its node.
pub(crate) struct Member {
    /// Display name.
    pub(crate) name: String,
    /// Data directory.
    pub(crate) dir: PathBuf,
    /// Actor id, hex.
    pub(crate) id: String,
    /// The actor secret, hex (handed to its node with each command, as `quorate group`
    /// does after opening the keystore).
    secret: Zeroizing<String>,
    /// The node, while running.
    pub(crate) node: Option<NodeProcess>,
    /// The node's id, once it answered.
    pub(crate) node_id: String,
}

impl Member {
    pub(crate) fn new(name: &str, dir: PathBuf, identity: &Identity) -> Member {
        Member {
            name: name.to_owned(),
            dir,
            id: identity.id().to_string(),
            secret: Zeroizing::new(hex::encode(identity.secret().expose())),
            node: None,
            node_id: String::new(),
        }
    }

    /// Short form of the actor id for narration.
    pub(crate) fn short(&self) -> String {
        format!("{}…", self.id.get(..8).unwrap_or(&self.id))
    }

    /// The node's log file.
    pub(crate) fn log(&self) -> PathBuf {
        self.dir.join("node.log")
    }

    /// Starts `quorate node --data DIR --rendezvous URL [extra]` as a child process of this
    /// executable, logging to `DIR/node.log`.
    pub(crate) fn start(&mut self, rendezvous: &str, extra: &[String]) -> Result<(), Failure> {
        let exe = std::env::current_exe()
            .map_err(|e| Failure::Failed(format!("cannot find this executable: {e}")))?;
        let log = File::create(self.log())
            .map_err(|e| Failure::Failed(format!("{}: {e}", self.log().display())))?;
        let log2 = log
            .try_clone()
            .map_err(|e| Failure::Failed(format!("{}: {e}", self.log().display())))?;
        let mut child = Command::new(exe)
            .arg("node")
            .arg("--data")
            .arg(&self.dir)
            .args(["--rendezvous", rendezvous, "--exit-with-stdin"])
            .args(extra)
            .env(
                "RUST_LOG",
                std::env::var("QUORATE_DEMO_LOG").unwrap_or_else(|_| "info".to_owned()),
            )
            .stdin(Stdio::piped())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| Failure::Failed(format!("cannot start {}'s node: {e}", self.name)))?;
        let stdin = child.stdin.take();
        self.node = Some(NodeProcess {
            child,
            _stdin: stdin,
        });
        Ok(())
    }

    /// The node's status, once its control socket answers.
    pub(crate) async fn status(&self) -> Result<Status, Failure> {
        match control::call(&self.dir, &Request::Status, Duration::from_secs(5)).await {
            Ok(Reply::Status(status)) => Ok(*status),
            Ok(other) => Err(Failure::Failed(format!("unexpected reply {other:?}"))),
            Err(e) => Err(Failure::Failed(e.to_string())),
        }
    }

    /// Waits until the node answers on its control socket; records its id.
    pub(crate) async fn wait_ready(&mut self, timeout: Duration) -> Result<(), Failure> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(node) = &mut self.node
                && let Ok(Some(exit)) = node.child.try_wait()
            {
                return Err(Failure::Failed(format!(
                    "{}'s node exited ({exit}); see {}",
                    self.name,
                    self.log().display()
                )));
            }
            match self.status().await {
                Ok(status) => {
                    self.node_id = status.node;
                    return Ok(());
                }
                Err(e) if Instant::now() > deadline => {
                    return Err(Failure::Failed(format!(
                        "{}'s node did not answer within {} s ({e}); see {}",
                        self.name,
                        timeout.as_secs(),
                        self.log().display()
                    )));
                }
                Err(_) => tokio::time::sleep(POLL).await,
            }
        }
    }

    /// One group command as this actor.
    pub(crate) async fn group(&self, command: GroupCommand) -> Result<GroupReply, Failure> {
        crate::group::send(&self.dir, &self.secret, command, 30)
            .await
            .map_err(|e| Failure::Failed(format!("{}: {e}", self.name)))
    }

    /// Repeats `command` until `check` finds what it waits for; fails after `timeout`
    /// naming `what` and the last answer.
    pub(crate) async fn until<T>(
        &self,
        command: &GroupCommand,
        what: &str,
        timeout: Duration,
        check: impl Fn(&GroupReply) -> Option<T>,
    ) -> Result<T, Failure> {
        let deadline = Instant::now() + timeout;
        loop {
            let reply = self.group(command.clone()).await?;
            if let Some(found) = check(&reply) {
                return Ok(found);
            }
            if Instant::now() > deadline {
                return Err(Failure::Failed(format!(
                    "{}: {what} did not happen within {} s (last answer: {}); see {}",
                    self.name,
                    timeout.as_secs(),
                    short_json(&reply),
                    self.log().display()
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

fn short_json(reply: &GroupReply) -> String {
    let text = serde_json::to_string(reply).unwrap_or_default();
    match text.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", text.get(..i).unwrap_or_default()),
        None => text,
    }
}

/// Polls every member's node until each has at least `min` peers; returns the links
/// (unordered node pairs) seen.
pub(crate) async fn wait_mesh(
    members: &[Member],
    min: usize,
    timeout: Duration,
) -> Result<usize, Failure> {
    let deadline = Instant::now() + timeout;
    loop {
        let mut links = std::collections::BTreeSet::new();
        let mut lacking = Vec::new();
        for m in members.iter().filter(|m| m.node.is_some()) {
            let status = m.status().await?;
            if status.peers.len() < min {
                lacking.push(format!("{} has {}", m.name, status.peers.len()));
            }
            for p in status.peers {
                let pair = if m.node_id < p.node {
                    (m.node_id.clone(), p.node)
                } else {
                    (p.node, m.node_id.clone())
                };
                links.insert(pair);
            }
        }
        if lacking.is_empty() {
            return Ok(links.len());
        }
        if Instant::now() > deadline {
            return Err(Failure::Failed(format!(
                "the mesh did not form within {} s ({}); see the node.log files",
                timeout.as_secs(),
                lacking.join(", ")
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The data directory: `dir` if given (it must not exist or be empty), else a new one
/// under the system's temporary directory.
pub(crate) fn data_dir(dir: Option<&Path>) -> Result<PathBuf, Failure> {
    let dir = match dir {
        Some(dir) => dir.to_owned(),
        None => {
            let stamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            std::env::temp_dir().join(format!("quorate-demo-{stamp}-{}", std::process::id()))
        }
    };
    if let Ok(mut entries) = std::fs::read_dir(&dir)
        && entries.next().is_some()
    {
        return Err(Failure::Usage(format!(
            "{} is not empty: the demo starts from nothing (choose a new --data directory); nothing was changed",
            dir.display()
        )));
    }
    std::fs::create_dir_all(&dir)
        .map_err(|e| Failure::Usage(format!("cannot create {}: {e}", dir.display())))?;
    Ok(dir)
}
