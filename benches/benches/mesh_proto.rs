//! Blocks: CID computation, encode, untrusted accept and strict decode, per block size,
//! against raw SHA2-256 of the same bytes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    reason = "benchmark harness"
)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use quorate_mesh_proto::{Block, BlockPayload, PinClass};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A payload of opaque bytes, so the envelope size tracks the benchmark size.
#[derive(Serialize, Deserialize)]
struct Blob {
    #[serde(with = "serde_bytes")]
    data: Vec<u8>,
}

impl BlockPayload for Blob {
    const TYPE: &'static str = "bench-blob";
    const VERSION: u32 = 1;
    const PIN: PinClass = PinClass::Cache;
}

const SIZES: [usize; 6] = [64, 1024, 16 * 1024, 64 * 1024, 256 * 1024, 1024 * 1024];

fn label(size: usize) -> String {
    if size >= 1024 * 1024 {
        format!("{}MiB", size / (1024 * 1024))
    } else if size >= 1024 {
        format!("{}KiB", size / 1024)
    } else {
        format!("{size}B")
    }
}

fn blocks(c: &mut Criterion) {
    let mut g = c.benchmark_group("blocks");
    g.measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    for size in SIZES {
        let data: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
        let blob = Blob { data: data.clone() };
        let encoded = Block::encode(&blob).unwrap();
        let raw = Block::raw(data.clone()).unwrap();
        g.throughput(Throughput::Bytes(size as u64));
        let id = |name: &str| BenchmarkId::new(name, label(size));

        g.bench_function(id("baseline_sha256"), |b| {
            b.iter(|| Sha256::digest(black_box(&data)))
        });
        g.bench_function(id("raw_block"), |b| {
            b.iter(|| Block::raw(black_box(data.clone())).unwrap())
        });
        g.bench_function(id("from_untrusted"), |b| {
            b.iter(|| Block::from_untrusted(raw.cid(), black_box(raw.bytes().clone())).unwrap())
        });
        g.bench_function(id("encode"), |b| {
            b.iter(|| Block::encode(black_box(&blob)).unwrap())
        });
        g.bench_function(id("decode"), |b| {
            b.iter(|| black_box(&encoded).decode::<Blob>().unwrap())
        });
        g.bench_function(id("accept_and_decode"), |b| {
            b.iter(|| {
                Block::from_untrusted(encoded.cid(), black_box(encoded.bytes().clone()))
                    .unwrap()
                    .decode::<Blob>()
                    .unwrap()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, blocks);
criterion_main!(benches);
