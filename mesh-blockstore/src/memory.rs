//! [`MemoryStore`]: blocks in a hash map.

use std::collections::HashMap;

use quorate_mesh_proto::{Block, Cid, Instant, PinClass};

use crate::index::{Index, PutPlan};
use crate::{BlockMeta, BlockStore, PutOptions, PutOutcome, StoreConfig, StoreError, StoreStats};

/// An in-memory [`BlockStore`] with the full cap, pin and TTL semantics.
#[derive(Debug)]
pub struct MemoryStore {
    index: Index,
    blocks: HashMap<Cid, Block>,
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new(config: StoreConfig) -> Self {
        MemoryStore {
            index: Index::new(config),
            blocks: HashMap::new(),
        }
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new(StoreConfig::default())
    }
}

impl BlockStore for MemoryStore {
    fn get(&mut self, cid: &Cid) -> Result<Option<Block>, StoreError> {
        // A stored `Block` is already proof that bytes match CID; no re-hash needed.
        let block = self.blocks.get(cid).cloned();
        if block.is_some() {
            self.index.touch(cid);
        }
        Ok(block)
    }

    fn has(&self, cid: &Cid) -> Result<bool, StoreError> {
        Ok(self.index.contains(cid))
    }

    fn meta(&self, cid: &Cid) -> Result<Option<BlockMeta>, StoreError> {
        Ok(self.index.meta(cid))
    }

    fn put(&mut self, block: &Block, opts: PutOptions) -> Result<PutOutcome, StoreError> {
        let plan = self.index.plan_put(block.cid(), block.len(), opts)?;
        let outcome = match &plan {
            PutPlan::Update(_) => PutOutcome::AlreadyPresent,
            PutPlan::Insert { evict, .. } => {
                for victim in evict {
                    self.blocks.remove(victim);
                }
                self.blocks.insert(*block.cid(), block.clone());
                PutOutcome::Stored {
                    evicted: evict.clone(),
                }
            }
        };
        self.index.apply_put(*block.cid(), &plan);
        Ok(outcome)
    }

    fn remove(&mut self, cid: &Cid) -> Result<bool, StoreError> {
        self.index.remove(cid);
        Ok(self.blocks.remove(cid).is_some())
    }

    fn list(&self, class: PinClass) -> Result<Vec<Cid>, StoreError> {
        Ok(self.index.list(class))
    }

    fn expire(&mut self, now: Instant) -> Result<Vec<Cid>, StoreError> {
        let expired = self.index.expired(now);
        for cid in &expired {
            self.index.remove(cid);
            self.blocks.remove(cid);
        }
        Ok(expired)
    }

    fn stats(&self) -> StoreStats {
        self.index.stats()
    }
}
