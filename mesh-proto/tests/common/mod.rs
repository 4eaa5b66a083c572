//! A small in-crate harness: N mesh machines wired by links with a fixed latency, on
//! virtual time, each with a map as its block store. The whole-stack simulator (loss,
//! churn, partitions, byzantine nodes) lives in `quorate-mesh-transport`; this one only
//! drives the machine by its contract.

#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test harness shared by several test files"
)]

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};

use quorate_mesh_proto::mesh::{Config, ConnId, Event, Input, Mesh, NodeKey, Output};
use quorate_mesh_proto::{Block, Cid, Duration, Instant};

pub struct Node {
    pub mesh: Mesh,
    pub store: HashMap<Cid, Block>,
    pub events: Vec<Event>,
    /// conn → (remote node index, remote conn)
    pub links: BTreeMap<ConnId, (usize, ConnId)>,
}

#[derive(Debug)]
enum Delivery {
    Frame {
        to: usize,
        conn: ConnId,
        bytes: Vec<u8>,
    },
    Closed {
        to: usize,
        conn: ConnId,
    },
}

pub struct Net {
    pub nodes: Vec<Node>,
    pub now: Instant,
    pub latency: Duration,
    queue: BinaryHeap<Reverse<(Instant, u64, usize)>>,
    pending: HashMap<usize, Delivery>,
    seq: u64,
    next_conn: u64,
}

pub fn config(i: u8) -> Config {
    Config::new(NodeKey::from_secret([i + 1; 32]), [i + 100; 32])
}

impl Net {
    pub fn new(n: usize) -> Net {
        Net::with_configs((0..n).map(|i| config(i as u8)).collect())
    }

    pub fn with_configs(configs: Vec<Config>) -> Net {
        let now = Instant::ZERO;
        Net {
            nodes: configs
                .into_iter()
                .map(|c| Node {
                    mesh: Mesh::new(c, now),
                    store: HashMap::new(),
                    events: Vec::new(),
                    links: BTreeMap::new(),
                })
                .collect(),
            now,
            latency: Duration::from_millis(5),
            queue: BinaryHeap::new(),
            pending: HashMap::new(),
            seq: 0,
            next_conn: 1,
        }
    }

    /// Opens a link a ↔ b (b dialed a's id when `verify` is set).
    pub fn link(&mut self, a: usize, b: usize) -> (ConnId, ConnId) {
        let ca = ConnId(self.next_conn);
        let cb = ConnId(self.next_conn + 1);
        self.next_conn += 2;
        self.nodes[a].links.insert(ca, (b, cb));
        self.nodes[b].links.insert(cb, (a, ca));
        let now = self.now;
        let a_id = self.nodes[a].mesh.id();
        self.input(
            a,
            Input::Connected {
                conn: ca,
                expected: None,
            },
        );
        self.input(
            b,
            Input::Connected {
                conn: cb,
                expected: Some(a_id),
            },
        );
        let _ = now;
        (ca, cb)
    }

    pub fn input(&mut self, i: usize, input: Input<'_>) {
        let now = self.now;
        self.nodes[i].mesh.handle_input(now, input).unwrap();
        self.drain(i);
    }

    /// Injects raw bytes as if the peer on `conn` of node `i` had sent them.
    pub fn inject(&mut self, i: usize, conn: ConnId, bytes: &[u8]) {
        self.input(i, Input::Frame { conn, bytes });
    }

    fn push(&mut self, at: Instant, d: Delivery) {
        self.seq += 1;
        self.pending.insert(self.seq as usize, d);
        self.queue.push(Reverse((at, self.seq, self.seq as usize)));
    }

    pub fn drain(&mut self, i: usize) {
        let at = self.now + self.latency;
        while let Some(out) = self.nodes[i].mesh.poll_output() {
            match out {
                Output::Send { conn, frame } => {
                    if let Some(&(to, rconn)) = self.nodes[i].links.get(&conn) {
                        self.push(
                            at,
                            Delivery::Frame {
                                to,
                                conn: rconn,
                                bytes: frame.to_vec(),
                            },
                        );
                    }
                }
                Output::Close { conn } => {
                    if let Some((to, rconn)) = self.nodes[i].links.remove(&conn) {
                        self.push(at, Delivery::Closed { to, conn: rconn });
                    }
                }
                Output::StoreBlock(b) => {
                    self.nodes[i].store.insert(*b.cid(), b);
                }
                Output::LoadBlock { conn, cid } => {
                    let block = self.nodes[i].store.get(&cid).cloned();
                    let now = self.now;
                    self.nodes[i]
                        .mesh
                        .handle_input(now, Input::BlockLoaded { conn, cid, block })
                        .unwrap();
                }
                Output::Event(e) => self.nodes[i].events.push(e),
                other => panic!("unexpected output {other:?}"),
            }
        }
    }

    /// Runs until `until`, delivering frames and firing timers in time order.
    pub fn run_until(&mut self, until: Instant) {
        loop {
            let next_frame = self.queue.peek().map(|Reverse((t, _, _))| *t);
            let next_timer = self
                .nodes
                .iter()
                .enumerate()
                .filter_map(|(i, n)| n.mesh.poll_timeout().map(|t| (t, i)))
                .min();
            let next = match (next_frame, next_timer) {
                (Some(f), Some((t, _))) => f.min(t),
                (Some(f), None) => f,
                (None, Some((t, _))) => t,
                (None, None) => break,
            };
            if next > until {
                break;
            }
            self.now = self.now.max(next);
            if next_frame == Some(next) {
                let Reverse((_, _, key)) = self.queue.pop().unwrap();
                match self.pending.remove(&key).unwrap() {
                    Delivery::Frame { to, conn, bytes } => {
                        if self.nodes[to].links.contains_key(&conn) {
                            self.input(
                                to,
                                Input::Frame {
                                    conn,
                                    bytes: &bytes,
                                },
                            );
                        }
                    }
                    Delivery::Closed { to, conn } => {
                        if self.nodes[to].links.remove(&conn).is_some() {
                            self.input(to, Input::Disconnected { conn });
                        }
                    }
                }
            } else if let Some((_, i)) = next_timer {
                let now = self.now;
                self.nodes[i].mesh.handle_timeout(now);
                self.drain(i);
            }
        }
        self.now = self.now.max(until);
    }

    pub fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        self.run_until(until);
    }

    /// Events of node `i` matching `f`, removed from its log.
    pub fn take_events<T>(&mut self, i: usize, mut f: impl FnMut(&Event) -> Option<T>) -> Vec<T> {
        let mut out = Vec::new();
        self.nodes[i].events.retain(|e| match f(e) {
            Some(v) => {
                out.push(v);
                false
            }
            None => true,
        });
        out
    }
}
