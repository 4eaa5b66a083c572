//! What the event loop does with what happens: machine events, outgoing signals,
//! rendezvous messages, reconnection.

use std::time::{Duration, Instant as StdInstant};

use quorate_mesh_proto::mesh::{DownReason, Event, Input, NodeId};
use quorate_mesh_transport::DriverEvent;
use quorate_mesh_transport::webrtc::OutgoingSignal;
use tokio::sync::oneshot;

use super::control::{FetchRecord, MisbehaviourRecord, Reply};
use super::node::{BAD_SENDERS_CAP, IGNORE_FOR, LOG_CAP, Node};
use crate::rendezvous::{self, Client, ClientError};
use quorate_mesh_transport::webrtc::envelope::NodeSignal;

/// Longest wait between rendezvous reconnection attempts.
const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(30);

/// Where a signal came from, for accounting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Carrier {
    Rendezvous,
    Mesh,
}

impl Node {
    /// Processes everything pending: transport events and timers through the driver,
    /// then the events and signals they caused, until nothing is left.
    pub(crate) fn step(&mut self) {
        for _ in 0..64 {
            let now = self.now();
            let mut work = self.driver.pump(now);
            while let Some(event) = self.driver.poll_event() {
                self.on_driver_event(event);
                work += 1;
            }
            work += self.actors_pump(now);
            work += self.groups_pump(now);
            while let Some(signal) = self.driver.transport_mut().poll_signal() {
                self.route_signal(signal);
                work += 1;
            }
            if work == 0 {
                break;
            }
        }
        self.housekeeping();
    }

    fn on_driver_event(&mut self, event: DriverEvent) {
        match event {
            DriverEvent::Mesh(event) => self.on_mesh_event(event),
            DriverEvent::DialFailed { conn, node } => {
                tracing::warn!(peer = %node.short(), ?conn, "dial failed");
                self.dialing.remove(&node);
            }
            DriverEvent::StoreFailed { op, cid, error } => {
                tracing::error!(?op, %cid, "block store: {error}");
            }
            other => tracing::debug!("driver: {other:?}"),
        }
    }

    fn on_mesh_event(&mut self, event: Event) {
        self.actors_on_event(&event);
        self.groups_on_event(&event);
        match event {
            Event::PeerUp { conn, node, .. } => {
                tracing::info!(peer = %node.short(), ?conn, "peer up");
                self.dialing.remove(&node);
                self.manual.remove(&node);
                // Tell it whom we know, so it can reach them through us.
                let others: Vec<NodeId> = self
                    .driver
                    .mesh()
                    .peers()
                    .into_iter()
                    .map(|(_, n, _)| n)
                    .filter(|n| *n != node)
                    .collect();
                let payload = NodeSignal::Peers(others).encode();
                self.send_mesh_signal(node, payload);
            }
            Event::PeerDown { conn, node, reason } => {
                let peer = node.map(|n| n.short());
                tracing::info!(?peer, ?conn, ?reason, "peer down");
                self.dialing.retain(|_, c| *c != conn);
                // Refusals and cut-offs are misbehaviour too (a refused peer has no
                // proven id yet; its connection is closed at once).
                if matches!(reason, DownReason::Refused(_) | DownReason::ScoreTooLow) {
                    push_capped(
                        &mut self.misbehaviour,
                        MisbehaviourRecord {
                            node: node.map(|n| n.to_string()),
                            reason: format!("disconnected: {reason:?}"),
                            score: None,
                        },
                    );
                }
            }
            Event::PeerMisbehaved {
                node,
                reason,
                score,
                ..
            } => {
                let peer = node.map(|n| n.short());
                tracing::warn!(?peer, ?reason, score, "peer misbehaved");
                push_capped(
                    &mut self.misbehaviour,
                    MisbehaviourRecord {
                        node: node.map(|n| n.to_string()),
                        reason: format!("{reason:?}"),
                        score: Some(score),
                    },
                );
            }
            Event::Fetched { block, from } => {
                tracing::info!(cid = %block.cid(), peer = %from.short(), bytes = block.len(), "fetched");
                push_capped(
                    &mut self.fetched,
                    FetchRecord {
                        cid: block.cid().to_string(),
                        from: from.to_string(),
                        bytes: block.len(),
                    },
                );
                if let Some(waiters) = self.gets.remove(block.cid()) {
                    let encoded = super::requests::encode_block(&block);
                    for waiter in waiters {
                        drop(waiter.send(Reply::Block {
                            block: encoded.clone(),
                            from: Some(from.to_string()),
                        }));
                    }
                }
            }
            Event::Signal { from, payload } => self.on_signal(from, &payload, Carrier::Mesh),
            other => tracing::debug!("mesh: {other:?}"),
        }
    }

    /// A node signal from `from` by `carrier`.
    pub(crate) fn on_signal(&mut self, from: NodeId, payload: &[u8], carrier: Carrier) {
        if self.is_ignored(from) {
            tracing::debug!(peer = %from.short(), "ignoring a signal from a bad sender");
            return;
        }
        match NodeSignal::decode(payload) {
            Ok(NodeSignal::WebRtc(body)) => {
                if let Err(e) = self.driver.transport_mut().handle_signal(from, &body) {
                    tracing::warn!(peer = %from.short(), ?carrier, "refused a signal: {e}");
                    self.bad_signal(from);
                }
            }
            // Only the mesh authenticates the sender of a peer list.
            Ok(NodeSignal::Peers(nodes)) if carrier == Carrier::Mesh => {
                tracing::debug!(peer = %from.short(), known = nodes.len(), "peer list");
                for node in nodes {
                    self.maybe_dial(node);
                }
            }
            Ok(NodeSignal::Peers(_)) => {
                tracing::warn!(peer = %from.short(), ?carrier, "a peer list off the mesh");
                self.bad_signal(from);
            }
            Err(e) => {
                tracing::warn!(peer = %from.short(), ?carrier, "unreadable signal: {e}");
                self.bad_signal(from);
            }
        }
    }

    fn is_ignored(&mut self, from: NodeId) -> bool {
        let Some(bad) = self.bad_signals.get_mut(&from) else {
            return false;
        };
        match bad.ignored_until {
            Some(until) if until > StdInstant::now() => true,
            Some(_) => {
                // The sentence is served: a fresh start.
                *bad = super::node::BadSender::default();
                false
            }
            None => false,
        }
    }

    fn bad_signal(&mut self, from: NodeId) {
        if !self.bad_signals.contains_key(&from) && self.bad_signals.len() >= BAD_SENDERS_CAP {
            return;
        }
        let limit = self.config.bad_signal_limit;
        let bad = self.bad_signals.entry(from).or_default();
        bad.count = bad.count.saturating_add(1);
        if bad.count >= limit && bad.ignored_until.is_none() {
            tracing::warn!(peer = %from.short(), count = bad.count, "ignoring its signals for 10 minutes");
            bad.ignored_until = Some(StdInstant::now() + IGNORE_FOR);
        }
    }

    /// Dials `node` unless it is us, already connected or being dialed, or we have
    /// enough peers.
    pub(crate) fn maybe_dial(&mut self, node: NodeId) {
        if node == self.info.id
            || self.driver.mesh().conn_of(&node).is_some()
            || self.dialing.contains_key(&node)
            || self.is_ignored(node)
        {
            return;
        }
        if self.driver.mesh().peers().len() + self.dialing.len() >= self.config.max_peers {
            return;
        }
        match self.driver.connect(node) {
            Ok(conn) => {
                tracing::info!(peer = %node.short(), ?conn, "dialing");
                self.dialing.insert(node, conn);
            }
            Err(e) => tracing::warn!(peer = %node.short(), "cannot dial: {e}"),
        }
    }

    /// Sends a signal the transport produced: to the copy-paste outbox if the peer is
    /// being connected by hand, else through the rendezvous server if the peer is in our
    /// room there, else through the mesh.
    fn route_signal(&mut self, signal: OutgoingSignal) {
        let OutgoingSignal { to, payload } = signal;
        if self.manual.contains(&to) {
            self.manual_out.entry(to).or_default().push(payload);
            return;
        }
        let wrapped = NodeSignal::WebRtc(payload).encode();
        if self.rendezvous.room.contains(&to)
            && let Some(client) = &self.rendezvous.client
        {
            match client.try_send_signal(to, &wrapped) {
                Ok(()) => return,
                Err(e) => tracing::debug!(peer = %to.short(), "rendezvous send failed: {e}"),
            }
        }
        self.send_mesh_signal(to, wrapped);
    }

    fn send_mesh_signal(&mut self, to: NodeId, payload: Vec<u8>) {
        let now = self.now();
        if let Err(e) = self.driver.handle(now, Input::SendSignal { to, payload }) {
            tracing::warn!(peer = %to.short(), "cannot relay a signal: {e}");
        }
    }

    /// Answers manual-signaling waiters whose signals have settled, drops gets nobody
    /// waits for any more, and starts a due rendezvous reconnection.
    fn housekeeping(&mut self) {
        let now = StdInstant::now();
        let mut waiters = std::mem::take(&mut self.manual_waiters);
        waiters.retain_mut(|w| {
            let ready = self.manual_out.get(&w.peer).is_some_and(|v| !v.is_empty());
            if ready && w.settle_at.is_none() {
                w.settle_at = Some(now + Duration::from_millis(200));
            }
            if w.settle_at.is_some_and(|t| t <= now) {
                let signals = self.manual_out.remove(&w.peer).unwrap_or_default();
                let (tx, _) = oneshot::channel();
                let reply = std::mem::replace(&mut w.reply, tx);
                let signal = super::requests::encode_blob(&signals);
                drop(reply.send(Reply::Signal { signal }));
                return false;
            }
            if w.deadline <= now {
                let (tx, _) = oneshot::channel();
                let reply = std::mem::replace(&mut w.reply, tx);
                let message = "the transport produced no signal in time".to_owned();
                drop(reply.send(Reply::Error { message }));
                return false;
            }
            true
        });
        self.manual_waiters = waiters;
        let abandoned: Vec<_> = self
            .gets
            .iter_mut()
            .filter_map(|(cid, waiters)| {
                waiters.retain(|w| !w.is_closed());
                waiters.is_empty().then_some(*cid)
            })
            .collect();
        for cid in abandoned {
            self.gets.remove(&cid);
            let now = self.now();
            drop(self.driver.handle(now, Input::CancelWant(cid)));
        }
        self.maybe_reconnect(now);
    }

    pub(crate) fn on_rendezvous(&mut self, event: Option<rendezvous::Event>) {
        use rendezvous::Event as R;
        match event {
            Some(R::Peers { nodes, .. }) => {
                self.rendezvous.room = nodes.iter().copied().collect();
                tracing::info!(members = nodes.len(), "rendezvous room");
                for node in nodes {
                    self.maybe_dial(node);
                }
            }
            Some(R::Joined(node)) => {
                // The newcomer dials us; we only learn its name for signal routing.
                self.rendezvous.room.insert(node);
            }
            Some(R::Left(node)) => {
                self.rendezvous.room.remove(&node);
            }
            Some(R::Signal { from, payload }) => {
                self.on_signal(from, &payload, Carrier::Rendezvous);
            }
            Some(R::Error(message)) => tracing::warn!("rendezvous server: {message}"),
            Some(R::Closed(reason)) => self.lost_rendezvous(&reason),
            None => self.lost_rendezvous("closed"),
        }
    }

    fn lost_rendezvous(&mut self, reason: &str) {
        tracing::warn!("lost the rendezvous server: {reason}; the mesh carries signals meanwhile");
        self.rendezvous.client = None;
        self.rendezvous.room.clear();
        self.rendezvous.retry_at = Some(StdInstant::now() + self.rendezvous.delay);
    }

    fn maybe_reconnect(&mut self, now: StdInstant) {
        let Some(url) = self.rendezvous.url.clone() else {
            return;
        };
        if self.rendezvous.client.is_some()
            || self.rendezvous.connecting.is_some()
            || self.rendezvous.retry_at.is_none_or(|t| t > now)
        {
            return;
        }
        self.rendezvous.retry_at = None;
        let (tx, rx) = oneshot::channel();
        let room = self.config.room.clone();
        let id = self.info.id;
        tokio::spawn(async move {
            drop(tx.send(Client::connect(&url, &room, id).await));
        });
        self.rendezvous.connecting = Some(rx);
    }

    pub(crate) fn on_reconnect(&mut self, result: Result<Client, ClientError>) {
        self.rendezvous.connecting = None;
        match result {
            Ok(client) => {
                tracing::info!("rejoined the rendezvous room");
                self.rendezvous.client = Some(client);
                self.rendezvous.delay = self.config.reconnect_delay;
            }
            Err(e) => {
                let delay = self.rendezvous.delay;
                tracing::debug!("rendezvous reconnection failed: {e}; next try in {delay:?}");
                self.rendezvous.retry_at = Some(StdInstant::now() + delay);
                self.rendezvous.delay = (delay * 2).min(MAX_RECONNECT_DELAY);
            }
        }
    }
}

fn push_capped<T>(log: &mut std::collections::VecDeque<T>, item: T) {
    if log.len() >= LOG_CAP {
        log.pop_front();
    }
    log.push_back(item);
}
