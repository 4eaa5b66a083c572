//! Two mesh machines exchanging blocks through an in-memory pump: want → load → block →
//! verify → store, against the raw cost of hashing and copying the same bytes once.

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

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
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
        while drain(&mut self.a, &mut self.b, &mut self.store_a, self.now)
            | drain(&mut self.b, &mut self.a, &mut self.store_b, self.now)
        {}
    }
}

/// Handles everything `from` wants done: frames go to `to`, loads and stores hit `store`.
/// True if a frame moved.
fn drain(from: &mut Mesh, to: &mut Mesh, store: &mut HashMap<Cid, Block>, now: Instant) -> bool {
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
            }
            Output::LoadBlock { conn, cid } => {
                let block = store.get(&cid).cloned();
                from.handle_input(now, Input::BlockLoaded { conn, cid, block })
                    .unwrap();
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

criterion_group!(benches, exchange);
criterion_main!(benches);
