//! Actor feeds: rehydrating a whole feed (head, pages, entries, referenced blocks) through
//! `FeedSync`, against the raw cost of the same work — SHA2-256 of every block (the mesh's
//! CID check) plus one strict Ed25519 verification per entry — measured in the same run,
//! for 1,000 and 10,000 entries. Plus signing (append) against raw Ed25519 signing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    reason = "benchmark harness"
)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ed25519_dalek::{Signature, Signer, VerifyingKey};
use quorate_actor_core::feed::{FeedEntry, FeedLog};
use quorate_actor_core::sync::{Config, Event, FeedSync, Output};
use quorate_actor_core::{ActorProfile, ActorSecret, Identity};
use quorate_mesh_proto::mesh::{Head, NodeId};
use quorate_mesh_proto::payloads::Text;
use quorate_mesh_proto::{Block, Cid, Domain, Instant};
use sha2::{Digest, Sha256};

struct Feed {
    identity: Identity,
    blocks: BTreeMap<Cid, Bytes>,
    head: Head,
    entries: Vec<FeedEntry>,
}

fn feed(n: usize) -> Feed {
    let identity = Identity::from_secret(ActorSecret::from_bytes([7; 32]));
    let mut blocks = BTreeMap::new();
    let mut put = |b: Block| {
        let (cid, bytes) = b.into_parts();
        blocks.insert(cid, bytes);
        cid
    };
    let profile = put(ActorProfile::publish(&identity, BTreeMap::new()).unwrap());
    let mut log = FeedLog::new(identity.id());
    let mut entries = Vec::new();
    for i in 0..n {
        let post = put(Block::encode(&Text {
            body: format!("post number {i}"),
        })
        .unwrap());
        let entry = log
            .append(&identity, 1_700_000_000_000 + i as u64, vec![post])
            .unwrap();
        entries.push(entry.decode::<FeedEntry>().unwrap().payload);
        put(entry);
    }
    let publication = log.publish(&identity, profile).unwrap();
    for page in publication.pages {
        put(page);
    }
    let head = publication.feed_head.mesh_head(*publication.head.cid());
    put(publication.head);
    Feed {
        identity,
        blocks,
        head,
        entries,
    }
}

/// Runs a `FeedSync` to completion, every block checked against its CID on the way in.
fn rehydrate(feed: &Feed) -> usize {
    let peer = NodeId::from_bytes([1; 32]);
    let mut sync = FeedSync::new(Config::default(), feed.identity.id(), Instant::ZERO);
    sync.handle_head(Instant::ZERO, &feed.head, peer);
    let mut done = 0;
    while let Some(out) = sync.poll_output() {
        match out {
            Output::Need { cid, .. } => {
                let bytes = feed.blocks[&cid].clone();
                let block = Block::from_untrusted(&cid, bytes).unwrap();
                sync.handle_block(Instant::ZERO, &block, Some(peer));
            }
            Output::Event(Event::Complete(s)) => done = s.entries.len(),
            _ => {}
        }
    }
    assert_eq!(done, feed.entries.len());
    done
}

/// The raw floor: hash every block once and verify every entry signature once.
fn raw(feed: &Feed, key: &VerifyingKey) -> usize {
    for bytes in feed.blocks.values() {
        black_box(Sha256::digest(bytes));
    }
    for entry in &feed.entries {
        let unsigned = FeedEntryBytes::of(entry);
        let sig = Signature::from_bytes(&entry.signature);
        key.verify_strict(&Domain::FeedEntry.message(&unsigned), &sig)
            .unwrap();
    }
    feed.entries.len()
}

/// The bytes an entry signature covers, as the baseline computes them.
struct FeedEntryBytes;

impl FeedEntryBytes {
    fn of(entry: &FeedEntry) -> Vec<u8> {
        #[derive(serde::Serialize)]
        struct Signed<'a> {
            actor: &'a quorate_actor_core::ActorId,
            seq: u64,
            prev: &'a Option<Cid>,
            timestamp: u64,
            payloads: &'a [Cid],
            #[serde(with = "serde_bytes")]
            key: &'a [u8; 32],
        }
        serde_ipld_dagcbor::to_vec(&Signed {
            actor: &entry.actor,
            seq: entry.seq,
            prev: &entry.prev,
            timestamp: entry.timestamp,
            payloads: &entry.payloads,
            key: &entry.key,
        })
        .unwrap()
    }
}

fn rehydration(c: &mut Criterion) {
    let mut g = c.benchmark_group("rehydrate");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(8))
        .warm_up_time(Duration::from_secs(1));
    for n in [1_000, 10_000] {
        let f = feed(n);
        let key = f.identity.verifying_key();
        assert!(f.entries[0].verify().is_ok());
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(BenchmarkId::new("baseline_hash_and_verify", n), |b| {
            b.iter(|| raw(black_box(&f), &key))
        });
        g.bench_function(BenchmarkId::new("feed_sync", n), |b| {
            b.iter(|| rehydrate(black_box(&f)))
        });
    }
    g.finish();
}

fn append(c: &mut Criterion) {
    let mut g = c.benchmark_group("feed_append");
    let identity = Identity::from_secret(ActorSecret::from_bytes([7; 32]));
    let post = *Block::encode(&Text { body: "x".into() }).unwrap().cid();
    g.throughput(Throughput::Elements(1));
    g.bench_function("baseline_ed25519_sign", |b| {
        b.iter(|| {
            identity
                .signing_key()
                .sign(black_box(b"a message of about the size"))
        })
    });
    let mut log = FeedLog::new(identity.id());
    g.bench_function("append_entry", |b| {
        b.iter(|| log.append(&identity, 1, vec![post]).unwrap())
    });
    g.finish();
}

criterion_group!(benches, rehydration, append);
criterion_main!(benches);
