//! `FeedSync`: fetch and verify one actor's feed (see the module docs).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use quorate_mesh_proto::mesh::{Head, NodeId};
use quorate_mesh_proto::{Block, Cid, Instant};

use crate::feed::{Equivocation, FeedEntry, FeedError, FeedHead, FeedPage, head_name};
use crate::id::ActorId;
use crate::profile::ActorProfile;
use crate::sync::{Config, Event, Output};

/// Most head candidates remembered at once.
const MAX_CANDIDATES: usize = 64;
const PRIO_HEAD: u8 = 255;
const PRIO_INDEX: u8 = 200;
const PRIO_ENTRY: u8 = 100;
const PRIO_PAYLOAD: u8 = 50;
const PRIO_EVIDENCE: u8 = 10;

/// An actor's state, rebuilt and verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedSnapshot {
    /// The actor.
    pub actor: ActorId,
    /// CID of the signed head block.
    pub head_cid: Cid,
    /// The head.
    pub head: FeedHead,
    /// The actor's profile.
    pub profile: ActorProfile,
    /// Entry CIDs in seq order.
    pub entries: Vec<Cid>,
    /// The newest entry.
    pub last: FeedEntry,
    /// Every block the entries reference, in order of first reference.
    pub payloads: Vec<Cid>,
}

#[derive(Debug)]
enum Verdict {
    Fetching,
    Bad,
    Good,
}

#[derive(Debug)]
struct Candidate {
    seq: u64,
    from: BTreeSet<NodeId>,
    verdict: Verdict,
}

/// The feed behind the head being synced.
#[derive(Debug)]
struct Current {
    cid: Cid,
    head: FeedHead,
    pages: Vec<Option<FeedPage>>,
    /// Entry CID → seq, for entries whose page has arrived.
    expected: BTreeMap<Cid, u64>,
    /// The same, seq → entry CID.
    by_seq: BTreeMap<u64, Cid>,
    entries: BTreeMap<u64, FeedEntry>,
    profile: Option<ActorProfile>,
    payload_order: Vec<Cid>,
    payload_seen: BTreeSet<Cid>,
    payload_missing: BTreeSet<Cid>,
    failed: bool,
    complete: bool,
}

/// Follows one actor's feed. See the [module docs](crate::sync).
#[derive(Debug)]
pub struct FeedSync {
    config: Config,
    actor: ActorId,
    name: String,
    candidates: BTreeMap<Cid, Candidate>,
    current: Option<Current>,
    outstanding: BTreeSet<Cid>,
    queue: VecDeque<(Cid, u8)>,
    pages_cache: BTreeMap<Cid, FeedPage>,
    entries_cache: BTreeMap<Cid, FeedEntry>,
    payloads_have: BTreeSet<Cid>,
    /// seq → entry CIDs claimed for it by valid heads and pages.
    contested: BTreeMap<u64, BTreeSet<Cid>>,
    /// Lower valid heads: (seq, entry) to compare with the current feed.
    lower: Vec<(u64, Cid)>,
    reported: BTreeSet<(Cid, Cid)>,
    outputs: VecDeque<Output>,
    next_query: Instant,
}

impl FeedSync {
    /// Starts following `actor`: asks peers for its head.
    #[must_use]
    pub fn new(config: Config, actor: ActorId, now: Instant) -> Self {
        let name = head_name(&actor);
        let mut sync = FeedSync {
            next_query: now.saturating_add(config.requery),
            config,
            actor,
            name: name.clone(),
            candidates: BTreeMap::new(),
            current: None,
            outstanding: BTreeSet::new(),
            queue: VecDeque::new(),
            pages_cache: BTreeMap::new(),
            entries_cache: BTreeMap::new(),
            payloads_have: BTreeSet::new(),
            contested: BTreeMap::new(),
            lower: Vec::new(),
            reported: BTreeSet::new(),
            outputs: VecDeque::new(),
        };
        sync.outputs.push_back(Output::QueryHeads(vec![name]));
        sync
    }

    /// The actor followed.
    #[must_use]
    pub const fn actor(&self) -> ActorId {
        self.actor
    }

    /// Starts from a head block this node already has (its local cache).
    pub fn add_local_head(&mut self, cid: Cid, seq: u64) {
        self.add_candidate(cid, seq, None);
        self.pump();
    }

    /// A head a peer announced (mesh `Event::HeadUpdated`). Other names are ignored.
    pub fn handle_head(&mut self, _now: Instant, head: &Head, from: NodeId) {
        if head.name != self.name {
            return;
        }
        self.add_candidate(head.cid, head.seq, Some(from));
        self.pump();
    }

    /// A block: from the local store (`from = None`) or fetched from a peer. Blocks this
    /// machine did not ask for are ignored.
    pub fn handle_block(&mut self, _now: Instant, block: &Block, from: Option<NodeId>) {
        let cid = *block.cid();
        let asked = self.outstanding.remove(&cid);
        if self
            .candidates
            .get(&cid)
            .is_some_and(|c| matches!(c.verdict, Verdict::Fetching))
        {
            self.on_head_block(cid, block);
        } else if asked {
            self.on_feed_block(cid, block);
        }
        let _ = from;
        self.pump();
    }

    /// Asks for heads again: every `requery` until the feed is complete, then every
    /// `refresh` to pick up new entries.
    pub fn handle_timeout(&mut self, now: Instant) {
        if now < self.next_query {
            return;
        }
        let every = if self.is_complete() {
            self.config.refresh
        } else {
            self.config.requery
        };
        self.next_query = now.saturating_add(every);
        self.outputs
            .push_back(Output::QueryHeads(vec![self.name.clone()]));
    }

    /// When to call [`FeedSync::handle_timeout`].
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        Some(self.next_query)
    }

    /// The next thing to do; drain after every call.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// True once the best head known has been fully verified.
    #[must_use]
    pub fn is_complete(&self) -> bool {
        self.current.as_ref().is_some_and(|c| c.complete)
    }

    /// The verified state, once complete.
    #[must_use]
    pub fn snapshot(&self) -> Option<FeedSnapshot> {
        let cur = self.current.as_ref().filter(|c| c.complete)?;
        self.build_snapshot(cur)
    }

    // ---- heads ----

    fn add_candidate(&mut self, cid: Cid, seq: u64, from: Option<NodeId>) {
        if let Some(cand) = self.candidates.get_mut(&cid) {
            let Some(node) = from else { return };
            cand.from.insert(node);
            if matches!(cand.verdict, Verdict::Bad) {
                self.outputs.push_back(Output::Penalize {
                    node,
                    reason: "invalid feed head".into(),
                });
            }
            return;
        }
        if seq >= self.config.max_entries {
            return;
        }
        let current_seq = self.current.as_ref().map(|c| c.head.seq);
        if current_seq.is_some_and(|s| seq < s) || self.candidates.len() >= MAX_CANDIDATES {
            return;
        }
        self.candidates.insert(
            cid,
            Candidate {
                seq,
                from: from.into_iter().collect(),
                verdict: Verdict::Fetching,
            },
        );
        self.queue.push_front((cid, PRIO_HEAD));
    }

    fn on_head_block(&mut self, cid: Cid, block: &Block) {
        let Some(cand) = self.candidates.get_mut(&cid) else {
            return;
        };
        let checked = FeedHead::verify_block(block).and_then(|head| {
            if head.actor != self.actor {
                Err(FeedError::WrongActor)
            } else if head.seq != cand.seq {
                Err(FeedError::Malformed(
                    "announced seq differs from the head's".into(),
                ))
            } else {
                Ok(head)
            }
        });
        match checked {
            Err(reason) => {
                cand.verdict = Verdict::Bad;
                for node in cand.from.clone() {
                    self.outputs.push_back(Output::Penalize {
                        node,
                        reason: format!("invalid feed head: {reason}"),
                    });
                    self.outputs.push_back(Output::Event(Event::HeadRejected {
                        from: node,
                        reason: reason.clone(),
                    }));
                }
            }
            Ok(head) => {
                cand.verdict = Verdict::Good;
                self.consider(cid, head);
            }
        }
    }

    fn consider(&mut self, cid: Cid, head: FeedHead) {
        let better = match &self.current {
            None => true,
            Some(cur) => head.seq > cur.head.seq || (head.seq == cur.head.seq && cid < cur.cid),
        };
        if let Some(cur) = &self.current
            && head.seq == cur.head.seq
            && head.entry != cur.head.entry
        {
            self.contest(head.seq, [head.entry, cur.head.entry]);
        }
        if !better {
            if let Some(cur) = &self.current
                && head.seq < cur.head.seq
            {
                self.lower.push((head.seq, head.entry));
                self.check_lower();
            }
            return;
        }
        if let Some(old) = self.current.take()
            && old.head.seq < head.seq
        {
            self.lower.push((old.head.seq, old.head.entry));
        }
        let cur = Current {
            cid,
            pages: vec![None; head.pages.len()],
            head,
            expected: BTreeMap::new(),
            by_seq: BTreeMap::new(),
            entries: BTreeMap::new(),
            profile: None,
            payload_order: Vec::new(),
            payload_seen: BTreeSet::new(),
            payload_missing: BTreeSet::new(),
            failed: false,
            complete: false,
        };
        let mut need = vec![(cur.head.profile, PRIO_INDEX)];
        let mut cached = Vec::new();
        for (index, page_cid) in cur.head.pages.iter().enumerate() {
            match self.pages_cache.get(page_cid) {
                Some(page) => cached.push((index, page.clone())),
                None => need.push((*page_cid, PRIO_INDEX)),
            }
        }
        for (cid, prio) in need {
            self.queue.push_back((cid, prio));
        }
        self.current = Some(cur);
        for (index, page) in cached {
            self.accept_page(index, page);
        }
    }

    fn contest(&mut self, seq: u64, entries: [Cid; 2]) {
        let set = self.contested.entry(seq).or_default();
        for e in entries {
            if set.insert(e) && !self.entries_cache.contains_key(&e) {
                self.queue.push_back((e, PRIO_EVIDENCE));
            }
        }
        self.check_equivocation(seq);
    }

    fn check_lower(&mut self) {
        let Some(cur) = &self.current else { return };
        let mut found = Vec::new();
        for (seq, entry) in &self.lower {
            let ours = cur.by_seq.get(seq).copied();
            if let Some(ours) = ours
                && ours != *entry
            {
                found.push((*seq, [ours, *entry]));
            }
        }
        for (seq, pair) in found {
            self.contest(seq, pair);
        }
    }

    fn check_equivocation(&mut self, seq: u64) {
        let Some(set) = self.contested.get(&seq) else {
            return;
        };
        let have: Vec<(Cid, FeedEntry)> = set
            .iter()
            .filter_map(|c| self.entries_cache.get(c).map(|e| (*c, e.clone())))
            .collect();
        for (i, (ca, a)) in have.iter().enumerate() {
            for (cb, b) in have.iter().skip(i + 1) {
                if self.reported.insert((*ca, *cb))
                    && let Some(evidence) = Equivocation::of(a.clone(), b.clone())
                {
                    self.outputs
                        .push_back(Output::Event(Event::Equivocation(Box::new(evidence))));
                }
            }
        }
    }

    // ---- the feed behind the current head ----

    fn on_feed_block(&mut self, cid: Cid, block: &Block) {
        // Evidence entries for contested positions.
        if self.contested.values().any(|s| s.contains(&cid))
            && let Ok(entry) = FeedEntry::verify_block(block)
            && entry.actor == self.actor
        {
            let seq = entry.seq;
            self.entries_cache.insert(cid, entry);
            self.check_equivocation(seq);
        }
        let Some(cur) = self.current.as_ref() else {
            return;
        };
        if cur.failed {
            return;
        }
        if let Some(index) = cur.head.pages.iter().position(|p| *p == cid) {
            match FeedPage::verify_block(block, &cur.head, index) {
                Ok(page) => {
                    self.pages_cache.insert(cid, page.clone());
                    self.accept_page(index, page);
                }
                Err(reason) => self.fail(reason),
            }
        } else if let Some(seq) = cur.expected.get(&cid).copied() {
            match FeedEntry::verify_block(block) {
                Ok(entry) => self.accept_entry(seq, cid, entry),
                Err(reason) => self.fail(reason),
            }
        } else if cid == cur.head.profile {
            match ActorProfile::verify(block) {
                Ok(p) if p.actor == self.actor => {
                    if let Some(cur) = self.current.as_mut() {
                        cur.profile = Some(p);
                    }
                }
                Ok(_) => self.fail(FeedError::BadProfile("another actor's profile".into())),
                Err(e) => self.fail(FeedError::BadProfile(e.to_string())),
            }
        }
        // Any block may also be a payload (the first entry names the profile, say).
        if let Some(cur) = self.current.as_mut()
            && cur.payload_missing.remove(&cid)
        {
            self.payloads_have.insert(cid);
        }
        self.check_complete();
    }

    fn accept_page(&mut self, index: usize, page: FeedPage) {
        let mut need = Vec::new();
        let mut cached = Vec::new();
        {
            let Some(cur) = self.current.as_mut() else {
                return;
            };
            for (seq, cid) in (page.first..).zip(&page.entries) {
                cur.expected.insert(*cid, seq);
                cur.by_seq.insert(seq, *cid);
                match self.entries_cache.get(cid) {
                    Some(entry) => cached.push((seq, *cid, entry.clone())),
                    None => need.push((*cid, PRIO_ENTRY)),
                }
            }
            if let Some(slot) = cur.pages.get_mut(index) {
                *slot = Some(page);
            }
        }
        self.queue.extend(need);
        for (seq, cid, entry) in cached {
            self.accept_entry(seq, cid, entry);
        }
        self.check_lower();
        self.check_complete();
    }

    fn accept_entry(&mut self, seq: u64, cid: Cid, entry: FeedEntry) {
        let Some(cur) = self.current.as_mut() else {
            return;
        };
        let prev_cid = seq.checked_sub(1).and_then(|p| cur.by_seq.get(&p).copied());
        let fits = entry.actor == self.actor
            && entry.seq == seq
            && (seq == 0 || prev_cid.is_none() || entry.prev == prev_cid);
        if !fits {
            self.fail(FeedError::BrokenChain { seq });
            return;
        }
        let mut need = Vec::new();
        if self.config.fetch_payloads {
            for p in &entry.payloads {
                if cur.payload_seen.insert(*p) {
                    cur.payload_order.push(*p);
                    if !self.payloads_have.contains(p) {
                        cur.payload_missing.insert(*p);
                        need.push((*p, PRIO_PAYLOAD));
                    }
                }
            }
        }
        cur.entries.insert(seq, entry.clone());
        let (have, total) = (cur.entries.len() as u64, cur.head.seq.saturating_add(1));
        self.entries_cache.insert(cid, entry);
        self.queue.extend(need);
        if have % 1024 == 0 || have == total {
            self.outputs.push_back(Output::Event(Event::Progress {
                actor: self.actor,
                have,
                total,
            }));
        }
    }

    fn fail(&mut self, reason: FeedError) {
        let Some(cur) = self.current.as_mut() else {
            return;
        };
        if cur.failed {
            return;
        }
        cur.failed = true;
        if let Some(cand) = self.candidates.get_mut(&cur.cid) {
            cand.verdict = Verdict::Bad;
        }
        self.outputs.push_back(Output::Event(Event::InvalidFeed {
            actor: self.actor,
            reason,
        }));
    }

    fn check_complete(&mut self) {
        let Some(cur) = self.current.as_ref() else {
            return;
        };
        let total = cur.head.seq.saturating_add(1);
        let ready = !cur.failed
            && !cur.complete
            && cur.profile.is_some()
            && cur.pages.iter().all(Option::is_some)
            && cur.entries.len() as u64 == total
            && cur.payload_missing.is_empty();
        if !ready {
            return;
        }
        // Whole-chain checks: time never goes back, the head names the last entry.
        let mut last_time = 0;
        for (seq, entry) in &cur.entries {
            if entry.timestamp < last_time {
                let seq = *seq;
                self.fail(FeedError::TimeWentBack { seq });
                return;
            }
            last_time = entry.timestamp;
        }
        let last_cid = cur.by_seq.get(&cur.head.seq).copied();
        if last_cid != Some(cur.head.entry) {
            let seq = cur.head.seq;
            self.fail(FeedError::BrokenChain { seq });
            return;
        }
        let snapshot = self.build_snapshot(cur);
        let announce = self.config.announce.then(|| cur.head.mesh_head(cur.cid));
        if let Some(cur) = self.current.as_mut() {
            cur.complete = true;
        }
        if let Some(snapshot) = snapshot {
            self.outputs
                .push_back(Output::Event(Event::Complete(Box::new(snapshot))));
        }
        if let Some(head) = announce {
            self.outputs.push_back(Output::Announce(head));
        }
    }

    fn build_snapshot(&self, cur: &Current) -> Option<FeedSnapshot> {
        let entries: Vec<Cid> = cur.by_seq.values().copied().collect();
        Some(FeedSnapshot {
            actor: self.actor,
            head_cid: cur.cid,
            head: cur.head.clone(),
            profile: cur.profile.clone()?,
            entries,
            last: cur.entries.get(&cur.head.seq)?.clone(),
            payloads: cur.payload_order.clone(),
        })
    }

    /// Moves queued needs into the window.
    fn pump(&mut self) {
        while self.outstanding.len() < self.config.window {
            let Some((cid, priority)) = self.queue.pop_front() else {
                break;
            };
            if self.outstanding.insert(cid) {
                self.outputs.push_back(Output::Need { cid, priority });
            }
        }
    }
}
