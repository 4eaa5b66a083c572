//! Every native store against the one conformance suite.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::cast_possible_truncation,
    reason = "test code: a panic is a failed test"
)]

use quorate_mesh_blockstore::{MemoryStore, RedbStore, StoreConfig};

quorate_mesh_blockstore::conformance_tests!(memory, |config: StoreConfig| MemoryStore::new(config));

// Each store gets its own temporary directory, kept alive as long as the test runs.
quorate_mesh_blockstore::conformance_tests!(redb, {
    let mut dirs = Vec::new();
    move |config: StoreConfig| {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path().join("blocks.redb"), config).unwrap();
        dirs.push(dir);
        store
    }
});
