//! The node's block store: in memory only (`WebNode.create`) or persisted to IndexedDB
//! (`WebNode.open`). One type so the driver stays one type.

use quorate_mesh_blockstore::{
    BlockMeta, BlockStore, MemoryStore, PinClass, PutOptions, PutOutcome, StoreError, StoreStats,
};
use quorate_mesh_proto::{Block, Cid, Instant};

use crate::idb::IdbStore;

/// Either store; every call goes to the one inside.
#[derive(Debug)]
pub(super) enum NodeStore {
    /// Lost with the tab.
    Memory(MemoryStore),
    /// Kept in memory and written behind to IndexedDB (the node flushes it).
    Idb(Box<IdbStore>),
}

impl NodeStore {
    /// The IndexedDB store, if this is one.
    pub(super) fn idb_mut(&mut self) -> Option<&mut IdbStore> {
        match self {
            NodeStore::Memory(_) => None,
            NodeStore::Idb(store) => Some(store),
        }
    }

    /// Changes not yet written to IndexedDB (0 in memory).
    pub(super) fn pending_ops(&self) -> usize {
        match self {
            NodeStore::Memory(_) => 0,
            NodeStore::Idb(store) => store.pending_ops(),
        }
    }

    fn inner(&self) -> &dyn BlockStore {
        match self {
            NodeStore::Memory(store) => store,
            NodeStore::Idb(store) => store.as_ref(),
        }
    }

    fn inner_mut(&mut self) -> &mut dyn BlockStore {
        match self {
            NodeStore::Memory(store) => store,
            NodeStore::Idb(store) => store.as_mut(),
        }
    }
}

impl BlockStore for NodeStore {
    fn get(&mut self, cid: &Cid) -> Result<Option<Block>, StoreError> {
        self.inner_mut().get(cid)
    }

    fn has(&self, cid: &Cid) -> Result<bool, StoreError> {
        self.inner().has(cid)
    }

    fn meta(&self, cid: &Cid) -> Result<Option<BlockMeta>, StoreError> {
        self.inner().meta(cid)
    }

    fn put(&mut self, block: &Block, opts: PutOptions) -> Result<PutOutcome, StoreError> {
        self.inner_mut().put(block, opts)
    }

    fn put_many(
        &mut self,
        blocks: &[(Block, PutOptions)],
    ) -> Result<Vec<Result<PutOutcome, StoreError>>, StoreError> {
        self.inner_mut().put_many(blocks)
    }

    fn remove(&mut self, cid: &Cid) -> Result<bool, StoreError> {
        self.inner_mut().remove(cid)
    }

    fn list(&self, class: PinClass) -> Result<Vec<Cid>, StoreError> {
        self.inner().list(class)
    }

    fn expire(&mut self, now: Instant) -> Result<Vec<Cid>, StoreError> {
        self.inner_mut().expire(now)
    }

    fn stats(&self) -> StoreStats {
        self.inner().stats()
    }
}
