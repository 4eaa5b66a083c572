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
//!
//! Wants are kept in a [`DeadlineMap`], indexed by when each is next checked: a feed
//! rehydration has thousands outstanding, and `poll_timeout` (after every input) and the
//! timeout sweep must not scan them all.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::mesh::abuse::Deed;
use crate::mesh::frame::{BlockFrame, Frame, Topic, WantEntry};
use crate::mesh::machine::Mesh;
use crate::mesh::peer::{MAX_LOADING, MAX_SERVING};
use crate::mesh::types::{ConnId, Event, Misbehaviour, Output};
use crate::{Block, BlockError, Cid, Instant};

pub(crate) use deadlines::DeadlineMap;

/// Most blocks wanted at once.
const MAX_WANTS: usize = 65_536;
/// Recently fetched CIDs: late answers to them are not "unsolicited".
const RECENT_FETCHED: usize = 4_096;
/// Bytes a `Block` frame adds to its block (tag, CID, lengths), rounded up.
const BLOCK_FRAME_OVERHEAD: usize = 128;

mod deadlines {
    use std::collections::btree_map::Entry;
    use std::collections::{BTreeMap, BTreeSet};

    use crate::Instant;

    /// A map whose every entry carries a deadline, indexed by that deadline, so the
    /// earliest one is O(log n) and a sweep visits only the entries that are due.
    ///
    /// The deadline lives beside the value, not in it, and only these methods change it:
    /// nothing can move a deadline without moving its index entry too. (Wants and
    /// announced-but-missing gossip ids use it; `poll_timeout` runs after every input.)
    #[derive(Debug)]
    pub(crate) struct DeadlineMap<K, V> {
        entries: BTreeMap<K, (Instant, V)>,
        /// Exactly `{(deadline, key)}` of `entries`.
        index: BTreeSet<(Instant, K)>,
    }

    impl<K, V> Default for DeadlineMap<K, V> {
        fn default() -> Self {
            DeadlineMap {
                entries: BTreeMap::new(),
                index: BTreeSet::new(),
            }
        }
    }

    impl<K: Ord + Clone, V> DeadlineMap<K, V> {
        pub(crate) fn len(&self) -> usize {
            self.entries.len()
        }

        pub(crate) fn contains_key(&self, key: &K) -> bool {
            self.entries.contains_key(key)
        }

        pub(crate) fn get(&self, key: &K) -> Option<&V> {
            self.entries.get(key).map(|(_, v)| v)
        }

        /// The value only: its deadline changes through [`DeadlineMap::set_deadline`].
        pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
            self.entries.get_mut(key).map(|(_, v)| v)
        }

        /// Entries in key order.
        pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
            self.entries.iter().map(|(k, (_, v))| (k, v))
        }

        pub(crate) fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
            self.entries.values_mut().map(|(_, v)| v)
        }

        /// The entry for `key`; if absent, inserted as `make()` due at `at` (a present
        /// entry keeps its deadline).
        pub(crate) fn get_or_insert_with(
            &mut self,
            key: K,
            at: Instant,
            make: impl FnOnce() -> V,
        ) -> &mut V {
            match self.entries.entry(key) {
                Entry::Occupied(e) => &mut e.into_mut().1,
                Entry::Vacant(e) => {
                    self.index.insert((at, e.key().clone()));
                    &mut e.insert((at, make())).1
                }
            }
        }

        pub(crate) fn remove(&mut self, key: &K) -> Option<V> {
            let (at, value) = self.entries.remove(key)?;
            self.index.remove(&(at, key.clone()));
            Some(value)
        }

        pub(crate) fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
            let index = &mut self.index;
            self.entries.retain(|k, (at, v)| {
                let kept = keep(k, v);
                if !kept {
                    index.remove(&(*at, k.clone()));
                }
                kept
            });
        }

        /// Moves `key`'s deadline to `at` (nothing if `key` is absent).
        pub(crate) fn set_deadline(&mut self, key: &K, at: Instant) {
            if let Some((old, _)) = self.entries.get_mut(key)
                && *old != at
            {
                self.index.remove(&(*old, key.clone()));
                self.index.insert((at, key.clone()));
                *old = at;
            }
        }

        /// The earliest deadline.
        pub(crate) fn next_deadline(&self) -> Option<Instant> {
            self.index.first().map(|(at, _)| *at)
        }

        /// Keys due at `now` (deadline `<= now`), in key order: the order a sweep over
        /// the whole map would visit them, so outputs do not depend on the index.
        pub(crate) fn due(&self, now: Instant) -> Vec<K> {
            let mut due: Vec<K> = self
                .index
                .iter()
                .take_while(|(at, _)| *at <= now)
                .map(|(_, k)| k.clone())
                .collect();
            due.sort_unstable();
            due
        }

        #[cfg(test)]
        pub(crate) fn deadline(&self, key: &K) -> Option<Instant> {
            self.entries.get(key).map(|(at, _)| *at)
        }

        /// The index holds exactly the entries' deadlines, and the earliest deadline and
        /// the due keys are what scanning every entry gives.
        #[cfg(test)]
        pub(crate) fn check_index(&self, now: Instant) -> Result<(), String>
        where
            K: core::fmt::Debug,
        {
            let expected: BTreeSet<(Instant, K)> = self
                .entries
                .iter()
                .map(|(k, (at, _))| (*at, k.clone()))
                .collect();
            if expected != self.index {
                return Err(format!("index {:?} != entries {:?}", self.index, expected));
            }
            let scan_min = self.entries.values().map(|(at, _)| *at).min();
            if scan_min != self.next_deadline() {
                return Err(format!(
                    "next_deadline {:?} != scanned min {scan_min:?}",
                    self.next_deadline()
                ));
            }
            let scan_due: Vec<K> = self
                .entries
                .iter()
                .filter(|(_, (at, _))| *at <= now)
                .map(|(k, _)| k.clone())
                .collect();
            if scan_due != self.due(now) {
                return Err(format!("due {:?} != scanned {scan_due:?}", self.due(now)));
            }
            Ok(())
        }
    }
}

#[derive(Debug)]
struct Want {
    priority: u8,
    app: bool,
    /// Gossip messages announced without data: (topic, hops, announcer).
    gossip: Option<(Topic, u8)>,
    prefer: Vec<ConnId>,
    asked: BTreeMap<ConnId, Instant>,
    tried: BTreeSet<ConnId>,
    /// In `Wants::waiting` (a peer that could serve it had a full window).
    waiting: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Wants {
    /// Wanted blocks, each due for a check (a request timing out) at its deadline.
    map: DeadlineMap<Cid, Want>,
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

    /// The earliest want check, O(log n).
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.map.next_deadline()
    }

    #[cfg(test)]
    pub(crate) fn check_index(&self, now: Instant) -> Result<(), String> {
        self.map.check_index(now)
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
        let want = self.wants.map.get_or_insert_with(cid, now, || Want {
            priority,
            app: false,
            gossip: None,
            prefer: Vec::new(),
            asked: BTreeMap::new(),
            tried: BTreeSet::new(),
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
        let next_check = want.asked.values().min().copied().unwrap_or(deadline);
        let priority = want.priority;
        let wait = blocked && want.asked.len() < fanout && !want.waiting;
        if wait {
            want.waiting = true;
        }
        self.wants.map.set_deadline(&cid, next_check);
        if wait {
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

    /// Checks the wants whose deadline has come (only those: the deadline index finds them).
    pub(crate) fn wants_due(&mut self) {
        let now = self.now;
        let due = self.wants.map.due(now);
        let up = self.peers.values().filter(|p| p.is_up()).count();
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
            if want.asked.is_empty() && want.tried.len() >= up {
                // Everyone tried: start a new round.
                want.tried.clear();
            }
            self.wants
                .map
                .set_deadline(&cid, now + self.config.want_timeout);
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

#[cfg(test)]
mod tests {
    //! The deadline indexes (wants, announced-but-missing ids) against what scanning every
    //! entry gives — the earliest deadline and the due keys in key order, which is what
    //! the machine computed before the index — after every step of random runs.

    use std::collections::{BTreeMap, VecDeque};

    use proptest::prelude::*;

    use super::DeadlineMap;
    use crate::mesh::{Config, ConnId, Frame, Input, Mesh, NodeKey, Output, Topic, TopicIds};
    use crate::{Block, Cid, Duration, Instant};

    #[test]
    fn deadline_map_keeps_its_index() {
        let t = Instant::from_millis;
        let mut m: DeadlineMap<u8, &str> = DeadlineMap::default();
        m.get_or_insert_with(3, t(30), || "c");
        m.get_or_insert_with(1, t(30), || "a");
        m.get_or_insert_with(2, t(10), || "b");
        // Present: keeps value and deadline.
        assert_eq!(*m.get_or_insert_with(2, t(99), || "x"), "b");
        assert_eq!(m.deadline(&2), Some(t(10)));
        assert_eq!(m.next_deadline(), Some(t(10)));
        assert_eq!(m.due(t(9)), Vec::<u8>::new());
        // Due keys come in key order, not deadline order.
        assert_eq!(m.due(t(30)), vec![1, 2, 3]);
        m.set_deadline(&2, t(50));
        m.set_deadline(&9, t(1)); // absent: nothing
        assert_eq!(m.next_deadline(), Some(t(30)));
        m.check_index(t(30)).unwrap();
        assert_eq!(m.remove(&1), Some("a"));
        m.retain(|k, _| *k != 3);
        assert_eq!(m.iter().map(|(k, _)| *k).collect::<Vec<_>>(), vec![2]);
        assert_eq!(m.next_deadline(), Some(t(50)));
        m.check_index(t(60)).unwrap();
        m.remove(&2);
        assert_eq!(m.next_deadline(), None);
        m.check_index(t(60)).unwrap();
    }

    /// Fetcher 0 and servers 1 and 2; block `i` is on node 1 if `i % 2 == 0`, on node 2
    /// if `i % 3 == 0`, nowhere if neither.
    const BLOCKS: usize = 12;

    #[derive(Clone, Debug)]
    enum Op {
        Want(usize, u8),
        Cancel(usize),
        /// Delivers the next `n` frames on the wire.
        Deliver(usize),
        /// Loses the next `n` frames.
        Lose(usize),
        /// Time moves on; every node handles its timeout.
        Tick(u64),
        /// Time jumps to the earliest `poll_timeout`, which is handled.
        FireNext,
        /// A server announces block `i` on the topic (it may not even have it).
        IHave(usize, usize),
        /// A server publishes block `i` on the topic (inline only if small).
        Publish(usize, usize),
        /// The link to server `s` closes, or opens again if closed.
        Toggle(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0..BLOCKS, any::<u8>()).prop_map(|(i, p)| Op::Want(i, p)),
            1 => (0..BLOCKS).prop_map(Op::Cancel),
            6 => (1..8usize).prop_map(Op::Deliver),
            1 => (1..4usize).prop_map(Op::Lose),
            2 => (0..3_000u64).prop_map(Op::Tick),
            3 => Just(Op::FireNext),
            1 => (1..3usize, 0..BLOCKS).prop_map(|(s, i)| Op::IHave(s, i)),
            1 => (1..3usize, 0..BLOCKS).prop_map(|(s, i)| Op::Publish(s, i)),
            1 => (1..3usize).prop_map(Op::Toggle),
        ]
    }

    struct Net {
        nodes: Vec<Mesh>,
        stores: Vec<BTreeMap<Cid, Block>>,
        /// (node, conn) → (peer node, peer conn).
        links: BTreeMap<(usize, ConnId), (usize, ConnId)>,
        wire: VecDeque<(usize, ConnId, Vec<u8>)>,
        blocks: Vec<Block>,
        topic: Topic,
        now: Instant,
        next_conn: u64,
    }

    impl Net {
        fn new() -> Net {
            let now = Instant::ZERO;
            let nodes = (1..=3u8)
                .map(|i| {
                    let mut c = Config::new(NodeKey::from_secret([i; 32]), [i; 32]);
                    c.want_window = 2;
                    c.want_timeout = Duration::from_millis(300);
                    c.graft_timeout = Duration::from_millis(100);
                    c.inline_max = 40;
                    Mesh::new(c, now)
                })
                .collect();
            let blocks: Vec<Block> = (0..BLOCKS)
                .map(|i| Block::raw(vec![u8::try_from(i).unwrap_or(0); 8 + 8 * i]).unwrap())
                .collect();
            let mut stores = vec![BTreeMap::new(); 3];
            for (i, b) in blocks.iter().enumerate() {
                for (s, holds) in [(1, i % 2 == 0), (2, i % 3 == 0)] {
                    if holds {
                        stores[s].insert(*b.cid(), b.clone());
                    }
                }
            }
            let mut net = Net {
                nodes,
                stores,
                links: BTreeMap::new(),
                wire: VecDeque::new(),
                blocks,
                topic: Topic::new("t").unwrap(),
                now,
                next_conn: 1,
            };
            for n in 0..3 {
                net.input(n, Input::Subscribe(net.topic.clone()));
            }
            net.toggle(1);
            net.toggle(2);
            while !net.wire.is_empty() {
                net.deliver(64);
            }
            net
        }

        fn conn_to(&self, s: usize) -> Option<ConnId> {
            self.links
                .iter()
                .find(|((n, _), (peer, _))| *n == 0 && *peer == s)
                .map(|((_, c), _)| *c)
        }

        fn toggle(&mut self, s: usize) {
            match self.conn_to(s) {
                Some(conn) => self.input(0, Input::Disconnected { conn }),
                None => {
                    let (c0, cs) = (ConnId(self.next_conn), ConnId(self.next_conn + 1));
                    self.next_conn += 2;
                    self.links.insert((0, c0), (s, cs));
                    self.links.insert((s, cs), (0, c0));
                    let expected = None;
                    self.input(0, Input::Connected { conn: c0, expected });
                    self.input(s, Input::Connected { conn: cs, expected });
                }
            }
        }

        fn input(&mut self, n: usize, input: Input<'_>) {
            if let Input::Disconnected { conn } = input
                && let Some((peer, pconn)) = self.links.remove(&(n, conn))
            {
                self.links.remove(&(peer, pconn));
                self.wire.retain(|(to, c, _)| (*to, *c) != (peer, pconn));
                self.nodes[peer]
                    .handle_input(self.now, Input::Disconnected { conn: pconn })
                    .unwrap();
            }
            self.nodes[n].handle_input(self.now, input).unwrap();
            self.drain_all();
        }

        fn drain_all(&mut self) {
            let mut closes = Vec::new();
            for n in 0..self.nodes.len() {
                while let Some(out) = self.nodes[n].poll_output() {
                    match out {
                        Output::Send { conn, frame } => {
                            if let Some((to, c)) = self.links.get(&(n, conn)) {
                                self.wire.push_back((*to, *c, frame.to_vec()));
                            }
                        }
                        Output::LoadBlock { conn, cid } => {
                            let block = self.stores[n].get(&cid).cloned();
                            let input = Input::BlockLoaded { conn, cid, block };
                            self.nodes[n].handle_input(self.now, input).unwrap();
                        }
                        Output::StoreBlock(b) => {
                            self.stores[n].insert(*b.cid(), b);
                        }
                        Output::Close { conn } => closes.push((n, conn)),
                        _ => {}
                    }
                }
            }
            for (n, conn) in closes {
                self.input(n, Input::Disconnected { conn });
            }
        }

        fn deliver(&mut self, k: usize) {
            for _ in 0..k {
                let Some((to, conn, bytes)) = self.wire.pop_front() else {
                    return;
                };
                if self.links.contains_key(&(to, conn)) {
                    self.input(
                        to,
                        Input::Frame {
                            conn,
                            bytes: &bytes,
                        },
                    );
                }
            }
        }

        fn timeouts(&mut self) {
            for n in 0..self.nodes.len() {
                self.nodes[n].handle_timeout(self.now);
            }
            self.drain_all();
        }

        fn step(&mut self, op: Op) {
            match op {
                Op::Want(i, priority) => {
                    let cid = *self.blocks[i].cid();
                    self.input(0, Input::Want { cid, priority });
                }
                Op::Cancel(i) => self.input(0, Input::CancelWant(*self.blocks[i].cid())),
                Op::Deliver(k) => self.deliver(k),
                Op::Lose(k) => {
                    for _ in 0..k {
                        self.wire.pop_front();
                    }
                }
                Op::Tick(ms) => {
                    self.now += Duration::from_millis(ms);
                    self.timeouts();
                }
                Op::FireNext => {
                    if let Some(t) = self.nodes.iter().filter_map(Mesh::poll_timeout).min() {
                        self.now = self.now.max(t);
                    }
                    self.timeouts();
                }
                Op::IHave(s, i) => {
                    if let Some(conn) = self.conn_to(s) {
                        let ids = TopicIds {
                            topic: self.topic.clone(),
                            cids: vec![*self.blocks[i].cid()],
                        };
                        let bytes = Frame::IHave(ids).encode().unwrap().to_vec();
                        self.wire.push_back((0, conn, bytes));
                    }
                }
                Op::Publish(s, i) => {
                    let (topic, block) = (self.topic.clone(), self.blocks[i].clone());
                    self.input(s, Input::Publish { topic, block });
                }
                Op::Toggle(s) => self.toggle(s),
            }
        }

        fn check(&self) -> Result<(), String> {
            for m in &self.nodes {
                // Due sets now, at the next deadline and far on (everything due).
                let later = m.poll_timeout().unwrap_or(m.now);
                for at in [m.now, later, Instant::MAX] {
                    m.wants.check_index(at)?;
                    m.missing.check_index(at)?;
                }
            }
            Ok(())
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn deadline_indexes_match_a_full_scan(ops in proptest::collection::vec(op(), 1..80)) {
            let mut net = Net::new();
            net.check().map_err(TestCaseError::fail)?;
            for op in ops {
                net.step(op);
                net.check().map_err(TestCaseError::fail)?;
            }
            // Settle: everything delivered, every deadline run down.
            for _ in 0..200 {
                net.deliver(64);
                net.step(Op::FireNext);
                net.check().map_err(TestCaseError::fail)?;
            }
        }
    }
}
