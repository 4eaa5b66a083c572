//! Groups in the node: one [`GroupHost`] (group-core) — every group the node hears of,
//! up to 256, as a member for the actor it acts as (see `group_control`) and as a blind
//! store-and-forward cache for every other group: signatures and membership checked, the
//! valid blocks (ciphertext only) retained for [`NodeConfig::group_retention`] under a
//! byte quota per group ([`NodeConfig::group_quota_bytes`]), so members who were offline
//! catch up from it. Beyond the quota blocks stay in the ordinary evictable cache.
//!
//! This file carries the host's outputs out: mesh inputs to the driver (group heads
//! announced are remembered in `DIR/heads.json`, so the groups are followed again and
//! rebuilt from the store after a restart), blocks to pin or retain to the store, invite
//! outcomes to the control socket.
//!
//! [`NodeConfig::group_retention`]: super::NodeConfig::group_retention
//! [`NodeConfig::group_quota_bytes`]: super::NodeConfig::group_quota_bytes

use std::time::{SystemTime, UNIX_EPOCH};

use quorate_actor_core::Identity;
use quorate_group_core::host::{GroupHost, HostConfig, HostOutput, Keep};
use quorate_mesh_blockstore::{BlockStore as _, PutOptions};
use quorate_mesh_proto::Instant;
use quorate_mesh_proto::mesh::{Event, Head, Input, NodeId};
use rand_core::OsRng;

use super::NodeConfig;
use super::control::Reply;
use super::group_control::GroupReply;
use super::node::Node;

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The node's group host, from its configuration.
pub(crate) fn host(config: &NodeConfig, own: NodeId) -> GroupHost {
    let mut host = HostConfig::default();
    host.retention = config.group_retention;
    host.quota_bytes = config.group_quota_bytes;
    GroupHost::new(host, own)
}

impl Node {
    /// Follows the group a stored head names (at start) and rebuilds it from the store.
    pub(crate) fn restore_group_head(&mut self, head: Head) {
        let now = self.now();
        self.groups.restore(now, [head]);
    }

    /// The node acts as `identity` from now on: its groups are rebuilt with its keys.
    pub(crate) fn act_as(&mut self, identity: Identity, now: Instant) {
        if self.groups.identity().map(Identity::id) != Some(identity.id()) {
            tracing::info!(actor = %identity.id().short(), "acting as actor");
        }
        self.groups.act_as(identity, now, now_ms());
    }

    /// A mesh event, as the group layer sees it.
    pub(crate) fn groups_on_event(&mut self, event: &Event) {
        let now = self.now();
        self.groups.on_event(now, now_ms(), event);
    }

    /// Runs the group host and carries out its outputs; returns how many things happened.
    pub(crate) fn groups_pump(&mut self, now: Instant) -> usize {
        let store = self.driver.store_mut();
        let work = self.groups.pump(
            now,
            now_ms(),
            |cid| store.get(cid).ok().flatten(),
            &mut OsRng,
        );
        work + self.group_outputs(now)
    }

    /// Carries out what the group host asked for.
    pub(crate) fn group_outputs(&mut self, now: Instant) -> usize {
        let mut work = 0;
        while let Some(output) = self.groups.poll_output() {
            work += 1;
            match output {
                HostOutput::Mesh(input) => {
                    if let Input::SetHead(head) = &input {
                        self.actors.remember_head(head);
                    }
                    if let Err(e) = self.driver.handle(now, input) {
                        tracing::debug!("group input: {e}");
                    }
                }
                HostOutput::Keep { block, keep } => {
                    let options = match keep {
                        Keep::Pin(class) => PutOptions::pinned(class),
                        Keep::Retain { until } => PutOptions::retained(until),
                    };
                    if let Err(e) = self.driver.store_mut().put(&block, options) {
                        tracing::warn!(cid = %block.cid(), "keeping a group block: {e}");
                    }
                }
                HostOutput::Event { group, event } => {
                    tracing::trace!(group = %group.short(), "{event:?}");
                }
                HostOutput::Admitted { group, epoch } => {
                    tracing::info!(group = %group.short(), epoch = epoch.epoch, "admitted pending joins and leaves");
                }
                HostOutput::Invited { ticket, result } => {
                    let answer = match result {
                        Ok(cid) => Reply::Group(Box::new(GroupReply::Invited {
                            invite: cid.to_string(),
                        })),
                        Err(e) => Reply::Error {
                            message: e.to_string(),
                        },
                    };
                    if let Some(reply) = self.invite_replies.remove(&ticket) {
                        drop(reply.send(answer));
                    }
                }
                other => tracing::trace!("group host: {other:?}"),
            }
        }
        work
    }
}
