//! Groups in the node.
//!
//! The node follows every group it hears of (a head `group/<id>/…` from a peer, or a
//! command), up to [`MAX_GROUPS`]: it subscribes to the group topic and runs a
//! [`GroupSync`]. For groups of the actor it acts as (see `group_control`) it is a member:
//! it decrypts, pins the group's blocks, and admits joins and leaves if the actor is an
//! admin. For every other group it is a **blind store-and-forward cache**: it checks
//! signatures and membership (it can, without any key), and holds the valid blocks —
//! ciphertext only — for [`NodeConfig::group_retention`] under a byte quota per group
//! ([`NodeConfig::group_quota_bytes`]), so members who were offline catch up from it.
//! Beyond the quota blocks stay in the ordinary evictable cache.
//!
//! Which groups are followed survives restarts through the announced heads
//! (`DIR/heads.json`): at start each group machine is handed the heads this node
//! announced and rebuilds its state from the local store.
//!
//! [`NodeConfig::group_retention`]: super::NodeConfig::group_retention
//! [`NodeConfig::group_quota_bytes`]: super::NodeConfig::group_quota_bytes

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use quorate_actor_core::Identity;
use quorate_actor_core::rendezvous::{Body, Delivery, Inbox, InboxConfig, InboxOutcome};
use quorate_actor_core::sync;
use quorate_group_core::ops;
use quorate_group_core::sync::{Event as GroupEvent, GroupSync, SyncConfig, group_event};
use quorate_group_core::{GroupId, group_of_name};
use quorate_mesh_blockstore::{BlockStore as _, PutOptions};
use quorate_mesh_proto::mesh::{Event, Input, Topic};
use quorate_mesh_proto::{Block, Instant};
use rand_core::OsRng;

use super::node::Node;

/// Groups followed at most.
pub(crate) const MAX_GROUPS: usize = 256;
/// Invitations kept at most.
const MAX_INVITATIONS: usize = 64;

/// The node's group state.
#[derive(Debug, Default)]
pub(crate) struct Groups {
    pub(crate) machines: BTreeMap<GroupId, GroupSync>,
    /// Bytes held for each group as a cache (retained class).
    retained: BTreeMap<GroupId, u64>,
    /// The actor the node acts as, once a group command named it.
    pub(crate) identity: Option<Identity>,
    pub(crate) inbox: Option<Inbox>,
    /// Invitations received (held or delivered), newest last.
    pub(crate) invitations: Vec<Delivery>,
    /// Recent blocks of the rendezvous topic, replayed into the inbox of an actor unlocked
    /// later (an invitation may arrive before its recipient's first command).
    recent: std::collections::VecDeque<Block>,
}

/// Rendezvous blocks kept for replay.
const RECENT_RENDEZVOUS: usize = 256;

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Node {
    /// Joins the rendezvous topic (at start).
    pub(crate) fn subscribe_rendezvous(&mut self) {
        let now = self.now();
        if let Err(e) = self.driver.handle(now, Input::Subscribe(Topic::global())) {
            tracing::warn!("subscribing to the rendezvous topic: {e}");
        }
    }

    /// Follows `group` (subscribes, starts its machine, hands it our stored heads).
    pub(crate) fn follow_group(&mut self, group: GroupId, now: Instant) {
        if self.groups.machines.contains_key(&group) || self.groups.machines.len() >= MAX_GROUPS {
            return;
        }
        let me = self.groups.identity.clone();
        let mut machine = GroupSync::new(SyncConfig::default(), group, me, now);
        if let Err(e) = self
            .driver
            .handle(now, Input::Subscribe(machine.topic().clone()))
        {
            tracing::warn!("subscribing to group {}: {e}", group.short());
        }
        let own = self.info.id;
        for head in self.actors.stored_heads() {
            if group_of_name(&head.name) == Some(group) {
                machine.handle_head(now, &head, own);
            }
        }
        tracing::info!(group = %group.short(), "following group");
        self.groups.machines.insert(group, machine);
    }

    /// The node acts as `identity` from now on: its groups are rebuilt with its keys.
    pub(crate) fn act_as(&mut self, identity: Identity, now: Instant) {
        if self.groups.identity.as_ref().map(Identity::id) == Some(identity.id()) {
            return;
        }
        tracing::info!(actor = %identity.id().short(), "acting as actor");
        self.groups.inbox = Some(Inbox::new(&identity, InboxConfig::default()));
        self.groups.identity = Some(identity);
        self.groups.invitations.clear();
        let recent: Vec<Block> = self.groups.recent.iter().cloned().collect();
        for block in &recent {
            self.on_rendezvous_block(block);
        }
        let followed: Vec<GroupId> = self.groups.machines.keys().copied().collect();
        self.groups.machines.clear();
        for group in followed {
            self.follow_group(group, now);
        }
    }

    /// A mesh event, as the group layer sees it.
    pub(crate) fn groups_on_event(&mut self, event: &Event) {
        let now = self.now();
        match event {
            Event::HeadUpdated { head, .. } => {
                if let Some(group) = group_of_name(&head.name) {
                    self.follow_group(group, now);
                }
            }
            Event::Delivered { topic, block, .. } if *topic == Topic::global() => {
                if self.groups.recent.len() >= RECENT_RENDEZVOUS {
                    self.groups.recent.pop_front();
                }
                self.groups.recent.push_back(block.clone());
                self.on_rendezvous_block(block);
            }
            _ => {}
        }
        for machine in self.groups.machines.values_mut() {
            group_event(machine, now, event);
        }
    }

    fn on_rendezvous_block(&mut self, block: &Block) {
        let Some(inbox) = self.groups.inbox.as_mut() else {
            return;
        };
        match inbox.handle(now_ms(), block) {
            InboxOutcome::Delivered(d) => self.groups.invitations.push(*d),
            InboxOutcome::Held { from } => {
                tracing::info!(from = %from.short(), "invitation held until accepted");
                if let Some(d) = inbox.pending().last() {
                    self.groups.invitations.push(d.clone());
                }
            }
            _ => return,
        }
        let excess = self
            .groups
            .invitations
            .len()
            .saturating_sub(MAX_INVITATIONS);
        self.groups.invitations.drain(..excess);
    }

    /// The invitation to `group`, newest first.
    pub(crate) fn invitation(&self, group: &GroupId) -> Option<&Delivery> {
        self.groups.invitations.iter().rev().find(
            |d| matches!(&d.body, Body::Invitation { group: Some(g), .. } if g == group.as_bytes()),
        )
    }

    /// Publishes blocks made locally on a group's topic (and into its machine).
    pub(crate) fn publish_group_blocks<'a>(
        &mut self,
        group: GroupId,
        blocks: impl IntoIterator<Item = &'a Block>,
    ) {
        let now = self.now();
        self.follow_group(group, now);
        let topic = group.topic();
        for block in blocks {
            if let Some(machine) = self.groups.machines.get_mut(&group) {
                machine.insert_local(now, block.clone());
            }
            let input = Input::Publish {
                topic: topic.clone(),
                block: block.clone(),
            };
            if let Err(e) = self.driver.handle(now, input) {
                tracing::warn!("publishing on group {}: {e}", group.short());
            }
        }
    }

    /// Runs every group machine's outputs; returns how many things happened.
    pub(crate) fn groups_pump(&mut self, now: Instant) -> usize {
        let mut work = 0;
        let groups: Vec<GroupId> = self.groups.machines.keys().copied().collect();
        for group in groups {
            let Some(mut machine) = self.groups.machines.remove(&group) else {
                continue;
            };
            if machine.poll_timeout().is_some_and(|t| t <= now) {
                machine.handle_timeout(now);
            }
            let store = self.driver.store_mut();
            let drained = sync::drain(&mut machine, now, |cid| store.get(cid).ok().flatten());
            work += drained.mesh.len() + drained.events.len();
            for input in drained.mesh {
                if let Input::SetHead(head) = &input {
                    self.actors.remember_head(head);
                }
                if let Err(e) = self.driver.handle(now, input) {
                    tracing::debug!("group input: {e}");
                }
            }
            let mut admit = false;
            for event in drained.events {
                match event {
                    GroupEvent::Accepted { cid, class } => {
                        let member = self.groups.identity.as_ref().is_some_and(|me| {
                            machine
                                .state()
                                .current()
                                .is_some_and(|e| e.members.contains(&me.id()))
                        });
                        self.keep_group_block(group, &cid, class, member, now);
                    }
                    GroupEvent::Request(_) => admit = true,
                    GroupEvent::Current { epoch, .. } => {
                        tracing::info!(group = %group.short(), epoch, "group epoch");
                        admit = true;
                    }
                    GroupEvent::KeyFailed { error, .. } => {
                        tracing::warn!(group = %group.short(), "epoch key: {error}");
                    }
                    GroupEvent::Rejected { cid, reason } => {
                        tracing::debug!(group = %group.short(), %cid, "rejected: {reason}");
                    }
                    other => tracing::trace!(group = %group.short(), "{other:?}"),
                }
            }
            let change = admit
                .then(|| {
                    let me = self.groups.identity.as_ref()?;
                    let change = ops::admit(me, machine.state(), now_ms())?;
                    ops::next_epoch(me, machine.state(), &change, now_ms(), &mut OsRng).ok()
                })
                .flatten();
            self.groups.machines.insert(group, machine);
            if let Some(epoch) = change {
                tracing::info!(group = %group.short(), "admitting pending joins and leaves");
                let blocks: Vec<Block> = epoch.blocks().cloned().collect();
                if let Some(m) = self.groups.machines.get_mut(&group) {
                    m.state_mut().add_key(*epoch.state.cid(), epoch.key.clone());
                }
                self.publish_group_blocks(group, &blocks);
                work += 1;
            }
        }
        work
    }

    /// Members pin a group's valid blocks; caches retain them for the retention time
    /// while the group's quota lasts.
    fn keep_group_block(
        &mut self,
        group: GroupId,
        cid: &quorate_mesh_proto::Cid,
        class: quorate_mesh_proto::PinClass,
        member: bool,
        now: Instant,
    ) {
        let retention = self.config.group_retention;
        let quota = self.config.group_quota_bytes;
        let store = self.driver.store_mut();
        let Ok(Some(block)) = store.get(cid) else {
            return;
        };
        let options = if member {
            PutOptions::pinned(class)
        } else {
            let used = self.groups.retained.entry(group).or_default();
            let size = block.len() as u64;
            if *used + size > quota {
                tracing::debug!(group = %group.short(), "group quota reached; block stays evictable");
                return;
            }
            *used += size;
            PutOptions::retained(now + retention)
        };
        if let Err(e) = store.put(&block, options) {
            tracing::warn!(%cid, "keeping a group block: {e}");
        }
    }

    /// The earliest group timer.
    pub(crate) fn groups_next_wake(&self) -> Option<Instant> {
        self.groups
            .machines
            .values()
            .filter_map(GroupSync::poll_timeout)
            .min()
    }
}
