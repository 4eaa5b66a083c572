//! [`SimStore`]: a [`MemoryStore`] that lets the simulator see every put.

use quorate_mesh_blockstore::{
    BlockMeta, BlockStore, MemoryStore, PinClass, PutOptions, PutOutcome, StoreConfig, StoreError,
    StoreStats,
};
use quorate_mesh_proto::{Block, Cid, Instant};

/// A simulated node's block store: a [`MemoryStore`] plus a log of the blocks put since
/// the simulator last looked, so invariants are checked on every block as it lands.
/// It survives churn: a node that comes back gets the same store.
#[derive(Debug)]
pub struct SimStore {
    inner: MemoryStore,
    puts: Vec<Block>,
}

impl SimStore {
    pub(crate) fn new(config: StoreConfig) -> Self {
        SimStore {
            inner: MemoryStore::new(config),
            puts: Vec::new(),
        }
    }

    pub(crate) fn take_puts(&mut self) -> Vec<Block> {
        std::mem::take(&mut self.puts)
    }

    /// The CIDs of every stored block, sorted.
    ///
    /// # Errors
    /// The store's (a memory store has none).
    pub fn cids(&self) -> Result<Vec<Cid>, StoreError> {
        let mut all = Vec::new();
        for class in PinClass::ALL {
            all.extend(self.inner.list(class)?);
        }
        all.sort();
        Ok(all)
    }

    /// The underlying memory store.
    #[must_use]
    pub fn inner(&self) -> &MemoryStore {
        &self.inner
    }
}

impl BlockStore for SimStore {
    fn get(&mut self, cid: &Cid) -> Result<Option<Block>, StoreError> {
        self.inner.get(cid)
    }

    fn has(&self, cid: &Cid) -> Result<bool, StoreError> {
        self.inner.has(cid)
    }

    fn meta(&self, cid: &Cid) -> Result<Option<BlockMeta>, StoreError> {
        self.inner.meta(cid)
    }

    fn put(&mut self, block: &Block, opts: PutOptions) -> Result<PutOutcome, StoreError> {
        let outcome = self.inner.put(block, opts)?;
        if matches!(outcome, PutOutcome::Stored { .. }) {
            self.puts.push(block.clone());
        }
        Ok(outcome)
    }

    fn remove(&mut self, cid: &Cid) -> Result<bool, StoreError> {
        self.inner.remove(cid)
    }

    fn list(&self, class: PinClass) -> Result<Vec<Cid>, StoreError> {
        self.inner.list(class)
    }

    fn expire(&mut self, now: Instant) -> Result<Vec<Cid>, StoreError> {
        self.inner.expire(now)
    }

    fn stats(&self) -> StoreStats {
        self.inner.stats()
    }
}
