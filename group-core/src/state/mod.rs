//! The group reducer: blocks in, in any order and with duplicates; one state out.
//!
//! Every object's validity is a function of the blocks it names and nothing else (not of
//! arrival order): an epoch state of its previous state, member set, policy and key index;
//! a message of its epoch state. [`GroupState::insert`] parks an object until what it
//! names has arrived (and says which CIDs it needs), then decides it once. So any
//! permutation of a set of blocks, with any duplicates, ends in the same state —
//! the proptests in `tests/state_props.rs` check exactly that.
//!
//! The current epoch is the greatest valid state under [`Epoch::rank`]; messages are
//! ordered by `(lamport, CID)`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use quorate_actor_core::{ActorId, Identity};
use quorate_mesh_proto::{Block, BlockPayload, Cid, PinClass};

use crate::epoch::{Epoch, EpochError, GroupEpochState, Parts, verify_transition};
use crate::error::ObjectError;
use crate::genesis::GroupGenesis;
use crate::id::GroupId;
use crate::key::{EpochKey, KeyError, KeyIndex, KeyPage};
use crate::member::MemberSet;
use crate::message::{GroupMessage, MessageError};
use crate::policy::Policy;
use crate::request::{GroupInvite, JoinRequest, LeaveRequest};

mod requests;

pub use requests::PendingJoin;

/// Limits of one group's state.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct StateConfig {
    /// Blocks held while waiting for what they name, or not (yet) named by anything. Beyond
    /// this the oldest such block is dropped to make room (a genuine one is fetched again
    /// when something names it), so junk cannot lock the state.
    pub max_pending: usize,
    /// Messages kept.
    pub max_messages: usize,
    /// Rejected CIDs remembered (so a repeated bad block costs nothing).
    pub max_rejected: usize,
}

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig {
            max_pending: 100_000,
            max_messages: 1_000_000,
            max_rejected: 100_000,
        }
    }
}

/// Why a block was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// Not a group block, malformed, or a genesis of another group.
    #[error("{0}")]
    Object(ObjectError),
    /// An invalid epoch state.
    #[error("epoch state: {0}")]
    Epoch(EpochError),
    /// An invalid message.
    #[error("message: {0}")]
    Message(MessageError),
    /// A key page that does not belong to the epoch naming it.
    #[error("key page: {0}")]
    KeyPage(ObjectError),
    /// The state is full of unresolved blocks.
    #[error("too many unresolved blocks")]
    Full,
}

/// A message that passed every check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Its CID.
    pub cid: Cid,
    /// The author.
    pub author: ActorId,
    /// The epoch number.
    pub epoch: u64,
    /// The epoch state.
    pub epoch_state: Cid,
    /// Lamport clock.
    pub lamport: u64,
    /// Causal parents.
    pub parents: Vec<Cid>,
    /// The plaintext, once decrypted (`None`: no key for its epoch, or unreadable).
    pub plaintext: Option<Vec<u8>>,
    /// Why it cannot be read although the key is held ([`MessageError::Decrypt`]).
    pub unreadable: Option<MessageError>,
}

/// What changed, for the machine driving the state.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Change {
    /// Fetch this block: something waits for it.
    Need(Cid),
    /// A block became part of the group's valid state (runtimes pin it).
    Accepted {
        /// The block.
        cid: Cid,
        /// How to keep it.
        class: PinClass,
    },
    /// A new valid epoch state.
    Epoch {
        /// The state.
        cid: Cid,
        /// Its number.
        epoch: u64,
    },
    /// The current epoch changed.
    Current {
        /// The state.
        cid: Cid,
        /// Its number.
        epoch: u64,
    },
    /// This member's key for an epoch opened.
    Key {
        /// The epoch state.
        epoch_state: Cid,
    },
    /// This member is in an epoch but its key does not open.
    KeyFailed {
        /// The epoch state.
        epoch_state: Cid,
        /// Why.
        error: KeyError,
    },
    /// A message was accepted (and decrypted, if the key is held).
    Message(Cid),
    /// A message already accepted became readable (its epoch key arrived).
    Decrypted(Cid),
    /// A valid join or leave request arrived: admins look at
    /// [`GroupState::pending_joins`] and [`GroupState::pending_leaves`].
    Request(Cid),
    /// A valid epoch names a key page that does not belong to it (its admin's fault).
    KeyPageMismatch {
        /// The epoch state.
        epoch_state: Cid,
        /// The page.
        page: Cid,
        /// What does not match.
        error: ObjectError,
    },
    /// A block was rejected.
    Rejected {
        /// The block.
        cid: Cid,
        /// Why.
        reason: Rejection,
    },
}

/// One group as seen by one actor (or by a blind cache: no identity).
#[derive(Debug)]
pub struct GroupState {
    group: GroupId,
    config: StateConfig,
    me: Option<Identity>,
    genesis: Option<(Cid, GroupGenesis)>,
    /// Blocks held: components (member sets, policies, key indexes, pages) and objects
    /// waiting for what they name.
    raw: BTreeMap<Cid, Block>,
    epochs: BTreeMap<Cid, Epoch>,
    best: Option<Cid>,
    rejected: BTreeMap<Cid, Rejection>,
    /// Dependency → objects waiting for it.
    waiting: BTreeMap<Cid, BTreeSet<Cid>>,
    /// Key page → epochs waiting for it.
    pages: BTreeMap<Cid, BTreeSet<Cid>>,
    keys: BTreeMap<Cid, EpochKey>,
    messages: BTreeMap<Cid, Message>,
    order: BTreeSet<(u64, Cid)>,
    /// Every CID named as a parent by an accepted message.
    named: BTreeSet<Cid>,
    /// Accepted messages no accepted message names.
    frontier: BTreeSet<Cid>,
    /// Accepted messages waiting for their epoch's key (members only).
    locked: BTreeMap<Cid, BTreeSet<Cid>>,
    /// The bodies of locked messages.
    bodies: BTreeMap<Cid, GroupMessage>,
    asked: BTreeSet<Cid>,
    /// Blocks in `raw` in arrival order (the oldest is dropped first when full).
    arrivals: VecDeque<Cid>,
    /// Components of accepted epochs: kept in `raw`, never dropped.
    kept: BTreeSet<Cid>,
    changes: VecDeque<Change>,
    invites: BTreeMap<Cid, GroupInvite>,
    joins: BTreeMap<Cid, JoinRequest>,
    leaves: BTreeMap<Cid, LeaveRequest>,
}

pub(super) enum Outcome {
    Wait(Vec<Cid>),
    Done,
}

impl GroupState {
    /// An empty state for `group`, as `me` (a member who can decrypt) or as a blind cache
    /// (`None`).
    #[must_use]
    pub fn new(group: GroupId, me: Option<Identity>, config: StateConfig) -> GroupState {
        GroupState {
            group,
            config,
            me,
            genesis: None,
            raw: BTreeMap::new(),
            epochs: BTreeMap::new(),
            best: None,
            rejected: BTreeMap::new(),
            waiting: BTreeMap::new(),
            pages: BTreeMap::new(),
            keys: BTreeMap::new(),
            messages: BTreeMap::new(),
            order: BTreeSet::new(),
            named: BTreeSet::new(),
            frontier: BTreeSet::new(),
            locked: BTreeMap::new(),
            bodies: BTreeMap::new(),
            asked: BTreeSet::new(),
            arrivals: VecDeque::new(),
            kept: BTreeSet::new(),
            changes: VecDeque::new(),
            invites: BTreeMap::new(),
            joins: BTreeMap::new(),
            leaves: BTreeMap::new(),
        }
    }

    /// The group.
    #[must_use]
    pub fn group(&self) -> GroupId {
        self.group
    }

    /// The identity this state decrypts for.
    #[must_use]
    pub fn me(&self) -> Option<&Identity> {
        self.me.as_ref()
    }

    /// The genesis, once received.
    #[must_use]
    pub fn genesis(&self) -> Option<(&Cid, &GroupGenesis)> {
        self.genesis.as_ref().map(|(c, g)| (c, g))
    }

    /// The current epoch: the greatest valid state under [`Epoch::rank`].
    #[must_use]
    pub fn current(&self) -> Option<&Epoch> {
        self.best.as_ref().and_then(|c| self.epochs.get(c))
    }

    /// A valid epoch by its state's CID.
    #[must_use]
    pub fn epoch(&self, cid: &Cid) -> Option<&Epoch> {
        self.epochs.get(cid)
    }

    /// Every valid epoch state (forks included).
    pub fn epochs(&self) -> impl Iterator<Item = &Epoch> {
        self.epochs.values()
    }

    /// The key of an epoch, if this member holds it.
    #[must_use]
    pub fn key(&self, epoch_state: &Cid) -> Option<&EpochKey> {
        self.keys.get(epoch_state)
    }

    /// Epochs whose key this member holds.
    pub fn keys(&self) -> impl Iterator<Item = &Cid> {
        self.keys.keys()
    }

    /// Adds a key known from elsewhere (the admin who drew it, a local key store).
    pub fn add_key(&mut self, epoch_state: Cid, key: EpochKey) {
        if let Some(epoch) = self.epochs.get(&epoch_state)
            && epoch.key_index.key_id != key.id()
        {
            return;
        }
        if self.keys.insert(epoch_state, key).is_none() {
            self.unlock(epoch_state);
        }
    }

    /// A message by CID.
    #[must_use]
    pub fn message(&self, cid: &Cid) -> Option<&Message> {
        self.messages.get(cid)
    }

    /// Messages in display order: `(lamport, CID)` (walk it backwards for the latest).
    pub fn messages(&self) -> impl DoubleEndedIterator<Item = &Message> {
        self.order.iter().filter_map(|(_, c)| self.messages.get(c))
    }

    /// Number of accepted messages.
    #[must_use]
    pub fn message_count(&self) -> usize {
        self.messages.len()
    }

    /// Accepted messages that no accepted message names yet.
    #[must_use]
    pub fn frontier(&self) -> &BTreeSet<Cid> {
        &self.frontier
    }

    /// The latest message in display order.
    #[must_use]
    pub fn latest(&self) -> Option<&Message> {
        self.order.last().and_then(|(_, c)| self.messages.get(c))
    }

    /// Rejected blocks and why.
    #[must_use]
    pub fn rejected(&self) -> &BTreeMap<Cid, Rejection> {
        &self.rejected
    }

    /// True if this block was already taken in (accepted, held or rejected).
    #[must_use]
    pub fn knows(&self, cid: &Cid) -> bool {
        self.raw.contains_key(cid)
            || self.epochs.contains_key(cid)
            || self.messages.contains_key(cid)
            || self.rejected.contains_key(cid)
            || self.invites.contains_key(cid)
            || self.joins.contains_key(cid)
            || self.leaves.contains_key(cid)
            || self.genesis.as_ref().is_some_and(|(c, _)| c == cid)
    }

    /// True if something waits for this block and it has not arrived.
    #[must_use]
    pub fn wants(&self, cid: &Cid) -> bool {
        self.asked.contains(cid) && !self.knows(cid)
    }

    /// Blocks asked for, or waited for, that are not here (forgets the ones that are):
    /// what a resume asks for again. Something still waited for is asked again even if it
    /// arrived once and was dropped since.
    pub fn outstanding(&mut self) -> Vec<Cid> {
        let asked = core::mem::take(&mut self.asked);
        let waited = self.waiting.keys().chain(self.pages.keys()).copied();
        self.asked = asked
            .into_iter()
            .chain(waited)
            .filter(|c| !self.knows(c))
            .collect();
        self.asked.iter().copied().collect()
    }

    /// The next change, if any.
    pub fn poll_change(&mut self) -> Option<Change> {
        self.changes.pop_front()
    }

    /// Takes in one block of the group.
    pub fn insert(&mut self, block: Block) {
        let cid = *block.cid();
        if self.knows(&cid) {
            return;
        }
        let kind = match block.header() {
            Ok(h) => h.kind,
            Err(e) => return self.reject(cid, Rejection::Object(ObjectError::Decode(e))),
        };
        match kind.as_str() {
            GroupGenesis::TYPE => self.on_genesis(cid, &block),
            GroupEpochState::TYPE
            | GroupMessage::TYPE
            | GroupInvite::TYPE
            | JoinRequest::TYPE
            | LeaveRequest::TYPE => {
                self.hold(cid, block);
                self.run(vec![cid]);
            }
            MemberSet::TYPE | Policy::TYPE | KeyIndex::TYPE | KeyPage::TYPE => {
                self.hold(cid, block);
                if let Some(epochs) = self.pages.remove(&cid) {
                    for epoch in epochs {
                        self.on_page(epoch, cid);
                    }
                }
                let released = self.release(&cid);
                self.run(released);
            }
            _ => self.reject(
                cid,
                Rejection::Object(ObjectError::Invalid("not a group block type")),
            ),
        }
    }

    /// Puts a block in `raw`, first dropping the oldest unneeded-so-far blocks if full.
    fn hold(&mut self, cid: Cid, block: Block) {
        while self.raw.len().saturating_sub(self.kept.len()) >= self.config.max_pending {
            let Some(oldest) = self.arrivals.pop_front() else {
                break;
            };
            if !self.kept.contains(&oldest) && self.raw.remove(&oldest).is_some() {
                // Fetched again if something names it.
                self.asked.remove(&oldest);
            }
        }
        self.raw.insert(cid, block);
        self.arrivals.push_back(cid);
        // Most arrivals resolve and leave `raw`; forget them now and then.
        if self.arrivals.len() > 2 * self.raw.len() + 1024 {
            let raw = &self.raw;
            self.arrivals.retain(|c| raw.contains_key(c));
        }
    }

    fn on_genesis(&mut self, cid: Cid, block: &Block) {
        match GroupGenesis::verify(block) {
            Ok((group, genesis)) if group == self.group => {
                self.genesis = Some((cid, genesis));
                self.changes.push_back(Change::Accepted {
                    cid,
                    class: GroupGenesis::PIN,
                });
                let released = self.release(&cid);
                self.run(released);
            }
            Ok(_) => self.reject(cid, Rejection::Object(ObjectError::WrongGroup)),
            Err(e) => self.reject(cid, Rejection::Object(e)),
        }
    }

    fn release(&mut self, cid: &Cid) -> Vec<Cid> {
        self.waiting
            .remove(cid)
            .map(|s| s.into_iter().collect())
            .unwrap_or_default()
    }

    fn run(&mut self, mut work: Vec<Cid>) {
        while let Some(cid) = work.pop() {
            let Some(block) = self.raw.get(&cid).cloned() else {
                continue;
            };
            let outcome = match block.header().map(|h| h.kind) {
                Ok(k) if k == GroupEpochState::TYPE => self.try_epoch(cid, &block),
                Ok(k) if k == GroupMessage::TYPE => self.try_message(cid, &block),
                Ok(k) if k == GroupInvite::TYPE => self.try_invite(cid, &block),
                Ok(k) if k == JoinRequest::TYPE => self.try_join(cid, &block),
                Ok(k) if k == LeaveRequest::TYPE => self.try_leave(cid, &block),
                _ => continue,
            };
            match outcome {
                Outcome::Wait(deps) => {
                    for dep in deps {
                        self.waiting.entry(dep).or_default().insert(cid);
                        self.need(dep);
                    }
                }
                Outcome::Done => {
                    self.raw.remove(&cid);
                    work.extend(self.release(&cid));
                }
            }
        }
    }

    fn need(&mut self, cid: Cid) {
        if !self.knows(&cid) && self.asked.insert(cid) {
            self.changes.push_back(Change::Need(cid));
        }
    }

    pub(super) fn reject(&mut self, cid: Cid, reason: Rejection) {
        // `Full` says nothing about the block: it may be taken later.
        if reason != Rejection::Full && self.rejected.len() < self.config.max_rejected {
            self.rejected.insert(cid, reason.clone());
        }
        self.changes.push_back(Change::Rejected { cid, reason });
    }

    fn try_epoch(&mut self, cid: Cid, block: &Block) -> Outcome {
        let state = match GroupEpochState::decode(block) {
            Ok((state, _)) => state,
            Err(e) => {
                self.reject(
                    cid,
                    Rejection::Epoch(EpochError::Object {
                        what: "epoch state",
                        error: e,
                    }),
                );
                return Outcome::Done;
            }
        };
        let Some((genesis_cid, genesis)) = self.genesis.clone() else {
            return Outcome::Wait(vec![state.genesis]);
        };
        let prev = match state.prev {
            None => None,
            Some(p) if self.epochs.contains_key(&p) => self.epochs.get(&p).cloned(),
            Some(p) if self.rejected.contains_key(&p) => {
                self.reject(cid, Rejection::Epoch(EpochError::PrevInvalid));
                return Outcome::Done;
            }
            Some(p) => return Outcome::Wait(vec![p]),
        };
        let roots = [
            state.members_root,
            state.policy_root,
            state.message_key_info,
        ];
        let missing: Vec<Cid> = roots
            .into_iter()
            .filter(|c| !self.raw.contains_key(c))
            .collect();
        if !missing.is_empty() {
            return Outcome::Wait(missing);
        }
        let (Some(members), Some(policy), Some(key_index)) = (
            self.raw.get(&state.members_root),
            self.raw.get(&state.policy_root),
            self.raw.get(&state.message_key_info),
        ) else {
            return Outcome::Wait(Vec::new());
        };
        let parts = Parts {
            members,
            policy,
            key_index,
        };
        match verify_transition(
            &self.group,
            &genesis_cid,
            &genesis,
            prev.as_ref(),
            cid,
            block,
            &parts,
        ) {
            Ok(epoch) => self.accept_epoch(epoch),
            Err(e) => self.reject(cid, Rejection::Epoch(e)),
        }
        Outcome::Done
    }

    fn accept_epoch(&mut self, epoch: Epoch) {
        let cid = epoch.cid;
        let number = epoch.state.epoch;
        for (part, class) in [
            (cid, GroupEpochState::PIN),
            (epoch.state.members_root, MemberSet::PIN),
            (epoch.state.policy_root, Policy::PIN),
            (epoch.state.message_key_info, KeyIndex::PIN),
        ] {
            self.changes
                .push_back(Change::Accepted { cid: part, class });
        }
        self.kept.extend([
            epoch.state.members_root,
            epoch.state.policy_root,
            epoch.state.message_key_info,
        ]);
        let pages: Vec<Cid> = epoch.key_index.pages.iter().map(|p| p.cid).collect();
        let better = self.current().is_none_or(|best| epoch.rank() > best.rank());
        self.epochs.insert(cid, epoch);
        self.changes.push_back(Change::Epoch { cid, epoch: number });
        if better {
            self.best = Some(cid);
            self.changes
                .push_back(Change::Current { cid, epoch: number });
        }
        for page in pages {
            if self.raw.contains_key(&page) {
                self.on_page(cid, page);
            } else {
                self.pages.entry(page).or_default().insert(cid);
                self.need(page);
            }
        }
    }

    /// A key page of `epoch_cid` is in `raw`: check it, and open it if it is ours.
    fn on_page(&mut self, epoch_cid: Cid, page_cid: Cid) {
        let (Some(epoch), Some(block)) = (self.epochs.get(&epoch_cid), self.raw.get(&page_cid))
        else {
            return;
        };
        // A page that does not match this epoch's index fails this epoch only: another
        // valid epoch may name the same page genuinely.
        let page = match KeyPage::verify(block, &epoch.key_index) {
            Ok(page) => page,
            Err(e) => {
                let failed = Change::KeyPageMismatch {
                    epoch_state: epoch_cid,
                    page: page_cid,
                    error: e,
                };
                self.changes.push_back(failed);
                return;
            }
        };
        self.kept.insert(page_cid);
        self.changes.push_back(Change::Accepted {
            cid: page_cid,
            class: KeyPage::PIN,
        });
        let Some(me) = self.me.as_ref() else {
            return;
        };
        if self.keys.contains_key(&epoch_cid)
            || !epoch.members.contains(&me.id())
            || epoch.key_index.page_of(&me.id()) != Some(page_cid)
        {
            return;
        }
        match page.open(me) {
            Ok(key) => {
                self.keys.insert(epoch_cid, key);
                self.changes.push_back(Change::Key {
                    epoch_state: epoch_cid,
                });
                self.unlock(epoch_cid);
            }
            Err(error) => self.changes.push_back(Change::KeyFailed {
                epoch_state: epoch_cid,
                error,
            }),
        }
    }

    fn try_message(&mut self, cid: Cid, block: &Block) -> Outcome {
        let msg = match GroupMessage::decode(block, &self.group) {
            Ok(m) => m,
            Err(e) => {
                self.reject(cid, Rejection::Message(e));
                return Outcome::Done;
            }
        };
        let Some(epoch) = self.epochs.get(&msg.epoch_state) else {
            if self.rejected.contains_key(&msg.epoch_state) {
                self.reject(cid, Rejection::Message(MessageError::UnknownEpoch));
                return Outcome::Done;
            }
            return Outcome::Wait(vec![msg.epoch_state]);
        };
        if let Err(e) = msg.authenticate(epoch.state.epoch, &epoch.members) {
            self.reject(cid, Rejection::Message(e));
            return Outcome::Done;
        }
        if self.messages.len() >= self.config.max_messages {
            self.reject(cid, Rejection::Full);
            return Outcome::Done;
        }
        let mut message = Message {
            cid,
            author: msg.author,
            epoch: msg.epoch,
            epoch_state: msg.epoch_state,
            lamport: msg.lamport,
            parents: msg.parents.clone(),
            plaintext: None,
            unreadable: None,
        };
        match self.keys.get(&msg.epoch_state) {
            Some(key) => match msg.open(key) {
                Ok(plain) => message.plaintext = Some(plain.to_vec()),
                Err(e) => message.unreadable = Some(e),
            },
            None if self.me.is_some() => {
                self.locked.entry(msg.epoch_state).or_default().insert(cid);
                self.bodies.insert(cid, msg.clone());
            }
            None => {}
        }
        for parent in &msg.parents {
            self.named.insert(*parent);
            self.frontier.remove(parent);
        }
        if !self.named.contains(&cid) {
            self.frontier.insert(cid);
        }
        self.order.insert((msg.lamport, cid));
        self.messages.insert(cid, message);
        self.changes.push_back(Change::Accepted {
            cid,
            class: GroupMessage::PIN,
        });
        self.changes.push_back(Change::Message(cid));
        for parent in msg.parents {
            if !self.messages.contains_key(&parent) && !self.rejected.contains_key(&parent) {
                self.need(parent);
            }
        }
        Outcome::Done
    }

    /// The key of `epoch_state` arrived: decrypt what waited for it.
    fn unlock(&mut self, epoch_state: Cid) {
        let Some(waiting) = self.locked.remove(&epoch_state) else {
            return;
        };
        let Some(key) = self.keys.get(&epoch_state) else {
            return;
        };
        for cid in waiting {
            let Some(body) = self.bodies.remove(&cid) else {
                continue;
            };
            let Some(message) = self.messages.get_mut(&cid) else {
                continue;
            };
            match body.open(key) {
                Ok(plain) => {
                    message.plaintext = Some(plain.to_vec());
                    self.changes.push_back(Change::Decrypted(cid));
                }
                Err(e) => message.unreadable = Some(e),
            }
        }
    }
}
