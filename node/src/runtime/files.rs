//! Files in and out of a node: what `quorate put` and `quorate get` do.
//!
//! A file becomes raw chunks of up to 1 MiB and a `file` manifest block listing them
//! (`quorate_mesh_proto::payloads::chunk_file`); its CID is the manifest's. Getting a CID
//! fetches the block; if it is a manifest, its chunks follow and the file is reassembled,
//! each chunk checked against its CID on the way in (by the store or the mesh) and the
//! total size checked against the manifest.
//!
//! With a node running on the data directory, both go through its control socket (the
//! store is locked by the node). Without one, `put` writes to the store directly and
//! `get` reads only what is local.

use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use quorate_mesh_blockstore::{BlockStore as _, PutOptions, RedbStore, StoreConfig};
use quorate_mesh_proto::payloads::{FileManifest, chunk_file};
use quorate_mesh_proto::{Block, Cid, Codec, PinClass};

use super::control::{self, ControlError, Reply, Request};
use super::node::STORE_FILE;

/// Largest file `put` reads.
pub const MAX_FILE: u64 = 1 << 30;

/// Why a put or get failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// Reading or writing a local file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The file is over [`MAX_FILE`].
    #[error("{path} is {size} bytes; at most {MAX_FILE} are supported")]
    TooLarge {
        /// The file.
        path: String,
        /// Its size.
        size: u64,
    },
    /// Talking to the node.
    #[error(transparent)]
    Control(#[from] ControlError),
    /// The node refused.
    #[error("{0}")]
    Node(String),
    /// The store (offline mode).
    #[error("block store: {0}")]
    Store(String),
    /// Blocks that do not make a valid file.
    #[error("{0}")]
    Invalid(String),
}

/// How a block was obtained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Got {
    /// The content: the reassembled file for a manifest, else the block's bytes.
    pub bytes: Vec<u8>,
    /// Whether the CID was a file manifest.
    pub is_file: bool,
    /// Peers the blocks came from (empty if all were local).
    pub sources: Vec<String>,
}

/// Stores the file at `path` in the node on `dir` (or directly in its store if no node
/// runs there) and returns the CID to fetch it by.
///
/// # Errors
/// [`FileError`].
pub async fn put_file(dir: &Path, path: &Path) -> Result<Cid, FileError> {
    let shown = path.display().to_string();
    let io = |source| FileError::Io {
        path: shown.clone(),
        source,
    };
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size > MAX_FILE {
        return Err(FileError::TooLarge { path: shown, size });
    }
    let data = std::fs::read(path).map_err(io)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (manifest, chunks) =
        chunk_file(&name, None, &data).map_err(|e| FileError::Invalid(e.to_string()))?;
    let blocks: Vec<&Block> = chunks.iter().chain(std::iter::once(&manifest)).collect();
    match control::call(dir, &Request::Status, Duration::from_secs(10)).await {
        Ok(_) => {
            for block in blocks {
                put_via_node(dir, block).await?;
            }
        }
        Err(ControlError::NotRunning { .. }) => put_offline(dir, &blocks)?,
        Err(e) => return Err(e.into()),
    }
    Ok(*manifest.cid())
}

async fn put_via_node(dir: &Path, block: &Block) -> Result<(), FileError> {
    let codec = if block.cid().codec() == Codec::Raw {
        "raw"
    } else {
        "dag-cbor"
    };
    let request = Request::Put {
        block: STANDARD.encode(block.bytes()),
        codec: codec.to_owned(),
    };
    match control::call(dir, &request, Duration::from_secs(30)).await? {
        Reply::Put { cid } if cid == block.cid().to_string() => Ok(()),
        Reply::Error { message } => Err(FileError::Node(message)),
        other => Err(FileError::Node(format!("unexpected reply {other:?}"))),
    }
}

fn put_offline(dir: &Path, blocks: &[&Block]) -> Result<(), FileError> {
    let path = dir.join(STORE_FILE);
    let mut store = RedbStore::open(&path, StoreConfig::with_max_bytes(1 << 30))
        .map_err(|e| FileError::Store(format!("{}: {e}", path.display())))?;
    let pin = PutOptions::pinned(PinClass::User);
    let owned: Vec<(Block, PutOptions)> = blocks.iter().map(|b| ((*b).clone(), pin)).collect();
    store
        .put_many(&owned)
        .map_err(|e| FileError::Store(e.to_string()))?;
    Ok(())
}

/// Gets `cid` through the node on `dir` (fetching from peers for up to `wait` per
/// block), or from its store if no node runs there; reassembles files.
///
/// # Errors
/// [`FileError`].
pub async fn get(dir: &Path, cid: &Cid, wait: Duration) -> Result<Got, FileError> {
    let mut sources = Vec::new();
    let root = get_block(dir, cid, wait, &mut sources).await?;
    // `decode` checks the codec and the envelope's type.
    let manifest = root.decode::<FileManifest>().ok();
    let Some(manifest) = manifest else {
        return Ok(Got {
            bytes: root.bytes().to_vec(),
            is_file: false,
            sources,
        });
    };
    let manifest = manifest.payload;
    if manifest.size > MAX_FILE {
        return Err(FileError::Invalid(format!(
            "the manifest claims {} bytes, over the {MAX_FILE}-byte limit",
            manifest.size
        )));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(manifest.size).unwrap_or(0));
    for chunk in &manifest.chunks {
        let block = get_block(dir, chunk, wait, &mut sources).await?;
        bytes.extend_from_slice(block.bytes());
    }
    if bytes.len() as u64 != manifest.size {
        return Err(FileError::Invalid(format!(
            "the chunks hold {} bytes, the manifest says {}",
            bytes.len(),
            manifest.size
        )));
    }
    Ok(Got {
        bytes,
        is_file: true,
        sources,
    })
}

/// Gets one block through the node on `dir` (fetching from peers for up to `wait`), or
/// from its store if no node runs there; the peers it came from are added to `sources`.
///
/// # Errors
/// [`FileError`].
pub async fn get_block(
    dir: &Path,
    cid: &Cid,
    wait: Duration,
    sources: &mut Vec<String>,
) -> Result<Block, FileError> {
    let timeout_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
    let request = Request::Get {
        cid: cid.to_string(),
        timeout_ms,
    };
    let reply = match control::call(dir, &request, wait + Duration::from_secs(5)).await {
        Ok(reply) => reply,
        Err(ControlError::NotRunning { .. }) => return get_offline(dir, cid),
        Err(e) => return Err(e.into()),
    };
    match reply {
        Reply::Block { block, from } => {
            let bytes = STANDARD
                .decode(block)
                .map_err(|e| FileError::Node(format!("block not base64: {e}")))?;
            let block = Block::from_untrusted(cid, bytes)
                .map_err(|e| FileError::Invalid(format!("{cid}: {e}")))?;
            if let Some(from) = from
                && !sources.contains(&from)
            {
                sources.push(from);
            }
            Ok(block)
        }
        Reply::Error { message } => Err(FileError::Node(format!("{cid}: {message}"))),
        other => Err(FileError::Node(format!("unexpected reply {other:?}"))),
    }
}

fn get_offline(dir: &Path, cid: &Cid) -> Result<Block, FileError> {
    let path = dir.join(STORE_FILE);
    let mut store = RedbStore::open(&path, StoreConfig::with_max_bytes(1 << 30))
        .map_err(|e| FileError::Store(format!("{}: {e}", path.display())))?;
    store
        .get(cid)
        .map_err(|e| FileError::Store(e.to_string()))?
        .ok_or_else(|| {
            FileError::Node(format!(
                "{cid} is not in {} and no node runs there to fetch it \
                 (start one with `quorate node --data {}`)",
                dir.display(),
                dir.display()
            ))
        })
}
