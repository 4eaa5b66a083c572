//! `GroupHost` — a node's whole group layer — driven by an operation stream: mesh events
//! carrying the genuine blocks of one small group (`group/fixture.rs`), junk blocks on the
//! group and rendezvous topics, heads with arbitrary names, clock jumps, and the commands
//! an application or a page may call with arbitrary arguments.
//!
//! Input: `setup ‖ op…`. `setup & 3` picks the actor (none: a blind cache; or one of the
//! fixture's viewers); each op is one byte, `kind = op & 7`, plus operands:
//!
//! - 0 `k`: genuine block `k` delivered on the group topic;
//! - 1 `len ‖ bytes`: `bytes` as a block delivered on the group topic (`arg & 1`) or on the
//!   rendezvous topic, DAG-CBOR or raw (`arg & 2`);
//! - 2 `len ‖ name ‖ c`: a head named `name` (or the group's heads, by `arg`) naming
//!   genuine block `c`;
//! - 3 `dt`: the clock moves `dt × 500 ms`;
//! - 4 `len ‖ text`: send `text` to the group;
//! - 5: create a group, or (by `arg`) accept an invitation, leave, or invite or remove the
//!   fixture's person `arg`;
//! - 6 `k`: genuine block `k` fetched from a peer;
//! - 7: act as another viewer (or as nobody).
//!
//! After every op the host is pumped with a store holding every block it was given or
//! made, and its outputs are checked: a blind cache never pins, the host never follows more
//! groups than its limit, a `Keep` names a block the store has. Nothing may panic.

#![no_main]
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "fuzz target: a panic is a found bug"
)]

#[path = "group/fixture.rs"]
mod fixture;

use std::collections::BTreeMap;

use fixture::{Fixture, Input, as_block, fixture};
use libfuzzer_sys::fuzz_target;
use quorate_group_core::host::{GroupHost, HostConfig, HostOutput, Keep};
use quorate_mesh_proto::mesh::{Event, Head, Input as MeshInput, NodeId, Topic};
use quorate_mesh_proto::{Block, Cid, Codec, Duration, Instant};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

const PEER: NodeId = NodeId::from_bytes([0xbb; 32]);
const MAX_OPS: usize = 128;
const MAX_GROUPS: usize = 4;

struct Run<'f> {
    f: &'f Fixture,
    host: GroupHost,
    store: BTreeMap<Cid, Block>,
    now: Instant,
    ms: u64,
    rng: ChaCha20Rng,
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let mut input = Input(data);
    let setup = input.byte();
    let mut config = HostConfig::default();
    config.max_groups = MAX_GROUPS;
    let mut run = Run {
        f,
        host: GroupHost::new(config, NodeId::from_bytes([0xaa; 32])),
        store: BTreeMap::new(),
        now: Instant::from_millis(0),
        ms: 1_700_000_000_000,
        rng: ChaCha20Rng::seed_from_u64(u64::from(setup)),
    };
    if let Some(me) = f.viewer(usize::from(setup & 3)) {
        run.host.act_as(me, run.now, run.ms);
    }
    for _ in 0..MAX_OPS {
        if input.0.is_empty() {
            break;
        }
        run.op(&mut input);
        run.pump();
    }
});


impl Run<'_> {
    fn event(&mut self, event: Event) {
        if let Event::Delivered { block, .. } | Event::Fetched { block, .. } = &event {
            self.store.insert(*block.cid(), block.clone());
        }
        self.host.on_event(self.now, self.ms, &event);
    }

    fn genuine(&self, k: u8) -> Block {
        self.f.blocks[usize::from(k) % self.f.blocks.len()].clone()
    }

    fn op(&mut self, input: &mut Input<'_>) {
        let op = input.byte();
        let arg = op >> 3;
        let group = self.f.group;
        match op & 7 {
            0 => {
                let block = self.genuine(input.byte());
                let topic = group.topic();
                self.event(Event::Delivered { topic, block, hops: 1, from: PEER });
            }
            1 => {
                let topic = if arg & 1 == 0 { Topic::global() } else { group.topic() };
                let codec = if arg & 2 == 0 { Codec::DagCbor } else { Codec::Raw };
                let block = as_block(codec, input.slice());
                self.event(Event::Delivered { topic, block, hops: 1, from: PEER });
            }
            2 => {
                let text = String::from_utf8_lossy(input.slice()).into_owned();
                let name = match arg % 3 {
                    0 => group.epoch_head(),
                    1 => group.messages_head(),
                    _ => text,
                };
                let cid = *self.genuine(input.byte()).cid();
                let head = Head { name, seq: u64::from(arg), cid };
                self.event(Event::HeadUpdated { head, from: PEER });
            }
            3 => {
                let dt = u64::from(input.byte()) * 500;
                self.now += Duration::from_millis(dt);
                self.ms += dt;
            }
            4 => {
                let text = String::from_utf8_lossy(input.slice()).into_owned();
                let _ = self.host.send(group, &text, self.now, &mut self.rng);
            }
            5 => {
                let person = self.f.person(arg % 6 + 1).id();
                let _ = match arg % 5 {
                    0 => self.host.create("fuzz", self.now, self.ms, &mut self.rng).map(drop),
                    1 => self.host.accept(group, self.now, self.ms).map(drop),
                    2 => self.host.leave(group, self.now, self.ms).map(drop),
                    3 => self
                        .host
                        .invite(group, person, "hi", self.now, Duration::from_secs(5))
                        .map(drop),
                    _ => self
                        .host
                        .remove(group, person, self.now, self.ms, &mut self.rng)
                        .map(drop),
                };
            }
            6 => {
                let block = self.genuine(input.byte());
                self.event(Event::Fetched { block, from: PEER });
            }
            _ => match self.f.viewer(usize::from(arg % 4)) {
                Some(me) => self.host.act_as(me, self.now, self.ms),
                None => self.host.forget_actor(self.now),
            },
        }
    }

    fn pump(&mut self) {
        let store = &self.store;
        self.host
            .pump(self.now, self.ms, |cid| store.get(cid).cloned(), &mut self.rng);
        let _ = self.host.list();
        let _ = self.host.invitations();
        assert!(self.host.machines().count() <= MAX_GROUPS, "over the group limit");
        let cache = self.host.identity().is_none();
        while let Some(output) = self.host.poll_output() {
            match output {
                HostOutput::Mesh(MeshInput::Publish { block, .. }) => {
                    self.store.insert(*block.cid(), block);
                }
                HostOutput::Keep { block, keep } => {
                    assert!(self.store.contains_key(block.cid()), "keeps a block not stored");
                    if cache {
                        assert!(!matches!(keep, Keep::Pin(_)), "a blind cache pins");
                    }
                }
                _ => {}
            }
        }
    }
}
