//! Looking at a simulation: nodes, stores, counters, reports, the trace.

use quorate_mesh_blockstore::BlockStore;
use quorate_mesh_proto::mesh::{Event, NodeId, Stats};
use quorate_mesh_proto::{Block, Cid, Duration, Instant};

use super::config::{Behaviour, SimConfig};
use super::error::SimError;
use super::report::{
    Cutoff, MessageRecord, MisbehaviourReport, NetStats, Report, percentile, ratio,
};
use super::store::SimStore;
use super::trace::TraceRecord;
use super::{Sim, SimDriver};

/// Adds every counter of `b` to `a`.
pub(crate) fn add_stats(a: &mut Stats, b: &Stats) {
    a.frames_in += b.frames_in;
    a.frames_out += b.frames_out;
    a.bytes_in += b.bytes_in;
    a.bytes_out += b.bytes_out;
    a.gossip_copies += b.gossip_copies;
    a.delivered += b.delivered;
    a.duplicates += b.duplicates;
    a.fetched += b.fetched;
    a.dropped_in += b.dropped_in;
    a.dropped_out += b.dropped_out;
}

impl Sim {
    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &SimConfig {
        &self.cfg
    }

    /// The seed.
    #[must_use]
    pub fn seed(&self) -> u64 {
        self.cfg.seed
    }

    /// Current virtual time.
    #[must_use]
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Events scheduled and not yet processed (including stale timers).
    #[must_use]
    pub fn pending_events(&self) -> usize {
        self.queue.len()
    }

    /// Events processed so far.
    #[must_use]
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Number of nodes (online or not).
    #[must_use]
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether there are no nodes.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Node `i`'s id.
    #[must_use]
    pub fn id(&self, i: usize) -> Option<NodeId> {
        self.nodes.get(i).map(|n| n.id)
    }

    /// The index of the node with this id.
    #[must_use]
    pub fn index_of(&self, id: &NodeId) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// Whether node `i` is online.
    #[must_use]
    pub fn is_online(&self, i: usize) -> bool {
        self.nodes.get(i).is_some_and(|n| n.driver.is_some())
    }

    /// Node `i`'s behaviour.
    #[must_use]
    pub fn behaviour(&self, i: usize) -> Option<Behaviour> {
        self.nodes.get(i).map(|n| n.behaviour)
    }

    /// Node `i`'s driver, while online.
    #[must_use]
    pub fn driver(&self, i: usize) -> Option<&SimDriver> {
        self.nodes.get(i).and_then(|n| n.driver.as_ref())
    }

    /// Node `i`'s store, online or not.
    #[must_use]
    pub fn store(&self, i: usize) -> Option<&SimStore> {
        let node = self.nodes.get(i)?;
        match &node.driver {
            Some(driver) => Some(driver.store()),
            None => node.parked.as_ref(),
        }
    }

    /// The mesh events node `i` reported, with their times (only with
    /// [`SimConfig::record_events`]).
    #[must_use]
    pub fn events(&self, i: usize) -> &[(Instant, Event)] {
        self.nodes.get(i).map_or(&[], |n| n.events.as_slice())
    }

    /// Every published message, by CID.
    pub fn messages(&self) -> impl Iterator<Item = &MessageRecord> {
        self.messages.values()
    }

    /// One published message.
    #[must_use]
    pub fn message(&self, cid: &Cid) -> Option<&MessageRecord> {
        self.messages.get(cid)
    }

    /// Every misbehaviour report of every node, in order.
    #[must_use]
    pub fn misbehaviour(&self) -> &[MisbehaviourReport] {
        &self.misbehaviour
    }

    /// Every score cut-off, in order.
    #[must_use]
    pub fn cutoffs(&self) -> &[Cutoff] {
        &self.cutoffs
    }

    /// What the network did.
    #[must_use]
    pub fn net_stats(&self) -> NetStats {
        self.net
    }

    /// Block-store errors the drivers reported.
    #[must_use]
    pub fn store_failures(&self) -> u64 {
        self.store_failures
    }

    /// Machine counters summed over all nodes, including machines replaced by churn.
    #[must_use]
    pub fn stats(&self) -> Stats {
        let mut total = self.retired;
        for driver in self.nodes.iter().filter_map(|n| n.driver.as_ref()) {
            add_stats(&mut total, &driver.mesh().stats());
        }
        total
    }

    /// The running trace digest.
    #[must_use]
    pub fn trace_digest(&self) -> [u8; 32] {
        self.trace.digest()
    }

    /// Events in the trace.
    #[must_use]
    pub fn trace_len(&self) -> u64 {
        self.trace.len()
    }

    /// The kept trace records (only with [`SimConfig::record_trace`]).
    #[must_use]
    pub fn trace_records(&self) -> &[TraceRecord] {
        self.trace.log()
    }

    /// Delivery statistics over `cids` (unknown CIDs are skipped). A message is expected
    /// at every honest node subscribed to its topic that has been online since it was
    /// published, other than its publisher.
    #[must_use]
    pub fn report(&self, cids: &[Cid]) -> Report {
        let (mut expected, mut delivered) = (0u64, 0u64);
        let mut hops = Vec::new();
        let mut latencies = Vec::new();
        let mut messages = 0;
        for record in cids.iter().filter_map(|c| self.messages.get(c)) {
            messages += 1;
            for (i, node) in self.nodes.iter().enumerate() {
                let counted = i != record.publisher
                    && node.behaviour.is_honest()
                    && node.driver.is_some()
                    && node.online_since <= record.published_at
                    && node.topics.contains(&record.topic);
                if !counted {
                    continue;
                }
                expected += 1;
                if let Some(d) = record.deliveries.get(&i) {
                    delivered += 1;
                    hops.push(d.hops);
                    latencies.push(d.at.saturating_duration_since(record.published_at));
                }
            }
        }
        hops.sort_unstable();
        latencies.sort_unstable();
        Report {
            messages,
            expected,
            delivered,
            delivered_fraction: ratio(delivered, expected),
            hops_p50: percentile(&hops, 50),
            hops_p99: percentile(&hops, 99),
            hops_max: hops.last().copied().unwrap_or(0),
            latency_p50: percentile(&latencies, 50),
            latency_p99: percentile(&latencies, 99),
            latency_max: latencies.last().copied().unwrap_or(Duration::ZERO),
        }
    }

    /// Checks every block of every store, online or not (the per-step checks only see
    /// blocks as they are put).
    ///
    /// # Errors
    /// [`SimError::Invariant`] naming the first bad block.
    pub fn check_all_stores(&mut self) -> Result<(), SimError> {
        for i in 0..self.nodes.len() {
            let mut found: Vec<Result<Block, String>> = Vec::new();
            if let Some(node) = self.nodes.get_mut(i) {
                let store = match (&mut node.driver, &mut node.parked) {
                    (Some(driver), _) => driver.store_mut(),
                    (None, Some(store)) => store,
                    (None, None) => continue,
                };
                for cid in store.cids().unwrap_or_default() {
                    found.push(match store.get(&cid) {
                        Ok(Some(block)) if *block.cid() == cid => Ok(block),
                        Ok(Some(_)) => Err(format!("{cid} returned another block")),
                        Ok(None) => Err(format!("{cid} listed but missing")),
                        Err(e) => Err(format!("{cid}: {e}")),
                    });
                }
            }
            for entry in found {
                match entry.and_then(|b| {
                    self.check_block(&b)
                        .map_err(|w| format!("{}: {w}", b.cid()))
                }) {
                    Ok(()) => {}
                    Err(what) => self.violate(Some(i), format!("store holds {what}")),
                }
            }
        }
        self.failed()
    }
}
