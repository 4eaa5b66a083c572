//! After every step: carry out what the node sent, look at what it reported, check the
//! invariants.

use quorate_mesh_proto::mesh::{DownReason, Event, Misbehaviour};
use quorate_mesh_proto::{Block, Cid, Duration};

use super::Sim;
use super::engine::Ev;
use super::error::InvariantViolation;
use super::report::{Cutoff, Delivery, MisbehaviourReport};
use crate::driver::DriverEvent;

impl Sim {
    /// Everything that follows a node's step: its outbox to the network, its events to
    /// the metrics, its store puts and drained queues to the invariants, its next timer.
    pub(crate) fn after_step(&mut self, i: usize) {
        let Some(node) = self.nodes.get_mut(i) else {
            return;
        };
        let incarnation = node.incarnation;
        let Some(driver) = node.driver.as_mut() else {
            return;
        };
        let outgoing = driver.transport_mut().take_outbox();
        let events: Vec<DriverEvent> = std::iter::from_fn(|| driver.poll_event()).collect();
        let puts = driver.store_mut().take_puts();
        let leftover = driver.mesh_mut().poll_output();
        let inbox_drained = driver.transport().inbox_is_empty();
        let dropped = driver.events_dropped();
        let timeout = driver.poll_timeout();

        self.send_all(i, outgoing);
        for event in events {
            self.observe(i, event);
        }
        for block in puts {
            if let Err(what) = self.check_block(&block) {
                self.violate(Some(i), format!("stored {}: {what}", block.cid()));
            }
        }
        if let Some(output) = leftover {
            self.violate(Some(i), format!("output left undrained: {output:?}"));
        }
        if !inbox_drained {
            self.violate(Some(i), "transport events left unprocessed".into());
        }
        if dropped > 0 {
            self.violate(Some(i), format!("{dropped} driver events dropped"));
        }
        self.reschedule_timer(i, incarnation, timeout);
    }

    fn reschedule_timer(
        &mut self,
        i: usize,
        incarnation: u32,
        timeout: Option<quorate_mesh_proto::Instant>,
    ) {
        let earliest = self.now + Duration::from_micros(1);
        let Some(node) = self.nodes.get_mut(i) else {
            return;
        };
        let Some(at) = timeout.map(|t| t.max(earliest)) else {
            node.timer_at = None;
            return;
        };
        if node.timer_at != Some(at) {
            node.timer_at = Some(at);
            self.schedule(
                at,
                Ev::Timer {
                    node: i,
                    incarnation,
                    at,
                },
            );
        }
    }

    fn observe(&mut self, i: usize, event: DriverEvent) {
        match event {
            DriverEvent::Mesh(event) => {
                self.observe_mesh(i, &event);
                if self.cfg.record_events
                    && let Some(node) = self.nodes.get_mut(i)
                {
                    node.events.push((self.now, event));
                }
            }
            DriverEvent::InputRejected(error) => {
                self.violate(
                    Some(i),
                    format!("machine rejected a transport input: {error}"),
                );
            }
            DriverEvent::StoreFailed { .. } => self.store_failures += 1,
            _ => {}
        }
    }

    fn observe_mesh(&mut self, i: usize, event: &Event) {
        let now = self.now;
        match event {
            Event::Delivered { block, hops, .. } => {
                if let Err(what) = self.check_block(block) {
                    self.violate(Some(i), format!("delivered {}: {what}", block.cid()));
                    return;
                }
                match self.messages.get_mut(block.cid()) {
                    Some(record) => {
                        let hops = *hops;
                        record
                            .deliveries
                            .entry(i)
                            .or_insert(Delivery { at: now, hops });
                    }
                    None => self.violate(
                        Some(i),
                        format!("delivered {} which nobody published", block.cid()),
                    ),
                }
            }
            Event::Fetched { block, .. } => {
                if let Err(what) = self.check_block(block) {
                    self.violate(Some(i), format!("fetched {}: {what}", block.cid()));
                }
            }
            Event::PeerMisbehaved {
                node,
                reason,
                score,
                ..
            } => {
                let culprit = node.and_then(|n| self.index.get(&n).copied());
                if let Misbehaviour::ForgedBlock { cid } = reason
                    && self.tamper_ppm == 0
                    && self.is_honest(i)
                    && culprit.is_some_and(|c| self.is_honest(c))
                {
                    let what = format!(
                        "honest node reported ForgedBlock {cid} against honest node {culprit:?}"
                    );
                    self.violate(Some(i), what);
                }
                self.misbehaviour.push(MisbehaviourReport {
                    at: now,
                    reporter: i,
                    culprit,
                    reason: reason.clone(),
                    score: *score,
                });
            }
            Event::PeerDown {
                node,
                reason: DownReason::ScoreTooLow,
                ..
            } => {
                let culprit = node.and_then(|n| self.index.get(&n).copied());
                self.cutoffs.push(Cutoff {
                    at: now,
                    by: i,
                    culprit,
                });
            }
            _ => {}
        }
    }

    pub(crate) fn is_honest(&self, i: usize) -> bool {
        self.nodes.get(i).is_some_and(|n| n.behaviour.is_honest())
    }

    /// A block must hash to its CID and be one the simulation knows to be genuine.
    pub(crate) fn check_block(&self, block: &Block) -> Result<(), String> {
        let cid = block.cid();
        if Cid::of(cid.codec(), block.bytes()) != *cid {
            return Err("bytes do not hash to the CID".into());
        }
        if !self.genuine.contains(cid) {
            return Err("not a block anyone published or seeded".into());
        }
        Ok(())
    }

    /// Records the first invariant violation; the run stops at the end of the step.
    pub(crate) fn violate(&mut self, node: Option<usize>, what: String) {
        if self.failure.is_none() {
            self.failure = Some(InvariantViolation {
                seed: self.cfg.seed,
                step: self.steps,
                at: self.now,
                node,
                what,
            });
        }
    }
}
