//! What `quorate actor` does with a data directory: the keystore file, the actor's public
//! record, publishing blocks and heads (through the running node, or straight into the
//! store), and log-in through the node.
//!
//! Files in the data directory:
//! - `actor.keystore`: the actor secret sealed under the passphrase (see
//!   `quorate_actor_core::keystore`); created once, never overwritten;
//! - `actor.json`: public facts for `quorate actor show` — actor id, handle, feed head.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use quorate_mesh_blockstore::{BlockStore as _, PutOptions, RedbStore, StoreConfig};
use quorate_mesh_proto::mesh::Head;
use quorate_mesh_proto::{Block, Cid, PinClass};
use serde::{Deserialize, Serialize};

use super::control::{self, ControlError, HeadSpec, LoginReply, Reply, Request};
use super::files;
use super::node::STORE_FILE;

/// The keystore's file name.
pub const KEYSTORE_FILE: &str = "actor.keystore";
/// The public record's file name.
pub const ACTOR_FILE: &str = "actor.json";
/// Base64 bytes per publish request (under the control socket's request limit).
const PUBLISH_CHUNK: usize = 2 * 1024 * 1024;

/// `actor.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorRecord {
    /// The actor id, hex.
    pub actor: String,
    /// The handle the backup is under, if any.
    pub handle: Option<String>,
    /// The feed head block, if the feed has one.
    pub head: Option<String>,
    /// Entries in the feed.
    pub entries: u64,
}

/// The keystore path of `dir`.
#[must_use]
pub fn keystore_path(dir: &Path) -> PathBuf {
    dir.join(KEYSTORE_FILE)
}

/// Writes a new keystore; refuses to replace one (nothing is overwritten).
///
/// # Errors
/// A message naming the file.
pub fn write_keystore(dir: &Path, bytes: &[u8]) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = keystore_path(dir);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            format!(
                "{} already exists; nothing was overwritten (move it away first)",
                path.display()
            )
        } else {
            format!("{}: {e}", path.display())
        }
    })?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Reads the keystore bytes.
///
/// # Errors
/// A message saying there is no actor here, or the OS error.
pub fn read_keystore(dir: &Path) -> Result<Vec<u8>, String> {
    let path = keystore_path(dir);
    std::fs::read(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            format!(
                "no actor in {} (create one with `quorate actor new`, or `login`/`import`)",
                dir.display()
            )
        } else {
            format!("{}: {e}", path.display())
        }
    })
}

/// Reads `actor.json` (absent: `None`).
///
/// # Errors
/// A message if it exists but cannot be read.
pub fn read_record(dir: &Path) -> Result<Option<ActorRecord>, String> {
    let path = dir.join(ACTOR_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Replaces `actor.json` (write to a temporary file, then rename).
///
/// # Errors
/// The OS error.
pub fn write_record(dir: &Path, record: &ActorRecord) -> Result<(), String> {
    let path = dir.join(ACTOR_FILE);
    let tmp = dir.join("actor.json.tmp");
    let text = serde_json::to_vec_pretty(record).map_err(|e| e.to_string())?;
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Stores blocks (pinned by type) and announces heads: through the node running on `dir`,
/// or straight into its store (the next node started there announces the heads).
///
/// # Errors
/// A message: the node refused, the store is locked or corrupt.
pub async fn publish(dir: &Path, blocks: &[Block], heads: &[Head]) -> Result<(), String> {
    let specs: Vec<HeadSpec> = heads
        .iter()
        .map(|h| HeadSpec {
            name: h.name.clone(),
            seq: h.seq,
            cid: h.cid.to_string(),
        })
        .collect();
    match control::call(dir, &Request::Status, Duration::from_secs(10)).await {
        Ok(_) => {}
        Err(ControlError::NotRunning { .. }) => return publish_offline(dir, blocks, heads),
        Err(e) => return Err(e.to_string()),
    }
    let mut chunk = Vec::new();
    let mut size = 0;
    for block in blocks {
        let text = STANDARD.encode(block.bytes());
        size += text.len();
        chunk.push(text);
        if size >= PUBLISH_CHUNK {
            send(dir, std::mem::take(&mut chunk), Vec::new()).await?;
            size = 0;
        }
    }
    send(dir, chunk, specs).await
}

async fn send(dir: &Path, blocks: Vec<String>, heads: Vec<HeadSpec>) -> Result<(), String> {
    match control::call(
        dir,
        &Request::Publish { blocks, heads },
        Duration::from_secs(60),
    )
    .await
    {
        Ok(Reply::Published) => Ok(()),
        Ok(Reply::Error { message }) => Err(message),
        Ok(other) => Err(format!("unexpected reply {other:?}")),
        Err(e) => Err(e.to_string()),
    }
}

fn publish_offline(dir: &Path, blocks: &[Block], heads: &[Head]) -> Result<(), String> {
    let path = dir.join(STORE_FILE);
    let mut store = RedbStore::open(&path, StoreConfig::with_max_bytes(1 << 30))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let batch: Vec<(Block, PutOptions)> = blocks
        .iter()
        .map(|b| {
            let class = b
                .header()
                .ok()
                .and_then(|h| quorate_actor_core::pin_class(&h.kind))
                .unwrap_or(PinClass::User);
            (b.clone(), PutOptions::pinned(class))
        })
        .collect();
    store
        .put_many(&batch)
        .map_err(|e| format!("block store: {e}"))?;
    super::actors::remember_heads_offline(dir, heads);
    Ok(())
}

/// One block from the node on `dir` or its store.
///
/// # Errors
/// A message naming the block.
pub async fn get(dir: &Path, cid: &Cid) -> Result<Block, String> {
    let mut sources = Vec::new();
    files::get_block(dir, cid, Duration::from_secs(10), &mut sources)
        .await
        .map_err(|e| e.to_string())
}

/// Asks the node on `dir` to log in with handle and passphrase.
///
/// # Errors
/// A message: no node runs there, no backup answered in time, the feed did not verify.
pub async fn login(
    dir: &Path,
    handle: &str,
    passphrase: &str,
    wait: Duration,
) -> Result<LoginReply, String> {
    let request = Request::Login {
        handle: handle.to_owned(),
        passphrase: passphrase.to_owned(),
        timeout_ms: u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
    };
    match control::call(dir, &request, wait + Duration::from_secs(10)).await {
        Ok(Reply::LoggedIn(reply)) => Ok(*reply),
        Ok(Reply::Error { message }) => Err(message),
        Ok(other) => Err(format!("unexpected reply {other:?}")),
        Err(ControlError::NotRunning { .. }) => Err(format!(
            "logging in needs a running node to reach peers: start `quorate node --data {}` first",
            dir.display()
        )),
        Err(e) => Err(e.to_string()),
    }
}
