//! [`IdbStore`]: a [`BlockStore`] persisted in the browser's IndexedDB (wasm32 only).
//!
//! # Design
//! [`BlockStore`] is synchronous and IndexedDB is asynchronous, so the store keeps every
//! block **in memory** — a [`MemoryStore`], whose shared index decides caps, pins, TTLs
//! and LRU eviction exactly as on native nodes — and mirrors each change into a
//! **write-behind queue**: a put (bytes, pin class, TTL, recency) or a delete per CID,
//! the last change to a CID replacing earlier ones. Evictions (from
//! [`PutOutcome::Stored`]), removals and expirations queue deletes.
//!
//! [`IdbStore::flush`] writes the whole queue in **one** `readwrite` transaction (a
//! batch), with `durability: "strict"` by default ([`Durability`]). IndexedDB
//! transactions are atomic: a failed flush writes nothing and keeps the queue. A store
//! shared through a `RefCell` flushes in two halves instead, so no borrow is held across
//! an `await`: [`IdbStore::start_flush`] issues the batch, [`FlushBatch::wait`] awaits
//! it, [`IdbStore::requeue`] takes a failed batch back.
//!
//! [`IdbStore::open`] reads every record back, re-hashes each block against its key
//! ([`Block::from_untrusted`]), skips and deletes records that fail (reported in
//! [`LoadReport`]), and loads the rest: pinned blocks first, then cache blocks in the
//! order they were last written, so the LRU order survives a reload (reads do not count
//! across reloads, as with the redb store).
//!
//! # Trade-off
//! - Memory: all blocks live in memory, bounded by [`StoreConfig::max_bytes`]; pick a cap
//!   the tab can afford. Queued puts share the bytes (`Bytes` is reference-counted).
//! - Durability: only after [`IdbStore::flush`] resolves. The trait's "durable when `put`
//!   returns" is weakened to "durable at the next flush": a tab closed before it loses
//!   the queued changes, never a flushed block. Drivers flush on a timer, after a burst
//!   of puts, and on `visibilitychange`/`pagehide`.
//! - Reads never touch IndexedDB and cost what `MemoryStore` costs.
//!
//! # Layout
//! Database schema version 1, one object store `blocks`. Key: the CID's 36-byte binary
//! form. Value, record version 1:
//! `{ v: 1, bytes: Uint8Array, class: PinClass::code, expires_at: BigInt µs | null, seq: BigInt }`
//! where `seq` orders writes for LRU. A change of layout bumps the schema version, with
//! an upgrade path in `js::open_database`; records of another `v` are treated as corrupt.
//!
//! # Errors
//! Opening, flushing and deleting return [`IdbError`]; the [`BlockStore`] calls return
//! [`StoreError`] exactly as `MemoryStore` does (they never touch IndexedDB).

mod error;
mod js;
mod kv;
mod record;

use std::collections::BTreeMap;

use js_sys::Array;
use quorate_mesh_blockstore::{
    BlockMeta, BlockStore, MemoryStore, PinClass, PutOptions, PutOutcome, StoreConfig, StoreError,
    StoreStats,
};
use quorate_mesh_proto::{Block, Cid, Instant};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{IdbDatabase, IdbTransaction};

pub use error::IdbError;
pub use kv::{KvStore, KvWrite};
pub use record::RecordError;

use js::{EventWait, STORE, describe, dom_error};

/// How hard a flush commits (IndexedDB's transaction `durability`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Durability {
    /// The flush resolves once the batch is on disk (the browser flushes OS buffers).
    #[default]
    Strict,
    /// The flush resolves once the batch is written to the OS: faster, but a power loss
    /// (not a tab or browser crash) may lose the last batches.
    Relaxed,
}

impl Durability {
    fn as_str(self) -> &'static str {
        match self {
            Durability::Strict => "strict",
            Durability::Relaxed => "relaxed",
        }
    }
}

/// A stored record that [`IdbStore::open`] skipped and deleted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedRecord {
    /// The record's key: hex if binary.
    pub key: String,
    /// Why it was skipped.
    pub reason: RecordError,
}

/// What [`IdbStore::open`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoadReport {
    /// Blocks loaded.
    pub loaded: usize,
    /// Corrupt or unreadable records, skipped and deleted.
    pub skipped: Vec<SkippedRecord>,
    /// Cache blocks that did not fit the [`StoreConfig`] (evicted while loading, or over
    /// the per-block limit), deleted.
    pub dropped: Vec<Cid>,
}

/// A change not yet written to IndexedDB.
#[derive(Debug)]
enum Pending {
    Put(Block, BlockMeta),
    Delete,
}

/// An open connection, closed when dropped (so the database can be deleted or upgraded
/// without waiting for garbage collection).
#[derive(Debug)]
struct Connection(IdbDatabase);

impl Drop for Connection {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// A batch written by [`IdbStore::start_flush`], committing in the background.
#[derive(Debug)]
pub struct FlushBatch {
    name: String,
    tx: IdbTransaction,
    done: EventWait,
    pending: BTreeMap<Cid, Pending>,
    stale_keys: Vec<JsValue>,
}

impl FlushBatch {
    /// Operations in the batch.
    #[must_use]
    pub fn ops(&self) -> usize {
        self.pending.len().saturating_add(self.stale_keys.len())
    }

    /// Waits for the transaction to commit; the number of operations written.
    ///
    /// # Errors
    /// A [`FailedFlush`] (nothing of the batch was written) to give to
    /// [`IdbStore::requeue`].
    pub async fn wait(self) -> Result<usize, FailedFlush> {
        let ops = self.ops();
        let FlushBatch {
            name,
            tx,
            done,
            pending,
            stale_keys,
        } = self;
        let error = match done.next().await {
            Ok(kind) if kind == "complete" => return Ok(ops),
            Ok(_) => IdbError::Flush {
                name,
                ops,
                reason: dom_error(tx.error(), "the transaction aborted"),
            },
            Err(e) => e,
        };
        Err(FailedFlush {
            error,
            pending,
            stale_keys,
        })
    }
}

/// A batch that did not commit: its error, and its changes for [`IdbStore::requeue`].
#[derive(Debug)]
pub struct FailedFlush {
    /// Why it failed.
    pub error: IdbError,
    pending: BTreeMap<Cid, Pending>,
    stale_keys: Vec<JsValue>,
}

/// A database opened and its records read, not yet checked: [`StoredRecords::into_store`]
/// checks and loads them synchronously. [`IdbStore::open`] does both and flushes; the split
/// lets a synchronous factory (a test harness) build stores from databases read earlier.
#[derive(Debug)]
pub struct StoredRecords {
    name: String,
    db: Connection,
    records: Vec<(JsValue, JsValue)>,
}

impl StoredRecords {
    /// Opens the database `name` (creating it if new) and reads every record.
    ///
    /// # Errors
    /// [`IdbError::Unavailable`], [`IdbError::Open`], [`IdbError::Blocked`],
    /// [`IdbError::Read`].
    pub async fn read(name: &str) -> Result<StoredRecords, IdbError> {
        let db = Connection(js::open_database(name).await?);
        let read_err = |reason: String| IdbError::Read {
            name: name.to_owned(),
            reason,
        };
        let tx =
            db.0.transaction_with_str(STORE)
                .map_err(|e| read_err(describe(&e)))?;
        let store = tx.object_store(STORE).map_err(|e| read_err(describe(&e)))?;
        let keys = store.get_all_keys().map_err(|e| read_err(describe(&e)))?;
        let values = store.get_all().map_err(|e| read_err(describe(&e)))?;
        let kind = EventWait::on(&tx, &["complete", "abort"])?.next().await?;
        if kind != "complete" {
            return Err(read_err(dom_error(
                tx.error(),
                "the read transaction aborted",
            )));
        }
        let as_array = |request: &web_sys::IdbRequest| {
            request
                .result()
                .map_err(|e| read_err(describe(&e)))?
                .dyn_into::<Array>()
                .map_err(|_| IdbError::Internal("getAll/getAllKeys did not return an array"))
        };
        let (keys, values) = (as_array(&keys)?, as_array(&values)?);
        if keys.length() != values.length() {
            return Err(read_err(format!(
                "{} keys but {} values in one transaction",
                keys.length(),
                values.length()
            )));
        }
        Ok(StoredRecords {
            name: name.to_owned(),
            db,
            records: keys.iter().zip(values.iter()).collect(),
        })
    }

    /// Number of records read.
    #[must_use]
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the database was empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Checks every record and loads the good ones into a store with `config`. Corrupt
    /// records and cache blocks that do not fit are queued for deletion (written by the
    /// next [`IdbStore::flush`]); see [`IdbStore::load_report`].
    ///
    /// # Errors
    /// [`IdbError::DoesNotFit`] if a pinned block does not fit `config`.
    pub fn into_store(self, config: StoreConfig) -> Result<IdbStore, IdbError> {
        let mut store = IdbStore {
            name: self.name,
            db: self.db,
            config,
            mem: MemoryStore::new(config),
            pending: BTreeMap::new(),
            stale_keys: Vec::new(),
            seq_base: 0,
            durability: Durability::default(),
            report: LoadReport::default(),
        };
        let mut good = Vec::with_capacity(self.records.len());
        for (key, value) in self.records {
            match record::decode(&key, &value) {
                Ok(record) => good.push(record),
                Err(reason) => {
                    store.report.skipped.push(SkippedRecord {
                        key: record::key_text(&key),
                        reason,
                    });
                    store.stale_keys.push(key);
                }
            }
        }
        store.seq_base = good.iter().map(|r| r.seq).max().unwrap_or(0);
        // Pinned first (they never yield), then cache blocks oldest write first: if the cap
        // shrank, the oldest cache blocks are the ones evicted.
        good.sort_by_key(|r| (!r.class.is_pinned(), r.seq));
        for r in good {
            let cid = *r.block.cid();
            let opts = PutOptions {
                class: r.class,
                expires_at: r.expires_at,
            };
            match store.mem.put(&r.block, opts) {
                Ok(PutOutcome::Stored { evicted }) => {
                    for victim in evicted {
                        store.report.dropped.push(victim);
                        store.pending.insert(victim, Pending::Delete);
                    }
                }
                Ok(_) => {}
                Err(source) if r.class.is_pinned() => {
                    return Err(IdbError::DoesNotFit { cid, source });
                }
                Err(_) => {
                    store.report.dropped.push(cid);
                    store.pending.insert(cid, Pending::Delete);
                }
            }
        }
        store.report.loaded = store.mem.stats().blocks;
        Ok(store)
    }
}

/// A [`BlockStore`] kept in memory and persisted to IndexedDB in batches; see the
/// [module docs](self).
#[derive(Debug)]
pub struct IdbStore {
    name: String,
    db: Connection,
    config: StoreConfig,
    mem: MemoryStore,
    pending: BTreeMap<Cid, Pending>,
    /// Keys of corrupt records found at open, deleted by the next flush.
    stale_keys: Vec<JsValue>,
    /// Larger than every `seq` stored before this session: written `seq`s are
    /// `seq_base + last_used`, so this session's writes are newer than all earlier ones.
    seq_base: u64,
    durability: Durability,
    report: LoadReport,
}

impl IdbStore {
    /// Opens (or creates) the database `name`, loads its blocks into memory under
    /// `config` (see [`StoredRecords::into_store`]) and flushes the deletions that
    /// loading decided, if any.
    ///
    /// # Errors
    /// Those of [`StoredRecords::read`], [`StoredRecords::into_store`] and
    /// [`IdbStore::flush`].
    pub async fn open(name: &str, config: StoreConfig) -> Result<IdbStore, IdbError> {
        let mut store = StoredRecords::read(name).await?.into_store(config)?;
        store.flush().await?;
        Ok(store)
    }

    /// Writes every queued change in one `readwrite` transaction. Returns the number of
    /// operations written (0 if nothing was queued: no transaction is opened).
    ///
    /// # Errors
    /// [`IdbError::Flush`]: nothing of the batch was written and the queue is kept.
    pub async fn flush(&mut self) -> Result<usize, IdbError> {
        let Some(batch) = self.start_flush()? else {
            return Ok(0);
        };
        match batch.wait().await {
            Ok(ops) => Ok(ops),
            Err(failed) => Err(self.requeue(failed)),
        }
    }

    /// The first half of [`IdbStore::flush`], for callers that cannot hold `&mut self`
    /// across an `await` (a store inside a `RefCell` that other callbacks use): issues
    /// every queued change in one `readwrite` transaction and empties the queue; await
    /// [`FlushBatch::wait`] without borrowing the store, and give a failed batch back to
    /// [`IdbStore::requeue`]. `None` if nothing was queued.
    ///
    /// Changes made while a batch is in flight queue as usual (a later transaction, which
    /// IndexedDB commits after this one). Keep at most one batch in flight: a failed batch
    /// requeued after a later one committed could bring back older values.
    ///
    /// # Errors
    /// [`IdbError::Flush`] if the transaction cannot be started; the queue is kept.
    pub fn start_flush(&mut self) -> Result<Option<FlushBatch>, IdbError> {
        let ops = self.pending_ops();
        if ops == 0 {
            return Ok(None);
        }
        let flush_err = |reason: String| IdbError::Flush {
            name: self.name.clone(),
            ops,
            reason,
        };
        let tx = js::transaction(&self.db.0, "readwrite", self.durability)
            .map_err(|e| flush_err(describe(&e)))?;
        let done = EventWait::on(&tx, &["complete", "abort"])?;
        if let Err(e) = self.issue(&tx) {
            let _ = tx.abort();
            return Err(flush_err(describe(&e)));
        }
        Ok(Some(FlushBatch {
            name: self.name.clone(),
            tx,
            done,
            pending: std::mem::take(&mut self.pending),
            stale_keys: std::mem::take(&mut self.stale_keys),
        }))
    }

    /// Puts the changes of a failed batch back in the queue (under any newer change made
    /// meanwhile) and returns its error.
    pub fn requeue(&mut self, failed: FailedFlush) -> IdbError {
        let FailedFlush {
            error,
            pending,
            stale_keys,
        } = failed;
        for (cid, op) in pending {
            self.pending.entry(cid).or_insert(op);
        }
        self.stale_keys.extend(stale_keys);
        error
    }

    /// Issues one request per queued change.
    fn issue(&self, tx: &IdbTransaction) -> Result<(), JsValue> {
        let store = tx.object_store(STORE)?;
        let encoder = record::Encoder::new();
        for (cid, op) in &self.pending {
            let key = record::key(cid);
            match op {
                Pending::Put(block, meta) => {
                    let meta = BlockMeta {
                        last_used: self.seq_base.saturating_add(meta.last_used),
                        ..*meta
                    };
                    store.put_with_key(&encoder.encode(block, &meta)?, &key)?;
                }
                Pending::Delete => {
                    store.delete(&key)?;
                }
            }
        }
        for key in &self.stale_keys {
            store.delete(key)?;
        }
        Ok(())
    }

    /// Changes waiting for [`IdbStore::flush`].
    #[must_use]
    pub fn pending_ops(&self) -> usize {
        self.pending.len().saturating_add(self.stale_keys.len())
    }

    /// What opening found: blocks loaded, records skipped, blocks dropped.
    #[must_use]
    pub fn load_report(&self) -> &LoadReport {
        &self.report
    }

    /// The database name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The store's limits.
    #[must_use]
    pub fn config(&self) -> StoreConfig {
        self.config
    }

    /// Sets how hard later flushes commit (default [`Durability::Strict`]).
    pub fn set_durability(&mut self, durability: Durability) {
        self.durability = durability;
    }

    /// Deletes the database `name` and everything in it. Stores open on it must be
    /// dropped first, or this fails with [`IdbError::Blocked`].
    ///
    /// # Errors
    /// [`IdbError::Unavailable`], [`IdbError::Blocked`], [`IdbError::Delete`].
    pub async fn delete_database(name: &str) -> Result<(), IdbError> {
        js::delete_database(name).await
    }

    fn queue_put(&mut self, block: &Block) -> Result<(), StoreError> {
        let meta = self.mem.meta(block.cid())?.ok_or_else(|| {
            StoreError::Backend(format!("block {} missing right after its put", block.cid()))
        })?;
        self.pending
            .insert(*block.cid(), Pending::Put(block.clone(), meta));
        Ok(())
    }
}

impl BlockStore for IdbStore {
    fn get(&mut self, cid: &Cid) -> Result<Option<Block>, StoreError> {
        // Reads count for LRU in memory only; recency is persisted by writes.
        self.mem.get(cid)
    }

    fn has(&self, cid: &Cid) -> Result<bool, StoreError> {
        self.mem.has(cid)
    }

    fn meta(&self, cid: &Cid) -> Result<Option<BlockMeta>, StoreError> {
        self.mem.meta(cid)
    }

    fn put(&mut self, block: &Block, opts: PutOptions) -> Result<PutOutcome, StoreError> {
        let outcome = self.mem.put(block, opts)?;
        if let PutOutcome::Stored { evicted } = &outcome {
            for victim in evicted {
                self.pending.insert(*victim, Pending::Delete);
            }
        }
        // New, or merged (class, TTL and recency may have changed): write it either way.
        self.queue_put(block)?;
        Ok(outcome)
    }

    fn remove(&mut self, cid: &Cid) -> Result<bool, StoreError> {
        let removed = self.mem.remove(cid)?;
        if removed {
            self.pending.insert(*cid, Pending::Delete);
        }
        Ok(removed)
    }

    fn list(&self, class: PinClass) -> Result<Vec<Cid>, StoreError> {
        self.mem.list(class)
    }

    fn expire(&mut self, now: Instant) -> Result<Vec<Cid>, StoreError> {
        let expired = self.mem.expire(now)?;
        for cid in &expired {
            self.pending.insert(*cid, Pending::Delete);
        }
        Ok(expired)
    }

    fn stats(&self) -> StoreStats {
        self.mem.stats()
    }
}
