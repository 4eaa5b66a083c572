//! Block exchange: HAVE / WANT / DONT_HAVE / BLOCK.
//!
//! A wanted block is asked of `want_fanout` peers at a time: first whoever announced it
//! (a gossip announcer, a `Have`), then the best-scored peers. `DontHave`, a timeout or a
//! forged answer moves on to the next peer; when every peer has been tried the round
//! starts over after `want_timeout`. The first valid copy wins and the other requests are
//! cancelled. At most `want_window` blocks are asked of one peer at once; the rest wait
//! in a queue and go out as answers free slots.
//!
//! Serving is the mirror image: a peer's wants are accepted into a queue (up to
//! `MAX_SERVING`; beyond, `DontHave`), and each becomes an
//! [`Output::LoadBlock`](crate::mesh::Output::LoadBlock) for the driver only while the
//! peer's outbox has room for the answer, so a served block is never dropped for lack of
//! space: a slow link slows the loads down instead. The driver's answer
//! ([`Input::BlockLoaded`](crate::mesh::Input::BlockLoaded)) becomes `Block` or `DontHave`.
//! Blocks fetched are announced to every peer in a batched `Have` on the next lazy-push
//! tick, so whoever wants them next can ask a closer copy.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::mesh::abuse::Deed;
use crate::mesh::frame::{BlockFrame, Frame, Topic, WantEntry};
use crate::mesh::machine::Mesh;
use crate::mesh::peer::{MAX_LOADING, MAX_SERVING};
use crate::mesh::types::{ConnId, Event, Misbehaviour, Output};
use crate::{Block, BlockError, Cid, Instant};

/// Most blocks wanted at once.
const MAX_WANTS: usize = 65_536;
/// Recently fetched CIDs: late answers to them are not "unsolicited".
const RECENT_FETCHED: usize = 4_096;
/// Bytes a `Block` frame adds to its block (tag, CID, lengths), rounded up.
const BLOCK_FRAME_OVERHEAD: usize = 128;

#[derive(Debug)]
struct Want {
    priority: u8,
    app: bool,
    /// Gossip messages announced without data: (topic, hops, announcer).
    gossip: Option<(Topic, u8)>,
    prefer: Vec<ConnId>,
    asked: BTreeMap<ConnId, Instant>,
    tried: BTreeSet<ConnId>,
    next_check: Instant,
    /// In `Wants::waiting` (a peer that could serve it had a full window).
    waiting: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Wants {
    map: BTreeMap<Cid, Want>,
    recent: BTreeSet<Cid>,
    recent_order: VecDeque<Cid>,
    /// Blocks asked of each peer and not answered.
    in_flight: BTreeMap<ConnId, usize>,
    /// Wants held back by full windows, oldest first.
    waiting: VecDeque<Cid>,
}

/// Wants looked at per freed window slot (the rest wait for the next slot or timeout).
const WAITING_SCAN: usize = 64;

impl Wants {
    pub(crate) fn is_fetching(&self, cid: &Cid) -> bool {
        self.map.get(cid).is_some_and(|w| w.gossip.is_some())
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.map.values().map(|w| w.next_check).min()
    }

    pub(crate) fn peer_gone(&mut self, conn: ConnId) {
        self.in_flight.remove(&conn);
        for want in self.map.values_mut() {
            want.asked.remove(&conn);
            want.tried.remove(&conn);
            want.prefer.retain(|c| *c != conn);
        }
    }

    pub(crate) fn expire_hints(&mut self) {}

    fn in_flight(&self, conn: ConnId) -> usize {
        self.in_flight.get(&conn).copied().unwrap_or(0)
    }

    fn asked_one(&mut self, conn: ConnId) {
        *self.in_flight.entry(conn).or_insert(0) += 1;
    }

    /// A request to `conn` ended (answered, refused, timed out or cancelled).
    fn answered(&mut self, conn: ConnId) {
        if let Some(n) = self.in_flight.get_mut(&conn) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.in_flight.remove(&conn);
            }
        }
    }

    fn fetched(&mut self, cid: Cid) {
        if self.recent.insert(cid) {
            self.recent_order.push_back(cid);
            if self.recent_order.len() > RECENT_FETCHED
                && let Some(old) = self.recent_order.pop_front()
            {
                self.recent.remove(&old);
            }
        }
    }
}

impl Mesh {
    /// Starts (or joins) fetching `cid`. `gossip` marks a message announced on a topic.
    pub(crate) fn want(&mut self, cid: Cid, priority: u8, gossip: Option<(Topic, u8, ConnId)>) {
        let now = self.now;
        if !self.wants.map.contains_key(&cid) && self.wants.map.len() >= MAX_WANTS {
            return;
        }
        let want = self.wants.map.entry(cid).or_insert(Want {
            priority,
            app: false,
            gossip: None,
            prefer: Vec::new(),
            asked: BTreeMap::new(),
            tried: BTreeSet::new(),
            next_check: now,
            waiting: false,
        });
        want.priority = want.priority.max(priority);
        match gossip {
            Some((topic, hops, conn)) => {
                want.gossip.get_or_insert((topic, hops));
                if !want.prefer.contains(&conn) {
                    want.prefer.push(conn);
                }
            }
            None => want.app = true,
        }
        self.dispatch_want(cid);
    }

    pub(crate) fn cancel_want(&mut self, cid: &Cid) {
        let Some(want) = self.wants.map.get_mut(cid) else {
            return;
        };
        want.app = false;
        if want.gossip.is_some() {
            return;
        }
        if let Some(want) = self.wants.map.remove(cid) {
            self.finish(cid, &want, None);
        }
    }

    /// Sends cancels for every request of a finished want except `except`'s, freeing
    /// their window slots (and `except`'s too).
    fn finish(&mut self, cid: &Cid, want: &Want, except: Option<ConnId>) {
        for conn in want.asked.keys() {
            self.wants.answered(*conn);
        }
        let others: Vec<ConnId> = want
            .asked
            .keys()
            .copied()
            .filter(|c| Some(*c) != except)
            .collect();
        self.send_cancels(cid, others.into_iter(), want.priority);
        self.fill_windows();
    }

    /// Dispatches waiting wants while some peer has a free slot.
    fn fill_windows(&mut self) {
        let window = self.config.want_window.max(1);
        for _ in 0..WAITING_SCAN.min(self.wants.waiting.len()) {
            let room = self
                .peers
                .values()
                .any(|p| p.is_up() && self.wants.in_flight(p.conn) < window);
            if !room {
                return;
            }
            let Some(cid) = self.wants.waiting.pop_front() else {
                return;
            };
            if let Some(want) = self.wants.map.get_mut(&cid) {
                want.waiting = false;
                self.dispatch_want(cid);
            }
        }
    }

    fn send_cancels(&mut self, cid: &Cid, conns: impl Iterator<Item = ConnId>, priority: u8) {
        let conns: Vec<ConnId> = conns.collect();
        for conn in conns {
            let entry = WantEntry {
                cid: *cid,
                priority,
                cancel: true,
            };
            self.send(conn, &Frame::Want(vec![entry]), false);
        }
    }

    /// Asks more peers for `cid` if fewer than `want_fanout` are being asked. Peers with a
    /// full window are skipped; if one of them could have served, the want waits for a slot.
    fn dispatch_want(&mut self, cid: Cid) {
        let by_score = self.peers_by_score();
        let fanout = self.config.want_fanout.max(1);
        let window = self.config.want_window.max(1);
        let deadline = self.now + self.config.want_timeout;
        let Some(want) = self.wants.map.get(&cid) else {
            return;
        };
        let wanted = fanout.saturating_sub(want.asked.len());
        let mut chosen = Vec::new();
        let mut blocked = false;
        for conn in want.prefer.iter().chain(by_score.iter()) {
            if chosen.len() >= wanted {
                break;
            }
            let usable = self.peers.get(conn).is_some_and(|p| p.is_up());
            if usable
                && !want.tried.contains(conn)
                && !want.asked.contains_key(conn)
                && !chosen.contains(conn)
            {
                if self.wants.in_flight(*conn) < window {
                    chosen.push(*conn);
                } else {
                    blocked = true;
                }
            }
        }
        for conn in &chosen {
            self.wants.asked_one(*conn);
        }
        let Some(want) = self.wants.map.get_mut(&cid) else {
            return;
        };
        for conn in &chosen {
            want.asked.insert(*conn, deadline);
        }
        want.next_check = want.asked.values().min().copied().unwrap_or(deadline);
        let priority = want.priority;
        if blocked && want.asked.len() < fanout && !want.waiting {
            want.waiting = true;
            self.wants.waiting.push_back(cid);
        }
        for conn in chosen {
            let entry = WantEntry {
                cid,
                priority,
                cancel: false,
            };
            self.send(conn, &Frame::Want(vec![entry]), false);
        }
    }

    /// New peers can serve wants nobody is serving.
    pub(crate) fn redispatch_wants(&mut self) {
        let idle: Vec<Cid> = self
            .wants
            .map
            .iter()
            .filter(|(_, w)| w.asked.len() < self.config.want_fanout)
            .map(|(c, _)| *c)
            .collect();
        for cid in idle {
            self.dispatch_want(cid);
        }
    }

    pub(crate) fn wants_due(&mut self) {
        let now = self.now;
        let due: Vec<Cid> = self
            .wants
            .map
            .iter()
            .filter(|(_, w)| w.next_check <= now)
            .map(|(c, _)| *c)
            .collect();
        for cid in due {
            let Some(want) = self.wants.map.get_mut(&cid) else {
                continue;
            };
            let late: Vec<ConnId> = want
                .asked
                .iter()
                .filter(|(_, t)| **t <= now)
                .map(|(c, _)| *c)
                .collect();
            for conn in &late {
                want.asked.remove(conn);
                want.tried.insert(*conn);
            }
            let up = self.peers.values().filter(|p| p.is_up()).count();
            if want.asked.is_empty() && want.tried.len() >= up {
                // Everyone tried: start a new round.
                want.tried.clear();
            }
            want.next_check = now + self.config.want_timeout;
            for conn in late {
                self.wants.answered(conn);
            }
            self.dispatch_want(cid);
        }
        self.fill_windows();
    }

    pub(crate) fn on_have(&mut self, conn: ConnId, cids: &[Cid]) {
        for cid in cids {
            if let Some(want) = self.wants.map.get_mut(cid) {
                if !want.prefer.contains(&conn) {
                    want.prefer.push(conn);
                }
                want.tried.remove(&conn);
                self.dispatch_want(*cid);
            }
        }
    }

    pub(crate) fn on_dont_have(&mut self, conn: ConnId, cids: &[Cid]) {
        for cid in cids {
            if let Some(want) = self.wants.map.get_mut(cid)
                && want.asked.remove(&conn).is_some()
            {
                want.tried.insert(conn);
                self.wants.answered(conn);
                self.dispatch_want(*cid);
            }
        }
        self.fill_windows();
    }

    pub(crate) fn on_want(&mut self, conn: ConnId, entries: &[WantEntry]) {
        let mut entries = entries.to_vec();
        entries.sort_by_key(|e| core::cmp::Reverse(e.priority));
        let mut refused = Vec::new();
        let Some(peer) = self.peers.get_mut(&conn) else {
            return;
        };
        for e in entries {
            if e.cancel {
                peer.serving.remove(&e.cid);
            } else if peer.serving.contains(&e.cid) {
            } else if peer.serving.len() < MAX_SERVING {
                peer.serving.insert(e.cid);
                peer.serve_queue.push_back(e.cid);
            } else {
                refused.push(e.cid);
            }
        }
        if peer.serving.is_empty() {
            peer.serve_queue.clear();
        }
        self.pump_serving(conn);
        if !refused.is_empty() {
            self.send(conn, &Frame::DontHave(refused), false);
        }
    }

    /// Hands the driver loads of queued wants while the answers fit in the outbox: each
    /// outstanding load counts as a block of the peer's largest size.
    pub(crate) fn pump_serving(&mut self, conn: ConnId) {
        let cap = self.config.outbox_max_bytes;
        let Some(peer) = self.peers.get_mut(&conn) else {
            return;
        };
        let answer = peer.limits.max_block_size as usize + BLOCK_FRAME_OVERHEAD;
        while peer.writable && peer.loading.len() < MAX_LOADING {
            let committed = peer.outbox_bytes + (peer.loading.len() + 1) * answer;
            // An empty outbox always takes one answer, whatever the cap.
            if committed > cap && !(peer.outbox.is_empty() && peer.loading.is_empty()) {
                break;
            }
            let Some(cid) = peer.serve_queue.pop_front() else {
                break;
            };
            // Cancelled, or queued twice (cancelled and wanted again) and already loading.
            if !peer.serving.contains(&cid) || !peer.loading.insert(cid) {
                continue;
            }
            self.outputs.push_back(Output::LoadBlock { conn, cid });
        }
    }

    pub(crate) fn on_loaded(&mut self, conn: ConnId, cid: Cid, block: Option<Block>) {
        let Some(peer) = self.peers.get_mut(&conn) else {
            return;
        };
        let was_loading = peer.loading.remove(&cid);
        if !was_loading || !peer.serving.remove(&cid) {
            self.pump_serving(conn);
            return; // not asked for, or cancelled meanwhile
        }
        let max = peer.limits.max_block_size as usize;
        match block {
            Some(block) if block.cid() == &cid && block.len() <= max => {
                let frame = Frame::Block(BlockFrame {
                    cid,
                    data: block.bytes().to_vec(),
                });
                if let Ok(bytes) = frame.encode()
                    && !self.send_bytes(conn, bytes, false)
                {
                    // No room after all: say so, so the peer asks elsewhere at once.
                    self.send(conn, &Frame::DontHave(vec![cid]), false);
                }
            }
            _ => self.send(conn, &Frame::DontHave(vec![cid]), false),
        }
        self.pump_serving(conn);
    }

    pub(crate) fn on_block(&mut self, conn: ConnId, cid: Cid, data: Vec<u8>) {
        let Some(want) = self.wants.map.get_mut(&cid) else {
            if !self.wants.recent.contains(&cid) && !self.seen.contains(&cid) {
                self.penalize(
                    conn,
                    Deed::Violation,
                    Misbehaviour::UnsolicitedBlock { cid },
                );
            }
            return;
        };
        let max = self.config.limits.max_block_size as usize;
        let block = match Block::from_untrusted_with_limit(&cid, data, max) {
            Ok(block) => block,
            Err(e) => {
                let was_asked = want.asked.remove(&conn).is_some();
                want.tried.insert(conn);
                if was_asked {
                    self.wants.answered(conn);
                    self.fill_windows();
                }
                match e {
                    BlockError::CidMismatch { .. } => {
                        self.penalize(conn, Deed::Forged, Misbehaviour::ForgedBlock { cid });
                    }
                    other => self.penalize(
                        conn,
                        Deed::Malformed,
                        Misbehaviour::Malformed(other.to_string()),
                    ),
                }
                self.dispatch_want(cid);
                return;
            }
        };
        let Some(want) = self.wants.map.remove(&cid) else {
            return;
        };
        self.wants.fetched(cid);
        if self.pending_have.len() < crate::mesh::frame::MAX_LIST {
            self.pending_have.push(cid);
        }
        self.stats.fetched += 1;
        self.finish(&cid, &want, Some(conn));
        let Some(from) = self.node_of(conn) else {
            return;
        };
        match want.gossip {
            // Deliver stores it, tells the application and forwards it.
            Some((topic, hops)) => {
                self.deliver(&topic, block.clone(), hops.saturating_add(1), conn);
            }
            None => {
                self.reward(conn);
                self.outputs.push_back(Output::StoreBlock(block.clone()));
            }
        }
        if want.app {
            self.emit(Event::Fetched { block, from });
        }
    }
}
