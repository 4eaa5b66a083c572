//! What a test does to a simulation: topology, commands, churn, partitions, behaviours.

use std::collections::BTreeSet;

use quorate_mesh_blockstore::{BlockStore, PutOptions};
use quorate_mesh_proto::mesh::{Head, Input, Topic};
use quorate_mesh_proto::{Block, Cid};

use super::config::Behaviour;
use super::engine::Ev;
use super::error::SimError;
use super::report::MessageRecord;
use super::trace::TraceKind;
use super::transport::Endpoint;
use super::{Sim, SimDriver, SimStore};

impl Sim {
    fn online_driver(&mut self, i: usize) -> Result<&mut SimDriver, SimError> {
        let node = self.nodes.get_mut(i).ok_or(SimError::NoSuchNode(i))?;
        node.driver.as_mut().ok_or(SimError::Offline(i))
    }

    /// Feeds an application command to node `i` and carries out what follows.
    ///
    /// # Errors
    /// [`SimError::NoSuchNode`], [`SimError::Offline`], [`SimError::Driver`] (the machine
    /// refused it), [`SimError::Invariant`].
    pub fn command(&mut self, i: usize, input: Input<'_>) -> Result<(), SimError> {
        let now = self.now;
        let tag = format!("{input:?}");
        let head = match &input {
            Input::SetHead(head) => Some(head.clone()),
            _ => None,
        };
        self.online_driver(i)?
            .handle(now, input)
            .map_err(|error| SimError::Driver { node: i, error })?;
        if let (Some(head), Some(node)) = (head, self.nodes.get_mut(i)) {
            node.heads.insert(head.name.clone(), head);
        }
        self.trace
            .record(now, Some(i), TraceKind::Command, tag.as_bytes());
        self.after_step(i);
        self.failed()
    }

    /// Node `i`'s store, online or not, for an application layer that reads and writes
    /// blocks beside the mesh (as a runtime does).
    pub fn store_mut(&mut self, i: usize) -> Option<&mut SimStore> {
        let node = self.nodes.get_mut(i)?;
        match (&mut node.driver, &mut node.parked) {
            (Some(driver), _) => Some(driver.store_mut()),
            (None, parked) => parked.as_mut(),
        }
    }

    pub(crate) fn failed(&self) -> Result<(), SimError> {
        match &self.failure {
            Some(failure) => Err(failure.clone().into()),
            None => Ok(()),
        }
    }

    /// Node `a` dials node `b`, unless a connection between them is open or opening.
    ///
    /// (Two connections between the same pair race in the handshake; see the simulator
    /// finding in the crate's CHANGELOG.)
    ///
    /// # Errors
    /// Unknown or offline `a`, unknown `b`; [`SimError::Transport`] if `a == b`.
    pub fn connect(&mut self, a: usize, b: usize) -> Result<(), SimError> {
        let to = self.nodes.get(b).ok_or(SimError::NoSuchNode(b))?.id;
        if self.online_driver(a)?.transport().connected_to(b) {
            return Ok(());
        }
        self.online_driver(a)?
            .connect(to)
            .map_err(|error| SimError::Transport { node: a, error })?;
        self.trace.record(
            self.now,
            Some(a),
            TraceKind::Command,
            &(b as u64).to_le_bytes(),
        );
        self.after_step(a);
        self.failed()
    }

    /// The topology helper: links every online node to at least
    /// [`SimConfig::degree`](super::SimConfig::degree) random others where possible (a
    /// partner is skipped once it has twice that many links), so the average degree ends
    /// a little above it. Deterministic from the seed. Returns the number of links dialed.
    ///
    /// # Errors
    /// [`SimError::Invariant`].
    pub fn connect_random(&mut self) -> Result<usize, SimError> {
        let degree = self.cfg.degree;
        let n = self.nodes.len();
        let online: Vec<bool> = self.nodes.iter().map(|n| n.driver.is_some()).collect();
        let mut deg = vec![0usize; n];
        let mut links: BTreeSet<(usize, usize)> = BTreeSet::new();
        let mut planned = Vec::new();
        for i in 0..n {
            if !online.get(i).copied().unwrap_or(false) {
                continue;
            }
            let mut attempts = 0;
            while deg.get(i).copied().unwrap_or(0) < degree && attempts < 50 * degree.max(1) {
                attempts += 1;
                let j = self.rng.index(n);
                let pair = (i.min(j), i.max(j));
                let usable = j != i
                    && online.get(j).copied().unwrap_or(false)
                    && deg.get(j).copied().unwrap_or(0) < 2 * degree
                    && !links.contains(&pair);
                if !usable {
                    continue;
                }
                links.insert(pair);
                planned.push((i, j));
                for k in [i, j] {
                    if let Some(d) = deg.get_mut(k) {
                        *d += 1;
                    }
                }
            }
        }
        for (a, b) in &planned {
            self.connect(*a, *b)?;
        }
        Ok(planned.len())
    }

    /// Subscribes node `i` to `topic` (and again after every restart).
    ///
    /// # Errors
    /// As [`Sim::command`].
    pub fn subscribe(&mut self, i: usize, topic: &Topic) -> Result<(), SimError> {
        self.nodes
            .get_mut(i)
            .ok_or(SimError::NoSuchNode(i))?
            .topics
            .insert(topic.clone());
        self.command(i, Input::Subscribe(topic.clone()))
    }

    /// Subscribes every online node to `topic`.
    ///
    /// # Errors
    /// As [`Sim::command`].
    pub fn subscribe_all(&mut self, topic: &Topic) -> Result<(), SimError> {
        for i in 0..self.nodes.len() {
            if self.is_online(i) {
                self.subscribe(i, topic)?;
            }
        }
        Ok(())
    }

    /// Node `i` publishes `block` on `topic`; the simulation records it as genuine and
    /// starts tracking its deliveries.
    ///
    /// # Errors
    /// As [`Sim::command`].
    pub fn publish(&mut self, i: usize, topic: &Topic, block: Block) -> Result<Cid, SimError> {
        let cid = *block.cid();
        self.online_driver(i)?;
        self.genuine.insert(cid);
        self.messages.entry(cid).or_insert_with(|| MessageRecord {
            cid,
            topic: topic.clone(),
            publisher: i,
            published_at: self.now,
            deliveries: Default::default(),
        });
        self.command(
            i,
            Input::Publish {
                topic: topic.clone(),
                block,
            },
        )?;
        Ok(cid)
    }

    /// Puts a genuine block in node `i`'s store (online or not), as if it had it all along.
    ///
    /// # Errors
    /// [`SimError::NoSuchNode`], [`SimError::Invariant`].
    pub fn seed_block(&mut self, i: usize, block: &Block) -> Result<(), SimError> {
        self.genuine.insert(*block.cid());
        let node = self.nodes.get_mut(i).ok_or(SimError::NoSuchNode(i))?;
        let store = match (&mut node.driver, &mut node.parked) {
            (Some(driver), _) => driver.store_mut(),
            (None, Some(store)) => store,
            (None, None) => return Err(SimError::Offline(i)),
        };
        if store.put(block, PutOptions::cache()).is_err() {
            self.store_failures += 1;
        }
        self.after_step(i);
        self.failed()
    }

    /// Node `i` fetches `cid` from its peers.
    ///
    /// # Errors
    /// As [`Sim::command`].
    pub fn want(&mut self, i: usize, cid: Cid) -> Result<(), SimError> {
        self.command(i, Input::Want { cid, priority: 1 })
    }

    /// Makes node `i` byzantine (or honest again) from now on.
    ///
    /// # Errors
    /// [`SimError::NoSuchNode`].
    pub fn set_behaviour(&mut self, i: usize, behaviour: Behaviour) -> Result<(), SimError> {
        let node = self.nodes.get_mut(i).ok_or(SimError::NoSuchNode(i))?;
        let was_flooding = matches!(node.behaviour, Behaviour::Flooder { .. });
        node.behaviour = behaviour;
        let incarnation = node.incarnation;
        let online = node.driver.is_some();
        if online && !was_flooding && matches!(behaviour, Behaviour::Flooder { .. }) {
            self.schedule(
                self.now,
                Ev::Flood {
                    node: i,
                    incarnation,
                },
            );
        }
        Ok(())
    }

    /// Takes node `i` offline: its connections close (peers hear after one latency), its
    /// machine is dropped, its key and store are kept.
    ///
    /// # Errors
    /// [`SimError::NoSuchNode`], [`SimError::Offline`].
    pub fn take_offline(&mut self, i: usize) -> Result<(), SimError> {
        let driver = self
            .nodes
            .get_mut(i)
            .ok_or(SimError::NoSuchNode(i))?
            .driver
            .take()
            .ok_or(SimError::Offline(i))?;
        let (mesh, mut transport, store) = driver.into_parts();
        let stats = mesh.stats();
        super::inspect::add_stats(&mut self.retired, &stats);
        let Some(node) = self.nodes.get_mut(i) else {
            return Err(SimError::NoSuchNode(i));
        };
        let incarnation = node.incarnation;
        node.incarnation += 1;
        node.parked = Some(store);
        node.timer_at = None;
        for (conn, remote) in transport.close_all() {
            let from = Endpoint {
                node: i,
                incarnation,
                conn,
            };
            self.close_towards(from, remote);
        }
        self.trace
            .record(self.now, Some(i), TraceKind::Offline, &[]);
        self.failed()
    }

    /// Brings node `i` back: same key, same store, a fresh machine re-subscribed to its
    /// topics, dialing `dial` random online nodes.
    ///
    /// # Errors
    /// [`SimError::NoSuchNode`]; [`SimError::Invariant`].
    pub fn bring_online(&mut self, i: usize, dial: usize) -> Result<(), SimError> {
        let node = self.nodes.get(i).ok_or(SimError::NoSuchNode(i))?;
        if node.driver.is_some() {
            return Ok(());
        }
        let topics: Vec<Topic> = node.topics.iter().cloned().collect();
        let heads: Vec<Head> = node.heads.values().cloned().collect();
        self.trace.record(self.now, Some(i), TraceKind::Online, &[]);
        self.start_node(i);
        for topic in topics {
            self.command(i, Input::Subscribe(topic))?;
        }
        for head in heads {
            self.command(i, Input::SetHead(head))?;
        }
        self.dial_random(i, dial)?;
        self.failed()
    }

    /// Node `i` dials up to `count` random online nodes it has no connection to.
    pub(crate) fn dial_random(&mut self, i: usize, count: usize) -> Result<(), SimError> {
        let n = self.nodes.len();
        for _ in 0..count {
            for _attempt in 0..8 {
                let j = self.rng.index(n);
                let connected = self
                    .nodes
                    .get(i)
                    .and_then(|node| node.driver.as_ref())
                    .is_some_and(|d| d.transport().connected_to(j));
                if j != i && self.is_online(j) && !connected {
                    self.connect(i, j)?;
                    break;
                }
            }
        }
        Ok(())
    }

    /// One `min_peers` round: online nodes short of peers dial random online nodes.
    pub(crate) fn maintain(&mut self) {
        self.trace.record(self.now, None, TraceKind::Maintain, &[]);
        let min = self.cfg.min_peers;
        for i in 0..self.nodes.len() {
            let have = self
                .nodes
                .get(i)
                .and_then(|n| n.driver.as_ref())
                .map(|d| d.transport().connections());
            if let Some(have) = have
                && have < min
            {
                // Errors here are invariant violations, already recorded.
                let _ = self.dial_random(i, min - have);
            }
        }
        let at = self.now + self.cfg.maintain_interval;
        self.schedule(at, Ev::Maintain);
    }

    /// Splits the network: node `i` goes to group `group_of(i)`; frames and dials between
    /// groups are dropped until [`Sim::heal`]. Connections stay open (until idle timeouts
    /// close them).
    pub fn partition(&mut self, group_of: impl Fn(usize) -> u32) {
        let groups: Vec<u32> = (0..self.nodes.len()).map(group_of).collect();
        self.trace.record(
            self.now,
            None,
            TraceKind::Command,
            &groups.len().to_le_bytes(),
        );
        self.groups = Some(groups);
    }

    /// Ends the partition.
    pub fn heal(&mut self) {
        self.trace
            .record(self.now, None, TraceKind::Command, b"heal");
        self.groups = None;
    }

    /// A uniform random index in `0..n`, from the simulation's generator (so tests that
    /// make random choices stay reproducible from the one seed).
    pub fn random_index(&mut self, n: usize) -> usize {
        self.rng.index(n)
    }

    /// A random online node, honest ones only if `honest`; `None` if there is none.
    pub fn random_online(&mut self, honest: bool) -> Option<usize> {
        let candidates: Vec<usize> = (0..self.nodes.len())
            .filter(|i| self.is_online(*i) && (!honest || self.is_honest(*i)))
            .collect();
        let k = self.rng.index(candidates.len());
        candidates.get(k).copied()
    }
}
