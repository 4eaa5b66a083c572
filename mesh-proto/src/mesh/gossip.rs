//! Topic dissemination: Plumtree (epidemic broadcast trees) over the connected peers.
//!
//! Each topic keeps, per neighbour, an *eager* or *lazy* role. A new message is pushed in
//! full to eager neighbours and announced by id (`IHave`, batched) to lazy ones. A node
//! that receives a message twice prunes the second sender to lazy, so the eager links
//! converge to a spanning tree and each node gets about one full copy per message. When
//! an announced id does not arrive by push within `graft_timeout`, the node grafts the
//! announcer (asks for the message and makes the link eager again): the tree repairs
//! itself under loss and churn. A periodic anti-entropy round re-announces recent ids to
//! every topic neighbour, which is what heals partitions.
//!
//! Why Plumtree rather than gossipsub's mesh of degree D: gossipsub delivers D copies
//! per node (6 by default) to buy latency; Plumtree delivers close to one copy with the
//! same hop count once the tree has formed, and the lazy links give the same resilience.
//! On a browser mesh, where every byte crosses a DataChannel and most nodes are phones or
//! tabs, copies matter more than one round trip.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use bytes::Bytes;

use crate::mesh::abuse::Deed;
use crate::mesh::frame::{Frame, GossipFrame, MAX_LIST, Topic, TopicIds};
use crate::mesh::machine::Mesh;
use crate::mesh::types::{ConnId, Event, Misbehaviour, Output};
use crate::{Block, BlockError, Cid, Duration, Instant};

/// Ids per topic kept for anti-entropy.
const RECENT_CAP: usize = 4_096;
/// Announced-but-missing ids tracked at once.
const MISSING_CAP: usize = 65_536;
/// Announcers remembered per missing id.
const ANNOUNCERS_CAP: usize = 8;
/// Bytes of inline message data cached for answering grafts.
const SEEN_DATA_CAP: usize = 16 * 1024 * 1024;
/// Grace after a prune before further eager pushes count as a duplicate flood.
const PRUNE_GRACE: Duration = Duration::from_secs(2);
/// Most topics remembered per peer.
const PEER_TOPICS_CAP: usize = 256;

#[derive(Debug, Default)]
pub(crate) struct TopicState {
    pub(crate) eager: BTreeSet<ConnId>,
    pub(crate) lazy: BTreeSet<ConnId>,
    pub(crate) pending_ihave: Vec<Cid>,
    recent: VecDeque<Cid>,
    cursor: usize,
}

impl TopicState {
    pub(crate) fn remove_peer(&mut self, conn: ConnId) {
        self.eager.remove(&conn);
        self.lazy.remove(&conn);
    }

    fn make_eager(&mut self, conn: ConnId) {
        self.lazy.remove(&conn);
        self.eager.insert(conn);
    }

    fn make_lazy(&mut self, conn: ConnId) {
        if self.eager.remove(&conn) {
            self.lazy.insert(conn);
        }
    }

    fn remember(&mut self, cid: Cid) {
        self.recent.push_back(cid);
        if self.recent.len() > RECENT_CAP {
            self.recent.pop_front();
            self.cursor = self.cursor.saturating_sub(1);
        }
    }

    /// The next slice of recent ids for anti-entropy, cycling.
    fn next_repair_batch(&mut self, n: usize) -> Vec<Cid> {
        if self.cursor >= self.recent.len() {
            self.cursor = 0;
        }
        let batch: Vec<Cid> = self
            .recent
            .iter()
            .skip(self.cursor)
            .take(n)
            .copied()
            .collect();
        self.cursor += batch.len();
        batch
    }
}

#[derive(Debug)]
struct SeenEntry {
    topic: Topic,
    hops: u8,
    data: Option<Bytes>,
}

/// Message ids seen recently: duplicate suppression, graft answers, repair.
#[derive(Debug)]
pub(crate) struct Seen {
    ttl: Duration,
    cap: usize,
    entries: BTreeMap<Cid, SeenEntry>,
    order: VecDeque<(Instant, Cid)>,
    data_bytes: usize,
}

impl Seen {
    pub(crate) fn new(ttl: Duration, cap: usize) -> Self {
        Seen {
            ttl,
            cap: cap.max(1),
            entries: BTreeMap::new(),
            order: VecDeque::new(),
            data_bytes: 0,
        }
    }

    pub(crate) fn contains(&self, cid: &Cid) -> bool {
        self.entries.contains_key(cid)
    }

    fn insert(&mut self, now: Instant, cid: Cid, topic: Topic, hops: u8, data: Option<Bytes>) {
        let data = data.filter(|d| self.data_bytes + d.len() <= SEEN_DATA_CAP);
        self.data_bytes += data.as_ref().map_or(0, Bytes::len);
        self.entries.insert(cid, SeenEntry { topic, hops, data });
        self.order.push_back((now, cid));
        while self.order.len() > self.cap {
            self.pop_oldest();
        }
    }

    fn pop_oldest(&mut self) {
        if let Some((_, cid)) = self.order.pop_front()
            && let Some(e) = self.entries.remove(&cid)
        {
            self.data_bytes -= e.data.as_ref().map_or(0, Bytes::len);
        }
    }

    pub(crate) fn expire(&mut self, now: Instant) {
        while let Some((at, _)) = self.order.front() {
            if now.saturating_duration_since(*at) < self.ttl {
                break;
            }
            self.pop_oldest();
        }
    }
}

impl Mesh {
    pub(crate) fn subscribe(&mut self, topic: Topic) {
        if self.topics.contains_key(&topic) {
            return;
        }
        let mut state = TopicState::default();
        for peer in self
            .peers
            .values()
            .filter(|p| p.is_up() && p.topics.contains(&topic))
        {
            state.eager.insert(peer.conn);
        }
        self.topics.insert(topic.clone(), state);
        self.broadcast(&Frame::Subscribe(vec![topic]), None, false);
    }

    pub(crate) fn unsubscribe(&mut self, topic: &Topic) {
        if self.topics.remove(topic).is_some() {
            self.broadcast(&Frame::Unsubscribe(vec![topic.clone()]), None, false);
        }
        self.missing.retain(|(t, _), _| t != topic);
    }

    pub(crate) fn on_peer_subscribe(&mut self, conn: ConnId, topics: Vec<Topic>) {
        let batch = self.config.repair_batch;
        for topic in topics {
            let Some(peer) = self.peers.get_mut(&conn) else {
                return;
            };
            if peer.topics.len() >= PEER_TOPICS_CAP && !peer.topics.contains(&topic) {
                continue;
            }
            peer.topics.insert(topic.clone());
            if let Some(state) = self.topics.get_mut(&topic) {
                state.make_eager(conn);
                // Catch the newcomer up: what we saw lately, by id.
                let ids: Vec<Cid> = state.recent.iter().rev().take(batch).copied().collect();
                if !ids.is_empty() {
                    self.send(conn, &Frame::IHave(TopicIds { topic, cids: ids }), true);
                }
            }
        }
    }

    pub(crate) fn on_peer_unsubscribe(&mut self, conn: ConnId, topics: &[Topic]) {
        for topic in topics {
            if let Some(peer) = self.peers.get_mut(&conn) {
                peer.topics.remove(topic);
            }
            if let Some(state) = self.topics.get_mut(topic) {
                state.remove_peer(conn);
            }
        }
    }

    pub(crate) fn publish(&mut self, topic: Topic, block: Block) {
        if self.seen.contains(block.cid()) {
            return;
        }
        self.outputs.push_back(Output::StoreBlock(block.clone()));
        // Plumtree: push to eager peers, announce to lazy ones. Pushing to lazy peers as
        // well re-eagers those links on the receiving side only and makes receivers prune
        // their tree parent, so the eager graph stops being a symmetric tree.
        let targets: Vec<ConnId> = match self.topics.get_mut(&topic) {
            Some(state) => {
                if state.eager.is_empty() {
                    // Cut off from the tree: rejoin through every topic peer.
                    let lazy = std::mem::take(&mut state.lazy);
                    state.eager.extend(lazy);
                }
                if !state.lazy.is_empty() {
                    state.pending_ihave.push(*block.cid());
                }
                state.eager.iter().copied().collect()
            }
            // Not subscribed: push to neighbours that are.
            None => self
                .peers
                .values()
                .filter(|p| p.is_up() && p.topics.contains(&topic))
                .map(|p| p.conn)
                .collect(),
        };
        self.remember_message(&topic, &block, 0);
        let frame = self.gossip_frame(&topic, &block, 0);
        if let Ok(bytes) = frame.encode() {
            for conn in targets {
                self.send_bytes(conn, bytes.clone(), false);
            }
        }
    }

    fn gossip_frame(&self, topic: &Topic, block: &Block, hops: u8) -> Frame {
        let inline = block.len() <= self.config.inline_max;
        Frame::Gossip(GossipFrame {
            topic: topic.clone(),
            cid: *block.cid(),
            hops,
            data: inline.then(|| block.bytes().to_vec()),
        })
    }

    fn remember_message(&mut self, topic: &Topic, block: &Block, hops: u8) {
        let data = (block.len() <= self.config.inline_max).then(|| block.bytes().clone());
        self.seen
            .insert(self.now, *block.cid(), topic.clone(), hops, data);
        if let Some(state) = self.topics.get_mut(topic) {
            state.remember(*block.cid());
        }
        self.missing.remove(&(topic.clone(), *block.cid()));
    }

    pub(crate) fn on_gossip(&mut self, conn: ConnId, g: GossipFrame) {
        if !self.topics.contains_key(&g.topic) {
            return;
        }
        if g.data.is_some() {
            self.stats.gossip_copies += 1;
        }
        if self.seen.contains(&g.cid) || self.wants.is_fetching(&g.cid) {
            self.stats.duplicates += 1;
            self.on_duplicate(conn, &g.topic);
            return;
        }
        match g.data {
            Some(data) => {
                let max = self.config.limits.max_block_size as usize;
                match Block::from_untrusted_with_limit(&g.cid, data, max) {
                    Ok(block) => self.deliver(&g.topic, block, g.hops.saturating_add(1), conn),
                    Err(BlockError::CidMismatch { .. }) => {
                        self.penalize(conn, Deed::Forged, Misbehaviour::ForgedBlock { cid: g.cid });
                    }
                    Err(e) => self.penalize(
                        conn,
                        Deed::Malformed,
                        Misbehaviour::Malformed(e.to_string()),
                    ),
                }
            }
            // A large message: fetch it from the announcer, then deliver and forward.
            None => self.want(g.cid, 255, Some((g.topic, g.hops, conn))),
        }
    }

    fn on_duplicate(&mut self, conn: ConnId, topic: &Topic) {
        let now = self.now;
        if let Some(state) = self.topics.get_mut(topic) {
            state.make_lazy(conn);
        }
        let Some(peer) = self.peers.get_mut(&conn) else {
            return;
        };
        match peer.pruned.get(topic) {
            None => {
                peer.pruned.insert(topic.clone(), now);
                self.send(conn, &Frame::Prune(topic.clone()), false);
            }
            Some(at) if now.saturating_duration_since(*at) > PRUNE_GRACE => {
                // Still pushing long after our Prune: it was lost or ignored. Say it again
                // (a lost Prune would leave the link eager on one side for good) and count
                // it against the peer.
                peer.pruned.insert(topic.clone(), now);
                self.send(conn, &Frame::Prune(topic.clone()), false);
                self.penalize(conn, Deed::Duplicate, Misbehaviour::DuplicateFlood);
            }
            Some(_) => {}
        }
    }

    /// A message is new and verified: keep it, tell the application, pass it on.
    pub(crate) fn deliver(&mut self, topic: &Topic, block: Block, hops: u8, from: ConnId) {
        let Some(from_node) = self.node_of(from) else {
            return;
        };
        self.stats.delivered += 1;
        self.reward(from);
        self.remember_message(topic, &block, hops);
        self.outputs.push_back(Output::StoreBlock(block.clone()));
        let (eager, lazy): (Vec<ConnId>, Vec<ConnId>) = match self.topics.get_mut(topic) {
            Some(state) => {
                state.make_eager(from);
                if let Some(peer) = self.peers.get_mut(&from) {
                    peer.pruned.remove(topic);
                }
                (
                    state
                        .eager
                        .iter()
                        .filter(|c| **c != from)
                        .copied()
                        .collect(),
                    state.lazy.iter().filter(|c| **c != from).copied().collect(),
                )
            }
            None => (Vec::new(), Vec::new()),
        };
        if hops < self.config.max_hops {
            let frame = self.gossip_frame(topic, &block, hops);
            if let Ok(bytes) = frame.encode() {
                for conn in eager {
                    self.send_bytes(conn, bytes.clone(), false);
                }
            }
            if !lazy.is_empty()
                && let Some(state) = self.topics.get_mut(topic)
            {
                state.pending_ihave.push(*block.cid());
            }
        }
        self.emit(Event::Delivered {
            topic: topic.clone(),
            block,
            hops,
            from: from_node,
        });
    }

    pub(crate) fn on_ihave(&mut self, conn: ConnId, ids: TopicIds) {
        if !self.topics.contains_key(&ids.topic) {
            return;
        }
        let deadline = self.now + self.config.graft_timeout;
        for cid in ids.cids {
            if self.seen.contains(&cid) || self.wants.is_fetching(&cid) {
                continue;
            }
            let key = (ids.topic.clone(), cid);
            if !self.missing.contains_key(&key) && self.missing.len() >= MISSING_CAP {
                continue;
            }
            let announcers = self.missing.get_or_insert_with(key, deadline, Vec::new);
            if !announcers.contains(&conn) && announcers.len() < ANNOUNCERS_CAP {
                announcers.push(conn);
            }
        }
    }

    /// Grafts announcers of ids that did not arrive by push in time.
    pub(crate) fn graft_due(&mut self) {
        let now = self.now;
        let due = self.missing.due(now);
        let mut grafts: BTreeMap<(ConnId, Topic), Vec<Cid>> = BTreeMap::new();
        for key in due {
            let Some(announcers) = self.missing.get_mut(&key) else {
                continue;
            };
            announcers.retain(|c| self.peers.get(c).is_some_and(|p| p.is_up()));
            if announcers.is_empty() {
                self.missing.remove(&key);
                continue;
            }
            let conn = announcers.remove(0);
            self.missing
                .set_deadline(&key, now + self.config.graft_timeout * 2);
            let list = grafts.entry((conn, key.0.clone())).or_default();
            if list.len() < MAX_LIST {
                list.push(key.1);
            }
        }
        for ((conn, topic), cids) in grafts {
            if let Some(state) = self.topics.get_mut(&topic) {
                state.make_eager(conn);
            }
            if let Some(peer) = self.peers.get_mut(&conn) {
                peer.pruned.remove(&topic);
            }
            self.send(conn, &Frame::Graft(TopicIds { topic, cids }), false);
        }
    }

    pub(crate) fn on_graft(&mut self, conn: ConnId, ids: TopicIds) {
        let Some(state) = self.topics.get_mut(&ids.topic) else {
            return;
        };
        state.make_eager(conn);
        // The link is eager again both ways: an earlier Prune of ours no longer applies.
        if let Some(peer) = self.peers.get_mut(&conn) {
            peer.pruned.remove(&ids.topic);
        }
        for cid in ids.cids {
            let Some(entry) = self.seen.entries.get(&cid) else {
                continue;
            };
            if entry.topic != ids.topic {
                continue;
            }
            let frame = Frame::Gossip(GossipFrame {
                topic: ids.topic.clone(),
                cid,
                hops: entry.hops,
                data: entry.data.as_ref().map(|d| d.to_vec()),
            });
            self.send(conn, &frame, false);
        }
    }

    pub(crate) fn on_prune(&mut self, conn: ConnId, topic: &Topic) {
        if let Some(state) = self.topics.get_mut(topic) {
            state.make_lazy(conn);
        }
    }

    pub(crate) fn flush_ihaves(&mut self) {
        let mut sends = Vec::new();
        for (topic, state) in &mut self.topics {
            if state.pending_ihave.is_empty() {
                continue;
            }
            let ids = std::mem::take(&mut state.pending_ihave);
            for conn in &state.lazy {
                for chunk in ids.chunks(MAX_LIST) {
                    sends.push((
                        *conn,
                        Frame::IHave(TopicIds {
                            topic: topic.clone(),
                            cids: chunk.to_vec(),
                        }),
                    ));
                }
            }
        }
        for (conn, frame) in sends {
            self.send(conn, &frame, true);
        }
    }

    /// Anti-entropy: announce the next slice of recent ids to every topic neighbour.
    pub(crate) fn repair(&mut self) {
        let batch = self.config.repair_batch;
        let mut sends = Vec::new();
        for (topic, state) in &mut self.topics {
            let ids: Vec<Cid> = state
                .next_repair_batch(batch)
                .into_iter()
                .filter(|c| self.seen.contains(c))
                .collect();
            if ids.is_empty() {
                continue;
            }
            for conn in state.eager.iter().chain(state.lazy.iter()) {
                sends.push((
                    *conn,
                    Frame::IHave(TopicIds {
                        topic: topic.clone(),
                        cids: ids.clone(),
                    }),
                ));
            }
        }
        for (conn, frame) in sends {
            self.send(conn, &frame, true);
        }
    }
}
