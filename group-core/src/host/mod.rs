//! [`GroupHost`]: the whole group layer of one node, sans-IO — the part the native node
//! and the browser node share.
//!
//! A node follows every group it hears of (a head `group/<id>/…` from a peer, a block it
//! publishes), up to [`HostConfig::max_groups`], with one [`GroupSync`] each. For groups
//! of the actor it acts as ([`GroupHost::act_as`]) it is a member: it decrypts, pins the
//! group's blocks and admits pending joins and leaves if the actor is an admin. For every
//! other group it is a **blind store-and-forward cache**: it checks signatures and
//! membership (no key needed) and retains the valid blocks — ciphertext only — for
//! [`HostConfig::retention`] under a byte quota per group ([`HostConfig::quota_bytes`]),
//! so members who were offline catch up from it. Beyond the quota, blocks stay in the
//! ordinary evictable cache.
//!
//! It also reads the rendezvous topic with the actor's [`Inbox`] (invitations), and
//! fetches an invitee's profile (its encryption key) before sealing an invitation to it.
//!
//! # Driving it
//! 1. [`GroupHost::new`]; carry out its outputs (it subscribes to the rendezvous topic).
//!    After a restart, [`GroupHost::restore`] with the group heads the node announced
//!    before (kept from [`HostOutput::Mesh`]`(Input::SetHead)`): it follows those groups
//!    and rebuilds them from the local store.
//! 2. Every mesh event → [`GroupHost::on_event`]; every timer ([`GroupHost::poll_timeout`])
//!    and after every call → [`GroupHost::pump`] with a loader for the local store.
//! 3. Carry out [`GroupHost::poll_output`] until `None`, in order, before the next `pump`:
//!    [`HostOutput::Mesh`] → the mesh machine; [`HostOutput::Keep`] → the block store
//!    (pinned or retained); the rest is for the application.
//! 4. Commands ([`GroupHost::create`], [`GroupHost::invite`], [`GroupHost::send`], …) need
//!    an actor ([`GroupHost::act_as`]); they return at once, except `invite`, whose result
//!    arrives as [`HostOutput::Invited`] once the invitee's profile is fetched.

mod commands;
mod invites;
mod views;

use std::collections::{BTreeMap, VecDeque};

use quorate_actor_core::Identity;
use quorate_actor_core::rendezvous::{Delivery, Inbox, InboxConfig, InboxOutcome};
use quorate_actor_core::sync;
use quorate_mesh_proto::mesh::{Event, Head, Input, NodeId, Topic};
use quorate_mesh_proto::{Block, Cid, Duration, Instant, PinClass};
use rand_core::CryptoRngCore;

use crate::id::{GroupId, group_of_name};
use crate::ops::{self, EpochBlocks, OpError};
use crate::state::Change;
use crate::sync::{GroupSync, SyncConfig, group_event};

pub use invites::InviteTicket;
pub use views::{EpochView, GroupView, InvitationView, MessageView};

/// Invitations kept at most (newest kept).
const MAX_INVITATIONS: usize = 64;
/// Rendezvous blocks kept to replay into the inbox of an actor unlocked later (an
/// invitation may arrive before its recipient unlocks).
const RECENT_RENDEZVOUS: usize = 256;

/// Settings of a [`GroupHost`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct HostConfig {
    /// Groups followed at most (members or caches).
    pub max_groups: usize,
    /// How long a cache retains a group's blocks.
    pub retention: Duration,
    /// Bytes a cache retains per group at most.
    pub quota_bytes: u64,
    /// Settings of each group machine.
    pub sync: SyncConfig,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            max_groups: 256,
            retention: Duration::from_secs(7 * 24 * 3600),
            quota_bytes: 64 * 1024 * 1024,
            sync: SyncConfig::default(),
        }
    }
}

/// How the block store should keep a group block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep {
    /// Pinned under this class (the actor is a member).
    Pin(PinClass),
    /// Retained until this time, never evicted for space before (a blind cache).
    Retain {
        /// The deadline.
        until: Instant,
    },
}

/// Something the driver must do or the application may want to know.
#[derive(Debug)]
#[non_exhaustive]
pub enum HostOutput {
    /// An input for the mesh machine.
    Mesh(Input<'static>),
    /// Store this block as said (it is already in the store, unpinned).
    Keep {
        /// The block.
        block: Block,
        /// How.
        keep: Keep,
    },
    /// A change of one group's state.
    Event {
        /// The group.
        group: GroupId,
        /// What changed.
        event: Change,
    },
    /// The host's actor admitted pending joins and leaves: a new epoch.
    Admitted {
        /// The group.
        group: GroupId,
        /// The epoch.
        epoch: EpochView,
    },
    /// An invitation was sent (the invite block's CID) or could not be.
    Invited {
        /// The ticket [`GroupHost::invite`] returned.
        ticket: InviteTicket,
        /// The outcome.
        result: Result<Cid, HostError>,
    },
}

/// Why a command cannot be carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// No actor: the node acts as nobody yet.
    #[error("no actor is unlocked on this node")]
    NoActor,
    /// The group is not followed here.
    #[error("this node does not follow group {0}")]
    NotFollowed(GroupId),
    /// The actor named is not a member.
    #[error("{0} is not a member of the current epoch")]
    NotAMember(quorate_actor_core::ActorId),
    /// No invitation to this group arrived.
    #[error("no invitation to group {0} has arrived")]
    NoInvitation(GroupId),
    /// The invitee's profile (its encryption key) did not arrive in time.
    #[error("the profile of {0} did not arrive in time: is a node of theirs online?")]
    ProfileTimeout(quorate_actor_core::ActorId),
    /// Too many invites wait for profiles.
    #[error("{0} invites are already waiting for profiles")]
    TooManyInvites(usize),
    /// The group operation failed.
    #[error(transparent)]
    Op(#[from] OpError),
    /// The invitation could not be sealed.
    #[error("cannot seal the invitation: {0}")]
    Envelope(String),
}

/// Every group of one node.
#[derive(Debug)]
pub struct GroupHost {
    config: HostConfig,
    own: NodeId,
    machines: BTreeMap<GroupId, GroupSync>,
    /// Bytes retained for each group as a cache.
    retained: BTreeMap<GroupId, u64>,
    /// Group heads this node announced (to rebuild a machine from the store).
    heads: BTreeMap<String, Head>,
    identity: Option<Identity>,
    inbox: Option<Inbox>,
    /// Invitations received (held or delivered), newest last.
    invitations: Vec<Delivery>,
    recent: VecDeque<Block>,
    invites: invites::Invites,
    outputs: VecDeque<HostOutput>,
}

impl GroupHost {
    /// A host for node `own`, acting as nobody yet: it subscribes to the rendezvous topic.
    #[must_use]
    pub fn new(config: HostConfig, own: NodeId) -> Self {
        let mut outputs = VecDeque::new();
        outputs.push_back(HostOutput::Mesh(Input::Subscribe(Topic::global())));
        GroupHost {
            config,
            own,
            machines: BTreeMap::new(),
            retained: BTreeMap::new(),
            heads: BTreeMap::new(),
            identity: None,
            inbox: None,
            invitations: Vec::new(),
            recent: VecDeque::new(),
            invites: invites::Invites::default(),
            outputs,
        }
    }

    /// The actor the host acts as.
    #[must_use]
    pub fn identity(&self) -> Option<&Identity> {
        self.identity.as_ref()
    }

    /// The machine of a followed group.
    #[must_use]
    pub fn machine(&self, group: &GroupId) -> Option<&GroupSync> {
        self.machines.get(group)
    }

    /// Every followed group.
    pub fn machines(&self) -> impl Iterator<Item = (&GroupId, &GroupSync)> {
        self.machines.iter()
    }

    /// The group heads this host announced (keep them to [`restore`](Self::restore)).
    pub fn heads(&self) -> impl Iterator<Item = &Head> {
        self.heads.values()
    }

    /// Follows the groups these heads (announced by this node before) name, and rebuilds
    /// them from the local store. Heads of other kinds are ignored.
    pub fn restore(&mut self, now: Instant, heads: impl IntoIterator<Item = Head>) {
        for head in heads {
            let Some(group) = group_of_name(&head.name) else {
                continue;
            };
            // Only the group's own heads (other layers name heads under the group too).
            if head.name != group.epoch_head() && head.name != group.messages_head() {
                continue;
            }
            let newer = self
                .heads
                .get(&head.name)
                .is_none_or(|old| head.seq >= old.seq);
            if newer {
                self.heads.insert(head.name.clone(), head.clone());
            }
            if let Some(machine) = self.machines.get_mut(&group) {
                machine.handle_head(now, &head, self.own);
            } else {
                self.follow(group, now);
            }
        }
    }

    /// Follows `group` (subscribes, starts its machine, hands it our own heads). Returns
    /// whether it is followed now (false: [`HostConfig::max_groups`] reached).
    pub fn follow(&mut self, group: GroupId, now: Instant) -> bool {
        if self.machines.contains_key(&group) {
            return true;
        }
        if self.machines.len() >= self.config.max_groups {
            return false;
        }
        let mut machine =
            GroupSync::new(self.config.sync.clone(), group, self.identity.clone(), now);
        self.outputs
            .push_back(HostOutput::Mesh(Input::Subscribe(machine.topic().clone())));
        for head in self.heads.values() {
            if group_of_name(&head.name) == Some(group) {
                machine.handle_head(now, head, self.own);
            }
        }
        self.machines.insert(group, machine);
        true
    }

    /// The host acts as `identity` from now on: its invitations are read (the recent
    /// rendezvous blocks again too) and every group is rebuilt with its keys.
    pub fn act_as(&mut self, identity: Identity, now: Instant, now_ms: u64) {
        if self.identity.as_ref().map(Identity::id) == Some(identity.id()) {
            return;
        }
        self.inbox = Some(Inbox::new(&identity, InboxConfig::default()));
        self.identity = Some(identity);
        self.invitations.clear();
        let recent: Vec<Block> = self.recent.iter().cloned().collect();
        for block in &recent {
            self.on_rendezvous_block(now_ms, block);
        }
        let followed: Vec<GroupId> = self.machines.keys().copied().collect();
        self.machines.clear();
        for group in followed {
            self.follow(group, now);
        }
    }

    /// The host acts as nobody again (the actor was locked or forgotten): groups are
    /// rebuilt as a blind cache.
    pub fn forget_actor(&mut self, now: Instant) {
        if self.identity.take().is_none() {
            return;
        }
        self.inbox = None;
        self.invitations.clear();
        let followed: Vec<GroupId> = self.machines.keys().copied().collect();
        self.machines.clear();
        for group in followed {
            self.follow(group, now);
        }
    }

    /// A mesh event, as the group layer sees it.
    pub fn on_event(&mut self, now: Instant, now_ms: u64, event: &Event) {
        match event {
            Event::HeadUpdated { head, .. } => {
                if let Some(group) = group_of_name(&head.name) {
                    self.follow(group, now);
                }
            }
            Event::Delivered { topic, block, .. } if *topic == Topic::global() => {
                if self.recent.len() >= RECENT_RENDEZVOUS {
                    self.recent.pop_front();
                }
                self.recent.push_back(block.clone());
                self.on_rendezvous_block(now_ms, block);
            }
            _ => {}
        }
        self.invites.on_event(now, event);
        for machine in self.machines.values_mut() {
            group_event(machine, now, event);
        }
    }

    fn on_rendezvous_block(&mut self, now_ms: u64, block: &Block) {
        let Some(inbox) = self.inbox.as_mut() else {
            return;
        };
        match inbox.handle(now_ms, block) {
            InboxOutcome::Delivered(d) => self.invitations.push(*d),
            InboxOutcome::Held { .. } => {
                if let Some(d) = inbox.pending().last() {
                    self.invitations.push(d.clone());
                }
            }
            _ => return,
        }
        let excess = self.invitations.len().saturating_sub(MAX_INVITATIONS);
        self.invitations.drain(..excess);
    }

    /// Publishes blocks made locally on a group's topic (and hands them to its machine).
    pub fn publish(
        &mut self,
        group: GroupId,
        blocks: impl IntoIterator<Item = Block>,
        now: Instant,
    ) {
        self.follow(group, now);
        let topic = group.topic();
        for block in blocks {
            if let Some(machine) = self.machines.get_mut(&group) {
                machine.insert_local(now, block.clone());
            }
            self.outputs.push_back(HostOutput::Mesh(Input::Publish {
                topic: topic.clone(),
                block,
            }));
        }
    }

    /// Installs an epoch this actor made: its key (held without an envelope) and its
    /// blocks.
    fn install(&mut self, group: GroupId, epoch: &EpochBlocks, now: Instant) {
        if let Some(machine) = self.machines.get_mut(&group) {
            machine
                .state_mut()
                .add_key(*epoch.state.cid(), epoch.key.clone());
        }
        self.publish(group, epoch.blocks().cloned(), now);
    }

    /// Runs every machine: timers, outputs, the blocks to keep, admissions, invites.
    /// Returns how many things happened.
    pub fn pump(
        &mut self,
        now: Instant,
        now_ms: u64,
        mut load: impl FnMut(&Cid) -> Option<Block>,
        rng: &mut impl CryptoRngCore,
    ) -> usize {
        let mut work = 0;
        let groups: Vec<GroupId> = self.machines.keys().copied().collect();
        for group in groups {
            let Some(mut machine) = self.machines.remove(&group) else {
                continue;
            };
            if machine.poll_timeout().is_some_and(|t| t <= now) {
                machine.handle_timeout(now);
            }
            let drained = sync::drain(&mut machine, now, &mut load);
            work += drained.mesh.len() + drained.events.len();
            for input in drained.mesh {
                if let Input::SetHead(head) = &input {
                    self.heads.insert(head.name.clone(), head.clone());
                }
                self.outputs.push_back(HostOutput::Mesh(input));
            }
            let mut admit = false;
            for event in drained.events {
                match &event {
                    Change::Accepted { cid, class } => {
                        let member = self.identity.as_ref().is_some_and(|me| {
                            machine
                                .state()
                                .current()
                                .is_some_and(|e| e.members.contains(&me.id()))
                        });
                        self.keep(group, cid, *class, member, now, &mut load);
                    }
                    Change::Request(_) | Change::Current { .. } => admit = true,
                    _ => {}
                }
                self.outputs.push_back(HostOutput::Event { group, event });
            }
            let epoch = if admit {
                self.admission(&machine, now_ms, rng)
            } else {
                None
            };
            self.machines.insert(group, machine);
            if let Some(epoch) = epoch {
                self.install(group, &epoch, now);
                let view = EpochView {
                    epoch: epoch_number(&epoch),
                    cid: epoch.state.cid().to_string(),
                    bytes: epoch.wire_bytes(),
                };
                self.outputs
                    .push_back(HostOutput::Admitted { group, epoch: view });
                work += 1;
            }
        }
        work + self.pump_invites(now, now_ms, &mut load, rng)
    }

    /// The epoch the host's actor should make now for pending joins and leaves.
    fn admission(
        &self,
        machine: &GroupSync,
        now_ms: u64,
        rng: &mut impl CryptoRngCore,
    ) -> Option<EpochBlocks> {
        let me = self.identity.as_ref()?;
        let change = ops::admit(me, machine.state(), now_ms)?;
        ops::next_epoch(me, machine.state(), &change, now_ms, rng).ok()
    }

    /// Members pin a group's valid blocks; caches retain them for the retention time while
    /// the group's quota lasts.
    fn keep(
        &mut self,
        group: GroupId,
        cid: &Cid,
        class: PinClass,
        member: bool,
        now: Instant,
        load: &mut impl FnMut(&Cid) -> Option<Block>,
    ) {
        let Some(block) = load(cid) else {
            return;
        };
        let keep = if member {
            Keep::Pin(class)
        } else {
            let used = self.retained.entry(group).or_default();
            let size = block.len() as u64;
            if *used + size > self.config.quota_bytes {
                return;
            }
            *used += size;
            Keep::Retain {
                until: now + self.config.retention,
            }
        };
        self.outputs.push_back(HostOutput::Keep { block, keep });
    }

    /// The next output.
    pub fn poll_output(&mut self) -> Option<HostOutput> {
        self.outputs.pop_front()
    }

    /// The earliest timer.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let machines = self.machines.values().filter_map(GroupSync::poll_timeout);
        machines.chain(self.invites.poll_timeout()).min()
    }
}

/// The epoch number a freshly made epoch carries.
fn epoch_number(epoch: &EpochBlocks) -> u64 {
    crate::GroupEpochState::decode(&epoch.state).map_or(0, |(s, _)| s.epoch)
}
