//! Block types owned by the mesh layer itself: plain text and file manifests.
//!
//! Upper layers define their own types (profiles, feed entries, epochs, votes…) the same
//! way: a serde struct plus a [`BlockPayload`] impl with a unique `TYPE`.

use serde::{Deserialize, Serialize};

use crate::cid::Cid;
use crate::envelope::{BlockPayload, PinClass};

/// A UTF-8 text note (what the web page's "put text" makes).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Text {
    /// The text.
    pub body: String,
}

impl BlockPayload for Text {
    const TYPE: &'static str = "text";
    const VERSION: u32 = 1;
    const PIN: PinClass = PinClass::Cache;
}

/// A file split into raw chunk blocks, in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileManifest {
    /// File name, informational.
    pub name: String,
    /// Total size in bytes (sum of the chunk sizes).
    pub size: u64,
    /// MIME type, if known.
    pub mime: Option<String>,
    /// Raw chunk CIDs in file order.
    pub chunks: Vec<Cid>,
}

impl BlockPayload for FileManifest {
    const TYPE: &'static str = "file";
    const VERSION: u32 = 1;
    const PIN: PinClass = PinClass::User;
}

/// Chunk size used by [`chunk_file`]: 1 MiB, well under [`MAX_BLOCK_SIZE`](crate::MAX_BLOCK_SIZE).
pub const CHUNK_SIZE: usize = 1024 * 1024;

/// Splits `data` into raw chunks and a manifest block naming them.
///
/// Returns `(manifest, chunks)`; store the chunks before announcing the manifest.
///
/// # Errors
/// [`EncodeError`](crate::EncodeError) if the manifest exceeds the block size limit
/// (a file of roughly 50 GiB).
pub fn chunk_file(
    name: &str,
    mime: Option<&str>,
    data: &[u8],
) -> Result<(crate::Block, Vec<crate::Block>), crate::EncodeError> {
    let chunks = data
        .chunks(CHUNK_SIZE)
        .map(|c| crate::Block::raw(bytes::Bytes::copy_from_slice(c)))
        .collect::<Result<Vec<_>, _>>()?;
    let manifest = FileManifest {
        name: name.to_owned(),
        size: data.len() as u64,
        mime: mime.map(str::to_owned),
        chunks: chunks.iter().map(|b| *b.cid()).collect(),
    };
    Ok((crate::Block::encode(&manifest)?, chunks))
}
