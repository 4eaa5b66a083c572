//! Thousands of outstanding wants: a fetcher asks for 2,000 small blocks from servers
//! that hold different parts of them, over links that lose frames, while one server leaves
//! and another arrives, and an announcer advertises ids nobody pushes. Every block someone
//! holds arrives, none of the others does, and the whole run — every output of every node
//! and every `poll_timeout` — is the same twice (its digest is printed with
//! `--nocapture`, to compare builds: the want/graft deadline indexes must not change a byte).

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stderr,
    clippy::cast_possible_truncation,
    reason = "test code: a panic is a failed test"
)]

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

use quorate_mesh_proto::mesh::{
    Config, ConnId, Event, Frame, Input, Mesh, NodeKey, Output, Topic, TopicIds,
};
use quorate_mesh_proto::{Block, Cid, Duration, Instant};
use sha2::{Digest, Sha256};

const BLOCKS: usize = 2_000;
const FETCHER: usize = 0;
/// Leaves at `LEAVE`.
const LEAVER: usize = 2;
/// Arrives at `ARRIVE`.
const LATECOMER: usize = 4;
const LEAVE: Instant = Instant::from_millis(300);
const ARRIVE: Instant = Instant::from_millis(1_500);
/// The run ends (everything held arrives within about 2 s; the rest keeps being asked).
const END: Instant = Instant::from_millis(5_000);
/// Every this many frames after the handshakes, one is lost.
const LOSE_EVERY: u64 = 37;

/// Which servers hold block `i`: 1 the even ones, 2 every third, 3 and 4 all but those
/// ending in 9 that are not a multiple of 3 (which nobody holds).
fn holds(server: usize, i: usize) -> bool {
    let lost = i % 10 == 9 && !i.is_multiple_of(3);
    match server {
        1 => i.is_multiple_of(2),
        2 => i.is_multiple_of(3),
        3 | 4 => !lost,
        _ => false,
    }
}

struct Run {
    nodes: Vec<Mesh>,
    stores: Vec<BTreeMap<Cid, Block>>,
    /// (node, conn) → (peer node, peer conn).
    links: BTreeMap<(usize, ConnId), (usize, ConnId)>,
    /// (at, seq) → (to, conn, bytes).
    queue: BinaryHeap<Reverse<(Instant, u64)>>,
    frames: BTreeMap<u64, (usize, ConnId, Vec<u8>)>,
    seq: u64,
    lossy: bool,
    now: Instant,
    next_conn: u64,
    fetched: BTreeSet<Cid>,
    digest: Sha256,
}

impl Run {
    fn new() -> Run {
        let nodes = (0..5u8)
            .map(|i| {
                let mut c = Config::new(NodeKey::from_secret([i + 1; 32]), [i + 1; 32]);
                c.want_timeout = Duration::from_millis(500);
                c.graft_timeout = Duration::from_millis(200);
                Mesh::new(c, Instant::ZERO)
            })
            .collect();
        Run {
            nodes,
            stores: vec![BTreeMap::new(); 5],
            links: BTreeMap::new(),
            queue: BinaryHeap::new(),
            frames: BTreeMap::new(),
            seq: 0,
            lossy: false,
            now: Instant::ZERO,
            next_conn: 1,
            fetched: BTreeSet::new(),
            digest: Sha256::new(),
        }
    }

    fn link(&mut self, a: usize, b: usize) {
        let (ca, cb) = (ConnId(self.next_conn), ConnId(self.next_conn + 1));
        self.next_conn += 2;
        self.links.insert((a, ca), (b, cb));
        self.links.insert((b, cb), (a, ca));
        let expected = None;
        self.input(a, Input::Connected { conn: ca, expected });
        self.input(b, Input::Connected { conn: cb, expected });
    }

    fn unlink(&mut self, a: usize, b: usize) {
        let Some((&(_, ca), &(_, cb))) = self
            .links
            .iter()
            .find(|((n, _), (p, _))| (*n, *p) == (a, b))
        else {
            return;
        };
        self.links.remove(&(a, ca));
        self.links.remove(&(b, cb));
        self.input(a, Input::Disconnected { conn: ca });
        self.input(b, Input::Disconnected { conn: cb });
    }

    fn input(&mut self, n: usize, input: Input<'_>) {
        self.nodes[n].handle_input(self.now, input).unwrap();
        self.drain(n);
    }

    /// Handles node `n`'s outputs and hashes them, with its next timeout.
    fn drain(&mut self, n: usize) {
        let mut closes = Vec::new();
        while let Some(out) = self.nodes[n].poll_output() {
            self.digest.update([n as u8]);
            match out {
                Output::Send { conn, frame } => {
                    self.digest.update(conn.0.to_le_bytes());
                    self.digest.update(&frame);
                    self.seq += 1;
                    if self.lossy && self.seq.is_multiple_of(LOSE_EVERY) {
                        continue;
                    }
                    if let Some(&(to, rconn)) = self.links.get(&(n, conn)) {
                        let at = self.now + Duration::from_millis(5 + self.seq % 7);
                        self.frames.insert(self.seq, (to, rconn, frame.to_vec()));
                        self.queue.push(Reverse((at, self.seq)));
                    }
                }
                Output::LoadBlock { conn, cid } => {
                    self.digest.update(cid.to_bytes());
                    let block = self.stores[n].get(&cid).cloned();
                    let input = Input::BlockLoaded { conn, cid, block };
                    self.nodes[n].handle_input(self.now, input).unwrap();
                }
                Output::StoreBlock(b) => {
                    self.digest.update(b.cid().to_bytes());
                    self.stores[n].insert(*b.cid(), b);
                }
                Output::Close { conn } => closes.push(conn),
                Output::Event(e) => {
                    if let Event::Fetched { block, .. } = &e {
                        assert!(n == FETCHER && self.fetched.insert(*block.cid()));
                    }
                    self.digest.update(format!("{e:?}"));
                }
                other => self.digest.update(format!("{other:?}")),
            }
        }
        let next = self.nodes[n].poll_timeout().map(Instant::as_micros);
        self.digest.update(next.unwrap_or(u64::MAX).to_le_bytes());
        for conn in closes {
            if let Some((peer, _)) = self.links.get(&(n, conn)).copied() {
                self.unlink(n, peer);
            }
        }
    }

    /// Delivers frames and fires timers in time order until `until`.
    fn run_until(&mut self, until: Instant) {
        loop {
            let frame = self.queue.peek().map(|Reverse((at, _))| *at);
            let timer = (0..self.nodes.len())
                .filter_map(|n| self.nodes[n].poll_timeout().map(|t| (t, n)))
                .min();
            let next = match (frame, timer) {
                (Some(f), Some((t, _))) => f.min(t),
                (Some(f), None) => f,
                (None, Some((t, _))) => t,
                (None, None) => break,
            };
            if next > until {
                break;
            }
            self.now = self.now.max(next);
            if frame == Some(next) {
                let Reverse((_, seq)) = self.queue.pop().unwrap();
                let (to, conn, bytes) = self.frames.remove(&seq).unwrap();
                if self.links.contains_key(&(to, conn)) {
                    self.input(
                        to,
                        Input::Frame {
                            conn,
                            bytes: &bytes,
                        },
                    );
                }
            } else if let Some((_, n)) = timer {
                self.nodes[n].handle_timeout(self.now);
                self.drain(n);
            }
        }
        self.now = self.now.max(until);
    }
}

/// Runs the scenario; the digest of everything every node did, and what the fetcher got.
fn scenario() -> ([u8; 32], BTreeSet<Cid>, Vec<Block>) {
    let blocks: Vec<Block> = (0..BLOCKS)
        .map(|i| Block::raw(format!("block {i}").into_bytes()).unwrap())
        .collect();
    let mut run = Run::new();
    for server in 1..=4 {
        for (i, b) in blocks.iter().enumerate() {
            if holds(server, i) {
                run.stores[server].insert(*b.cid(), b.clone());
            }
        }
    }
    let topic = Topic::new("t").unwrap();
    run.input(FETCHER, Input::Subscribe(topic.clone()));
    for server in 1..=3 {
        run.link(FETCHER, server);
    }
    run.run_until(Instant::from_millis(50));
    assert_eq!(run.nodes[FETCHER].peers().len(), 3);
    run.lossy = true;
    for b in &blocks {
        let (cid, priority) = (*b.cid(), 1);
        run.input(FETCHER, Input::Want { cid, priority });
    }
    // Announced, never pushed: grafted, then forgotten.
    let conn = run.nodes[1].conn_of(&run.nodes[FETCHER].id()).unwrap();
    let ids = TopicIds {
        topic,
        cids: blocks.iter().take(64).map(|b| *b.cid()).collect(),
    };
    let bytes = Frame::IHave(ids).encode().unwrap();
    let fetcher_conn = run.links[&(1, conn)].1;
    run.input(
        FETCHER,
        Input::Frame {
            conn: fetcher_conn,
            bytes: &bytes,
        },
    );
    run.run_until(LEAVE);
    run.unlink(FETCHER, LEAVER);
    run.run_until(ARRIVE);
    run.link(FETCHER, LATECOMER);
    run.run_until(END);
    (run.digest.finalize().into(), run.fetched, blocks)
}

#[test]
fn thousands_of_wants_complete_under_loss_and_churn_and_replay_exactly() {
    let (digest, fetched, blocks) = scenario();
    let held: BTreeSet<Cid> = blocks
        .iter()
        .enumerate()
        .filter(|(i, _)| (1..=4).any(|s| holds(s, *i)))
        .map(|(_, b)| *b.cid())
        .collect();
    assert_eq!(fetched, held);
    let (again, _, _) = scenario();
    assert_eq!(digest, again, "same inputs, different trace");
    eprintln!("trace digest {}", hex::encode(digest));
}
