//! The group machine (`GroupSync` over `GroupState`) driven by an operation stream mixing
//! the genuine blocks of one small group (`group/fixture.rs`) with junk, mutations and
//! heads.
//!
//! Input: `setup ‖ op…`. `setup & 3` picks who the state is for (a blind cache, a member
//! of both epochs, the member who left at epoch 1, the one who joined then); `setup & 4`
//! turns on tiny state limits (from the next byte) and relaxes the checks that need room;
//! `setup & 8` turns announcing off; `setup & 16` ends the run by delivering every genuine
//! block (the convergence check below, which costs a full verification of the group).
//! Each op is one byte, `kind = op & 7`, `arg = op >> 3`, plus operands from the stream:
//!
//! - 0 `k`: genuine block `k`;
//! - 1 `len ‖ bytes`: `bytes` as a block under its own CID, DAG-CBOR or raw (`arg & 1`);
//! - 2 `k ‖ at(2) ‖ mask`: genuine block `k` with one byte changed (cut there if `arg & 1`),
//!   under the CID of the changed bytes;
//! - 3 `seq ‖ c ‖ …`: a head (name chosen by `arg`: the group's epoch/msgs head, its topic,
//!   another group's head, an upper-case id, or `len ‖ text`) naming genuine block `c` from
//!   an honest peer, or (`c >= 0x80`) the CID of `len ‖ bytes` from a peer `node`;
//! - 4 `dt`: the clock moves `dt × 100 ms`, then `handle_timeout`;
//! - 5: `resume`;
//! - 6: the driver answers every `Need` so far whose block is genuine;
//! - 7 `r`: every genuine block, rotated by `r`, reversed if `arg & 1`.
//!
//! Blocks go in by `insert_local` or `handle_block` from a peer or the store (chosen by
//! `arg`). Outputs are drained after every call and checked: only genuine epochs, messages,
//! requests and blocks are ever accepted, announced or keyed; a genuine block is never rejected
//! (with room) and an honest peer never penalised. At the end: the current epoch is a
//! genuine one, every message is genuine and decrypts to its genuine plaintext, every
//! invite and pending join is genuine; when every
//! genuine block has been taken in, the state equals the reference (every genuine block in
//! order); and (`setup & 16`) after delivering them all again, it must too.

#![no_main]
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "fuzz target: a panic is a found bug"
)]

#[path = "group/fixture.rs"]
mod fixture;

use fixture::{Digest, Fixture, Input, as_block, fixture};
use libfuzzer_sys::fuzz_target;
use quorate_actor_core::sync::Output;
use quorate_actor_core::{ActorId, Identity};
use quorate_group_core::sync::{Event, GroupSync, SyncConfig};
use quorate_group_core::{EpochError, GroupId, MessageError, ObjectError, Rejection};
use quorate_mesh_proto::mesh::{Head, NodeId};
use quorate_mesh_proto::{Block, Cid, Codec, Duration, Instant};

/// The only peer that announces genuine CIDs; never penalised.
const HONEST: NodeId = NodeId::from_bytes([0xaa; 32]);
const MAX_OPS: usize = 256;
const MAX_NEEDS: usize = 64;

struct Run<'f> {
    f: &'f Fixture,
    viewer: usize,
    me: Option<ActorId>,
    sync: GroupSync,
    now: Instant,
    /// Limits tiny enough that genuine blocks may be refused.
    cramped: bool,
    /// Deliver every genuine block at the end and expect the reference.
    converge: bool,
    needs: Vec<Cid>,
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let mut input = Input(data);
    let setup = input.byte();
    let viewer = usize::from(setup & 3);
    let cramped = setup & 4 != 0;
    let mut config = SyncConfig::default();
    config.announce = setup & 8 == 0;
    if cramped {
        let limits = input.byte();
        config.state.max_pending = usize::from(limits & 15) + 1;
        config.state.max_messages = usize::from(limits >> 4 & 7) + 1;
        config.state.max_rejected = usize::from(limits >> 7) * 4;
    }
    let now = Instant::from_millis(1_700_000_000_000);
    let me = f.viewer(viewer);
    let mut run = Run {
        f,
        viewer,
        me: me.as_ref().map(Identity::id),
        sync: GroupSync::new(config, f.group, me, now),
        now,
        cramped,
        converge: setup & 16 != 0,
        needs: Vec::new(),
    };
    run.drain();
    for _ in 0..MAX_OPS {
        if input.0.is_empty() {
            break;
        }
        run.op(&mut input);
    }
    run.finish();
});

impl Run<'_> {
    fn op(&mut self, input: &mut Input<'_>) {
        let op = input.byte();
        let arg = op >> 3;
        let n = self.f.blocks.len();
        match op & 7 {
            0 => {
                let k = usize::from(input.byte()) % n;
                self.deliver(self.f.blocks[k].clone(), arg);
            }
            1 => {
                let codec = if arg & 1 == 0 {
                    Codec::DagCbor
                } else {
                    Codec::Raw
                };
                let block = as_block(codec, input.slice());
                self.deliver(block, arg >> 1);
            }
            2 => {
                let k = usize::from(input.byte()) % n;
                let at = usize::from(u16::from_be_bytes([input.byte(), input.byte()]));
                let mask = input.byte().max(1);
                let mut bytes = self.f.blocks[k].bytes().to_vec();
                let at = at % bytes.len();
                bytes[at] ^= mask;
                if arg & 1 != 0 {
                    bytes.truncate(at);
                }
                let block = as_block(Codec::DagCbor, &bytes);
                assert!(
                    !self.f.is_genuine(block.cid()),
                    "a mutation gave a genuine block"
                );
                self.deliver(block, arg >> 1);
            }
            3 => self.head(input, arg),
            4 => {
                self.now += Duration::from_millis(u64::from(input.byte()) * 100);
                self.sync.handle_timeout(self.now);
                self.drain();
            }
            5 => {
                self.sync.resume(self.now);
                self.drain();
            }
            6 => {
                for cid in core::mem::take(&mut self.needs) {
                    if let Some(block) = self.f.blocks.iter().find(|b| *b.cid() == cid) {
                        self.deliver(block.clone(), 1 + (arg & 1));
                    }
                }
            }
            _ => {
                let r = usize::from(input.byte()) % n;
                let mut order: Vec<usize> = (0..n).map(|i| (i + r) % n).collect();
                if arg & 1 != 0 {
                    order.reverse();
                }
                for k in order {
                    self.deliver(self.f.blocks[k].clone(), arg >> 1);
                }
            }
        }
    }

    fn head(&mut self, input: &mut Input<'_>, arg: u8) {
        let group = self.f.group;
        let other = GroupId::from_bytes([0x11; 32]);
        let name = match arg % 6 {
            0 => group.epoch_head(),
            1 => group.messages_head(),
            2 => group.topic().as_str().to_owned(),
            3 => other.epoch_head(),
            4 => group
                .epoch_head()
                .to_ascii_uppercase()
                .replacen("GROUP/", "group/", 1),
            _ => String::from_utf8_lossy(input.slice()).into_owned(),
        };
        let seq = u64::from(input.byte());
        let c = input.byte();
        let (cid, from) = if c < 0x80 {
            (
                *self.f.blocks[usize::from(c) % self.f.blocks.len()].cid(),
                HONEST,
            )
        } else {
            let codec = if c & 1 == 0 {
                Codec::DagCbor
            } else {
                Codec::Raw
            };
            let cid = Cid::of(codec, input.slice());
            (cid, NodeId::from_bytes([input.byte() & 0x7f; 32]))
        };
        let head = Head { name, seq, cid };
        self.sync.handle_head(self.now, &head, from);
        self.drain();
    }

    /// `how % 3`: `insert_local`, `handle_block` from a peer, `handle_block` from the store.
    fn deliver(&mut self, block: Block, how: u8) {
        match how % 3 {
            0 => self.sync.insert_local(self.now, block),
            1 => self
                .sync
                .handle_block(self.now, &block, Some(NodeId::from_bytes([7; 32]))),
            _ => self.sync.handle_block(self.now, &block, None),
        }
        self.drain();
    }

    fn drain(&mut self) {
        let f = self.f;
        while let Some(output) = self.sync.poll_output() {
            match output {
                Output::QueryHeads(names) => {
                    assert_eq!(names, [f.group.epoch_head(), f.group.messages_head()]);
                }
                Output::Need { cid, .. } => {
                    if self.needs.len() < MAX_NEEDS && !self.needs.contains(&cid) {
                        self.needs.push(cid);
                    }
                }
                Output::Penalize { node, reason } => {
                    assert!(
                        self.cramped || node != HONEST,
                        "honest peer penalised: {reason}"
                    );
                }
                Output::Announce(head) => {
                    let (name, index) = match f.epoch_states.iter().position(|c| *c == head.cid) {
                        Some(i) => (f.group.epoch_head(), f.epochs[i].state.epoch),
                        None => {
                            assert!(
                                f.messages.contains(&head.cid),
                                "announced a non-genuine {head:?}"
                            );
                            (f.group.messages_head(), head.seq)
                        }
                    };
                    assert_eq!((head.name, head.seq), (name, index));
                }
                Output::Event(event) => self.event(event),
                other => panic!("unexpected output {other:?}"),
            }
        }
    }

    fn event(&mut self, event: Event) {
        let f = self.f;
        match event {
            Event::Epoch { cid, epoch } | Event::Current { cid, epoch } => {
                let i = f.epoch_states.iter().position(|c| *c == cid);
                let i = i.unwrap_or_else(|| panic!("a non-genuine epoch {cid} accepted"));
                assert_eq!(f.epochs[i].state.epoch, epoch);
            }
            Event::Key { epoch_state } => {
                let i = f.epoch_states.iter().position(|c| *c == epoch_state);
                let i = i.unwrap_or_else(|| panic!("a key for a non-genuine epoch {epoch_state}"));
                let me = self.me.expect("a blind cache opened a key");
                assert!(
                    f.epochs[i].members.contains(&me),
                    "a non-member opened a key"
                );
            }
            Event::KeyFailed { epoch_state, error } => {
                panic!("a genuine envelope did not open ({epoch_state}): {error}")
            }
            Event::Message(cid) | Event::Decrypted(cid) => {
                assert!(
                    f.messages.contains(&cid),
                    "a non-genuine message {cid} accepted"
                );
            }
            Event::Request(cid) => {
                assert!(
                    f.requests.contains(&cid),
                    "a non-genuine request {cid} accepted"
                );
            }
            Event::Accepted { cid, .. } => {
                assert!(f.is_genuine(&cid), "a non-genuine block {cid} accepted");
            }
            Event::Rejected { cid, reason } => {
                if f.is_genuine(&cid) {
                    // With room, a genuine block is never refused. Without it, only for
                    // room, or because what it names was refused for room.
                    let for_room = matches!(
                        reason,
                        Rejection::Full
                            | Rejection::Epoch(EpochError::PrevInvalid)
                            | Rejection::Message(MessageError::UnknownEpoch)
                            | Rejection::Object(ObjectError::Invalid(
                                "invite in an invalid epoch"
                                    | "join on an invalid invite"
                                    | "leave in an invalid epoch"
                            ))
                    );
                    assert!(
                        self.cramped && for_room,
                        "genuine block {cid} rejected: {reason}"
                    );
                }
            }
            other => panic!("unexpected event {other:?}"),
        }
    }

    fn check_state(&self) {
        let f = self.f;
        let state = self.sync.state();
        let reference = &f.reference[self.viewer];
        if let Some(current) = state.current() {
            assert!(
                f.epoch_states.contains(&current.cid),
                "current epoch is not genuine"
            );
        }
        for epoch in state.epochs() {
            assert!(
                f.epoch_states.contains(&epoch.cid),
                "a non-genuine epoch is valid"
            );
        }
        for key in state.keys() {
            assert!(
                reference.keys.contains(key),
                "a key the reference does not hold"
            );
        }
        let mut invites: Vec<Cid> = state.invites().map(|(c, _)| *c).collect();
        invites.retain(|c| !reference.invites.contains(c));
        assert!(invites.is_empty(), "non-genuine invites {invites:?}");
        for join in state.pending_joins() {
            assert!(f.requests.contains(&join.cid), "a non-genuine pending join");
        }
        for m in state.messages() {
            let genuine = reference.messages.iter().find(|r| r.0 == m.cid);
            let genuine = genuine.unwrap_or_else(|| panic!("a non-genuine message {}", m.cid));
            assert_eq!(m.lamport, genuine.1);
            if m.plaintext.is_some() {
                assert_eq!(
                    m.plaintext, genuine.2,
                    "a message decrypted to something else"
                );
            }
            assert!(m.unreadable.is_none(), "a genuine message is unreadable");
        }
    }

    fn finish(&mut self) {
        self.check_state();
        let f = self.f;
        let reference = &f.reference[self.viewer];
        let all_known = f.blocks.iter().all(|b| self.sync.state().knows(b.cid()));
        if !self.cramped && all_known {
            assert_eq!(
                Digest::of(self.sync.state()),
                *reference,
                "differs from the reference"
            );
        }
        if !self.converge {
            return;
        }
        // Whatever came before, every genuine block again: the state converges.
        for k in 0..f.blocks.len() {
            self.deliver(f.blocks[k].clone(), 0);
        }
        self.sync.handle_timeout(Instant::MAX);
        self.drain();
        self.check_state();
        if !self.cramped {
            assert_eq!(
                Digest::of(self.sync.state()),
                *reference,
                "did not converge"
            );
        }
    }
}
