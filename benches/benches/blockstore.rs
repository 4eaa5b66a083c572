//! Block stores: put, batched put and get for `MemoryStore` and `RedbStore`, against raw
//! redb doing the same work (same keys, same values, same durability) in the same run.
//! Gets are measured with 1,000, 10,000 and 100,000 blocks stored, to show cost growth.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    reason = "benchmark harness"
)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use quorate_mesh_blockstore::conformance::block_of_size;
use quorate_mesh_blockstore::{BlockStore, MemoryStore, PutOptions, RedbStore, StoreConfig};
use quorate_mesh_proto::Block;
use redb::{Database, ReadableDatabase, TableDefinition};

const RAW: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("raw");

fn unlimited() -> StoreConfig {
    StoreConfig::with_max_bytes(u64::MAX)
}

/// An endless supply of distinct blocks of one size.
struct Blocks {
    next: u32,
    size: usize,
}

impl Blocks {
    fn take(&mut self) -> Block {
        self.next += 1;
        block_of_size(self.next, self.size)
    }
}

fn raw_put(db: &Database, block: &Block) {
    let txn = db.begin_write().unwrap();
    txn.open_table(RAW)
        .unwrap()
        .insert(&block.cid().to_bytes()[..], &block.bytes()[..])
        .unwrap();
    txn.commit().unwrap();
}

fn puts(c: &mut Criterion) {
    let mut g = c.benchmark_group("store_put");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500));
    for size in [1024usize, 64 * 1024] {
        let label = format!("{}KiB", size / 1024);
        let dir = tempfile::tempdir().unwrap();
        g.throughput(Throughput::Bytes(size as u64));

        let db = Database::create(dir.path().join("raw.redb")).unwrap();
        let mut src = Blocks { next: 0, size };
        g.bench_function(BenchmarkId::new("baseline_redb", &label), |b| {
            b.iter_batched(
                || src.take(),
                |blk| raw_put(&db, &blk),
                BatchSize::SmallInput,
            )
        });

        let mut store = RedbStore::open(dir.path().join("store.redb"), unlimited()).unwrap();
        let mut src = Blocks {
            next: 1 << 24,
            size,
        };
        g.bench_function(BenchmarkId::new("redb_store", &label), |b| {
            b.iter_batched(
                || src.take(),
                |blk| store.put(&blk, PutOptions::cache()).unwrap(),
                BatchSize::SmallInput,
            )
        });

        let mut mem = MemoryStore::new(unlimited());
        let mut src = Blocks {
            next: 2 << 24,
            size,
        };
        g.bench_function(BenchmarkId::new("memory_store", &label), |b| {
            b.iter_batched(
                || src.take(),
                |blk| mem.put(&blk, PutOptions::cache()).unwrap(),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

fn batched_puts(c: &mut Criterion) {
    const BATCH: usize = 100;
    let mut g = c.benchmark_group("store_put_batch100");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500));
    g.throughput(Throughput::Elements(BATCH as u64));
    let dir = tempfile::tempdir().unwrap();
    let batch = |src: &mut Blocks| -> Vec<Block> { (0..BATCH).map(|_| src.take()).collect() };

    let db = Database::create(dir.path().join("raw.redb")).unwrap();
    let mut src = Blocks {
        next: 0,
        size: 1024,
    };
    g.bench_function(BenchmarkId::new("baseline_redb", "1KiB"), |b| {
        b.iter_batched(
            || batch(&mut src),
            |blocks| {
                let txn = db.begin_write().unwrap();
                {
                    let mut t = txn.open_table(RAW).unwrap();
                    for blk in &blocks {
                        t.insert(&blk.cid().to_bytes()[..], &blk.bytes()[..])
                            .unwrap();
                    }
                }
                txn.commit().unwrap();
            },
            BatchSize::SmallInput,
        )
    });

    let mut store = RedbStore::open(dir.path().join("store.redb"), unlimited()).unwrap();
    let mut src = Blocks {
        next: 1 << 24,
        size: 1024,
    };
    g.bench_function(BenchmarkId::new("redb_store", "1KiB"), |b| {
        b.iter_batched(
            || {
                batch(&mut src)
                    .into_iter()
                    .map(|blk| (blk, PutOptions::cache()))
                    .collect::<Vec<_>>()
            },
            |items| store.put_many(&items).unwrap(),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn gets(c: &mut Criterion) {
    let mut g = c.benchmark_group("store_get_1KiB");
    g.measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    g.throughput(Throughput::Elements(1));
    for n in [1_000u32, 10_000, 100_000] {
        let dir = tempfile::tempdir().unwrap();
        let blocks: Vec<Block> = (0..n).map(|i| block_of_size(i, 1024)).collect();
        let db = Database::create(dir.path().join("raw.redb")).unwrap();
        let mut store = RedbStore::open(dir.path().join("store.redb"), unlimited()).unwrap();
        let mut mem = MemoryStore::new(unlimited());
        for chunk in blocks.chunks(5_000) {
            let txn = db.begin_write().unwrap();
            {
                let mut t = txn.open_table(RAW).unwrap();
                for blk in chunk {
                    t.insert(&blk.cid().to_bytes()[..], &blk.bytes()[..])
                        .unwrap();
                }
            }
            txn.commit().unwrap();
            let items: Vec<_> = chunk
                .iter()
                .map(|b| (b.clone(), PutOptions::cache()))
                .collect();
            store.put_many(&items).unwrap();
            mem.put_many(&items).unwrap();
        }
        // Same pseudo-random access order for every contender.
        let order: Vec<usize> = (0..4096).map(|i| (i * 7_919) % blocks.len()).collect();
        let label = format!("{n}");

        let mut i = 0;
        g.bench_function(BenchmarkId::new("baseline_redb", &label), |b| {
            b.iter(|| {
                i = (i + 1) % order.len();
                let key = blocks[order[i]].cid().to_bytes();
                let txn = db.begin_read().unwrap();
                let t = txn.open_table(RAW).unwrap();
                black_box(t.get(&key[..]).unwrap().unwrap().value().to_vec())
            })
        });
        let mut i = 0;
        g.bench_function(BenchmarkId::new("redb_store", &label), |b| {
            b.iter(|| {
                i = (i + 1) % order.len();
                black_box(store.get(blocks[order[i]].cid()).unwrap().unwrap())
            })
        });
        let mut i = 0;
        g.bench_function(BenchmarkId::new("memory_store", &label), |b| {
            b.iter(|| {
                i = (i + 1) % order.len();
                black_box(mem.get(blocks[order[i]].cid()).unwrap().unwrap())
            })
        });
    }
    g.finish();
}

criterion_group!(benches, puts, batched_puts, gets);
criterion_main!(benches);
