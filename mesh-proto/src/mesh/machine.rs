//! The mesh machine: state, the input dispatch, the poll contract.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use bytes::Bytes;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use crate::mesh::abuse::{Deed, TokenBucket};
use crate::mesh::config::Config;
use crate::mesh::frame::{Frame, Head, MAX_HEAD_NAME_LEN, MAX_SIGNAL_PAYLOAD, Topic};
use crate::mesh::gossip::{Seen, TopicState};
use crate::mesh::identity::NodeId;
use crate::mesh::peer::Peer;
use crate::mesh::types::{
    ApiMisuse, ConnId, DownReason, Event, Input, Misbehaviour, Output, Stats,
};
use crate::mesh::want::{DeadlineMap, Wants};
use crate::{Cid, Instant};

/// The sans-IO mesh node. See the [module docs](crate::mesh) for how to drive it.
#[derive(Debug)]
pub struct Mesh {
    pub(crate) config: Config,
    pub(crate) id: NodeId,
    pub(crate) rng: ChaCha20Rng,
    pub(crate) now: Instant,
    pub(crate) peers: BTreeMap<ConnId, Peer>,
    pub(crate) by_node: BTreeMap<NodeId, ConnId>,
    pub(crate) banned: BTreeMap<NodeId, Instant>,
    pub(crate) topics: BTreeMap<Topic, TopicState>,
    pub(crate) seen: Seen,
    /// Message ids announced to us but not received: (topic, cid) → announcers, due for
    /// a graft at their deadline.
    pub(crate) missing: DeadlineMap<(Topic, Cid), Vec<ConnId>>,
    pub(crate) wants: Wants,
    pub(crate) local_heads: BTreeMap<String, Head>,
    pub(crate) remote_heads: BTreeMap<String, Head>,
    /// Head names the application asked peers for, with the time the query lapses.
    pub(crate) head_queries: BTreeMap<String, Instant>,
    /// Blocks fetched since the last lazy-push tick, announced with `Have`.
    pub(crate) pending_have: Vec<Cid>,
    pub(crate) signal_seen: BTreeSet<(NodeId, u64)>,
    pub(crate) signal_seen_order: VecDeque<(NodeId, u64)>,
    pub(crate) signal_counter: u64,
    pub(crate) signal_bucket: TokenBucket,
    pub(crate) global_in: TokenBucket,
    pub(crate) outputs: VecDeque<Output>,
    pub(crate) stats: Stats,
    pub(crate) next_ihave: Instant,
    pub(crate) next_repair: Instant,
    pub(crate) next_heads: Instant,
    pub(crate) next_maintenance: Instant,
    pub(crate) next_decay: Instant,
}

/// How often handshake deadlines, idle connections and pings are checked.
const MAINTENANCE: crate::Duration = crate::Duration::from_secs(1);
/// Relayed-signal ids remembered for duplicate suppression.
const SIGNAL_SEEN_CAP: usize = 4_096;

impl Mesh {
    /// A new machine at time `now`.
    #[must_use]
    pub fn new(config: Config, now: Instant) -> Self {
        let id = config.key.id();
        let rng = ChaCha20Rng::from_seed(config.rng_seed);
        let seen = Seen::new(config.seen_ttl, config.seen_capacity);
        Mesh {
            id,
            rng,
            now,
            peers: BTreeMap::new(),
            by_node: BTreeMap::new(),
            banned: BTreeMap::new(),
            topics: BTreeMap::new(),
            seen,
            missing: DeadlineMap::default(),
            wants: Wants::default(),
            local_heads: BTreeMap::new(),
            remote_heads: BTreeMap::new(),
            head_queries: BTreeMap::new(),
            pending_have: Vec::new(),
            signal_seen: BTreeSet::new(),
            signal_seen_order: VecDeque::new(),
            signal_counter: 0,
            signal_bucket: TokenBucket::new(u64::from(config.signals_per_sec), now),
            global_in: TokenBucket::new(config.global_bytes_per_sec, now),
            outputs: VecDeque::new(),
            stats: Stats::default(),
            next_ihave: now + config.ihave_interval,
            next_repair: now + config.repair_interval,
            next_heads: now + config.heads_interval,
            next_maintenance: now + MAINTENANCE,
            next_decay: now + config.score.decay_interval,
            config,
        }
    }

    /// This node's id.
    #[must_use]
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// Counters.
    #[must_use]
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Established peers: connection, node id, score.
    #[must_use]
    pub fn peers(&self) -> Vec<(ConnId, NodeId, i32)> {
        self.peers
            .values()
            .filter(|p| p.is_up())
            .filter_map(|p| p.node.map(|n| (p.conn, n, p.score)))
            .collect()
    }

    /// The connection to `node`, if established.
    #[must_use]
    pub fn conn_of(&self, node: &NodeId) -> Option<ConnId> {
        self.by_node.get(node).copied()
    }

    /// Topics this node subscribes to.
    #[must_use]
    pub fn topics(&self) -> Vec<Topic> {
        self.topics.keys().cloned().collect()
    }

    /// Newest known remote head by name.
    #[must_use]
    pub fn remote_head(&self, name: &str) -> Option<&Head> {
        self.remote_heads.get(name)
    }

    /// Feeds one input.
    ///
    /// # Errors
    /// [`ApiMisuse`] when the driver breaks the contract; peer data never errors.
    pub fn handle_input(&mut self, now: Instant, input: Input<'_>) -> Result<(), ApiMisuse> {
        self.advance(now);
        match input {
            Input::Connected { conn, expected } => return self.on_connected(conn, expected),
            Input::Disconnected { conn } => self.on_disconnected(conn, DownReason::Closed),
            Input::Frame { conn, bytes } => self.on_frame(conn, bytes),
            Input::Writable { conn, writable } => self.on_writable(conn, writable),
            Input::BlockLoaded { conn, cid, block } => self.on_loaded(conn, cid, block),
            Input::Publish { topic, block } => {
                let max = self.config.limits.max_block_size as usize;
                if block.len() > max {
                    return Err(ApiMisuse::BlockTooLarge {
                        size: block.len(),
                        max,
                    });
                }
                self.publish(topic, block);
            }
            Input::Subscribe(topic) => self.subscribe(topic),
            Input::Unsubscribe(topic) => self.unsubscribe(&topic),
            Input::Want { cid, priority } => self.want(cid, priority, None),
            Input::CancelWant(cid) => self.cancel_want(&cid),
            Input::SetHead(head) => {
                if head.name.len() > MAX_HEAD_NAME_LEN {
                    return Err(ApiMisuse::HeadNameTooLong);
                }
                self.set_head(head);
            }
            Input::QueryHeads(names) => self.query_heads(names)?,
            Input::Penalize { node, reason } => {
                if let Some(conn) = self.conn_of(&node) {
                    self.penalize(conn, Deed::Invalid, Misbehaviour::InvalidContent(reason));
                }
            }
            Input::SendSignal { to, payload } => {
                if payload.len() > MAX_SIGNAL_PAYLOAD {
                    return Err(ApiMisuse::SignalTooLarge(payload.len()));
                }
                self.send_signal(to, payload);
            }
        }
        Ok(())
    }

    /// Runs whatever is due at `now`. Early or repeated calls do nothing harmful.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.advance(now);
        if now >= self.next_ihave {
            self.next_ihave = now + self.config.ihave_interval;
            self.flush_ihaves();
            if !self.pending_have.is_empty() {
                let cids = std::mem::take(&mut self.pending_have);
                self.broadcast(&Frame::Have(cids), None, true);
            }
        }
        if now >= self.next_repair {
            self.next_repair = now + self.config.repair_interval;
            self.repair();
        }
        if now >= self.next_heads {
            self.next_heads = now + self.config.heads_interval;
            self.announce_heads(None);
            self.head_queries.retain(|_, lapses| *lapses > now);
        }
        if now >= self.next_maintenance {
            self.next_maintenance = now + MAINTENANCE;
            self.maintenance();
        }
        if now >= self.next_decay {
            self.next_decay = now + self.config.score.decay_interval;
            for peer in self.peers.values_mut() {
                peer.score -= peer.score / 10;
            }
        }
        self.graft_due();
        self.wants_due();
        self.flush_paced();
    }

    /// The next output, or `None`. Drain after every `handle_*` call.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When to call [`Mesh::handle_timeout`] next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut next = self.next_maintenance.min(self.next_decay);
        if !self.pending_have.is_empty()
            || self.topics.values().any(|t| !t.pending_ihave.is_empty())
        {
            next = next.min(self.next_ihave);
        }
        if !self.topics.is_empty() {
            next = next.min(self.next_repair);
        }
        if !self.local_heads.is_empty() {
            next = next.min(self.next_heads);
        }
        // Both O(log n): deadline indexes, not scans (this runs after every input).
        if let Some(t) = self.missing.next_deadline() {
            next = next.min(t);
        }
        if let Some(t) = self.wants.next_deadline() {
            next = next.min(t);
        }
        let now = self.now;
        for peer in self.peers.values().filter(|p| p.writable) {
            if let Some(t) = peer.pace_ready_at(now) {
                next = next.min(t);
            }
        }
        Some(next)
    }

    fn advance(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }

    // ---- connections ----

    fn on_disconnected(&mut self, conn: ConnId, reason: DownReason) {
        let Some(peer) = self.peers.remove(&conn) else {
            return;
        };
        if let Some(node) = peer.node
            && self.by_node.get(&node) == Some(&conn)
        {
            self.by_node.remove(&node);
        }
        for topic in self.topics.values_mut() {
            topic.remove_peer(conn);
        }
        self.wants.peer_gone(conn);
        self.emit(Event::PeerDown {
            conn,
            node: peer.node,
            reason,
        });
        self.redispatch_wants();
    }

    /// Closes a connection from our side: says why, then asks the driver to close.
    pub(crate) fn close(&mut self, conn: ConnId, reason: DownReason, bye: &str) {
        let Some(peer) = self.peers.get_mut(&conn) else {
            return;
        };
        if peer.closing {
            return;
        }
        peer.closing = true;
        peer.writable = true; // the goodbye goes out even past backpressure
        let reason_text = truncate(bye, crate::mesh::frame::MAX_REASON_LEN);
        self.send(conn, &Frame::Bye(reason_text), false);
        self.outputs.push_back(Output::Close { conn });
        self.on_disconnected(conn, reason);
    }

    fn maintenance(&mut self) {
        let now = self.now;
        let idle = self.config.idle_timeout;
        let ping_after = self.config.ping_interval;
        self.banned.retain(|_, until| *until > now);
        let mut timeouts = Vec::new();
        let mut idles = Vec::new();
        let mut pings = Vec::new();
        for peer in self.peers.values() {
            match &peer.phase {
                crate::mesh::peer::Phase::Handshake { deadline, .. } if *deadline <= now => {
                    timeouts.push(peer.conn);
                }
                crate::mesh::peer::Phase::Up
                    if now.saturating_duration_since(peer.last_rx) >= idle =>
                {
                    idles.push(peer.conn);
                }
                crate::mesh::peer::Phase::Up
                    if now.saturating_duration_since(peer.last_rx) >= ping_after =>
                {
                    pings.push(peer.conn);
                }
                _ => {}
            }
        }
        for conn in timeouts {
            self.refuse(conn, crate::mesh::types::RefuseReason::Timeout);
        }
        for conn in idles {
            self.close(conn, DownReason::Idle, "idle timeout");
        }
        for conn in pings {
            self.send(conn, &Frame::Ping(now.as_micros()), false);
        }
        self.seen.expire(now);
        self.wants.expire_hints();
    }

    // ---- frames in ----

    fn on_frame(&mut self, conn: ConnId, bytes: &[u8]) {
        let now = self.now;
        self.stats.frames_in += 1;
        self.stats.bytes_in += bytes.len() as u64;
        let max_frame = self.config.limits.max_frame_size as usize;
        let global_ok = self.global_in.take(now, bytes.len() as u64);
        let Some(peer) = self.peers.get_mut(&conn) else {
            return;
        };
        if peer.closing {
            return;
        }
        peer.last_rx = now;
        if bytes.len() > max_frame {
            self.stats.dropped_in += 1;
            self.penalize(
                conn,
                Deed::Malformed,
                Misbehaviour::Oversized { size: bytes.len() },
            );
            return;
        }
        let frames_ok = peer.frames.take(now, 1);
        let bytes_ok = peer.bytes.take(now, bytes.len() as u64);
        if !(frames_ok && bytes_ok && global_ok) {
            self.stats.dropped_in += 1;
            self.penalize(conn, Deed::RateLimited, Misbehaviour::RateLimited);
            return;
        }
        if peer.score <= self.config.score.graylist {
            // Ignored unread; a graylisted peer that keeps talking sinks to the cut-off.
            self.stats.dropped_in += 1;
            self.penalize(
                conn,
                Deed::Violation,
                Misbehaviour::ProtocolViolation("frame while graylisted"),
            );
            return;
        }
        let frame = match Frame::decode(bytes, max_frame) {
            Ok(frame) => frame,
            Err(e) => {
                self.stats.dropped_in += 1;
                let up = peer.is_up();
                if up {
                    self.penalize(
                        conn,
                        Deed::Malformed,
                        Misbehaviour::Malformed(e.to_string()),
                    );
                } else {
                    self.refuse(
                        conn,
                        crate::mesh::types::RefuseReason::BadHandshake(e.to_string()),
                    );
                }
                return;
            }
        };
        if !peer.is_up() {
            self.on_handshake_frame(conn, frame, bytes);
            return;
        }
        self.on_peer_frame(conn, frame);
    }

    fn on_peer_frame(&mut self, conn: ConnId, frame: Frame) {
        match frame {
            Frame::Hello(_) | Frame::Auth(_) => self.penalize(
                conn,
                Deed::Violation,
                Misbehaviour::ProtocolViolation("handshake frame after handshake"),
            ),
            Frame::Have(cids) => self.on_have(conn, &cids),
            Frame::Want(entries) => self.on_want(conn, &entries),
            Frame::DontHave(cids) => self.on_dont_have(conn, &cids),
            Frame::Block(b) => self.on_block(conn, b.cid, b.data),
            Frame::Subscribe(topics) => self.on_peer_subscribe(conn, topics),
            Frame::Unsubscribe(topics) => self.on_peer_unsubscribe(conn, &topics),
            Frame::Gossip(g) => self.on_gossip(conn, g),
            Frame::IHave(ids) => self.on_ihave(conn, ids),
            Frame::Graft(ids) => self.on_graft(conn, ids),
            Frame::Prune(topic) => self.on_prune(conn, &topic),
            Frame::Heads(heads) => self.on_heads(conn, heads),
            Frame::HeadQuery(names) => self.on_head_query(conn, &names),
            Frame::Signal(s) => self.on_signal(conn, s),
            Frame::Ping(n) => self.send(conn, &Frame::Pong(n), false),
            Frame::Pong(_) => {}
            Frame::Bye(reason) => self.on_disconnected(conn, DownReason::Bye(reason)),
        }
    }

    fn on_writable(&mut self, conn: ConnId, writable: bool) {
        let Some(peer) = self.peers.get_mut(&conn) else {
            return;
        };
        peer.writable = writable;
        if writable {
            self.flush_outbox(conn);
        }
    }

    /// Sends queued frames while the transport takes them and the peer's pace allows,
    /// then loads more of what the peer wants if that left room.
    pub(crate) fn flush_outbox(&mut self, conn: ConnId) {
        let now = self.now;
        let Some(peer) = self.peers.get_mut(&conn) else {
            return;
        };
        while peer.writable {
            let Some(len) = peer.outbox.front().map(Bytes::len) else {
                break;
            };
            if !peer.take_pace(now, len) {
                break;
            }
            let Some(frame) = peer.outbox.pop_front() else {
                break;
            };
            peer.outbox_bytes = peer.outbox_bytes.saturating_sub(frame.len());
            self.outputs.push_back(Output::Send { conn, frame });
        }
        self.pump_serving(conn);
    }

    /// Flushes every outbox whose pace has come due.
    fn flush_paced(&mut self) {
        let now = self.now;
        let due: Vec<ConnId> = self
            .peers
            .values()
            .filter(|p| p.writable && p.pace_ready_at(now).is_some_and(|t| t <= now))
            .map(|p| p.conn)
            .collect();
        for conn in due {
            self.flush_outbox(conn);
        }
    }

    // ---- frames out ----

    /// Encodes and queues a frame. `lazy` frames (announcements that repair will repeat)
    /// are the first dropped under backpressure.
    pub(crate) fn send(&mut self, conn: ConnId, frame: &Frame, lazy: bool) {
        let Ok(bytes) = frame.encode() else {
            return;
        };
        self.send_bytes(conn, bytes, lazy);
    }

    /// Queues encoded frame bytes; `false` if they were dropped (outbox full, too large).
    pub(crate) fn send_bytes(&mut self, conn: ConnId, bytes: Bytes, lazy: bool) -> bool {
        let cap = self.config.outbox_max_bytes;
        let now = self.now;
        let Some(peer) = self.peers.get_mut(&conn) else {
            return false;
        };
        if bytes.len() > peer.limits.max_frame_size as usize {
            return false;
        }
        if peer.writable && peer.outbox.is_empty() && peer.take_pace(now, bytes.len()) {
            self.stats.frames_out += 1;
            self.stats.bytes_out += bytes.len() as u64;
            self.outputs.push_back(Output::Send { conn, frame: bytes });
            return true;
        }
        let limit = if lazy { cap / 2 } else { cap };
        if peer.outbox_bytes + bytes.len() > limit {
            peer.dropped += 1;
            self.stats.dropped_out += 1;
            let dropped = peer.dropped;
            // Report the first drop and then every thousandth, not every frame.
            if dropped == 1 || dropped.is_multiple_of(1_000) {
                self.emit(Event::OutboxFull { conn, dropped });
            }
            return false;
        }
        self.stats.frames_out += 1;
        self.stats.bytes_out += bytes.len() as u64;
        peer.outbox_bytes += bytes.len();
        peer.outbox.push_back(bytes);
        true
    }

    /// Sends a frame to every established peer (but `except`).
    pub(crate) fn broadcast(&mut self, frame: &Frame, except: Option<ConnId>, lazy: bool) {
        let Ok(bytes) = frame.encode() else {
            return;
        };
        let conns: Vec<ConnId> = self
            .peers
            .values()
            .filter(|p| p.is_up() && Some(p.conn) != except)
            .map(|p| p.conn)
            .collect();
        for conn in conns {
            self.send_bytes(conn, bytes.clone(), lazy);
        }
    }

    pub(crate) fn emit(&mut self, event: Event) {
        self.outputs.push_back(Output::Event(event));
    }

    /// Scores a deed; bad deeds are reported and may cut the peer off.
    pub(crate) fn penalize(&mut self, conn: ConnId, deed: Deed, reason: Misbehaviour) {
        let cfg = self.config.score;
        let now = self.now;
        let Some(peer) = self.peers.get_mut(&conn) else {
            return;
        };
        peer.score = peer
            .score
            .saturating_add(deed.points())
            .clamp(-10_000, cfg.max);
        if deed.points() >= 0 {
            return;
        }
        let (node, score) = (peer.node, peer.score);
        self.emit(Event::PeerMisbehaved {
            conn,
            node,
            reason,
            score,
        });
        if score <= cfg.disconnect {
            if let Some(node) = node {
                self.banned.insert(node, now + cfg.ban);
            }
            self.close(conn, DownReason::ScoreTooLow, "score too low");
        }
    }

    pub(crate) fn reward(&mut self, conn: ConnId) {
        let max = self.config.score.max;
        if let Some(peer) = self.peers.get_mut(&conn) {
            peer.score = peer.score.saturating_add(Deed::Useful.points()).min(max);
        }
    }

    pub(crate) fn node_of(&self, conn: ConnId) -> Option<NodeId> {
        self.peers.get(&conn).and_then(|p| p.node)
    }

    /// Established peers sorted by score, best first (ties by connection id).
    pub(crate) fn peers_by_score(&self) -> Vec<ConnId> {
        let mut v: Vec<(i32, ConnId)> = self
            .peers
            .values()
            .filter(|p| p.is_up())
            .map(|p| (p.score, p.conn))
            .collect();
        v.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        v.into_iter().map(|(_, c)| c).collect()
    }

    pub(crate) fn remember_signal(&mut self, key: (NodeId, u64)) -> bool {
        if !self.signal_seen.insert(key) {
            return false;
        }
        self.signal_seen_order.push_back(key);
        if self.signal_seen_order.len() > SIGNAL_SEEN_CAP
            && let Some(old) = self.signal_seen_order.pop_front()
        {
            self.signal_seen.remove(&old);
        }
        true
    }
}

/// The longest prefix of `text` that fits in `max` bytes without splitting a character.
fn truncate(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesh::frame::MAX_REASON_LEN;

    #[test]
    fn reasons_are_cut_by_bytes_on_a_character_boundary() {
        // Found by the mesh_bytes proptest: 256 two-byte characters made a 512-byte Bye.
        let long = "é".repeat(200);
        let cut = truncate(&long, MAX_REASON_LEN);
        assert_eq!(cut.len(), MAX_REASON_LEN);
        assert!(Frame::decode(&Frame::Bye(cut).encode().unwrap(), 4096).is_ok());
        assert_eq!(truncate("€uro", 2), "");
        assert_eq!(truncate("ok", 256), "ok");
    }
}
