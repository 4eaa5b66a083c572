//! Drives a mesh machine with an arbitrary byte string (feature `test-util`).
//!
//! The same interpreter backs the `mesh_machine` fuzz target and the proptest in
//! `tests/`: bytes become a sequence of operations — raw frame bytes, well-formed frames
//! of every kind (forged blocks included), clock jumps, application commands, backpressure,
//! reconnects — applied to node B while node A is a real peer. After every operation all
//! outputs are drained and checked:
//! - every frame B sends decodes under B's own limits (B never emits garbage);
//! - B never stores or delivers a block that does not hash to its CID (the [`Block`]
//!   type guarantees it; this checks the wiring);
//! - B's connection count stays within `max_peers`.
//!
//! It panics on a violated property (that is its job) and never otherwise.

#![allow(
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test utility: a panic is a found bug"
)]

use std::collections::BTreeMap;

use crate::mesh::{
    BlockFrame, Config, ConnId, Frame, GossipFrame, Head, Input, MAX_FRAME_SIZE, Mesh, NodeKey,
    Output, SignalFrame, Topic, TopicIds, WantEntry,
};
use crate::payloads::Text;
use crate::{Block, Cid, Duration, Instant};

/// Reads the fuzz input a byte at a time; running out yields zeros.
struct Cursor<'a> {
    data: &'a [u8],
}

impl Cursor<'_> {
    fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let n = n.min(self.data.len());
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        head.to_vec()
    }

    fn done(&self) -> bool {
        self.data.is_empty()
    }
}

struct World {
    a: Mesh,
    b: Mesh,
    now: Instant,
    /// B's conn to A, A's conn to B.
    link: Option<(ConnId, ConnId)>,
    next_conn: u64,
    store_a: BTreeMap<Cid, Block>,
    store_b: BTreeMap<Cid, Block>,
    blocks: Vec<Block>,
    topics: Vec<Topic>,
    /// Frames B sent to A, waiting for `settle`.
    pending_b: Vec<Vec<u8>>,
}

fn config(seed: u8) -> Config {
    let mut c = Config::new(NodeKey::from_secret([seed; 32]), [seed; 32]);
    c.max_peers = 8;
    c
}

impl World {
    fn new() -> World {
        let blocks: Vec<Block> = (0..8)
            .filter_map(|i| {
                Block::encode(&Text {
                    body: format!("block {i}"),
                })
                .ok()
            })
            .chain(Block::raw(vec![9u8; 40_000]).ok())
            .collect();
        let mut w = World {
            a: Mesh::new(config(1), Instant::ZERO),
            b: Mesh::new(config(2), Instant::ZERO),
            now: Instant::ZERO,
            link: None,
            next_conn: 1,
            store_a: blocks.iter().map(|b| (*b.cid(), b.clone())).collect(),
            store_b: BTreeMap::new(),
            blocks,
            topics: vec![
                Topic::global(),
                Topic::new("group/x").unwrap_or_else(|_| Topic::global()),
            ],
            pending_b: Vec::new(),
        };
        w.connect();
        w
    }

    fn connect(&mut self) {
        let (cb, ca) = (ConnId(self.next_conn), ConnId(self.next_conn + 1));
        self.next_conn += 2;
        let a_id = self.a.id();
        self.b_input(Input::Connected {
            conn: cb,
            expected: Some(a_id),
        });
        let now = self.now;
        if self
            .a
            .handle_input(
                now,
                Input::Connected {
                    conn: ca,
                    expected: None,
                },
            )
            .is_err()
        {
            panic!("A refused a fresh conn id");
        }
        self.link = Some((cb, ca));
        self.settle();
    }

    /// Shuttles frames between A and B until quiet (bounded).
    fn settle(&mut self) {
        for _ in 0..64 {
            let to_b = self.drain_a();
            let to_b_empty = to_b.is_empty();
            for f in to_b {
                if let Some((cb, _)) = self.link {
                    self.b_input(Input::Frame {
                        conn: cb,
                        bytes: &f,
                    });
                }
            }
            if to_b_empty && self.pending_b.is_empty() {
                break;
            }
            let to_a = std::mem::take(&mut self.pending_b);
            for f in to_a {
                if let Some((_, ca)) = self.link {
                    let now = self.now;
                    let _ = self.a.handle_input(
                        now,
                        Input::Frame {
                            conn: ca,
                            bytes: &f,
                        },
                    );
                }
            }
        }
    }

    fn drain_a(&mut self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(o) = self.a.poll_output() {
            match o {
                Output::Send { frame, .. } => out.push(frame.to_vec()),
                Output::LoadBlock { conn, cid } => {
                    let block = self.store_a.get(&cid).cloned();
                    let now = self.now;
                    let _ = self
                        .a
                        .handle_input(now, Input::BlockLoaded { conn, cid, block });
                }
                Output::Close { conn } if self.link.is_some_and(|(_, ca)| ca == conn) => {
                    self.drop_link();
                }
                _ => {}
            }
        }
        out
    }

    fn drop_link(&mut self) {
        if let Some((cb, ca)) = self.link.take() {
            let now = self.now;
            let _ = self.a.handle_input(now, Input::Disconnected { conn: ca });
            self.b_input(Input::Disconnected { conn: cb });
        }
    }

    fn b_input(&mut self, input: Input<'_>) {
        let now = self.now;
        // API misuse is the interpreter's own mistake, not a finding: skip it.
        if self.b.handle_input(now, input).is_ok() {
            self.drain_b();
        }
    }

    fn drain_b(&mut self) {
        let max_frame = MAX_FRAME_SIZE;
        let mut outputs = 0usize;
        while let Some(o) = self.b.poll_output() {
            outputs += 1;
            assert!(outputs < 1_000_000, "output storm");
            match o {
                Output::Send { conn, frame } => {
                    if let Err(e) = Frame::decode(&frame, max_frame) {
                        panic!("B sent an undecodable frame: {e}");
                    }
                    if self.link.is_some_and(|(cb, _)| cb == conn) {
                        self.pending_b.push(frame.to_vec());
                    }
                }
                Output::StoreBlock(block) => {
                    assert_eq!(Cid::of(block.cid().codec(), block.bytes()), *block.cid());
                    self.store_b.insert(*block.cid(), block);
                }
                Output::LoadBlock { conn, cid } => {
                    let block = self.store_b.get(&cid).cloned();
                    let now = self.now;
                    let _ = self
                        .b
                        .handle_input(now, Input::BlockLoaded { conn, cid, block });
                }
                Output::Close { conn } => {
                    if self.link.is_some_and(|(cb, _)| cb == conn) {
                        let (_, ca) = self.link.take().unwrap_or((conn, conn));
                        let now = self.now;
                        let _ = self.a.handle_input(now, Input::Disconnected { conn: ca });
                    }
                }
                Output::Event(crate::mesh::Event::Delivered { block, .. }) => {
                    assert_eq!(Cid::of(block.cid().codec(), block.bytes()), *block.cid());
                }
                Output::Event(_) => {}
            }
        }
        assert!(self.b.peers().len() <= 8, "more peers than max_peers");
    }

    fn pick_block(&self, c: &mut Cursor<'_>) -> Block {
        let i = usize::from(c.byte()) % self.blocks.len().max(1);
        match self.blocks.get(i) {
            Some(b) => b.clone(),
            None => Block::raw(Vec::new()).unwrap_or_else(|_| panic!("empty raw block")),
        }
    }

    fn pick_topic(&self, c: &mut Cursor<'_>) -> Topic {
        self.topics[usize::from(c.byte()) % self.topics.len()].clone()
    }

    /// A well-formed frame of a kind chosen by the input.
    fn frame(&self, c: &mut Cursor<'_>) -> Frame {
        let block = self.pick_block(c);
        let cid = *block.cid();
        let topic = self.pick_topic(c);
        match c.byte() % 14 {
            0 => Frame::Have(vec![cid]),
            1 => Frame::Want(vec![WantEntry {
                cid,
                priority: c.byte(),
                cancel: c.byte().is_multiple_of(2),
            }]),
            2 => Frame::DontHave(vec![cid]),
            3 => Frame::Block(BlockFrame {
                cid,
                data: block.bytes().to_vec(),
            }),
            4 => Frame::Block(BlockFrame {
                cid,
                data: c.bytes(8),
            }),
            5 => Frame::Gossip(GossipFrame {
                topic,
                cid,
                hops: c.byte(),
                data: (!c.byte().is_multiple_of(3)).then(|| block.bytes().to_vec()),
            }),
            6 => Frame::Gossip(GossipFrame {
                topic,
                cid,
                hops: 0,
                data: Some(c.bytes(8)),
            }),
            7 => Frame::IHave(TopicIds {
                topic,
                cids: vec![cid],
            }),
            8 => Frame::Graft(TopicIds {
                topic,
                cids: vec![cid],
            }),
            9 => Frame::Prune(topic),
            10 => Frame::Subscribe(vec![topic]),
            11 => Frame::Heads(vec![Head {
                name: "h".into(),
                seq: u64::from(c.byte()),
                cid,
            }]),
            12 => Frame::Signal(SignalFrame {
                from: self.a.id(),
                to: if c.byte().is_multiple_of(2) {
                    self.b.id()
                } else {
                    self.a.id()
                },
                id: u64::from(c.byte()),
                ttl: c.byte(),
                payload: c.bytes(16),
                sig: [c.byte(); 64],
            }),
            _ => Frame::Ping(u64::from(c.byte())),
        }
    }

    fn step(&mut self, c: &mut Cursor<'_>) {
        match c.byte() % 9 {
            0 => {
                let n = usize::from(c.byte());
                let raw = c.bytes(n);
                if let Some((cb, _)) = self.link {
                    self.b_input(Input::Frame {
                        conn: cb,
                        bytes: &raw,
                    });
                }
            }
            1 | 2 => {
                let frame = self.frame(c);
                if let (Some((cb, _)), Ok(bytes)) = (self.link, frame.encode()) {
                    self.b_input(Input::Frame {
                        conn: cb,
                        bytes: &bytes,
                    });
                }
            }
            3 => {
                self.now += Duration::from_millis(u64::from(c.byte()) * 50);
                let now = self.now;
                self.a.handle_timeout(now);
                self.b.handle_timeout(now);
                self.drain_b();
            }
            4 => {
                let block = self.pick_block(c);
                let topic = self.pick_topic(c);
                let input = match c.byte() % 6 {
                    0 => Input::Publish { topic, block },
                    1 => Input::Subscribe(topic),
                    2 => Input::Unsubscribe(topic),
                    3 => Input::Want {
                        cid: *block.cid(),
                        priority: c.byte(),
                    },
                    4 => Input::CancelWant(*block.cid()),
                    _ => Input::SetHead(Head {
                        name: "mine".into(),
                        seq: u64::from(c.byte()),
                        cid: *block.cid(),
                    }),
                };
                self.b_input(input);
            }
            5 => {
                if let Some((cb, _)) = self.link {
                    let writable = c.byte().is_multiple_of(2);
                    self.b_input(Input::Writable { conn: cb, writable });
                }
            }
            6 => {
                self.drop_link();
                self.connect();
            }
            7 => {
                let conn = ConnId(1_000_000 + u64::from(c.byte()));
                let n = usize::from(c.byte());
                let raw = c.bytes(n);
                self.b_input(Input::Connected {
                    conn,
                    expected: None,
                });
                self.b_input(Input::Frame { conn, bytes: &raw });
            }
            _ => {
                let to = if c.byte().is_multiple_of(2) {
                    self.a.id()
                } else {
                    self.b.id()
                };
                let payload = c.bytes(32);
                self.b_input(Input::SendSignal { to, payload });
            }
        }
        self.settle();
    }
}

/// Runs the interpreter over `data`. Panics only if a property above is violated.
pub fn drive(data: &[u8]) {
    let mut world = World::new();
    let mut cursor = Cursor { data };
    let mut steps = 0;
    while !cursor.done() && steps < 2_000 {
        world.step(&mut cursor);
        steps += 1;
    }
}
