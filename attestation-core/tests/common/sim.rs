//! A simulated mesh of governance hosts: `n` nodes, the first `members` acting as
//! `person(i)`, each with its own execution registry; every tick delivers events, pumps
//! every online host and carries out its outputs (publish, keep, HTTP POST recorded).
//! `tamper` lets a test turn one node malicious: it rewrites what that node publishes.

use std::collections::BTreeMap;

use quorate_actor_core::Identity;
use quorate_attestation_core::execute::{ActionHandlerRegistry, ExecutionEngine, MemoryMarkers};
use quorate_attestation_core::host::{GovOutput, GovernanceHost};
use quorate_governance_core::ProposalId;
use quorate_group_core::host::{GroupHost, HostConfig, HostOutput, Keep};
use quorate_mesh_blockstore::{BlockStore as _, PutOptions};
use quorate_mesh_proto::mesh::Input;
use quorate_mesh_proto::{Block, Duration};
use quorate_mesh_transport::sim::{Sim, SimConfig};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

pub(crate) const T0: u64 = 1_700_000_000_000;

pub(crate) type Host = GovernanceHost<MemoryMarkers>;

/// Rewrites a block node `i` publishes (a malicious node), leaves it, or drops it
/// (`None`: the node died before it went out).
pub(crate) type Tamper = Box<dyn FnMut(usize, Block) -> Option<Block>>;

pub(crate) struct World {
    pub(crate) sim: Sim,
    pub(crate) hosts: BTreeMap<usize, Host>,
    cursors: BTreeMap<usize, usize>,
    pub(crate) rng: ChaCha20Rng,
    /// HTTP POSTs handed out: (node, proposal, idempotency key).
    pub(crate) http: Vec<(usize, ProposalId, String)>,
    /// Everything else the hosts reported: (node, output).
    pub(crate) reports: Vec<(usize, GovOutput)>,
    pub(crate) tamper: Option<Tamper>,
    /// Blocks a tampering node made but published rewritten: not kept either.
    hidden: std::collections::BTreeSet<quorate_mesh_proto::Cid>,
}

impl World {
    /// `nodes` nodes on a random topology with `loss`, the first `members` acting as
    /// `person(i)`.
    pub(crate) fn new(
        nodes: usize,
        members: usize,
        seed: u64,
        loss: f64,
        person: impl Fn(usize) -> Identity,
        registry: impl Fn(usize) -> ActionHandlerRegistry,
    ) -> World {
        let mut sim = Sim::new({
            let mut c = SimConfig::new(nodes, seed);
            c.record_events = true;
            c.net.loss = loss;
            c
        });
        sim.connect_random().unwrap();
        let mut hosts = BTreeMap::new();
        for i in 0..nodes {
            let mut groups = GroupHost::new(HostConfig::default(), sim.id(i).unwrap());
            if i < members {
                groups.act_as(person(i), sim.now(), T0);
            }
            hosts.insert(
                i,
                GovernanceHost::new(
                    groups,
                    ExecutionEngine::new(registry(i), MemoryMarkers::default()),
                ),
            );
        }
        World {
            sim,
            hosts,
            cursors: BTreeMap::new(),
            rng: ChaCha20Rng::seed_from_u64(seed),
            http: Vec::new(),
            reports: Vec::new(),
            tamper: None,
            hidden: std::collections::BTreeSet::new(),
        }
    }

    pub(crate) fn ms(&self) -> u64 {
        T0 + self.sim.now().as_micros() / 1000
    }

    pub(crate) fn tick(&mut self) {
        self.sim.run_for(Duration::from_millis(20)).unwrap();
        let now = self.sim.now();
        let now_ms = self.ms();
        for (&i, host) in &mut self.hosts {
            if !self.sim.is_online(i) {
                continue;
            }
            let cursor = self.cursors.entry(i).or_default();
            let events: Vec<_> = self.sim.events(i)[*cursor..]
                .iter()
                .map(|(_, e)| e.clone())
                .collect();
            *cursor += events.len();
            for event in &events {
                host.on_event(now, now_ms, event);
            }
            let store = self.sim.store_mut(i).unwrap();
            host.pump(
                now,
                now_ms,
                |cid| store.get(cid).ok().flatten(),
                &mut self.rng,
            );
            while let Some(output) = host.poll_output() {
                match output {
                    GovOutput::Host(HostOutput::Mesh(Input::Publish { topic, block })) => {
                        let original = *block.cid();
                        let block = match &mut self.tamper {
                            Some(t) => t(i, block),
                            None => Some(block),
                        };
                        if block.as_ref().is_none_or(|b| *b.cid() != original) {
                            self.hidden.insert(original);
                        }
                        if let Some(block) = block {
                            self.sim.publish(i, &topic, block).unwrap();
                        }
                    }
                    GovOutput::Host(HostOutput::Mesh(input)) => self.sim.command(i, input).unwrap(),
                    GovOutput::Host(HostOutput::Keep { block, .. })
                        if self.hidden.contains(block.cid()) => {}
                    GovOutput::Host(HostOutput::Keep { block, keep }) => {
                        let options = match keep {
                            Keep::Pin(class) => PutOptions::pinned(class),
                            Keep::Retain { until } => PutOptions::retained(until),
                        };
                        self.sim.store_mut(i).unwrap().put(&block, options).unwrap();
                    }
                    GovOutput::Http {
                        group,
                        proposal,
                        key,
                        ..
                    } => {
                        self.http.push((i, proposal, key));
                        host.finished(group, &proposal, "posted".into());
                    }
                    GovOutput::Host(_) => {}
                    other => self.reports.push((i, other)),
                }
            }
        }
    }

    pub(crate) fn run(&mut self, d: Duration) {
        let until = self.sim.now() + d;
        while self.sim.now() < until {
            self.tick();
        }
    }

    /// Runs until `done` holds (checked every 100 ms of simulated time) or `limit`.
    pub(crate) fn run_until(
        &mut self,
        limit: Duration,
        mut done: impl FnMut(&mut World) -> bool,
    ) -> bool {
        let until = self.sim.now() + limit;
        while self.sim.now() < until {
            for _ in 0..5 {
                self.tick();
            }
            if done(self) {
                return true;
            }
        }
        false
    }

    pub(crate) fn host(&mut self, i: usize) -> &mut Host {
        self.hosts.get_mut(&i).unwrap()
    }

    pub(crate) fn bring_online(&mut self, i: usize) {
        self.sim.bring_online(i, 3).unwrap();
        self.cursors.insert(i, self.sim.events(i).len());
    }
}
