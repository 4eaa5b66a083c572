//! `GovernanceHost` — groups plus governance and the FROST committee — driven by an
//! operation stream over the genuine blocks of one small group (`group/fixture.rs`):
//! junk blocks on the group topic reach every governance and committee decoder inside the
//! host (proposals, votes, attestations, evidence, ledgers, committee blocks, calls,
//! results, DKG, resharing and signing messages, culprit evidence), ledger heads with any
//! CID, clock jumps, and the commands an application may call with arbitrary arguments
//! (propose, vote, call a DKG or a rotation, hold a share from arbitrary bytes).
//!
//! Input: `setup ‖ op…`; `setup & 3` picks the actor; each op is one byte, `kind = op & 7`:
//!
//! - 0 `k`: genuine group block `k` delivered; 1 `len ‖ bytes`: `bytes` as a block on the
//!   group topic (DAG-CBOR, or raw by `arg`); 2 `c`: the group's ledger head naming block
//!   `c`; 3 `dt`: the clock moves `dt × 500 ms`; 4 `len ‖ text`: propose `text` as the
//!   action type; 5: vote YES/NO (`arg`) on every proposal held; 6: call a DKG or a
//!   rotation among fixture people `arg`; 7 `len ‖ bytes`: hold `bytes` as a FROST share.
//!
//! After every op the host is pumped; nothing may panic and published blocks go into the
//! store the next pump reads.

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
use quorate_attestation_core::execute::{ExecutionEngine, MemoryMarkers, internal_handlers};
use quorate_attestation_core::host::{GovOutput, GovernanceHost, ledger_head};
use quorate_governance_core::VoteValue;
use quorate_group_core::host::{GroupHost, HostConfig, HostOutput};
use quorate_mesh_proto::mesh::{Event, Head, Input as MeshInput, NodeId};
use quorate_mesh_proto::{Block, Cid, Codec, Duration, Instant};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

const PEER: NodeId = NodeId::from_bytes([0xbb; 32]);
const MAX_OPS: usize = 96;

struct Run<'f> {
    f: &'f Fixture,
    host: GovernanceHost<MemoryMarkers>,
    store: BTreeMap<Cid, Block>,
    now: Instant,
    ms: u64,
    rng: ChaCha20Rng,
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let mut input = Input(data);
    let setup = input.byte();
    let mut groups = GroupHost::new(HostConfig::default(), NodeId::from_bytes([0xaa; 32]));
    let now = Instant::from_millis(0);
    let ms = 1_700_000_000_000;
    if let Some(me) = f.viewer(usize::from(setup & 3)) {
        groups.act_as(me, now, ms);
    }
    let mut run = Run {
        f,
        host: GovernanceHost::new(
            groups,
            ExecutionEngine::new(internal_handlers(), MemoryMarkers::default()),
        ),
        store: BTreeMap::new(),
        now,
        ms,
        rng: ChaCha20Rng::seed_from_u64(u64::from(setup)),
    };
    for _ in 0..MAX_OPS {
        if input.0.is_empty() {
            break;
        }
        run.op(&mut input);
        run.pump();
    }
});

impl Run<'_> {
    fn deliver(&mut self, block: Block) {
        self.store.insert(*block.cid(), block.clone());
        let topic = self.f.group.topic();
        let event = Event::Delivered { topic, block, hops: 1, from: PEER };
        self.host.on_event(self.now, self.ms, &event);
    }

    fn op(&mut self, input: &mut Input<'_>) {
        let op = input.byte();
        let arg = op >> 3;
        let group = self.f.group;
        match op & 7 {
            0 => {
                let k = usize::from(input.byte()) % self.f.blocks.len();
                self.deliver(self.f.blocks[k].clone());
            }
            1 => {
                let codec = if arg & 1 == 0 { Codec::DagCbor } else { Codec::Raw };
                self.deliver(as_block(codec, input.slice()));
            }
            2 => {
                let k = usize::from(input.byte()) % self.f.blocks.len();
                let cid = *self.f.blocks[k].cid();
                let head = Head { name: ledger_head(&group), seq: u64::from(arg), cid };
                self.host.on_event(self.now, self.ms, &Event::HeadUpdated { head, from: PEER });
            }
            3 => {
                let dt = u64::from(input.byte()) * 500;
                self.now += Duration::from_millis(dt);
                self.ms += dt;
            }
            4 => {
                let action = String::from_utf8_lossy(input.slice()).into_owned();
                let _ = self.host.propose(group, &action, None, 60_000, self.now, self.ms);
            }
            5 => {
                let value = if arg & 1 == 0 { VoteValue::Yes } else { VoteValue::No };
                for (id, _) in self.host.proposals(&group) {
                    let _ = self.host.vote(group, &id, value, self.now);
                }
            }
            6 => {
                let members = (1..=6u8)
                    .filter(|n| arg & (1 << (n % 5)) != 0)
                    .map(|n| self.f.person(n).id())
                    .collect();
                let t = u16::from(arg % 4);
                let _ = if arg & 16 == 0 {
                    self.host.call_committee(group, members, t, self.now)
                } else {
                    self.host.call_rotation(group, members, t, None, self.now)
                };
            }
            _ => {
                let bytes = input.slice().to_vec();
                let cid = *self.f.blocks[usize::from(arg) % self.f.blocks.len()].cid();
                let _ = self.host.hold_frost_share(group, cid, &bytes);
            }
        }
    }

    fn pump(&mut self) {
        let store = &self.store;
        self.host
            .pump(self.now, self.ms, |cid| store.get(cid).cloned(), &mut self.rng);
        let _ = self.host.proposal_views(&self.f.group, self.ms);
        let _ = self.host.culprits(&self.f.group);
        while let Some(output) = self.host.poll_output() {
            if let GovOutput::Host(HostOutput::Mesh(MeshInput::Publish { block, .. })) = output {
                self.store.insert(*block.cid(), block);
            }
        }
    }
}
