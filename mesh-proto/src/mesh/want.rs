//! Block exchange: HAVE / WANT / DONT_HAVE / BLOCK.
//!
//! A wanted block is asked of `want_fanout` peers at a time: first whoever announced it
//! (a gossip announcer, a `Have`), then the best-scored peers. `DontHave`, a timeout or a
//! forged answer moves on to the next peer; when every peer has been tried the round
//! starts over after `want_timeout`. The first valid copy wins and the other requests are
//! cancelled. Serving is the mirror image: each requested CID becomes an
//! [`Output::LoadBlock`](crate::mesh::Output::LoadBlock) for the driver, whose answer
//! ([`Input::BlockLoaded`](crate::mesh::Input::BlockLoaded)) becomes `Block` or `DontHave`.
//! Blocks fetched are announced to every peer in a batched `Have` on the next lazy-push
//! tick, so whoever wants them next can ask a closer copy.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::mesh::abuse::Deed;
use crate::mesh::frame::{BlockFrame, Frame, Topic, WantEntry};
use crate::mesh::machine::Mesh;
use crate::mesh::peer::MAX_SERVING;
use crate::mesh::types::{ConnId, Event, Misbehaviour, Output};
use crate::{Block, BlockError, Cid, Instant};

/// Most blocks wanted at once.
const MAX_WANTS: usize = 65_536;
/// Recently fetched CIDs: late answers to them are not "unsolicited".
const RECENT_FETCHED: usize = 4_096;

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
}

#[derive(Debug, Default)]
pub(crate) struct Wants {
    map: BTreeMap<Cid, Want>,
    recent: BTreeSet<Cid>,
    recent_order: VecDeque<Cid>,
}

impl Wants {
    pub(crate) fn is_fetching(&self, cid: &Cid) -> bool {
        self.map.get(cid).is_some_and(|w| w.gossip.is_some())
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.map.values().map(|w| w.next_check).min()
    }

    pub(crate) fn peer_gone(&mut self, conn: ConnId) {
        for want in self.map.values_mut() {
            want.asked.remove(&conn);
            want.tried.remove(&conn);
            want.prefer.retain(|c| *c != conn);
        }
    }

    pub(crate) fn expire_hints(&mut self) {}

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
            self.send_cancels(cid, want.asked.keys().copied(), want.priority);
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

    /// Asks more peers for `cid` if fewer than `want_fanout` are being asked.
    fn dispatch_want(&mut self, cid: Cid) {
        let by_score = self.peers_by_score();
        let fanout = self.config.want_fanout.max(1);
        let deadline = self.now + self.config.want_timeout;
        let Some(want) = self.wants.map.get_mut(&cid) else {
            return;
        };
        let wanted = fanout.saturating_sub(want.asked.len());
        let mut chosen = Vec::new();
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
                chosen.push(*conn);
            }
        }
        for conn in &chosen {
            want.asked.insert(*conn, deadline);
        }
        want.next_check = want.asked.values().min().copied().unwrap_or(deadline);
        let priority = want.priority;
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
            for conn in late {
                want.asked.remove(&conn);
                want.tried.insert(conn);
            }
            let up = self.peers.values().filter(|p| p.is_up()).count();
            if want.asked.is_empty() && want.tried.len() >= up {
                // Everyone tried: start a new round.
                want.tried.clear();
            }
            want.next_check = now + self.config.want_timeout;
            self.dispatch_want(cid);
        }
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
                self.dispatch_want(*cid);
            }
        }
    }

    pub(crate) fn on_want(&mut self, conn: ConnId, entries: &[WantEntry]) {
        let mut entries = entries.to_vec();
        entries.sort_by_key(|e| core::cmp::Reverse(e.priority));
        let mut refused = Vec::new();
        let Some(peer) = self.peers.get_mut(&conn) else {
            return;
        };
        let mut loads = Vec::new();
        for e in entries {
            if e.cancel {
                peer.serving.remove(&e.cid);
            } else if peer.serving.contains(&e.cid) {
            } else if peer.serving.len() < MAX_SERVING {
                peer.serving.insert(e.cid);
                loads.push(e.cid);
            } else {
                refused.push(e.cid);
            }
        }
        for cid in loads {
            self.outputs.push_back(Output::LoadBlock { conn, cid });
        }
        if !refused.is_empty() {
            self.send(conn, &Frame::DontHave(refused), false);
        }
    }

    pub(crate) fn on_loaded(&mut self, conn: ConnId, cid: Cid, block: Option<Block>) {
        let Some(peer) = self.peers.get_mut(&conn) else {
            return;
        };
        if !peer.serving.remove(&cid) {
            return; // cancelled meanwhile
        }
        let max = peer.limits.max_block_size as usize;
        match block {
            Some(block) if block.cid() == &cid && block.len() <= max => {
                let frame = Frame::Block(BlockFrame {
                    cid,
                    data: block.bytes().to_vec(),
                });
                self.send(conn, &frame, false);
            }
            _ => self.send(conn, &Frame::DontHave(vec![cid]), false),
        }
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
                want.asked.remove(&conn);
                want.tried.insert(conn);
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
        let others = want
            .asked
            .keys()
            .copied()
            .filter(|c| *c != conn)
            .collect::<Vec<_>>();
        self.send_cancels(&cid, others.into_iter(), want.priority);
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
