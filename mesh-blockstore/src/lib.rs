//! # quorate-mesh-blockstore
//!
//! Where blocks live between the network and the application: a small [`BlockStore`]
//! trait and the stores behind it.
//!
//! - [`MemoryStore`]: in memory, for tests, simulations and short-lived nodes.
//! - [`RedbStore`] (feature `redb`, default): persistent, on the embedded
//!   [redb](https://docs.rs/redb) database; durable when `put` returns.
//! - An IndexedDB store for browsers lives in `quorate-web` and passes the same
//!   [`conformance`] suite.
//!
//! Every store enforces the same rules:
//! - a **byte cap** ([`StoreConfig::max_bytes`]) and a **per-block limit**;
//! - **pin classes** ([`PinClass`]): critical objects (actor keys, feed heads and entries,
//!   group epochs, membership snapshots, votes, attestations, group messages, user pins)
//!   are never evicted or expired; cache-class blocks are evicted least-recently-used to
//!   make room;
//! - **retention**: a [`PinClass::Retained`] block (put with [`PutOptions::retained`]) is
//!   held until its deadline, as a store-and-forward cache holds group traffic for
//!   members who are offline: never evicted to make room (its bytes are pinned bytes),
//!   removed by [`BlockStore::expire`] once the deadline has passed;
//! - **TTL**: a cache-class block put with [`PutOptions::expires_at`] is removed by
//!   [`BlockStore::expire`] once that time has passed. Time is an argument; stores never
//!   read a clock;
//! - blocks read back are re-checked against their CID ([`Block`] guarantees it).
//!
//! # Sans-IO
//! The protocol cores never call a store. The driver (the node runtime) does: when a
//! machine emits "store this block" or "fetch that CID", the driver calls the store and
//! feeds the answer back as an input. The trait is synchronous and takes `&mut self`, so
//! a driver owns its store outright.
//!
//! # Driving
//! ```
//! use quorate_mesh_blockstore::{BlockStore, MemoryStore, PutOptions, StoreConfig};
//! use quorate_mesh_proto::{payloads::Text, Block, Duration, Instant, PinClass};
//!
//! let mut store = MemoryStore::new(StoreConfig::default());
//! let now = Instant::from_millis(1_000);
//! let note = Block::encode(&Text { body: "cached for a minute".into() })?;
//! let vote = Block::encode(&Text { body: "pretend this is a vote".into() })?;
//! let held = Block::encode(&Text { body: "pretend this is a group message".into() })?;
//!
//! store.put(&note, PutOptions::cache().ttl(now, Duration::from_secs(60)))?;
//! store.put(&vote, PutOptions::pinned(PinClass::Vote))?;
//! store.put(&held, PutOptions::retained(now + Duration::from_secs(3_600)))?;
//! assert!(store.has(note.cid())?);
//!
//! // Later, on a timer the driver owns:
//! let expired = store.expire(now + Duration::from_secs(61))?;
//! assert_eq!(expired, vec![*note.cid()]);
//! assert_eq!(store.get(vote.cid())?, Some(vote));   // pinned: never expires
//! assert!(store.has(held.cid())?);                  // retained: held until its deadline
//! assert_eq!(store.expire(now + Duration::from_secs(3_600))?, vec![*held.cid()]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Errors and panics
//! All operations return [`StoreError`]. A store never panics on its own data: a corrupt
//! or truncated database file, or bytes that no longer match their CID, come back as
//! [`StoreError::Open`] or [`StoreError::Corrupt`], and nothing is overwritten.
//!
//! # Features
//! - `redb` (default): [`RedbStore`].
//! - `test-util`: the [`conformance`] suite, for checking any `BlockStore`.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

// Also under `doc`, so the links to it resolve without the feature.
#[cfg(any(test, doc, feature = "test-util"))]
pub mod conformance;
mod error;
mod index;
mod memory;
#[cfg(feature = "redb")]
mod redb_store;

pub use error::StoreError;
pub use memory::MemoryStore;
#[cfg(feature = "redb")]
pub use redb_store::RedbStore;

pub use quorate_mesh_proto::PinClass;
use quorate_mesh_proto::{Block, Cid, Duration, Instant, MAX_BLOCK_SIZE};

/// Limits of a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreConfig {
    /// Cap on the total size of stored block bytes (metadata not counted).
    pub max_bytes: u64,
    /// Largest single block accepted; at most [`MAX_BLOCK_SIZE`].
    pub max_block_size: usize,
}

impl Default for StoreConfig {
    /// 256 MiB in blocks of up to [`MAX_BLOCK_SIZE`].
    fn default() -> Self {
        StoreConfig {
            max_bytes: 256 * 1024 * 1024,
            max_block_size: MAX_BLOCK_SIZE,
        }
    }
}

impl StoreConfig {
    /// A config with the given byte cap and the default block limit.
    #[must_use]
    pub fn with_max_bytes(max_bytes: u64) -> Self {
        StoreConfig {
            max_bytes,
            ..StoreConfig::default()
        }
    }
}

/// How to keep a block.
///
/// Build it with [`PutOptions::cache`], [`PutOptions::pinned`] or [`PutOptions::retained`].
/// The fields are public; a [`PinClass::Retained`] put with `expires_at: None` is rejected
/// with [`StoreError::RetainedWithoutDeadline`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PutOptions {
    /// Pin class; anything but [`PinClass::Cache`] is never evicted to make room.
    pub class: PinClass,
    /// The deadline: removable by [`BlockStore::expire`] from this time on. Optional for
    /// [`PinClass::Cache`], required for [`PinClass::Retained`], ignored for every other
    /// class (see [`PinClass::expires`]).
    pub expires_at: Option<Instant>,
}

impl PutOptions {
    /// Cache class, no TTL: evicted only under cap pressure.
    #[must_use]
    pub fn cache() -> Self {
        PutOptions {
            class: PinClass::Cache,
            expires_at: None,
        }
    }

    /// A pinned class, no deadline. For [`PinClass::Retained`] use
    /// [`PutOptions::retained`]: a `Retained` put without a deadline is rejected.
    #[must_use]
    pub fn pinned(class: PinClass) -> Self {
        PutOptions {
            class,
            expires_at: None,
        }
    }

    /// [`PinClass::Retained`] until `until`: never evicted to make room, removed by
    /// [`BlockStore::expire`] from `until` on. A deadline already past is accepted; the
    /// next `expire` removes the block.
    #[must_use]
    pub fn retained(until: Instant) -> Self {
        PutOptions {
            class: PinClass::Retained,
            expires_at: Some(until),
        }
    }

    /// Sets the deadline to `ttl` from `now`: a TTL for [`PinClass::Cache`], the end of
    /// retention for [`PinClass::Retained`], ignored for every other class.
    #[must_use]
    pub fn ttl(mut self, now: Instant, ttl: Duration) -> Self {
        self.expires_at = Some(now + ttl);
        self
    }
}

/// What a successful `put` did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PutOutcome {
    /// Newly stored; these cache-class blocks were evicted to make room.
    Stored {
        /// Evicted blocks, oldest use first.
        evicted: Vec<Cid>,
    },
    /// Already present; class and deadline were merged: a pin (other than `Retained`)
    /// beats `Retained` and clears the deadline, `Retained` beats `Cache` and takes its
    /// own deadline, and between two puts of `Retained` (or two of `Cache`) the later
    /// deadline wins (for `Cache`, no deadline = never, which wins).
    AlreadyPresent,
}

/// What a store knows about one block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockMeta {
    /// Size in bytes.
    pub size: u32,
    /// Pin class.
    pub class: PinClass,
    /// Deadline, for the classes that [expire](PinClass::expires): optional for
    /// `Cache`, always set for `Retained`, `None` for every other class.
    pub expires_at: Option<Instant>,
    /// Recency counter for LRU (larger = more recent).
    pub last_used: u64,
}

/// Occupancy of a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreStats {
    /// Number of blocks.
    pub blocks: usize,
    /// Bytes of all blocks.
    pub bytes: u64,
    /// Bytes of pinned blocks (never evicted), `Retained` blocks included.
    pub pinned_bytes: u64,
    /// The configured cap.
    pub max_bytes: u64,
}

/// A content-addressed block store with caps, pin classes, retention deadlines and TTLs.
///
/// Implementations must pass [`conformance`]. Operations on a missing CID are not errors.
pub trait BlockStore {
    /// The block with this CID, if stored. Counts as a use for LRU.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] if stored bytes no longer match the CID; backend errors.
    fn get(&mut self, cid: &Cid) -> Result<Option<Block>, StoreError>;

    /// Whether the block is stored (not a use for LRU).
    ///
    /// # Errors
    /// Backend errors.
    fn has(&self, cid: &Cid) -> Result<bool, StoreError>;

    /// Class, size and TTL of a stored block.
    ///
    /// # Errors
    /// Backend errors.
    fn meta(&self, cid: &Cid) -> Result<Option<BlockMeta>, StoreError>;

    /// Stores a block, evicting least-recently-used cache blocks if needed. When this
    /// returns `Ok`, the block is as durable as the store can make it.
    ///
    /// # Errors
    /// [`StoreError::TooLarge`], [`StoreError::Full`] (nothing stored, nothing evicted),
    /// [`StoreError::RetainedWithoutDeadline`], backend errors.
    fn put(&mut self, block: &Block, opts: PutOptions) -> Result<PutOutcome, StoreError>;

    /// Stores several blocks; one result per block, in order. Persistent stores make the
    /// whole batch durable at once, which is much cheaper than one `put` each. The outer
    /// error means the backend failed and none of the batch was stored.
    ///
    /// # Errors
    /// Backend errors (outer); per-block rejections (inner).
    fn put_many(
        &mut self,
        blocks: &[(Block, PutOptions)],
    ) -> Result<Vec<Result<PutOutcome, StoreError>>, StoreError> {
        Ok(blocks.iter().map(|(b, o)| self.put(b, *o)).collect())
    }

    /// Deletes a block whatever its class. Returns whether it was there.
    ///
    /// # Errors
    /// Backend errors.
    fn remove(&mut self, cid: &Cid) -> Result<bool, StoreError>;

    /// CIDs of all blocks of one class, sorted.
    ///
    /// # Errors
    /// Backend errors.
    fn list(&self, class: PinClass) -> Result<Vec<Cid>, StoreError>;

    /// Removes `Cache` and `Retained` blocks whose deadline is at or before `now`; returns
    /// them, soonest deadline first (ties in CID order).
    ///
    /// # Errors
    /// Backend errors.
    fn expire(&mut self, now: Instant) -> Result<Vec<Cid>, StoreError>;

    /// Occupancy.
    fn stats(&self) -> StoreStats;
}

/// The Rust snippets of the project README, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
