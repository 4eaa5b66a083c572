//! The event loop: one queue ordered by `(time, sequence)`, one handler per event kind.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use bytes::Bytes;
use quorate_mesh_proto::mesh::{Config, Mesh, NodeId, NodeKey, Stats};
use quorate_mesh_proto::{Duration, Instant};

use super::config::{Behaviour, SimConfig};
use super::error::SimError;
use super::queue::Queue;
use super::report::NetStats;
use super::rng::{SimRng, ppm};
use super::store::SimStore;
use super::trace::{Trace, TraceKind};
use super::transport::{Endpoint, SimTransport};
use super::{Sim, SimNode};
use crate::driver::Driver;

/// Something due at a point of virtual time.
#[derive(Debug)]
pub(crate) enum Ev {
    /// A frame reaches `to`; `charge` bytes leave the sender's send buffer.
    Frame {
        to: Endpoint,
        from: Endpoint,
        bytes: Bytes,
        charge: usize,
    },
    /// A connection opens at `to`.
    Open {
        to: Endpoint,
        remote: Option<NodeId>,
    },
    /// A connection closes at `to` (or its dial failed).
    Close { to: Endpoint },
    /// `to`'s send buffer has room again.
    Writable { to: Endpoint },
    /// A node's machine timer.
    Timer {
        node: usize,
        incarnation: u32,
        at: Instant,
    },
    /// A flooder's tick.
    Flood { node: usize, incarnation: u32 },
    /// The `min_peers` round.
    Maintain,
}

/// Resolution of the flooder's ticks.
pub(crate) const FLOOD_TICK: Duration = Duration::from_millis(1);

impl Sim {
    /// A simulation of `config.nodes` honest nodes, online, unconnected, at time zero.
    #[must_use]
    pub fn new(config: SimConfig) -> Self {
        let mut rng = SimRng::new(config.seed);
        let now = Instant::ZERO;
        let mut nodes = Vec::with_capacity(config.nodes);
        let mut index = HashMap::with_capacity(config.nodes);
        for i in 0..config.nodes {
            let key = NodeKey::from_secret(rng.bytes32());
            let id = key.id();
            index.insert(id, i);
            nodes.push(SimNode {
                key,
                id,
                behaviour: Behaviour::Honest,
                incarnation: 0,
                driver: None,
                parked: Some(SimStore::new(config.store)),
                topics: BTreeSet::new(),
                heads: BTreeMap::new(),
                online_since: now,
                timer_at: None,
                flood_counter: 0,
                events: Vec::new(),
            });
        }
        let mut sim = Sim {
            rng,
            now,
            queue: Queue::default(),
            steps: 0,
            nodes,
            index,
            groups: None,
            last_arrival: HashMap::new(),
            messages: BTreeMap::new(),
            genuine: BTreeSet::new(),
            trace: Trace::new(config.record_trace),
            net: NetStats::default(),
            misbehaviour: Vec::new(),
            cutoffs: Vec::new(),
            store_failures: 0,
            retired: Stats::default(),
            failure: None,
            loss_ppm: ppm(config.net.loss),
            duplicate_ppm: ppm(config.net.duplicate),
            tamper_ppm: ppm(config.net.tamper),
            cfg: config,
        };
        for i in 0..sim.nodes.len() {
            sim.start_node(i);
        }
        if sim.cfg.min_peers > 0 {
            let at = now + sim.cfg.maintain_interval;
            sim.schedule(at, Ev::Maintain);
        }
        sim
    }

    /// Gives node `i` a fresh machine, transport and driver around its parked store.
    pub(crate) fn start_node(&mut self, i: usize) {
        let now = self.now;
        let rng_seed = self.rng.bytes32();
        let buffer = self.cfg.net.send_buffer;
        let tune = self.cfg.tune;
        let store_cfg = self.cfg.store;
        let Some(node) = self.nodes.get_mut(i) else {
            return;
        };
        let mut config = Config::new(node.key.clone(), rng_seed);
        tune(&mut config);
        let store = node
            .parked
            .take()
            .unwrap_or_else(|| SimStore::new(store_cfg));
        let transport = SimTransport::new(node.id, buffer);
        node.driver = Some(Driver::new(Mesh::new(config, now), transport, store));
        node.online_since = now;
        node.timer_at = None;
        let incarnation = node.incarnation;
        let flooder = matches!(node.behaviour, Behaviour::Flooder { .. });
        if flooder {
            self.schedule(
                now,
                Ev::Flood {
                    node: i,
                    incarnation,
                },
            );
        }
        self.after_step(i);
    }

    pub(crate) fn schedule(&mut self, at: Instant, ev: Ev) {
        self.queue.push(at, ev);
    }

    /// Processes the next event. `Ok(false)` when nothing is scheduled.
    ///
    /// # Errors
    /// [`SimError::Invariant`] when an invariant broke (now or earlier).
    pub fn step(&mut self) -> Result<bool, SimError> {
        if let Some(failure) = &self.failure {
            return Err(failure.clone().into());
        }
        let Some((at, ev)) = self.queue.pop() else {
            return Ok(false);
        };
        self.now = self.now.max(at);
        self.steps += 1;
        self.dispatch(ev);
        match &self.failure {
            Some(failure) => Err(failure.clone().into()),
            None => Ok(true),
        }
    }

    /// Runs every event due up to `until`, then sets the clock to `until`.
    ///
    /// # Errors
    /// [`SimError::Invariant`] at the first broken invariant.
    pub fn run_until(&mut self, until: Instant) -> Result<(), SimError> {
        while self.queue.peek_time().is_some_and(|at| at <= until) {
            self.step()?;
        }
        self.now = self.now.max(until);
        match &self.failure {
            Some(failure) => Err(failure.clone().into()),
            None => Ok(()),
        }
    }

    /// Runs for `duration` of virtual time.
    ///
    /// # Errors
    /// [`SimError::Invariant`] at the first broken invariant.
    pub fn run_for(&mut self, duration: Duration) -> Result<(), SimError> {
        self.run_until(self.now + duration)
    }

    /// Whether `ep` names the current incarnation of an online node.
    pub(crate) fn alive(&self, ep: &Endpoint) -> bool {
        self.nodes
            .get(ep.node)
            .is_some_and(|n| n.incarnation == ep.incarnation && n.driver.is_some())
    }

    pub(crate) fn transport_mut(&mut self, ep: &Endpoint) -> Option<&mut SimTransport> {
        if !self.alive(ep) {
            return None;
        }
        self.nodes
            .get_mut(ep.node)
            .and_then(|n| n.driver.as_mut())
            .map(Driver::transport_mut)
    }

    fn dispatch(&mut self, ev: Ev) {
        let now = self.now;
        match ev {
            Ev::Frame {
                to,
                from,
                bytes,
                charge,
            } => {
                self.release(&from, charge);
                if !self.alive(&to) {
                    return;
                }
                self.trace
                    .record(now, Some(to.node), TraceKind::Frame, &bytes);
                self.net.frames_delivered += 1;
                self.forger_hears(&to, &bytes);
                if let Some(t) = self.transport_mut(&to) {
                    t.on_frame(to.conn, bytes);
                }
                self.process(to.node);
            }
            Ev::Open { to, remote } => {
                if let Some(t) = self.transport_mut(&to) {
                    t.on_open(to.conn, remote);
                    self.trace_conn(to, TraceKind::Open);
                    self.process(to.node);
                }
            }
            Ev::Close { to } => {
                self.last_arrival
                    .remove(&(to.node, to.incarnation, to.conn));
                if let Some(t) = self.transport_mut(&to) {
                    t.on_close(to.conn);
                    self.trace_conn(to, TraceKind::Close);
                    self.process(to.node);
                }
            }
            Ev::Writable { to } => {
                if let Some(t) = self.transport_mut(&to) {
                    t.on_writable(to.conn);
                    self.trace_conn(to, TraceKind::Writable);
                    self.process(to.node);
                }
            }
            Ev::Timer {
                node,
                incarnation,
                at,
            } => {
                let due = self.nodes.get(node).is_some_and(|n| {
                    n.incarnation == incarnation && n.timer_at == Some(at) && n.driver.is_some()
                });
                if due {
                    if let Some(n) = self.nodes.get_mut(node) {
                        n.timer_at = None;
                    }
                    self.trace.record(now, Some(node), TraceKind::Timer, &[]);
                    self.process(node);
                }
            }
            Ev::Flood { node, incarnation } => self.flood(node, incarnation),
            Ev::Maintain => self.maintain(),
        }
    }

    fn trace_conn(&mut self, to: Endpoint, kind: TraceKind) {
        self.trace
            .record(self.now, Some(to.node), kind, &to.conn.0.to_le_bytes());
    }

    /// Lets node `i` handle everything in its inbox and its due timers, then carries out
    /// and checks what it did.
    pub(crate) fn process(&mut self, i: usize) {
        let now = self.now;
        if let Some(driver) = self.nodes.get_mut(i).and_then(|n| n.driver.as_mut()) {
            driver.pump(now);
        }
        self.after_step(i);
    }
}
