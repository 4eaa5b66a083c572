//! The one error type of block stores.

use quorate_mesh_proto::Cid;

/// Why a store operation failed. Nothing is lost on error: a failed `put` stores nothing,
/// a failed open modifies nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The block is larger than the store's per-block limit.
    #[error("block {cid} of {size} bytes exceeds the store's per-block limit of {max} bytes")]
    TooLarge {
        /// The block.
        cid: Cid,
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// Not enough room even after evicting every evictable block: pinned blocks fill the cap.
    #[error(
        "store full: block {cid} needs {needed} bytes, {available} can be freed under the {max}-byte cap (the rest is pinned)"
    )]
    Full {
        /// The block.
        cid: Cid,
        /// Its size.
        needed: u64,
        /// Bytes free plus bytes that eviction could free.
        available: u64,
        /// The configured cap.
        max: u64,
    },
    /// API misuse, never caused by stored or peer data: a [`PinClass::Retained`] put
    /// without a deadline (use [`PutOptions::retained`]). Nothing was stored or changed.
    ///
    /// [`PinClass::Retained`]: quorate_mesh_proto::PinClass::Retained
    /// [`PutOptions::retained`]: crate::PutOptions::retained
    #[error("block {cid}: a Retained put needs a deadline (PutOptions::retained)")]
    RetainedWithoutDeadline {
        /// The block.
        cid: Cid,
    },
    /// Stored data does not match what was written (hash mismatch, bad metadata).
    #[error("store data is corrupt: {0}")]
    Corrupt(String),
    /// The database could not be opened: locked, unreadable, or not a store.
    #[error("cannot open block store at {path}: {reason}")]
    Open {
        /// The path given.
        path: String,
        /// What went wrong, in words.
        reason: String,
    },
    /// The backend failed (IO error, transaction failure).
    #[error("block store backend error: {0}")]
    Backend(String),
}
