//! Two Quorate nodes over real WebRTC on 127.0.0.1 against the raw DataChannel of the
//! same stack, measured in the same run (issue #4).
//!
//! A node is what the node runtime drives: `Driver<WebRtcTransport, S>` = the mesh
//! machine + a transport + a block store. Both nodes and both transports' IO threads live
//! in this process. The main thread drives both bare transports, or both drivers, sleeping
//! on their `Notify`s as an async runtime would; for transfers each node can also have its
//! own thread (`split.rs`), as two node processes would. Transports use
//! `webrtc::Config::default()`, for nodes and baselines alike; machines the defaults of
//! `mesh::Config::new`.
//!
//! 1. **Throughput**: node B wants the 64 chunks (1 MiB raw blocks, `chunk_file`) of a
//!    64 MiB file that node A stores; time from the wants to the last `Fetched`. Raw: the
//!    same 64 MiB pushed one way with backpressure through `WebRtcTransport::send`, in
//!    64 KiB and in 1 MiB frames. Memory and redb stores (the driver batches the blocks
//!    one pump verified into one commit). Fresh transports per run; median of `REPS`.
//! 2. **Round trip**: B wants one 1 KiB block of A until `Fetched`, against echoing a
//!    1 KiB frame on the raw channel; `SAMPLES` after `WARMUP`.
//! 3. **Start to first block**: fresh keys; from binding both transports through
//!    signaling, ICE/DTLS/SCTP, the DataChannel, the mesh handshake (`PeerUp`) to B's
//!    first `Fetched` (a 1 KiB block B wanted before dialing). `FIRST_RUNS` runs.
//!
//! Prints markdown tables and writes `<target dir>/quorate-bench/webrtc_node.json`.
//! `cargo bench -p quorate-benches --bench webrtc_node [-- webrtc-rs|str0m]`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::cast_possible_truncation,
    reason = "benchmark harness: a panic is a failed run"
)]

mod cpu;
mod pair;
mod report;
mod split;

use std::time::{Duration, Instant as StdInstant};

use bytes::Bytes;
use quorate_mesh_blockstore::{BlockStore, MemoryStore, PutOptions, RedbStore, StoreConfig};
use quorate_mesh_proto::payloads::{CHUNK_SIZE, chunk_file};
use quorate_mesh_proto::{Block, Cid};
use quorate_mesh_transport::webrtc::{str0m, webrtc_rs};

use cpu::{Cpu, CpuSnapshot};
use pair::{Busy, Nodes, Raw, Stack, Waiter};
use report::{First, Latency, Report, Throughput};

/// 1 MiB chunks per transfer (64 MiB).
const BLOCKS: usize = 64;
/// Transfers per case; the median is reported.
const REPS: usize = 3;
/// Round trips measured per case, after `WARMUP` unmeasured ones.
const SAMPLES: usize = 1_000;
const WARMUP: usize = 50;
/// Size of the small message / block.
const SMALL: usize = 1024;
/// Fresh pairs timed from bind to first block.
const FIRST_RUNS: usize = 12;

const STACKS: [Stack; 2] = [
    Stack {
        name: "webrtc-rs",
        bind: webrtc_rs::bind,
    },
    Stack {
        name: "str0m",
        bind: str0m::bind,
    },
];

fn main() {
    // `cargo bench` passes `--bench`; other arguments pick stacks by name.
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let w = Waiter::new();
    let mut report = Report::default();
    let started = StdInstant::now();
    for stack in STACKS {
        if !only.is_empty() && !only.iter().any(|o| o == stack.name) {
            continue;
        }
        eprintln!("{}: start to first block", stack.name);
        report.first.push(first_block(stack, &w));
        eprintln!("{}: throughput", stack.name);
        report.throughput.extend(throughput(stack, &w));
        eprintln!("{}: round trips", stack.name);
        report.latency.extend(latency(stack, &w));
    }
    report.print();
    report.write_json(started.elapsed());
}

/// Pseudo-random bytes (xorshift), different for every `seed`.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn seed<S: BlockStore>(store: &mut S, blocks: &[Block]) {
    let batch: Vec<_> = blocks
        .iter()
        .map(|b| (b.clone(), PutOptions::cache()))
        .collect();
    for r in store.put_many(&batch).unwrap() {
        r.unwrap();
    }
}

fn redb_pair() -> (tempfile::TempDir, RedbStore, RedbStore) {
    let dir = tempfile::tempdir().unwrap();
    let open = |name: &str| RedbStore::open(dir.path().join(name), StoreConfig::default()).unwrap();
    let (a, b) = (open("a.redb"), open("b.redb"));
    (dir, a, b)
}

fn memory() -> MemoryStore {
    MemoryStore::new(StoreConfig::default())
}

fn throughput(stack: Stack, w: &Waiter) -> Vec<Throughput> {
    let bytes = BLOCKS * CHUNK_SIZE;
    let mut cases: Vec<Throughput> = [
        "raw, 64 KiB frames",
        "raw, 1 MiB frames",
        "node, memory stores",
        "node, redb stores",
        "node, memory stores, one thread for both",
        "node, redb stores, one thread for both",
    ]
    .into_iter()
    .map(|case| Throughput::new(stack.name, case, bytes))
    .collect();
    for rep in 0..REPS {
        let data = Bytes::from(noise(bytes, rep as u64 + 1));
        let (_manifest, chunks) = chunk_file("bench.bin", None, &data).unwrap();
        assert_eq!(chunks.len(), BLOCKS);
        let small: Vec<Bytes> = (0..bytes)
            .step_by(64 * 1024)
            .map(|o| data.slice(o..o + 64 * 1024))
            .collect();
        let large: Vec<Bytes> = chunks.iter().map(|c| c.bytes().clone()).collect();
        for (case, frames) in cases.iter_mut().zip([&small, &large]) {
            let mut raw = Raw::open(stack, w);
            let cpu = CpuSnapshot::take();
            let took = raw.transfer(w, frames);
            case.push(took, cpu.since(), None);
        }
        for (i, split) in [(2, true), (4, false)] {
            let run = Run { stack, split };
            let (took, cpu, busy) = run.transfer(w, &chunks, (memory(), memory()));
            cases[i].push(took, cpu, Some(busy));
            let (_dir, a, b) = redb_pair();
            let (took, cpu, busy) = run.transfer(w, &chunks, (a, b));
            cases[i + 1].push(took, cpu, Some(busy));
        }
    }
    cases
}

/// How a node-to-node transfer runs.
#[derive(Clone, Copy)]
struct Run {
    stack: Stack,
    /// Each node on its own thread (else one thread drives both).
    split: bool,
}

impl Run {
    /// B fetches `chunks` from A; wall time, CPU time, where the drivers' time went.
    fn transfer<S: BlockStore + Send>(
        self,
        w: &Waiter,
        chunks: &[Block],
        stores: (S, S),
    ) -> (Duration, Cpu, Busy) {
        let mut n = Nodes::bind(self.stack, stores, StdInstant::now());
        seed(n.a.store_mut(), chunks);
        n.connect(w);
        let cids: Vec<Cid> = chunks.iter().map(|c| *c.cid()).collect();
        n.busy = Busy::default();
        let snapshot = CpuSnapshot::take();
        let start = StdInstant::now();
        let serving_cpu = if self.split {
            n.fetch_split(&cids)
        } else {
            n.fetch(w, &cids);
            Duration::ZERO
        };
        let took = start.elapsed();
        let mut cpu = snapshot.since();
        cpu.bench += serving_cpu;
        n.busy.dropped = n.a.mesh().stats().dropped_out;
        for cid in &cids {
            assert!(n.b.store().has(cid).unwrap(), "not stored");
        }
        for a in &n.seen.anomalies {
            eprintln!("  {}: {a}", self.stack.name);
        }
        (took, cpu, n.busy)
    }
}

fn latency(stack: Stack, w: &Waiter) -> Vec<Latency> {
    let frame = Bytes::from(noise(SMALL, 99));
    let mut raw = Raw::open(stack, w);
    let mut samples = Vec::with_capacity(SAMPLES);
    for i in 0..WARMUP + SAMPLES {
        let took = raw.echo(w, &frame);
        if i >= WARMUP {
            samples.push(took);
        }
    }
    drop(raw);
    let mut out = vec![Latency::new(stack.name, "raw, 1 KiB echo", samples)];
    let blocks: Vec<Block> = (0..WARMUP + SAMPLES)
        .map(|i| Block::raw(noise(SMALL, 1_000 + i as u64)).unwrap())
        .collect();
    out.push(node_round_trips(
        stack,
        w,
        "node, 1 KiB want→block, memory",
        &blocks,
        (memory(), memory()),
    ));
    let (_dir, a, b) = redb_pair();
    out.push(node_round_trips(
        stack,
        w,
        "node, 1 KiB want→block, redb",
        &blocks,
        (a, b),
    ));
    out
}

fn node_round_trips<S: BlockStore>(
    stack: Stack,
    w: &Waiter,
    case: &'static str,
    blocks: &[Block],
    stores: (S, S),
) -> Latency {
    let mut n = Nodes::bind(stack, stores, StdInstant::now());
    seed(n.a.store_mut(), blocks);
    n.connect(w);
    let mut samples = Vec::with_capacity(SAMPLES);
    for (i, block) in blocks.iter().enumerate() {
        let start = StdInstant::now();
        n.fetch(w, &[*block.cid()]);
        if i >= WARMUP {
            samples.push(start.elapsed());
        }
    }
    for a in &n.seen.anomalies {
        eprintln!("  {}: {a}", stack.name);
    }
    Latency::new(stack.name, case, samples)
}

fn first_block(stack: Stack, w: &Waiter) -> First {
    let mut first = First::new(stack.name);
    for run in 0..FIRST_RUNS {
        let block = Block::raw(noise(SMALL, 10_000 + run as u64)).unwrap();
        let mut store_a = memory();
        store_a.put(&block, PutOptions::cache()).unwrap();
        let t0 = StdInstant::now();
        let mut n = Nodes::bind(stack, (store_a, memory()), t0);
        let bound = StdInstant::now();
        n.want(&[*block.cid()]);
        n.a.connect(n.b.mesh().id()).unwrap();
        n.run_until(w, |s| s.fetched >= 1);
        let s = &n.seen;
        let open = s.open[0].unwrap().max(s.open[1].unwrap());
        let up = s.up[0].unwrap().max(s.up[1].unwrap());
        let fetched = s.last_fetched.unwrap();
        first.push([
            bound - t0,
            open - bound,
            up - open,
            fetched - up,
            fetched - t0,
        ]);
    }
    first
}
