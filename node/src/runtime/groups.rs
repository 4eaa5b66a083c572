//! Groups in the node: one governance host (attestation-core's `GovernanceHost` over
//! group-core's `GroupHost`) — every group the node hears of,
//! up to 256, as a member for the actor it acts as (see `group_control`) and as a blind
//! store-and-forward cache for every other group: signatures and membership checked, the
//! valid blocks (ciphertext only) retained for [`NodeConfig::group_retention`] under a
//! byte quota per group ([`NodeConfig::group_quota_bytes`]), so members who were offline
//! catch up from it. Beyond the quota blocks stay in the ordinary evictable cache.
//!
//! Governance rides on it: proposals, votes and attestations on the group topics; the
//! committee duty for the groups whose key this node holds (`DIR/committee/<group>.key`);
//! the execution engine with the internal actions (for groups whose admin is the actor)
//! and `TRIGGER_X` as an HTTP POST to `NodeConfig::trigger_url`, with markers in redb
//! (`DIR/executions.redb`) so a job runs once across restarts.
//!
//! This file carries the host's outputs out: mesh inputs to the driver (heads announced
//! are remembered in `DIR/heads.json`, so the groups are followed again and rebuilt from
//! the store after a restart), blocks to pin or retain to the store, invite outcomes to
//! the control socket, HTTP POSTs.
//!
//! [`NodeConfig::group_retention`]: super::NodeConfig::group_retention
//! [`NodeConfig::group_quota_bytes`]: super::NodeConfig::group_quota_bytes

use std::time::{SystemTime, UNIX_EPOCH};

use quorate_actor_core::Identity;
use quorate_attestation_core::SingleKeyCommittee;
use quorate_attestation_core::execute::{Effect, ExecutionEngine, Job, internal_handlers};
use quorate_attestation_core::host::{GovOutput, GovernanceHost};
use quorate_group_core::host::{GroupHost, HostConfig, HostOutput, Keep};
use quorate_group_core::{GroupId, GroupState};
use quorate_mesh_blockstore::{BlockStore as _, PutOptions};
use quorate_mesh_proto::mesh::{Event, Head, Input, NodeId};
use quorate_mesh_proto::{Cid, Instant};
use rand_core::OsRng;

use super::NodeConfig;
use super::control::Reply;
use super::group_control::GroupReply;
use super::markers::RedbMarkers;
use super::node::Node;
use super::trigger::{self, TriggerUrl};

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The node's governance host.
pub(crate) type Governance = GovernanceHost<RedbMarkers>;

/// Crash right after a job's `Started` marker is durable and before its effect (tests of
/// exactly-once execution set it; never set in production).
const CRASH_HOOK: &str = "QUORATE_CRASH_BEFORE_EFFECT";

/// The node's governance host, from its configuration: groups, execution markers in
/// `DIR/executions.redb`, the internal handlers, `TRIGGER_X` if a URL is configured, and
/// the committee keys kept in `DIR/committee/`.
pub(crate) fn host(config: &NodeConfig, own: NodeId) -> Result<Governance, String> {
    let mut host = HostConfig::default();
    host.retention = config.group_retention;
    host.quota_bytes = config.group_quota_bytes;
    let mut registry = internal_handlers();
    if let Some(url) = &config.trigger_url {
        let url: TriggerUrl = url.parse()?;
        registry.register("TRIGGER_X", trigger_handler(url));
    }
    let markers = RedbMarkers::open(&config.data_dir)?;
    let mut gov = GovernanceHost::new(
        GroupHost::new(host, own),
        ExecutionEngine::new(registry, markers),
    );
    for (group, committee) in load_committee_keys(&config.data_dir) {
        gov.hold_committee_key(group, committee);
    }
    for (group, root, key) in load_frost_shares(&config.data_dir) {
        if let Err(e) = gov.hold_frost_share(group, root, &key) {
            tracing::warn!(group = %group.short(), "a saved FROST share: {e}");
        }
    }
    Ok(gov)
}

/// `TRIGGER_X`: POST `{group, proposal, epoch, data}` to `url`.
fn trigger_handler(url: TriggerUrl) -> impl Fn(&Job, &GroupState) -> Result<Effect, String> {
    move |job: &Job, _state: &GroupState| {
        let data = job
            .payload
            .as_ref()
            .and_then(|b| quorate_governance_core::ActionPayload::decode(b).ok())
            .and_then(|p| match p {
                quorate_governance_core::ActionPayload::Data(d) => Some(d),
                _ => None,
            })
            .unwrap_or_default();
        let body = serde_json::json!({
            "group": job.proposal.group.to_string(),
            "proposal": job.id.to_string(),
            "epoch": job.proposal.epoch,
            "action": job.proposal.action_type,
            "data": data,
            "issuedAt": job.attestation.issued_at,
        });
        Ok(Effect::HttpPost {
            url: format!("http://{}{}", url.addr, url.path),
            body: body.to_string().into_bytes(),
            key: job.id.to_string(),
        })
    }
}

fn committee_dir(data: &std::path::Path) -> std::path::PathBuf {
    data.join("committee")
}

/// The committee keys this node holds: `DIR/committee/<group>.key`, each the holder's
/// actor id and the key's secret in hex (0600, like the node key).
fn load_committee_keys(data: &std::path::Path) -> Vec<(GroupId, SingleKeyCommittee)> {
    let Ok(entries) = std::fs::read_dir(committee_dir(data)) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let group: GroupId = name.strip_suffix(".key")?.parse().ok()?;
            let text = std::fs::read_to_string(e.path()).ok()?;
            let (holder, secret) = text.trim().split_once(' ')?;
            let mut bytes = [0u8; 32];
            hex::decode_to_slice(secret, &mut bytes).ok()?;
            let committee = SingleKeyCommittee::from_secret(holder.parse().ok()?, &bytes);
            zeroize::Zeroize::zeroize(&mut bytes);
            Some((group, committee))
        })
        .collect()
}

/// The FROST shares this node holds: `DIR/committee/<group>.<committee>.frost`, each a
/// key package in hex (0600, like the node key).
fn load_frost_shares(data: &std::path::Path) -> Vec<(GroupId, Cid, zeroize::Zeroizing<Vec<u8>>)> {
    let Ok(entries) = std::fs::read_dir(committee_dir(data)) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let (group, root) = name.strip_suffix(".frost")?.split_once('.')?;
            let text = zeroize::Zeroizing::new(std::fs::read_to_string(e.path()).ok()?);
            let key = zeroize::Zeroizing::new(hex::decode(text.trim()).ok()?);
            Some((group.parse().ok()?, root.parse().ok()?, key))
        })
        .collect()
}

fn frost_share_path(data: &std::path::Path, group: &GroupId, root: &Cid) -> std::path::PathBuf {
    committee_dir(data).join(format!("{group}.{root}.frost"))
}

/// Keeps a FROST share (a key package) for the committee block `root`.
fn save_frost_share(
    data: &std::path::Path,
    group: &GroupId,
    root: &Cid,
    key: &[u8],
) -> Result<(), String> {
    let dir = committee_dir(data);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = frost_share_path(data, group, root);
    let text = zeroize::Zeroizing::new(hex::encode(key) + "\n");
    super::keyfile::write_private(&path, text.as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Keeps a committee key (before the epoch naming it is published).
pub(crate) fn save_committee_key(
    data: &std::path::Path,
    group: &GroupId,
    holder: &quorate_actor_core::ActorId,
    committee: &SingleKeyCommittee,
) -> Result<(), String> {
    let dir = committee_dir(data);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join(format!("{group}.key"));
    let text = zeroize::Zeroizing::new(format!("{holder} {}\n", hex::encode(committee.secret())));
    super::keyfile::write_private(&path, text.as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))
}

impl Node {
    /// Follows the group a stored head names (at start) and rebuilds it from the store.
    pub(crate) fn restore_group_head(&mut self, head: Head) {
        let now = self.now();
        self.groups.restore(now, [head]);
    }

    /// The group host.
    pub(crate) fn group_host(&mut self) -> &mut GroupHost {
        self.groups.groups_mut()
    }

    /// The node acts as `identity` from now on: its groups are rebuilt with its keys.
    pub(crate) fn act_as(&mut self, identity: Identity, now: Instant) {
        if self.groups.groups().identity().map(Identity::id) == Some(identity.id()) {
            return;
        }
        tracing::info!(actor = %identity.id().short(), "acting as actor");
        self.groups.groups_mut().act_as(identity, now, now_ms());
        // Rebuild the groups from the store now (one pump loads everything it has), so
        // the command that named the actor sees them.
        self.groups_pump(now);
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
            let output = match output {
                GovOutput::Host(o) => o,
                GovOutput::Http {
                    group,
                    proposal,
                    url,
                    body,
                    key,
                    resumed,
                } => {
                    self.run_http(group, proposal, &url, &body, &key, resumed);
                    continue;
                }
                GovOutput::CommitteeShare {
                    group,
                    committee,
                    key_package,
                } => {
                    match save_frost_share(
                        &self.config.data_dir,
                        &group,
                        &committee,
                        key_package.expose(),
                    ) {
                        Ok(()) => {
                            tracing::info!(group = %group.short(), %committee, "holding a FROST share")
                        }
                        Err(e) => {
                            tracing::error!(group = %group.short(), "cannot save a FROST share: {e}")
                        }
                    }
                    continue;
                }
                GovOutput::EraseShare { group, committee } => {
                    let path = frost_share_path(&self.config.data_dir, &group, &committee);
                    if let Err(e) = std::fs::remove_file(&path) {
                        tracing::warn!("cannot erase {}: {e}", path.display());
                    }
                    continue;
                }
                other => {
                    tracing::info!("governance: {other:?}");
                    continue;
                }
            };
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

    /// Carries out a job's HTTP POST (`TRIGGER_X`), then records it done.
    fn run_http(
        &mut self,
        group: GroupId,
        proposal: quorate_governance_core::ProposalId,
        url: &str,
        body: &[u8],
        key: &str,
        resumed: bool,
    ) {
        if !resumed && std::env::var_os(CRASH_HOOK).is_some() {
            tracing::error!("{CRASH_HOOK} is set: exiting before the effect of {proposal}");
            std::process::exit(70);
        }
        let result = url
            .parse::<TriggerUrl>()
            .and_then(|u| trigger::post(&u, body, key));
        match result {
            Ok(status) => {
                tracing::info!(%proposal, status, resumed, "TRIGGER_X posted");
                self.groups
                    .finished(group, &proposal, format!("POST {url}: {status}"));
            }
            // Stays `Started`: offered again after a restart (same idempotency key).
            Err(e) => tracing::warn!(%proposal, "TRIGGER_X: {e}"),
        }
    }
}
