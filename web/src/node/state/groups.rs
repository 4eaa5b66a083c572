//! Groups in the tab: group-core's [`GroupHost`], the same group layer the native node
//! runs — every group the tab hears of, as a member for its unlocked actor and as a blind
//! cache (ciphertext retained for a week under a quota) for the others; invitations read
//! from the rendezvous topic; pending joins and leaves admitted when the actor is an
//! admin.
//!
//! This file carries the host's outputs out (mesh inputs, blocks to pin or retain,
//! invite outcomes to the page's promises), keeps the group heads the tab announced in
//! the actor record (so a reload follows the same groups and rebuilds them from
//! IndexedDB), and turns the host's views into plain JS objects for the page.

use std::collections::BTreeMap;

use js_sys::{Array, Function, Promise};
use quorate_actor_core::{ActorId, Identity};
use quorate_attestation_core::execute::{ExecutionEngine, MemoryMarkers, internal_handlers};
use quorate_attestation_core::host::{GovOutput, GovernanceHost};
use quorate_group_core::GroupId;
use quorate_group_core::host::{
    EpochView, GroupHost, GroupView, HostConfig, HostError, HostOutput, InvitationView,
    InviteTicket, Keep, MessageView,
};
use quorate_mesh_blockstore::{BlockStore, PutOptions};
use quorate_mesh_proto::Duration;
use quorate_mesh_proto::mesh::{self, Head, Input, NodeId};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use wasm_bindgen::{JsError, JsValue};

use super::State;
use super::actor::obj;
use super::governance::GovNotes;
use crate::browser;
use crate::node::actor::now_ms;

/// Longest message, in bytes.
const MAX_TEXT: usize = 16 * 1024;
/// Messages `groupMessages` returns at most.
const MAX_SHOWN: usize = 500;

/// The tab's group layer.
pub(in crate::node) struct Groups {
    pub(super) gov: GovernanceHost<MemoryMarkers>,
    pub(super) rng: ChaCha20Rng,
    /// `inviteToGroup` promises: (resolve, reject).
    invites: BTreeMap<InviteTicket, (Function, Function)>,
    /// What the governance host reported (committee runs, executions…).
    pub(super) notes: GovNotes,
}

impl Groups {
    pub(in crate::node) fn new(own: NodeId, seed: [u8; 32]) -> Groups {
        Groups {
            gov: GovernanceHost::new(
                GroupHost::new(HostConfig::default(), own),
                ExecutionEngine::new(internal_handlers(), MemoryMarkers::default()),
            ),
            rng: ChaCha20Rng::from_seed(seed),
            invites: BTreeMap::new(),
            notes: GovNotes::default(),
        }
    }
}

fn err(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

pub(super) fn parse_group(text: &str) -> Result<GroupId, JsError> {
    text.trim()
        .parse()
        .map_err(|_| err(format!("{text:?} is not a group id (64 hex characters)")))
}

pub(super) fn parse_actor(text: &str) -> Result<ActorId, JsError> {
    text.trim()
        .parse()
        .map_err(|_| err(format!("{text:?} is not an actor id (64 hex characters)")))
}

#[allow(
    clippy::cast_precision_loss,
    reason = "counts and epoch numbers shown to the page, far below 2^53"
)]
pub(super) fn num(n: impl TryInto<u64>) -> JsValue {
    JsValue::from(n.try_into().unwrap_or(u64::MAX) as f64)
}

fn strings(items: &[String]) -> JsValue {
    items
        .iter()
        .map(|s| JsValue::from_str(s))
        .collect::<Array>()
        .into()
}

fn group_js(v: &GroupView, extra: &[(&str, JsValue)]) -> JsValue {
    let o = obj(&[
        ("group", v.group.as_str().into()),
        ("name", v.name.as_str().into()),
        ("epoch", v.epoch.map_or(JsValue::NULL, num)),
        ("members", strings(&v.members)),
        ("member", v.member.into()),
        ("admin", v.admin.into()),
        ("messages", num(v.messages)),
    ]);
    for (k, value) in extra {
        let _ = js_sys::Reflect::set(&o, &JsValue::from_str(k), value);
    }
    o
}

fn message_js(m: &MessageView) -> JsValue {
    obj(&[
        ("cid", m.cid.as_str().into()),
        ("author", m.author.as_str().into()),
        ("epoch", num(m.epoch)),
        ("lamport", num(m.lamport)),
        (
            "text",
            m.text.as_deref().map_or(JsValue::NULL, JsValue::from),
        ),
    ])
}

fn invitation_js(i: &InvitationView) -> JsValue {
    obj(&[
        ("from", i.from.as_str().into()),
        ("group", i.group.as_str().into()),
        ("note", i.note.as_str().into()),
        ("invite", i.invite.as_str().into()),
    ])
}

fn epoch_js(e: &EpochView) -> JsValue {
    obj(&[
        ("epoch", num(e.epoch)),
        ("cid", e.cid.as_str().into()),
        ("bytes", num(e.bytes)),
    ])
}

impl State {
    /// Follows the groups of the saved record's heads (at load).
    pub(in crate::node) fn restore_groups(&mut self, heads: Vec<Head>) {
        self.groups.gov.restore(browser::now(), heads);
    }

    /// The host acts as the unlocked actor (or as nobody while locked).
    fn sync_group_actor(&mut self) {
        let want = self.actor.as_ref().map(|a| a.identity().id());
        if self.groups.gov.groups().identity().map(Identity::id) == want {
            return;
        }
        let now = browser::now();
        match &self.actor {
            Some(actor) => {
                self.groups
                    .gov
                    .groups_mut()
                    .act_as(actor.identity().clone(), now, now_ms())
            }
            None => self.groups.gov.groups_mut().forget_actor(now),
        }
    }

    /// A mesh event, as the group layer sees it.
    pub(super) fn groups_on_event(&mut self, event: &mesh::Event) {
        self.groups.gov.on_event(browser::now(), now_ms(), event);
    }

    /// Runs the group host and carries out its outputs; returns how many things happened.
    pub(super) fn groups_pump(&mut self) -> usize {
        self.sync_group_actor();
        let now = browser::now();
        let store = self.driver.store_mut();
        let Groups { gov, rng, .. } = &mut self.groups;
        let mut work = gov.pump(now, now_ms(), |cid| store.get(cid).ok().flatten(), rng);
        while let Some(output) = self.groups.gov.poll_output() {
            work += 1;
            let output = match output {
                GovOutput::Host(output) => output,
                // A tab runs no external action; committee runs, attestations and
                // executions go to the log the page reads.
                other => {
                    self.groups.notes.record(now_ms(), other);
                    continue;
                }
            };
            match output {
                HostOutput::Mesh(input) => {
                    if let Input::SetHead(head) = &input {
                        self.remember_group_head(head);
                    }
                    // A refused input (a head name too long) cannot come from group-core.
                    let _ = self.driver.handle(now, input);
                }
                HostOutput::Keep { block, keep } => {
                    let options = match keep {
                        Keep::Pin(class) => PutOptions::pinned(class),
                        Keep::Retain { until } => PutOptions::retained(until),
                    };
                    if let Err(e) = self.driver.store_mut().put(&block, options) {
                        self.flusher.last_error = Some(format!("keeping a group block: {e}"));
                    }
                }
                HostOutput::Invited { ticket, result } => {
                    if let Some((resolve, reject)) = self.groups.invites.remove(&ticket) {
                        let _ = match result {
                            Ok(cid) => resolve.call1(&JsValue::UNDEFINED, &cid.to_string().into()),
                            Err(e) => reject.call1(
                                &JsValue::UNDEFINED,
                                &js_sys::Error::new(&e.to_string()).into(),
                            ),
                        };
                    }
                }
                _ => {}
            }
        }
        work
    }

    /// The earliest group timer.
    pub(super) fn groups_next_wake(&self) -> Option<quorate_mesh_proto::Instant> {
        self.groups.gov.poll_timeout()
    }

    /// Keeps a group head the tab announced in the actor record (saved with it).
    fn remember_group_head(&mut self, head: &Head) {
        let Some(record) = self.record.as_mut() else {
            return;
        };
        let full = record.groups.len() >= crate::node::actor::MAX_GROUP_HEADS;
        match record.groups.iter_mut().find(|h| h.name == head.name) {
            Some(old) if old.seq > head.seq || old == head => return,
            Some(old) => *old = head.clone(),
            None if full => return,
            None => record.groups.push(head.clone()),
        }
        self.saver.dirty = true;
    }

    fn host_err(e: HostError) -> JsError {
        err(e)
    }

    pub(in crate::node) fn create_group(
        &mut self,
        name: &str,
        rules: &[String],
    ) -> Result<String, JsError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(err("a group needs a name"));
        }
        let rules = rules
            .iter()
            .map(|r| quorate_governance_core::parse_approval_rule(r))
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?;
        self.sync_group_actor();
        let Groups { gov, rng, .. } = &mut self.groups;
        let host = gov.groups_mut();
        let group = host
            .create_with_rules(name, rules, browser::now(), now_ms(), rng)
            .map_err(Self::host_err)?;
        Ok(group.to_string())
    }

    pub(in crate::node) fn invite_to_group(
        &mut self,
        group: &str,
        actor: &str,
        note: &str,
        timeout_ms: u32,
    ) -> Result<Promise, JsError> {
        let (group, invitee) = (parse_group(group)?, parse_actor(actor)?);
        self.sync_group_actor();
        let timeout = Duration::from_millis(u64::from(timeout_ms));
        let ticket = self
            .groups
            .gov
            .groups_mut()
            .invite(group, invitee, note, browser::now(), timeout)
            .map_err(Self::host_err)?;
        let mut slot = None;
        let promise = Promise::new(&mut |resolve, reject| slot = Some((resolve, reject)));
        let waiter = slot.ok_or_else(|| err("the Promise executor did not run"))?;
        self.groups.invites.insert(ticket, waiter);
        Ok(promise)
    }

    pub(in crate::node) fn group_invitations(&self) -> Array {
        self.groups
            .gov
            .groups()
            .invitations()
            .iter()
            .map(invitation_js)
            .collect()
    }

    pub(in crate::node) fn accept_invitation(&mut self, group: &str) -> Result<String, JsError> {
        let group = parse_group(group)?;
        self.sync_group_actor();
        let cid = self
            .groups
            .gov
            .groups_mut()
            .accept(group, browser::now(), now_ms())
            .map_err(Self::host_err)?;
        Ok(cid.to_string())
    }

    pub(in crate::node) fn send_to_group(
        &mut self,
        group: &str,
        text: &str,
    ) -> Result<String, JsError> {
        let group = parse_group(group)?;
        if text.len() > MAX_TEXT {
            return Err(err(format!("a message is at most {MAX_TEXT} bytes")));
        }
        self.sync_group_actor();
        let Groups { gov, rng, .. } = &mut self.groups;
        let host = gov.groups_mut();
        let cid = host
            .send(group, text, browser::now(), rng)
            .map_err(Self::host_err)?;
        Ok(cid.to_string())
    }

    pub(in crate::node) fn group_messages(
        &self,
        group: &str,
        limit: usize,
    ) -> Result<Array, JsError> {
        let group = parse_group(group)?;
        let messages = self
            .groups
            .gov
            .groups()
            .messages(&group, limit.min(MAX_SHOWN))
            .map_err(Self::host_err)?;
        Ok(messages.iter().map(message_js).collect())
    }

    pub(in crate::node) fn remove_from_group(
        &mut self,
        group: &str,
        actor: &str,
    ) -> Result<JsValue, JsError> {
        let (group, actor) = (parse_group(group)?, parse_actor(actor)?);
        self.sync_group_actor();
        let Groups { gov, rng, .. } = &mut self.groups;
        let host = gov.groups_mut();
        let epoch = host
            .remove(group, actor, browser::now(), now_ms(), rng)
            .map_err(Self::host_err)?;
        Ok(epoch_js(&epoch))
    }

    pub(in crate::node) fn leave_group(&mut self, group: &str) -> Result<String, JsError> {
        let group = parse_group(group)?;
        self.sync_group_actor();
        let cid = self
            .groups
            .gov
            .groups_mut()
            .leave(group, browser::now(), now_ms())
            .map_err(Self::host_err)?;
        Ok(cid.to_string())
    }

    pub(in crate::node) fn group_list(&self) -> Array {
        self.groups
            .gov
            .groups()
            .list()
            .iter()
            .map(|v| {
                let Ok(id) = v.group.parse::<GroupId>() else {
                    return group_js(v, &[]);
                };
                group_js(
                    v,
                    &[
                        ("committee", self.committee_label(&id)),
                        ("holdsShare", self.groups.gov.holds_share(&id).into()),
                        ("removedIn", self.removed_in(&id).map_or(JsValue::NULL, num)),
                    ],
                )
            })
            .collect()
    }

    /// The epoch after the last one this actor was a member of, if it is not a member of
    /// the current one (removed, or left); `None` for a member or one who never was.
    fn removed_in(&self, group: &GroupId) -> Option<u64> {
        let host = self.groups.gov.groups();
        let me = host.identity()?.id();
        let state = host.state(group).ok()?;
        if state.current()?.members.contains(&me) {
            return None;
        }
        state
            .epochs()
            .filter(|e| e.members.contains(&me))
            .map(|e| e.state.epoch)
            .max()
            .map(|last| last.saturating_add(1))
    }
}
