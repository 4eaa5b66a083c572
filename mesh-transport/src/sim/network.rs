//! The network model: what happens to what a node sent.

use bytes::Bytes;
use quorate_mesh_proto::Instant;
use quorate_mesh_proto::mesh::{ConnId, NodeId};

use super::Sim;
use super::config::Behaviour;
use super::engine::Ev;
use super::transport::{Endpoint, Outgoing};

impl Sim {
    /// Carries out node `i`'s outbox, in order.
    pub(crate) fn send_all(&mut self, i: usize, outgoing: Vec<Outgoing>) {
        let Some(node) = self.nodes.get(i) else {
            return;
        };
        let incarnation = node.incarnation;
        let forger = node.behaviour == Behaviour::Forger;
        for out in outgoing {
            match out {
                Outgoing::Dial { conn, to } => self.dial(i, incarnation, conn, to),
                Outgoing::Frame {
                    conn,
                    remote,
                    bytes,
                } => {
                    let from = Endpoint {
                        node: i,
                        incarnation,
                        conn,
                    };
                    if forger {
                        // The send buffer was charged for the original frame only.
                        let charge = bytes.len();
                        for (k, frame) in self.forge(bytes).into_iter().enumerate() {
                            self.transmit(from, remote, frame, if k == 0 { charge } else { 0 });
                        }
                    } else {
                        let charge = bytes.len();
                        self.transmit(from, remote, bytes, charge);
                    }
                }
                Outgoing::Close { conn, remote } => {
                    let from = Endpoint {
                        node: i,
                        incarnation,
                        conn,
                    };
                    self.close_towards(from, remote);
                }
            }
        }
    }

    /// Tells the far end of a connection closed at `from` (after its frames in flight).
    pub(crate) fn close_towards(&mut self, from: Endpoint, remote: Option<Endpoint>) {
        let at = self.arrival(&from);
        self.last_arrival
            .remove(&(from.node, from.incarnation, from.conn));
        if let Some(remote) = remote {
            self.schedule(at, Ev::Close { to: remote });
        }
    }

    /// Whether frames between nodes `a` and `b` are dropped by a partition.
    pub(crate) fn partitioned(&self, a: usize, b: usize) -> bool {
        self.groups
            .as_ref()
            .is_some_and(|g| g.get(a).copied().unwrap_or(0) != g.get(b).copied().unwrap_or(0))
    }

    /// When a frame sent now on `from` arrives: latency plus jitter, and never before an
    /// earlier frame of the same connection unless `reorder` is on.
    fn arrival(&mut self, from: &Endpoint) -> Instant {
        let jitter = self.rng.duration_below(self.cfg.net.jitter);
        let mut at = self.now + self.cfg.net.latency + jitter;
        if !self.cfg.net.reorder {
            let key = (from.node, from.incarnation, from.conn);
            let last = self.last_arrival.entry(key).or_insert(Instant::ZERO);
            at = at.max(*last);
            *last = at;
        }
        at
    }

    /// Sends one frame through the network model.
    pub(crate) fn transmit(&mut self, from: Endpoint, to: Endpoint, bytes: Bytes, charge: usize) {
        self.net.frames_sent += 1;
        self.net.bytes_sent += bytes.len() as u64;
        if self.partitioned(from.node, to.node) {
            self.net.partitioned += 1;
            self.release(&from, charge);
            return;
        }
        if self.rng.chance(self.loss_ppm) {
            self.net.lost += 1;
            self.release(&from, charge);
            return;
        }
        let bytes = if self.rng.chance(self.tamper_ppm) && !bytes.is_empty() {
            self.net.tampered += 1;
            let mut v = bytes.to_vec();
            let at = self.rng.index(v.len());
            let bit = 1u8 << self.rng.below(8);
            if let Some(b) = v.get_mut(at) {
                *b ^= bit;
            }
            Bytes::from(v)
        } else {
            bytes
        };
        let at = self.arrival(&from);
        if self.rng.chance(self.duplicate_ppm) {
            self.net.duplicated += 1;
            let again = self.arrival(&from);
            let copy = bytes.clone();
            self.schedule(
                again,
                Ev::Frame {
                    to,
                    from,
                    bytes: copy,
                    charge: 0,
                },
            );
        }
        self.schedule(
            at,
            Ev::Frame {
                to,
                from,
                bytes,
                charge,
            },
        );
    }

    /// `charge` bytes sent on `from` left the network: room in its send buffer.
    pub(crate) fn release(&mut self, from: &Endpoint, charge: usize) {
        if charge == 0 {
            return;
        }
        let writable = self
            .transport_mut(from)
            .is_some_and(|t| t.on_delivered(from.conn, charge));
        if writable {
            self.net.writable += 1;
            self.schedule(self.now, Ev::Writable { to: *from });
        }
    }

    /// Resolves a dial: both ends open after one latency, or the dialer hears of the
    /// failure after one latency (target offline or unknown, or across a partition).
    fn dial(&mut self, i: usize, incarnation: u32, conn: ConnId, to: NodeId) {
        self.net.dials += 1;
        let from = Endpoint {
            node: i,
            incarnation,
            conn,
        };
        let at = self.now + self.cfg.net.latency;
        let target = self
            .index
            .get(&to)
            .copied()
            .filter(|j| !self.partitioned(i, *j));
        let accepted = target.and_then(|j| {
            let node = self.nodes.get_mut(j)?;
            let incarnation = node.incarnation;
            let conn = node.driver.as_mut()?.transport_mut().accept(from);
            Some(Endpoint {
                node: j,
                incarnation,
                conn,
            })
        });
        let Some(remote) = accepted else {
            self.net.dials_failed += 1;
            self.schedule(at, Ev::Close { to: from });
            return;
        };
        if let Some(t) = self.transport_mut(&from) {
            t.set_remote(conn, remote);
        }
        self.schedule(
            at,
            Ev::Open {
                to: from,
                remote: Some(to),
            },
        );
        self.schedule(
            at,
            Ev::Open {
                to: remote,
                remote: None,
            },
        );
    }
}
