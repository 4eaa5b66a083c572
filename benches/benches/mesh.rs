//! Two mesh machines exchanging blocks through an in-memory pump: want → load → block →
//! verify → store, against the raw cost of hashing and copying the same bytes once.
//! `mesh_pair_fetch_small`: thousands of small blocks wanted at once (a feed rehydration),
//! with `poll_timeout` after every input as runtimes call it, against hashing the same
//! blocks; `mesh_poll_timeout`: one `poll_timeout` with thousands of wants outstanding.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    reason = "benchmark harness"
)]

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use quorate_mesh_proto::mesh::{Config, ConnId, Input, Mesh, NodeKey, Output};
use quorate_mesh_proto::{Block, Cid, Instant};
use sha2::{Digest, Sha256};

const CONN: ConnId = ConnId(1);

struct Pair {
    a: Mesh,
    b: Mesh,
    store_a: HashMap<Cid, Block>,
    store_b: HashMap<Cid, Block>,
    now: Instant,
    /// Ask both machines for `poll_timeout` after every input, as a runtime does.
    poll_timeouts: bool,
}

impl Pair {
    fn new() -> Pair {
        let now = Instant::ZERO;
        let cfg = |i: u8| {
            let mut c = Config::new(NodeKey::from_secret([i; 32]), [i; 32]);
            c.limits.frames_per_sec = u32::MAX / 4;
            c.limits.bytes_per_sec = u32::MAX / 4;
            c.global_bytes_per_sec = u64::MAX / 4;
            c
        };
        let mut p = Pair {
            a: Mesh::new(cfg(1), now),
            b: Mesh::new(cfg(2), now),
            store_a: HashMap::new(),
            store_b: HashMap::new(),
            now,
            poll_timeouts: false,
        };
        p.a.handle_input(
            now,
            Input::Connected {
                conn: CONN,
                expected: None,
            },
        )
        .unwrap();
        p.b.handle_input(
            now,
            Input::Connected {
                conn: CONN,
                expected: None,
            },
        )
        .unwrap();
        p.pump();
        assert_eq!(p.b.peers().len(), 1);
        p
    }

    /// Moves frames both ways until both machines are quiet.
    fn pump(&mut self) {
        let poll = self.poll_timeouts;
        while drain(&mut self.a, &mut self.b, &mut self.store_a, self.now, poll)
            | drain(&mut self.b, &mut self.a, &mut self.store_b, self.now, poll)
        {}
    }
}

/// Handles everything `from` wants done: frames go to `to`, loads and stores hit `store`.
/// True if a frame moved. `poll`: `poll_timeout` after every input, as runtimes do.
fn drain(
    from: &mut Mesh,
    to: &mut Mesh,
    store: &mut HashMap<Cid, Block>,
    now: Instant,
    poll: bool,
) -> bool {
    let mut moved = false;
    while let Some(out) = from.poll_output() {
        match out {
            Output::Send { frame, .. } => {
                moved = true;
                let input = Input::Frame {
                    conn: CONN,
                    bytes: &frame,
                };
                to.handle_input(now, input).unwrap();
                if poll {
                    black_box(to.poll_timeout());
                }
            }
            Output::LoadBlock { conn, cid } => {
                let block = store.get(&cid).cloned();
                from.handle_input(now, Input::BlockLoaded { conn, cid, block })
                    .unwrap();
                if poll {
                    black_box(from.poll_timeout());
                }
            }
            Output::StoreBlock(block) => {
                store.insert(*block.cid(), block);
            }
            _ => {}
        }
    }
    moved
}

fn exchange(c: &mut Criterion) {
    const BLOCKS: usize = 64;
    let mut g = c.benchmark_group("mesh_pair_fetch64");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500));
    for size in [1024usize, 16 * 1024, 256 * 1024] {
        let label = format!("{}KiB", size / 1024);
        let blocks: Vec<Block> = (0..BLOCKS)
            .map(|i| Block::raw((0..size).map(|j| (i * 7 + j) as u8).collect::<Vec<u8>>()).unwrap())
            .collect();
        g.throughput(Throughput::Bytes((size * BLOCKS) as u64));

        g.bench_function(BenchmarkId::new("baseline_sha256_memcpy", &label), |b| {
            b.iter(|| {
                for blk in &blocks {
                    black_box(Sha256::digest(blk.bytes()));
                    black_box(blk.bytes().to_vec());
                }
            })
        });

        let mut pair = Pair::new();
        for blk in &blocks {
            pair.store_a.insert(*blk.cid(), blk.clone());
        }
        g.bench_function(BenchmarkId::new("mesh_want_block", &label), |b| {
            b.iter(|| {
                // Virtual time moves on so the (generous) rate limits refill.
                pair.now += Duration::from_secs(1);
                for blk in &blocks {
                    pair.b
                        .handle_input(
                            pair.now,
                            Input::Want {
                                cid: *blk.cid(),
                                priority: 1,
                            },
                        )
                        .unwrap();
                }
                pair.pump();
                assert_eq!(pair.b.stats().fetched as usize % BLOCKS, 0);
            })
        });
    }
    g.finish();
}

/// `n` small blocks, about the size of a feed entry or a short post.
fn small_blocks(n: usize) -> Vec<Block> {
    (0..n)
        .map(|i| Block::raw(format!("{i:>96}").into_bytes()).unwrap())
        .collect()
}

/// B wants `n` small blocks at once and gets them all from A; a fresh pair each time.
fn fetch_small(c: &mut Criterion) {
    let mut g = c.benchmark_group("mesh_pair_fetch_small");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_secs(1));
    for n in [1_000usize, 10_000] {
        let blocks = small_blocks(n);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(BenchmarkId::new("baseline_sha256", n), |b| {
            b.iter(|| {
                for blk in &blocks {
                    black_box(Sha256::digest(blk.bytes()));
                }
            })
        });
        let setup = || {
            let mut pair = Pair::new();
            pair.poll_timeouts = true;
            for blk in &blocks {
                pair.store_a.insert(*blk.cid(), blk.clone());
            }
            pair
        };
        g.bench_function(BenchmarkId::new("mesh_want_block", n), |b| {
            b.iter_batched(
                setup,
                |mut pair| {
                    for blk in &blocks {
                        let (cid, priority) = (*blk.cid(), 1);
                        pair.b
                            .handle_input(pair.now, Input::Want { cid, priority })
                            .unwrap();
                        black_box(pair.b.poll_timeout());
                    }
                    pair.pump();
                    assert_eq!(pair.b.stats().fetched as usize, n);
                    pair
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

/// One `poll_timeout` while B has `n` wants outstanding (A has none of the blocks and
/// stays silent: B's window is full), against hashing one of the blocks.
fn poll_timeout(c: &mut Criterion) {
    let mut g = c.benchmark_group("mesh_poll_timeout");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500));
    let one = small_blocks(1);
    g.bench_function("baseline_sha256_one_block", |b| {
        b.iter(|| black_box(Sha256::digest(black_box(one[0].bytes()))))
    });
    for n in [1_000usize, 10_000] {
        let mut pair = Pair::new();
        for blk in small_blocks(n) {
            let (cid, priority) = (*blk.cid(), 1);
            pair.b
                .handle_input(pair.now, Input::Want { cid, priority })
                .unwrap();
        }
        while pair.b.poll_output().is_some() {}
        g.bench_function(BenchmarkId::new("wants_outstanding", n), |b| {
            b.iter(|| black_box(black_box(&pair.b).poll_timeout()))
        });
    }
    g.finish();
}

criterion_group!(benches, exchange, fetch_small, poll_timeout);
criterion_main!(benches);
