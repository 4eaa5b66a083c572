//! Random operation sequences run in lockstep on `MemoryStore` and `RedbStore`: both must
//! answer identically, and the store invariants must hold after every step.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::cast_possible_truncation,
    reason = "test code: a panic is a failed test"
)]

use proptest::prelude::*;
use quorate_mesh_blockstore::conformance::block_of_size;
use quorate_mesh_blockstore::{
    BlockMeta, BlockStore, MemoryStore, PinClass, PutOptions, RedbStore, StoreConfig, StoreError,
};
use quorate_mesh_proto::{Block, Instant};

#[derive(Debug, Clone)]
enum Op {
    Put {
        id: u8,
        class: u8,
        ttl_ms: Option<u16>,
    },
    PutMany(Vec<(u8, u8, Option<u16>)>),
    Get(u8),
    Remove(u8),
    Expire(u16),
}

fn block(id: u8) -> Block {
    block_of_size(u32::from(id), 64 + usize::from(id % 8) * 40)
}

fn class(c: u8) -> PinClass {
    // One in four puts pins (`Retained` included).
    if c.is_multiple_of(4) {
        PinClass::ALL[1 + usize::from(c / 4) % (PinClass::ALL.len() - 1)]
    } else {
        PinClass::Cache
    }
}

/// A put's options; a deadline `ms` after `clock`. A `Retained` put without one is an
/// error both stores must report alike.
fn options(c: u8, ttl_ms: Option<u16>, clock: u64) -> PutOptions {
    PutOptions {
        class: class(c),
        expires_at: ttl_ms.map(|ms| Instant::from_millis(clock + u64::from(ms))),
    }
}

/// Why a block present before `op` may be gone after it.
fn may_vanish(op: &Op, id: u8, meta: &BlockMeta, now: Instant) -> bool {
    match op {
        Op::Remove(r) => *r == id,
        Op::Expire(ms) => {
            let at = Instant::from_millis(u64::from(*ms)).max(now);
            meta.class.expires() && meta.expires_at.is_some_and(|d| d <= at)
        }
        // Evicted to make room: only cache blocks ever are.
        Op::Put { .. } | Op::PutMany(_) => !meta.class.is_pinned(),
        Op::Get(_) => false,
    }
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..24u8, any::<u8>(), proptest::option::of(0..1_000u16))
            .prop_map(|(id, class, ttl_ms)| Op::Put { id, class, ttl_ms }),
        1 => prop::collection::vec(
            (0..24u8, any::<u8>(), proptest::option::of(0..1_000u16)),
            0..5,
        )
        .prop_map(Op::PutMany),
        2 => (0..24u8).prop_map(Op::Get),
        1 => (0..24u8).prop_map(Op::Remove),
        1 => (0..1_000u16).prop_map(Op::Expire),
    ]
}

/// Errors compared by kind and message (they carry no backend detail in these paths).
fn norm<T: std::fmt::Debug>(r: Result<T, StoreError>) -> String {
    match r {
        Ok(v) => format!("ok {v:?}"),
        Err(e) => format!("err {e}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn memory_and_redb_agree(ops in prop::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let config = StoreConfig { max_bytes: 2_000, max_block_size: 300 };
        let mut mem = MemoryStore::new(config);
        let mut disk = RedbStore::open(dir.path().join("d.redb"), config).unwrap();
        let mut clock = 0u64;
        for op in ops {
            clock += 1;
            let now = Instant::from_millis(clock);
            let before: Vec<(u8, BlockMeta)> = (0..24u8)
                .filter_map(|id| Some((id, mem.meta(block(id).cid()).unwrap()?)))
                .collect();
            let (a, b) = match &op {
                Op::Put { id, class: c, ttl_ms } => {
                    let opts = options(*c, *ttl_ms, clock);
                    (norm(mem.put(&block(*id), opts)), norm(disk.put(&block(*id), opts)))
                }
                Op::PutMany(items) => {
                    let batch: Vec<_> = items
                        .iter()
                        .map(|(id, c, ttl_ms)| (block(*id), options(*c, *ttl_ms, clock)))
                        .collect();
                    let a = mem.put_many(&batch).unwrap();
                    let b = disk.put_many(&batch).unwrap();
                    (format!("{:?}", a.into_iter().map(norm).collect::<Vec<_>>()),
                     format!("{:?}", b.into_iter().map(norm).collect::<Vec<_>>()))
                }
                Op::Get(id) => (norm(mem.get(block(*id).cid())), norm(disk.get(block(*id).cid()))),
                Op::Remove(id) => {
                    (norm(mem.remove(block(*id).cid())), norm(disk.remove(block(*id).cid())))
                }
                Op::Expire(ms) => {
                    let at = Instant::from_millis(u64::from(*ms));
                    (norm(mem.expire(at.max(now))), norm(disk.expire(at.max(now))))
                }
            };
            prop_assert_eq!(&a, &b, "after {:?}", op);
            prop_assert_eq!(mem.stats(), disk.stats());
            prop_assert!(mem.stats().bytes <= config.max_bytes);
            for (id, meta) in &before {
                let cid = *block(*id).cid();
                prop_assert_eq!(mem.meta(&cid).unwrap(), disk.meta(&cid).unwrap());
                if !disk.has(&cid).unwrap() {
                    prop_assert!(
                        may_vanish(&op, *id, meta, now),
                        "{:?} block {} vanished after {:?}", meta.class, cid, op
                    );
                }
            }
        }
        // And what is on disk is what the index says.
        drop(disk);
        let reopened = RedbStore::open(dir.path().join("d.redb"), config).unwrap();
        prop_assert_eq!(reopened.stats(), mem.stats());
        for c in PinClass::ALL {
            prop_assert_eq!(reopened.list(c).unwrap(), mem.list(c).unwrap());
        }
        // Classes and deadlines survive the reopen (recency does not: it lives in memory).
        let kept = |m: Option<BlockMeta>| m.map(|m| (m.size, m.class, m.expires_at));
        for id in 0..24u8 {
            let cid = *block(id).cid();
            prop_assert_eq!(kept(reopened.meta(&cid).unwrap()), kept(mem.meta(&cid).unwrap()));
        }
    }
}
