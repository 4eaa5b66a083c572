//! Accounting shared by every store: sizes, pin classes, TTLs and LRU order.
//!
//! Stores keep bytes; the [`Index`] decides. Changes are planned first ([`Index::plan_put`]),
//! applied to the backend, and only then recorded ([`Index::apply_put`]), so a backend
//! failure leaves the index matching what is really stored.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use quorate_mesh_proto::{Cid, Instant, PinClass};

use crate::{BlockMeta, PutOptions, StoreConfig, StoreError, StoreStats};

#[derive(Debug)]
pub(crate) struct Index {
    config: StoreConfig,
    entries: HashMap<Cid, BlockMeta>,
    /// Evictable (cache-class) blocks by last use, oldest first.
    lru: BTreeMap<u64, Cid>,
    /// Cache-class blocks with a TTL, soonest first.
    expiry: BTreeSet<(Instant, Cid)>,
    bytes: u64,
    pinned_bytes: u64,
    /// Last use counter; persistent stores restore it from their metadata.
    tick: u64,
}

/// What a `put` will do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PutPlan {
    /// Already stored; record this (possibly upgraded) metadata.
    Update(BlockMeta),
    /// Evict these blocks, then insert with this metadata.
    Insert { meta: BlockMeta, evict: Vec<Cid> },
}

impl Index {
    pub(crate) fn new(config: StoreConfig) -> Self {
        Index {
            config,
            entries: HashMap::new(),
            lru: BTreeMap::new(),
            expiry: BTreeSet::new(),
            bytes: 0,
            pinned_bytes: 0,
            tick: 0,
        }
    }

    #[cfg_attr(
        not(feature = "redb"),
        allow(dead_code, reason = "only the redb store reloads")
    )]
    pub(crate) fn config(&self) -> &StoreConfig {
        &self.config
    }

    pub(crate) fn meta(&self, cid: &Cid) -> Option<BlockMeta> {
        self.entries.get(cid).copied()
    }

    pub(crate) fn contains(&self, cid: &Cid) -> bool {
        self.entries.contains_key(cid)
    }

    /// Decides how to store `cid` (of `size` bytes) under `opts`, without changing anything.
    pub(crate) fn plan_put(
        &self,
        cid: &Cid,
        size: usize,
        opts: PutOptions,
    ) -> Result<PutPlan, StoreError> {
        let tick = self.tick.saturating_add(1);
        if let Some(old) = self.entries.get(cid) {
            return Ok(PutPlan::Update(merge(old, opts, tick)));
        }
        if size > self.config.max_block_size {
            return Err(StoreError::TooLarge {
                cid: *cid,
                size,
                max: self.config.max_block_size,
            });
        }
        let needed = size as u64;
        let max = self.config.max_bytes;
        let free = max.saturating_sub(self.bytes);
        let mut evict = Vec::new();
        let mut freed = 0u64;
        if needed > free {
            for victim in self.lru.values() {
                if free.saturating_add(freed) >= needed {
                    break;
                }
                freed = freed.saturating_add(self.entries.get(victim).map_or(0, |m| m.size as u64));
                evict.push(*victim);
            }
            if free.saturating_add(freed) < needed {
                return Err(StoreError::Full {
                    cid: *cid,
                    needed,
                    available: free.saturating_add(freed),
                    max,
                });
            }
        }
        let meta = BlockMeta {
            size: u32::try_from(size).unwrap_or(u32::MAX),
            class: opts.class,
            expires_at: if opts.class.is_pinned() {
                None
            } else {
                opts.expires_at
            },
            last_used: tick,
        };
        Ok(PutPlan::Insert { meta, evict })
    }

    /// Records a plan the backend has carried out.
    pub(crate) fn apply_put(&mut self, cid: Cid, plan: &PutPlan) {
        match plan {
            PutPlan::Update(meta) | PutPlan::Insert { meta, .. } => {
                if let PutPlan::Insert { evict, .. } = plan {
                    for victim in evict {
                        self.remove(victim);
                    }
                }
                self.remove(&cid);
                self.insert(cid, *meta);
            }
        }
    }

    /// Inserts an entry as it is (also used when a persistent store loads its metadata).
    pub(crate) fn insert(&mut self, cid: Cid, meta: BlockMeta) {
        self.tick = self.tick.max(meta.last_used);
        if meta.class.is_pinned() {
            self.pinned_bytes = self.pinned_bytes.saturating_add(u64::from(meta.size));
        } else {
            self.lru.insert(meta.last_used, cid);
            if let Some(at) = meta.expires_at {
                self.expiry.insert((at, cid));
            }
        }
        self.bytes = self.bytes.saturating_add(u64::from(meta.size));
        self.entries.insert(cid, meta);
    }

    /// Forgets an entry; returns its metadata.
    pub(crate) fn remove(&mut self, cid: &Cid) -> Option<BlockMeta> {
        let meta = self.entries.remove(cid)?;
        if meta.class.is_pinned() {
            self.pinned_bytes = self.pinned_bytes.saturating_sub(u64::from(meta.size));
        } else {
            self.lru.remove(&meta.last_used);
            if let Some(at) = meta.expires_at {
                self.expiry.remove(&(at, *cid));
            }
        }
        self.bytes = self.bytes.saturating_sub(u64::from(meta.size));
        Some(meta)
    }

    /// Marks a block as just used (a read). Returns false if absent.
    pub(crate) fn touch(&mut self, cid: &Cid) -> bool {
        let Some(meta) = self.entries.get_mut(cid) else {
            return false;
        };
        if !meta.class.is_pinned() {
            self.lru.remove(&meta.last_used);
            self.tick = self.tick.saturating_add(1);
            meta.last_used = self.tick;
            self.lru.insert(self.tick, *cid);
        }
        true
    }

    /// Cache-class blocks whose TTL has passed at `now`.
    pub(crate) fn expired(&self, now: Instant) -> Vec<Cid> {
        self.expiry
            .iter()
            .take_while(|(at, _)| *at <= now)
            .map(|(_, cid)| *cid)
            .collect()
    }

    pub(crate) fn list(&self, class: PinClass) -> Vec<Cid> {
        let mut cids: Vec<Cid> = self
            .entries
            .iter()
            .filter(|(_, m)| m.class == class)
            .map(|(c, _)| *c)
            .collect();
        cids.sort_unstable();
        cids
    }

    pub(crate) fn stats(&self) -> StoreStats {
        StoreStats {
            blocks: self.entries.len(),
            bytes: self.bytes,
            pinned_bytes: self.pinned_bytes,
            max_bytes: self.config.max_bytes,
        }
    }
}

/// Re-putting a stored block: a pinned class beats cache (and then TTLs no longer apply);
/// two cache puts keep the later expiry (`None` = never).
fn merge(old: &BlockMeta, opts: PutOptions, tick: u64) -> BlockMeta {
    let class = if old.class.is_pinned() {
        old.class
    } else {
        opts.class
    };
    let expires_at = if class.is_pinned() {
        None
    } else {
        match (old.expires_at, opts.expires_at) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        }
    };
    BlockMeta {
        size: old.size,
        class,
        expires_at,
        last_used: tick,
    }
}
