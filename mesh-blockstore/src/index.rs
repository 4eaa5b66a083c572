//! Accounting shared by every store: sizes, pin classes, deadlines and LRU order.
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
    /// Blocks with a deadline (`Cache` with a TTL, every `Retained`), soonest first.
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
        if opts.class == PinClass::Retained && opts.expires_at.is_none() {
            return Err(StoreError::RetainedWithoutDeadline { cid: *cid });
        }
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
            expires_at: if opts.class.expires() {
                opts.expires_at
            } else {
                None
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
        }
        if let Some(at) = meta.expires_at.filter(|_| meta.class.expires()) {
            self.expiry.insert((at, cid));
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
        }
        if let Some(at) = meta.expires_at {
            self.expiry.remove(&(at, *cid));
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

    /// `Cache` and `Retained` blocks whose deadline has passed at `now`.
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

/// Pinned and never expiring: every class but `Cache` and `Retained`.
fn held_forever(class: PinClass) -> bool {
    class.is_pinned() && !class.expires()
}

/// Re-putting a stored block:
/// - a class held forever beats the others and clears the deadline; between two of them
///   the first one stays;
/// - otherwise `Retained` beats `Cache`, with the later `Retained` deadline (a `Cache`
///   put's TTL plays no part);
/// - two cache puts keep the later expiry (`None` = never).
fn merge(old: &BlockMeta, opts: PutOptions, tick: u64) -> BlockMeta {
    let (class, expires_at) = if held_forever(old.class) {
        (old.class, None)
    } else if held_forever(opts.class) {
        (opts.class, None)
    } else if old.class == PinClass::Retained || opts.class == PinClass::Retained {
        let deadline =
            |class: PinClass, at: Option<Instant>| at.filter(|_| class == PinClass::Retained);
        let (a, b) = (
            deadline(old.class, old.expires_at),
            deadline(opts.class, opts.expires_at),
        );
        // `None < Some`: the max is the later of the deadlines present.
        (PinClass::Retained, a.max(b))
    } else {
        let expires_at = match (old.expires_at, opts.expires_at) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        };
        (opts.class, expires_at)
    };
    BlockMeta {
        size: old.size,
        class,
        expires_at,
        last_used: tick,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use quorate_mesh_proto::Duration;

    use super::*;
    use crate::conformance::block_of_size;

    /// How long a block is kept, whichever class name it ends up with: what merging must
    /// settle the same way whatever the order of the puts.
    #[derive(Debug, PartialEq, Eq)]
    enum Keep {
        Forever,
        Until(Instant),
        Cache(Option<Instant>),
    }

    fn keep(meta: &BlockMeta) -> Keep {
        match (meta.class, meta.expires_at) {
            (PinClass::Cache, at) => Keep::Cache(at),
            (PinClass::Retained, Some(at)) => Keep::Until(at),
            (class, at) => {
                assert!(held_forever(class) && at.is_none(), "{meta:?}");
                Keep::Forever
            }
        }
    }

    fn put_options() -> impl Strategy<Value = PutOptions> {
        (
            0..PinClass::ALL.len(),
            proptest::option::of(0..100u64),
            0..100u64,
        )
            .prop_map(|(i, at, retain)| match PinClass::ALL[i] {
                PinClass::Retained => PutOptions::retained(Instant::from_millis(retain)),
                class => PutOptions {
                    class,
                    expires_at: at.map(Instant::from_millis),
                },
            })
    }

    /// Puts one block with every option in turn; the block's meta and the index's stats.
    fn put_all(cid: &Cid, puts: &[PutOptions]) -> (BlockMeta, StoreStats) {
        let mut index = Index::new(StoreConfig::with_max_bytes(1_000));
        for opts in puts {
            let plan = index.plan_put(cid, 64, *opts).unwrap();
            index.apply_put(*cid, &plan);
        }
        (index.meta(cid).unwrap(), index.stats())
    }

    proptest! {
        #[test]
        fn merge_is_order_independent_and_idempotent(
            (puts, shuffled) in prop::collection::vec(put_options(), 1..8)
                .prop_flat_map(|v| (Just(v.clone()), Just(v).prop_shuffle())),
        ) {
            let cid = *block_of_size(1, 64).cid();
            let (meta, stats) = put_all(&cid, &puts);
            let (again, again_stats) = put_all(&cid, &shuffled);
            prop_assert_eq!(keep(&meta), keep(&again));
            prop_assert_eq!(stats, again_stats);
            let twice: Vec<PutOptions> = puts.iter().chain(&shuffled).copied().collect();
            prop_assert_eq!(keep(&put_all(&cid, &twice).0), keep(&meta));
            prop_assert_eq!(stats.pinned_bytes, if meta.class.is_pinned() { 64 } else { 0 });
            // The expiry queue holds exactly the deadline the meta shows.
            let mut index = Index::new(StoreConfig::with_max_bytes(1_000));
            index.insert(cid, meta);
            let expiring = index.expired(Instant::MAX);
            prop_assert_eq!(expiring.is_empty(), meta.expires_at.is_none());
        }
    }

    #[test]
    fn merge_rules() {
        let at = Instant::from_millis;
        let old = |class, expires_at| BlockMeta {
            size: 64,
            class,
            expires_at,
            last_used: 0,
        };
        let merged = |o: BlockMeta, opts| {
            let m = merge(&o, opts, 1);
            (m.class, m.expires_at)
        };
        let retained = old(PinClass::Retained, Some(at(10)));
        let cases = [
            // A real pin beats Retained, either way round, and clears the deadline.
            (
                retained,
                PutOptions::pinned(PinClass::GroupMessage),
                (PinClass::GroupMessage, None),
            ),
            (
                old(PinClass::Vote, None),
                PutOptions::retained(at(10)),
                (PinClass::Vote, None),
            ),
            // Retained beats Cache, either way round, with the Retained deadline.
            (
                old(PinClass::Cache, Some(at(99))),
                PutOptions::retained(at(10)),
                (PinClass::Retained, Some(at(10))),
            ),
            (
                old(PinClass::Cache, None),
                PutOptions::retained(at(10)),
                (PinClass::Retained, Some(at(10))),
            ),
            (
                retained,
                PutOptions::cache(),
                (PinClass::Retained, Some(at(10))),
            ),
            (
                retained,
                PutOptions::cache().ttl(at(0), Duration::from_millis(99)),
                (PinClass::Retained, Some(at(10))),
            ),
            // Two Retained puts keep the later deadline.
            (
                retained,
                PutOptions::retained(at(20)),
                (PinClass::Retained, Some(at(20))),
            ),
            (
                retained,
                PutOptions::retained(at(5)),
                (PinClass::Retained, Some(at(10))),
            ),
        ];
        for (o, opts, expect) in cases {
            assert_eq!(merged(o, opts), expect, "{o:?} + {opts:?}");
        }
    }

    #[test]
    fn retained_without_deadline_is_rejected_before_anything_else() {
        let mut index = Index::new(StoreConfig::with_max_bytes(100));
        let cid = *block_of_size(1, 64).cid();
        let undated = PutOptions::pinned(PinClass::Retained);
        assert!(matches!(
            index.plan_put(&cid, 64, undated),
            Err(StoreError::RetainedWithoutDeadline { cid: c }) if c == cid
        ));
        let plan = index.plan_put(&cid, 64, PutOptions::cache()).unwrap();
        index.apply_put(cid, &plan);
        // Even for a stored block, and even when the block would not fit.
        assert!(index.plan_put(&cid, 64, undated).is_err());
        assert!(matches!(
            index.plan_put(&cid, 1_000, undated),
            Err(StoreError::RetainedWithoutDeadline { .. })
        ));
        assert_eq!(index.meta(&cid).unwrap().class, PinClass::Cache);
    }
}
