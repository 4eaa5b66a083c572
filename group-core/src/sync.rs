//! [`GroupSync`]: one group over a mesh node, sans-IO.
//!
//! It wraps a [`GroupState`] and speaks actor-core's sync vocabulary
//! ([`Output`]), so [`quorate_actor_core::sync::drain`] drives it like the feed machines:
//!
//! 1. Subscribe the mesh node to [`GroupId::topic`] and create the machine; it asks peers
//!    for the group's heads (`group/<id>/epoch`, `group/<id>/msgs`).
//! 2. Hand it mesh events with [`group_event`]: blocks delivered on the topic, blocks it
//!    asked for, heads of its group.
//! 3. Drain it with `drain` after every call: `Need` → the store, else a mesh want;
//!    `Announce` → the mesh's `SetHead`; `Penalize` → the mesh's `Penalize`; events to the
//!    application. Publish blocks you make ([`crate::ops`]) on the topic and give them to
//!    [`GroupSync::insert_local`].
//!
//! Catching up after being offline needs nothing else: the heads name the current epoch
//! state and the latest message; every state names its predecessor and every message up
//! to eight earlier ones, and whatever is missing is fetched by CID from whoever has it —
//! members or blind caches.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use quorate_actor_core::Identity;
use quorate_actor_core::sync::{Machine, Output};
use quorate_mesh_proto::mesh::{self, Head, NodeId, Topic};
use quorate_mesh_proto::{Block, Cid, Duration, Instant};

use crate::id::GroupId;
use crate::state::{Change, GroupState, Rejection, StateConfig};

/// Head CIDs remembered with their announcers until decided (beyond: heads are ignored).
const MAX_ANNOUNCED: usize = 1024;
/// Announcers remembered per CID.
const MAX_ANNOUNCERS: usize = 16;

/// Settings of a [`GroupSync`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SyncConfig {
    /// How often to ask peers for the group's heads again.
    pub requery: Duration,
    /// Announce the current epoch and latest message as heads (members and caches do).
    pub announce: bool,
    /// Limits of the state.
    pub state: StateConfig,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            requery: Duration::from_secs(10),
            announce: true,
            state: StateConfig::default(),
        }
    }
}

/// What the application hears: the state's [`Change`]s, except `Need` (which becomes
/// [`Output::Need`]).
pub type Event = Change;

/// One group over a mesh node.
#[derive(Debug)]
pub struct GroupSync {
    config: SyncConfig,
    state: GroupState,
    topic: Topic,
    outputs: VecDeque<Output<Event>>,
    next_query: Instant,
    /// Peers that announced a head naming a CID, until it is decided.
    announcers: BTreeMap<Cid, BTreeSet<NodeId>>,
    announced: (Option<Cid>, Option<Cid>),
}

impl GroupSync {
    /// A machine for `group`, as `me` (a member) or as a blind cache (`None`).
    #[must_use]
    pub fn new(config: SyncConfig, group: GroupId, me: Option<Identity>, now: Instant) -> Self {
        let state = GroupState::new(group, me, config.state.clone());
        let mut sync = GroupSync {
            topic: group.topic(),
            state,
            outputs: VecDeque::new(),
            next_query: now + config.requery,
            announcers: BTreeMap::new(),
            announced: (None, None),
            config,
        };
        sync.query();
        sync
    }

    fn query(&mut self) {
        let group = self.state.group();
        self.outputs.push_back(Output::QueryHeads(vec![
            group.epoch_head(),
            group.messages_head(),
        ]));
    }

    /// The group state.
    #[must_use]
    pub fn state(&self) -> &GroupState {
        &self.state
    }

    /// The group state, to add keys known from elsewhere.
    pub fn state_mut(&mut self) -> &mut GroupState {
        &mut self.state
    }

    /// The group's topic.
    #[must_use]
    pub fn topic(&self) -> &Topic {
        &self.topic
    }

    /// A head a peer announced (ignored unless it is one of this group's).
    pub fn handle_head(&mut self, _now: Instant, head: &Head, from: NodeId) {
        let group = self.state.group();
        let ours = head.name == group.epoch_head() || head.name == group.messages_head();
        if !ours || self.state.knows(&head.cid) {
            return;
        }
        let room = self.announcers.len() < MAX_ANNOUNCED || self.announcers.contains_key(&head.cid);
        if !room {
            return;
        }
        let by = self.announcers.entry(head.cid).or_default();
        if by.len() < MAX_ANNOUNCERS {
            by.insert(from);
        }
        self.outputs.push_back(Output::Need {
            cid: head.cid,
            priority: 2,
        });
    }

    /// A block from the store (`from: None`) or a peer, answering a `Need`: ignored unless
    /// this machine asked for it.
    pub fn handle_block(&mut self, now: Instant, block: &Block, from: Option<NodeId>) {
        if self.state.wants(block.cid()) || self.announcers.contains_key(block.cid()) {
            self.take(now, block.clone());
        }
        let _ = from;
    }

    /// A block delivered on the group's topic (or made locally).
    pub fn insert_local(&mut self, now: Instant, block: Block) {
        self.take(now, block);
    }

    fn take(&mut self, _now: Instant, block: Block) {
        self.state.insert(block);
        while let Some(change) = self.state.poll_change() {
            self.on_change(change);
        }
        self.announce();
    }

    fn on_change(&mut self, change: Change) {
        match &change {
            Change::Need(cid) => {
                self.outputs.push_back(Output::Need {
                    cid: *cid,
                    priority: 1,
                });
                return;
            }
            Change::Accepted { cid, .. } => {
                self.announcers.remove(cid);
            }
            Change::Rejected {
                reason: Rejection::Full,
                ..
            } => {}
            Change::Rejected { cid, reason } => {
                // Whoever pointed a head at an invalid block lied; blocks on the topic are
                // relayed by honest peers too, so they are not blamed on the relay.
                for node in self.announcers.remove(cid).unwrap_or_default() {
                    self.outputs.push_back(Output::Penalize {
                        node,
                        reason: format!("group head names an invalid block: {reason}"),
                    });
                }
            }
            _ => {}
        }
        self.outputs.push_back(Output::Event(change));
    }

    fn announce(&mut self) {
        if !self.config.announce {
            return;
        }
        let group = self.state.group();
        if let Some(current) = self.state.current()
            && self.announced.0 != Some(current.cid)
        {
            self.announced.0 = Some(current.cid);
            let head = Head {
                name: group.epoch_head(),
                seq: current.state.epoch,
                cid: current.cid,
            };
            self.outputs.push_back(Output::Announce(head));
        }
        if let Some(latest) = self.state.latest()
            && self.announced.1 != Some(latest.cid)
        {
            self.announced.1 = Some(latest.cid);
            let head = Head {
                name: group.messages_head(),
                seq: latest.lamport,
                cid: latest.cid,
            };
            self.outputs.push_back(Output::Announce(head));
        }
    }

    /// Due timers: ask for the heads again, and again for every block still missing (a
    /// mesh node that restarted has forgotten its wants).
    pub fn handle_timeout(&mut self, now: Instant) {
        if now >= self.next_query {
            self.resume(now);
        }
    }

    /// The mesh node restarted (or reconnected): ask for the heads and every missing block
    /// again now.
    pub fn resume(&mut self, now: Instant) {
        self.next_query = now + self.config.requery;
        self.query();
        for cid in self.state.outstanding() {
            self.outputs.push_back(Output::Need { cid, priority: 1 });
        }
    }

    /// The next output.
    pub fn poll_output(&mut self) -> Option<Output<Event>> {
        self.outputs.pop_front()
    }

    /// The next timer.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        Some(self.next_query)
    }
}

impl Machine for GroupSync {
    type Event = Event;
    fn handle_head(&mut self, now: Instant, head: &Head, from: NodeId) {
        GroupSync::handle_head(self, now, head, from);
    }
    fn handle_block(&mut self, now: Instant, block: &Block, from: Option<NodeId>) {
        GroupSync::handle_block(self, now, block, from);
    }
    fn handle_timeout(&mut self, now: Instant) {
        GroupSync::handle_timeout(self, now);
    }
    fn poll_output(&mut self) -> Option<Output<Event>> {
        GroupSync::poll_output(self)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        GroupSync::poll_timeout(self)
    }
}

/// Hands a mesh event to the machine if it concerns it: a block delivered on its topic,
/// a block fetched that it asked for, a head of its group. Returns whether it did.
pub fn group_event(machine: &mut GroupSync, now: Instant, event: &mesh::Event) -> bool {
    match event {
        mesh::Event::Delivered { topic, block, .. } if topic == machine.topic() => {
            machine.insert_local(now, block.clone());
        }
        mesh::Event::Fetched { block, from } => machine.handle_block(now, block, Some(*from)),
        mesh::Event::HeadUpdated { head, from } => machine.handle_head(now, head, *from),
        _ => return false,
    }
    true
}
