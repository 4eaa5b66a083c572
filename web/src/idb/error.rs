//! [`IdbError`]: what can go wrong between the store and IndexedDB.

use quorate_mesh_blockstore::StoreError;
use quorate_mesh_proto::Cid;
use wasm_bindgen::JsValue;

/// Why opening, flushing or deleting an IndexedDB block store failed.
///
/// The in-memory side never fails this way: [`BlockStore`](quorate_mesh_blockstore::BlockStore)
/// calls on an open store return [`StoreError`] exactly as `MemoryStore` does.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdbError {
    /// This global scope has no usable `indexedDB` (not a window or worker, storage
    /// disabled by the browser or the user).
    #[error("IndexedDB is unavailable: {0}")]
    Unavailable(String),
    /// The database could not be opened or its schema created (quota, a newer schema
    /// version on disk, private-mode restrictions).
    #[error("cannot open IndexedDB database {name:?}: {reason}")]
    Open {
        /// The database name.
        name: String,
        /// What the browser said.
        reason: String,
    },
    /// Another connection (another tab, or an unclosed store) blocks opening or deleting.
    #[error("IndexedDB database {name:?} is blocked by another open connection")]
    Blocked {
        /// The database name.
        name: String,
    },
    /// Reading the stored records at open failed. Nothing was modified.
    #[error("cannot read IndexedDB database {name:?}: {reason}")]
    Read {
        /// The database name.
        name: String,
        /// What the browser said.
        reason: String,
    },
    /// A stored pinned block does not fit the [`StoreConfig`] given to open (the cap or
    /// the per-block limit is smaller than what was stored). Nothing was modified; open
    /// again with a larger config.
    ///
    /// [`StoreConfig`]: quorate_mesh_blockstore::StoreConfig
    #[error("stored pinned block {cid} does not fit this store's config: {source}")]
    DoesNotFit {
        /// The block.
        cid: Cid,
        /// `Full` or `TooLarge`.
        #[source]
        source: StoreError,
    },
    /// A flush transaction failed or aborted (quota exceeded, the connection closed).
    /// IndexedDB transactions are atomic: none of the batch was written, and the
    /// operations stay queued for the next flush.
    #[error("flushing {ops} operations to IndexedDB database {name:?} failed: {reason}")]
    Flush {
        /// The database name.
        name: String,
        /// Operations in the failed batch.
        ops: usize,
        /// What the browser said.
        reason: String,
    },
    /// Deleting the database failed.
    #[error("cannot delete IndexedDB database {name:?}: {reason}")]
    Delete {
        /// The database name.
        name: String,
        /// What the browser said.
        reason: String,
    },
    /// A browser call that should not fail did (a browser bug or an unforeseen state).
    #[error("IndexedDB call failed: {what}: {reason}")]
    Js {
        /// The call.
        what: &'static str,
        /// What the browser said.
        reason: String,
    },
    /// A value of an unexpected JS type where the API promises another: a bug here or in
    /// the browser.
    #[error("internal error: {0}")]
    Internal(&'static str),
}

impl IdbError {
    pub(crate) fn js(what: &'static str, value: &JsValue) -> Self {
        IdbError::Js {
            what,
            reason: super::js::describe(value),
        }
    }
}
