//! Drivers over the in-memory network: fetch, gossip, backpressure, store failures.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

use bytes::Bytes;
use quorate_mesh_blockstore::{
    BlockMeta, BlockStore, MemoryStore, PinClass, PutOptions, PutOutcome, StoreConfig, StoreError,
    StoreStats,
};
use quorate_mesh_proto::mesh::{Config, ConnId, Event, Input, Mesh, NodeId, NodeKey, Topic};
use quorate_mesh_proto::payloads::Text;
use quorate_mesh_proto::{Block, Cid, Duration, Instant};
use quorate_mesh_transport::{
    Driver, DriverError, DriverEvent, MemoryNetwork, MemoryTransport, SendError, StoreOp,
    Transport, TransportError, TransportEvent,
};

type Node = Driver<Counting, MemoryStore>;

/// A memory transport that counts the `Full` answers it gives.
#[derive(Debug)]
struct Counting {
    inner: MemoryTransport,
    full: usize,
}

impl Transport for Counting {
    fn connect(&mut self, to: NodeId) -> Result<ConnId, TransportError> {
        self.inner.connect(to)
    }
    fn send(&mut self, conn: ConnId, frame: Bytes) -> Result<(), SendError> {
        let result = self.inner.send(conn, frame);
        self.full += usize::from(result == Err(SendError::Full));
        result
    }
    fn disconnect(&mut self, conn: ConnId) {
        self.inner.disconnect(conn);
    }
    fn poll_event(&mut self) -> Option<TransportEvent> {
        self.inner.poll_event()
    }
}

fn node(net: &MemoryNetwork, n: u8, store: StoreConfig) -> Node {
    let key = NodeKey::from_secret([n; 32]);
    let inner = net.transport(key.id()).unwrap();
    let mesh = Mesh::new(Config::new(key, [n + 100; 32]), Instant::ZERO);
    Driver::new(mesh, Counting { inner, full: 0 }, MemoryStore::new(store))
}

/// Pumps every node until nothing moves.
fn settle(nodes: &mut [&mut Node], now: Instant) {
    while nodes.iter_mut().map(|n| n.pump(now)).sum::<usize>() > 0 {}
}

fn events(node: &mut Node) -> Vec<DriverEvent> {
    std::iter::from_fn(|| node.poll_event()).collect()
}

fn text(s: &str) -> Block {
    Block::encode(&Text { body: s.into() }).unwrap()
}

fn pair() -> (MemoryNetwork, Node, Node) {
    let net = MemoryNetwork::new();
    let mut a = node(&net, 1, StoreConfig::default());
    let mut b = node(&net, 2, StoreConfig::default());
    a.connect(b.mesh().id()).unwrap();
    settle(&mut [&mut a, &mut b], Instant::ZERO);
    assert_eq!(a.mesh().peers().len(), 1);
    assert_eq!(b.mesh().peers()[0].1, a.mesh().id());
    (net, a, b)
}

#[test]
fn two_drivers_fetch_a_block_and_gossip_a_message() {
    let (_net, mut a, mut b) = pair();
    let now = Instant::ZERO;

    // Fetch: only `a` has it.
    let wanted = text("wanted");
    a.store_mut().put(&wanted, PutOptions::cache()).unwrap();
    b.handle(
        now,
        Input::Want {
            cid: *wanted.cid(),
            priority: 1,
        },
    )
    .unwrap();
    settle(&mut [&mut a, &mut b], now);
    assert_eq!(
        b.store_mut().get(wanted.cid()).unwrap(),
        Some(wanted.clone())
    );
    assert!(events(&mut b).iter().any(|e| matches!(
        e,
        DriverEvent::Mesh(Event::Fetched { block, from }) if *block == wanted && *from == a.mesh().id()
    )));

    // Gossip: both subscribed, `b` publishes.
    let topic = Topic::new("chat").unwrap();
    for n in [&mut a, &mut b] {
        n.handle(now, Input::Subscribe(topic.clone())).unwrap();
    }
    settle(&mut [&mut a, &mut b], now);
    let msg = text("hello over memory");
    b.handle(
        now,
        Input::Publish {
            topic: topic.clone(),
            block: msg.clone(),
        },
    )
    .unwrap();
    settle(&mut [&mut a, &mut b], now);
    let delivered: Vec<_> = events(&mut a)
        .into_iter()
        .filter_map(|e| match e {
            DriverEvent::Mesh(Event::Delivered { block, hops, .. }) => Some((block, hops)),
            _ => None,
        })
        .collect();
    assert_eq!(delivered, vec![(msg.clone(), 1)]);
    assert!(a.store().has(msg.cid()).unwrap());
    assert!(
        b.store().has(msg.cid()).unwrap(),
        "publisher stores its own"
    );
}

#[test]
fn backpressure_loses_nothing_and_keeps_order() {
    let net = MemoryNetwork::with_capacity(3);
    let mut a = node(&net, 1, StoreConfig::default());
    let mut b = node(&net, 2, StoreConfig::default());
    a.connect(b.mesh().id()).unwrap();
    let now = Instant::ZERO;
    settle(&mut [&mut a, &mut b], now);
    let topic = Topic::new("burst").unwrap();
    for n in [&mut a, &mut b] {
        n.handle(now, Input::Subscribe(topic.clone())).unwrap();
    }
    settle(&mut [&mut a, &mut b], now);
    let msgs: Vec<Block> = (0..40).map(|i| text(&format!("m{i}"))).collect();
    for m in &msgs {
        a.handle(
            now,
            Input::Publish {
                topic: topic.clone(),
                block: m.clone(),
            },
        )
        .unwrap();
    }
    settle(&mut [&mut a, &mut b], now);
    let got: Vec<Block> = events(&mut b)
        .into_iter()
        .filter_map(|e| match e {
            DriverEvent::Mesh(Event::Delivered { block, .. }) => Some(block),
            _ => None,
        })
        .collect();
    assert_eq!(
        got, msgs,
        "all 40 delivered in order through a 3-frame window"
    );
}

#[test]
fn store_failures_are_events_not_panics() {
    let net = MemoryNetwork::new();
    let tiny = StoreConfig::with_max_bytes(8);
    let mut a = node(&net, 1, StoreConfig::default());
    let mut b = node(&net, 2, tiny);
    a.connect(b.mesh().id()).unwrap();
    let now = Instant::ZERO;
    settle(&mut [&mut a, &mut b], now);
    let topic = Topic::new("t").unwrap();
    for n in [&mut a, &mut b] {
        n.handle(now, Input::Subscribe(topic.clone())).unwrap();
    }
    settle(&mut [&mut a, &mut b], now);
    let msg = text("larger than eight bytes");
    a.handle(
        now,
        Input::Publish {
            topic,
            block: msg.clone(),
        },
    )
    .unwrap();
    settle(&mut [&mut a, &mut b], now);
    let evs = events(&mut b);
    assert!(evs.iter().any(|e| matches!(
        e,
        DriverEvent::StoreFailed { op: StoreOp::Put, cid, .. } if cid == msg.cid()
    )));
    assert!(
        evs.iter()
            .any(|e| matches!(e, DriverEvent::Mesh(Event::Delivered { .. }))),
        "still delivered to the application"
    );
    assert!(!b.store().has(msg.cid()).unwrap());
}

#[test]
fn transport_inputs_are_refused_and_failed_dials_reported() {
    let net = MemoryNetwork::new();
    let mut a = node(&net, 1, StoreConfig::default());
    let now = Instant::ZERO;
    let err = a
        .handle(
            now,
            Input::Frame {
                conn: ConnId(1),
                bytes: b"x",
            },
        )
        .unwrap_err();
    assert_eq!(err, DriverError::NotACommand("Frame"));
    let nobody = NodeKey::from_secret([9; 32]).id();
    let conn = a.connect(nobody).unwrap();
    a.pump(now);
    let evs = events(&mut a);
    assert!(
        matches!(&evs[..], [DriverEvent::DialFailed { conn: c, node }] if *c == conn && *node == nobody),
        "{evs:?}"
    );
}

#[test]
fn timers_run_through_pump() {
    let (_net, mut a, mut b) = pair();
    // Nothing is said for a while: pings keep the connection up past the idle timeout.
    let mut now = Instant::ZERO;
    for _ in 0..60 {
        now += Duration::from_secs(1);
        settle(&mut [&mut a, &mut b], now);
        assert!(a.poll_timeout().unwrap() > now);
    }
    assert_eq!(a.mesh().peers().len(), 1, "still connected after 60 s");
    assert!(a.mesh().stats().frames_out > 4, "pings went out");
}

/// A memory store that counts how blocks reach it.
#[derive(Debug)]
struct Batches {
    inner: MemoryStore,
    /// Sizes of the `put_many` batches, and single `put`s as batches of one.
    writes: Vec<usize>,
}

impl BlockStore for Batches {
    fn get(&mut self, cid: &Cid) -> Result<Option<Block>, StoreError> {
        self.inner.get(cid)
    }
    fn has(&self, cid: &Cid) -> Result<bool, StoreError> {
        self.inner.has(cid)
    }
    fn meta(&self, cid: &Cid) -> Result<Option<BlockMeta>, StoreError> {
        self.inner.meta(cid)
    }
    fn put(&mut self, block: &Block, opts: PutOptions) -> Result<PutOutcome, StoreError> {
        self.writes.push(1);
        self.inner.put(block, opts)
    }
    fn put_many(
        &mut self,
        blocks: &[(Block, PutOptions)],
    ) -> Result<Vec<Result<PutOutcome, StoreError>>, StoreError> {
        self.writes.push(blocks.len());
        self.inner.put_many(blocks)
    }
    fn remove(&mut self, cid: &Cid) -> Result<bool, StoreError> {
        self.inner.remove(cid)
    }
    fn list(&self, class: PinClass) -> Result<Vec<Cid>, StoreError> {
        self.inner.list(class)
    }
    fn expire(&mut self, now: Instant) -> Result<Vec<Cid>, StoreError> {
        self.inner.expire(now)
    }
    fn stats(&self) -> StoreStats {
        self.inner.stats()
    }
}

#[test]
fn blocks_fetched_together_are_stored_in_one_batch() {
    let net = MemoryNetwork::new();
    let mut a = node(&net, 1, StoreConfig::default());
    let key = NodeKey::from_secret([2; 32]);
    let inner = net.transport(key.id()).unwrap();
    let mesh = Mesh::new(Config::new(key, [102; 32]), Instant::ZERO);
    let store = Batches {
        inner: MemoryStore::new(StoreConfig::default()),
        writes: Vec::new(),
    };
    let mut b = Driver::new(mesh, Counting { inner, full: 0 }, store);
    a.connect(b.mesh().id()).unwrap();
    let now = Instant::ZERO;
    while a.pump(now) + b.pump(now) > 0 {}
    let blocks: Vec<Block> = (0..20).map(|i| text(&format!("block {i}"))).collect();
    for block in &blocks {
        a.store_mut().put(block, PutOptions::cache()).unwrap();
    }
    // All 20 answers arrive in one delivery, so b's machine stores them in one drain.
    for block in &blocks {
        let cid = *block.cid();
        b.handle(now, Input::Want { cid, priority: 1 }).unwrap();
    }
    a.pump(now);
    b.pump(now);
    for block in &blocks {
        assert_eq!(
            b.store_mut().get(block.cid()).unwrap().as_ref(),
            Some(block)
        );
    }
    assert_eq!(
        b.store().writes,
        vec![20],
        "one put_many for the whole drain"
    );
}
