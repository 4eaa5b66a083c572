//! [`RedbStore`]: the persistent store on the embedded redb database.
//!
//! Layout (schema version 1):
//! - table `blocks`: 36-byte binary CID → block bytes;
//! - table `meta`: CID → 21 bytes `class:u8 | size:u32le | expires_at:u64le (MAX = none) |
//!   last_used:u64le`; `class` is [`PinClass::code`], and a `Retained` row without a
//!   deadline is corrupt;
//! - table `store_info`: `"schema_version"` → 1.
//!
//! Both tables change in the same transaction, committed with redb's `Immediate`
//! durability (fsync) before `put` returns. On open the metadata is read into memory to
//! rebuild the [`Index`]: O(number of blocks), about 100 ns each. Read recency is kept in
//! memory only; after a restart, LRU order is the order of the last writes.

use std::path::{Path, PathBuf};

use quorate_mesh_proto::{Block, CID_LEN, Cid, Instant, PinClass};
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};

use crate::index::{Index, PutPlan};
use crate::{BlockMeta, BlockStore, PutOptions, PutOutcome, StoreConfig, StoreError, StoreStats};

const BLOCKS: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("blocks");
const META: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("meta");
const INFO: TableDefinition<'_, &str, u64> = TableDefinition::new("store_info");
const SCHEMA_KEY: &str = "schema_version";
const SCHEMA_VERSION: u64 = 1;
const META_LEN: usize = 21;

/// A persistent [`BlockStore`] in one redb file. Durable when `put` returns `Ok`.
///
/// One process at a time: a second open of the same file fails with
/// [`StoreError::Open`] ("already open").
#[derive(Debug)]
pub struct RedbStore {
    db: Database,
    index: Index,
    path: PathBuf,
}

fn backend(e: impl Into<redb::Error>) -> StoreError {
    StoreError::Backend(e.into().to_string())
}

impl RedbStore {
    /// Opens the store at `path`, creating it if the file does not exist or is empty.
    ///
    /// # Errors
    /// [`StoreError::Open`] if the file is locked by another process, is not a redb
    /// database, is corrupt or truncated beyond repair, or has another schema version;
    /// [`StoreError::Corrupt`] if the metadata is inconsistent. The file is never modified
    /// on these paths.
    pub fn open(path: impl AsRef<Path>, config: StoreConfig) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let open_err = |reason: String| StoreError::Open {
            path: path.display().to_string(),
            reason,
        };
        let db = Database::create(&path).map_err(|e| {
            open_err(match e {
                redb::DatabaseError::DatabaseAlreadyOpen => {
                    "already open by another process or handle".into()
                }
                redb::DatabaseError::Storage(redb::StorageError::Corrupted(m)) => {
                    format!("not a valid redb block store (corrupted: {m})")
                }
                other => other.to_string(),
            })
        })?;
        check_schema(&db).map_err(|e| open_err(e.to_string()))?;
        let index = load_index(&db, config)?;
        Ok(RedbStore { db, index, path })
    }

    /// The file this store lives in.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Throws away the in-memory index and reloads it from disk (after a failed commit).
    fn reload(&mut self) {
        if let Ok(index) = load_index(&self.db, *self.index.config()) {
            self.index = index;
        }
    }
}

type Table<'t> = redb::Table<'t, &'static [u8], &'static [u8]>;

/// Carries out `plan` for `block` in the open tables of a write transaction.
fn write_plan(
    blocks: &mut Table<'_>,
    meta: &mut Table<'_>,
    block: &Block,
    plan: &PutPlan,
    old: Option<BlockMeta>,
) -> Result<(), StoreError> {
    let key = block.cid().to_bytes();
    match plan {
        PutPlan::Update(new) => {
            // Recency alone lives in memory; persist only a change of class or TTL.
            let changed =
                old.is_none_or(|o| o.class != new.class || o.expires_at != new.expires_at);
            if changed {
                meta.insert(&key[..], &encode_meta(new)[..])
                    .map_err(backend)?;
            }
        }
        PutPlan::Insert { meta: new, evict } => {
            for victim in evict {
                let vkey = victim.to_bytes();
                blocks.remove(&vkey[..]).map_err(backend)?;
                meta.remove(&vkey[..]).map_err(backend)?;
            }
            blocks
                .insert(&key[..], &block.bytes()[..])
                .map_err(backend)?;
            meta.insert(&key[..], &encode_meta(new)[..])
                .map_err(backend)?;
        }
    }
    Ok(())
}

fn check_schema(db: &Database) -> Result<(), StoreError> {
    let txn = db.begin_write().map_err(backend)?;
    {
        // Creates the tables in a new file; a no-op otherwise.
        txn.open_table(BLOCKS).map_err(backend)?;
        txn.open_table(META).map_err(backend)?;
        let mut info = txn.open_table(INFO).map_err(backend)?;
        let found = info.get(SCHEMA_KEY).map_err(backend)?.map(|v| v.value());
        match found {
            None => {
                info.insert(SCHEMA_KEY, SCHEMA_VERSION).map_err(backend)?;
            }
            Some(SCHEMA_VERSION) => {}
            Some(other) => {
                return Err(StoreError::Backend(format!(
                    "schema version {other}, this build reads {SCHEMA_VERSION}"
                )));
            }
        }
    }
    txn.commit().map_err(backend)
}

fn load_index(db: &Database, config: StoreConfig) -> Result<Index, StoreError> {
    let txn = db.begin_read().map_err(backend)?;
    let meta = txn.open_table(META).map_err(backend)?;
    let blocks = txn.open_table(BLOCKS).map_err(backend)?;
    let mut index = Index::new(config);
    for row in meta.iter().map_err(backend)? {
        let (k, v) = row.map_err(backend)?;
        let cid = Cid::from_bytes(k.value())
            .map_err(|e| StoreError::Corrupt(format!("bad key in meta table: {e}")))?;
        let m = decode_meta(v.value())
            .ok_or_else(|| StoreError::Corrupt(format!("bad metadata for {cid}")))?;
        index.insert(cid, m);
    }
    let (n_meta, n_blocks) = (meta.len().map_err(backend)?, blocks.len().map_err(backend)?);
    if n_meta != n_blocks {
        return Err(StoreError::Corrupt(format!(
            "{n_blocks} blocks but {n_meta} metadata rows"
        )));
    }
    Ok(index)
}

fn encode_meta(m: &BlockMeta) -> [u8; META_LEN] {
    let mut out = [0u8; META_LEN];
    let expires = m.expires_at.map_or(u64::MAX, Instant::as_micros);
    let parts: [&[u8]; 4] = [
        &[m.class.code()],
        &m.size.to_le_bytes(),
        &expires.to_le_bytes(),
        &m.last_used.to_le_bytes(),
    ];
    let mut at = 0;
    for part in parts {
        if let Some(dst) = out.get_mut(at..at + part.len()) {
            dst.copy_from_slice(part);
        }
        at += part.len();
    }
    out
}

fn decode_meta(bytes: &[u8]) -> Option<BlockMeta> {
    let bytes: &[u8; META_LEN] = bytes.try_into().ok()?;
    let (class, rest) = bytes.split_first()?;
    let (size, rest) = rest.split_first_chunk::<4>()?;
    let (expires, rest) = rest.split_first_chunk::<8>()?;
    let (last_used, _) = rest.split_first_chunk::<8>()?;
    let expires = u64::from_le_bytes(*expires);
    let class = PinClass::from_code(*class)?;
    let expires_at = (expires != u64::MAX).then(|| Instant::from_micros(expires));
    if class == PinClass::Retained && expires_at.is_none() {
        return None;
    }
    Some(BlockMeta {
        class,
        size: u32::from_le_bytes(*size),
        expires_at,
        last_used: u64::from_le_bytes(*last_used),
    })
}

impl BlockStore for RedbStore {
    fn get(&mut self, cid: &Cid) -> Result<Option<Block>, StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        let table = txn.open_table(BLOCKS).map_err(backend)?;
        let Some(value) = table.get(&cid.to_bytes()[..]).map_err(backend)? else {
            return Ok(None);
        };
        let block = Block::from_untrusted(cid, value.value().to_vec())
            .map_err(|e| StoreError::Corrupt(format!("stored block: {e}")))?;
        self.index.touch(cid);
        Ok(Some(block))
    }

    fn has(&self, cid: &Cid) -> Result<bool, StoreError> {
        Ok(self.index.contains(cid))
    }

    fn meta(&self, cid: &Cid) -> Result<Option<BlockMeta>, StoreError> {
        Ok(self.index.meta(cid))
    }

    fn put(&mut self, block: &Block, opts: PutOptions) -> Result<PutOutcome, StoreError> {
        let mut results = self.put_many(std::slice::from_ref(&(block.clone(), opts)))?;
        results
            .pop()
            .unwrap_or(Err(StoreError::Backend("empty batch result".into())))
    }

    fn put_many(
        &mut self,
        items: &[(Block, PutOptions)],
    ) -> Result<Vec<Result<PutOutcome, StoreError>>, StoreError> {
        let txn = self.db.begin_write().map_err(backend)?;
        let written = self.write_batch(&txn, items);
        let committed = written.and_then(|results| {
            txn.commit().map_err(backend)?;
            Ok(results)
        });
        if committed.is_err() {
            // The index already holds the batch; make it match the disk again.
            self.reload();
        }
        committed
    }

    fn remove(&mut self, cid: &Cid) -> Result<bool, StoreError> {
        if !self.index.contains(cid) {
            return Ok(false);
        }
        self.delete(std::slice::from_ref(cid))?;
        Ok(true)
    }

    fn list(&self, class: PinClass) -> Result<Vec<Cid>, StoreError> {
        Ok(self.index.list(class))
    }

    fn expire(&mut self, now: Instant) -> Result<Vec<Cid>, StoreError> {
        let expired = self.index.expired(now);
        if !expired.is_empty() {
            self.delete(&expired)?;
        }
        Ok(expired)
    }

    fn stats(&self) -> StoreStats {
        self.index.stats()
    }
}

impl RedbStore {
    /// Writes a batch into `txn`, updating the index as it goes so that later items see
    /// the effect of earlier ones (evictions, duplicates).
    fn write_batch(
        &mut self,
        txn: &redb::WriteTransaction,
        items: &[(Block, PutOptions)],
    ) -> Result<Vec<Result<PutOutcome, StoreError>>, StoreError> {
        let mut blocks = txn.open_table(BLOCKS).map_err(backend)?;
        let mut meta = txn.open_table(META).map_err(backend)?;
        let mut results = Vec::with_capacity(items.len());
        for (block, opts) in items {
            let plan = match self.index.plan_put(block.cid(), block.len(), *opts) {
                Ok(plan) => plan,
                Err(rejected) => {
                    results.push(Err(rejected));
                    continue;
                }
            };
            let old = self.index.meta(block.cid());
            write_plan(&mut blocks, &mut meta, block, &plan, old)?;
            self.index.apply_put(*block.cid(), &plan);
            results.push(Ok(match plan {
                PutPlan::Update(_) => PutOutcome::AlreadyPresent,
                PutPlan::Insert { evict, .. } => PutOutcome::Stored { evicted: evict },
            }));
        }
        Ok(results)
    }

    /// Deletes blocks in one transaction, then forgets them.
    fn delete(&mut self, cids: &[Cid]) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(backend)?;
        {
            let mut blocks = txn.open_table(BLOCKS).map_err(backend)?;
            let mut meta = txn.open_table(META).map_err(backend)?;
            for cid in cids {
                let key: [u8; CID_LEN] = cid.to_bytes();
                blocks.remove(&key[..]).map_err(backend)?;
                meta.remove(&key[..]).map_err(backend)?;
            }
        }
        txn.commit().map_err(backend)?;
        for cid in cids {
            self.index.remove(cid);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_round_trips_and_rejects_garbage() {
        let m = BlockMeta {
            size: 7,
            class: PinClass::Vote,
            expires_at: Some(Instant::from_micros(42)),
            last_used: 9,
        };
        assert_eq!(decode_meta(&encode_meta(&m)), Some(m));
        let none = BlockMeta {
            expires_at: None,
            ..m
        };
        assert_eq!(decode_meta(&encode_meta(&none)), Some(none));
        assert_eq!(decode_meta(&[0; 20]), None);
        let mut bad = encode_meta(&m);
        bad[0] = 200;
        assert_eq!(decode_meta(&bad), None);
        let retained = BlockMeta {
            class: PinClass::Retained,
            ..m
        };
        assert_eq!(decode_meta(&encode_meta(&retained)), Some(retained));
        let undated = BlockMeta {
            expires_at: None,
            ..retained
        };
        assert_eq!(
            decode_meta(&encode_meta(&undated)),
            None,
            "Retained needs a deadline"
        );
    }

    /// The codes are on disk (and in IndexedDB): a changed code is a storage break.
    #[test]
    fn pin_class_codes_are_stable() {
        let codes: Vec<(PinClass, u8)> = PinClass::ALL.iter().map(|c| (*c, c.code())).collect();
        assert_eq!(
            codes,
            vec![
                (PinClass::Cache, 0),
                (PinClass::User, 1),
                (PinClass::ActorKey, 2),
                (PinClass::FeedHead, 3),
                (PinClass::FeedEntry, 4),
                (PinClass::GroupEpoch, 5),
                (PinClass::Membership, 6),
                (PinClass::Vote, 7),
                (PinClass::Attestation, 8),
                (PinClass::GroupMessage, 9),
                (PinClass::Retained, 10),
            ]
        );
        for code in 0..=u8::MAX {
            assert_eq!(
                PinClass::from_code(code).map(PinClass::code),
                (code <= 10).then_some(code)
            );
        }
    }
}
