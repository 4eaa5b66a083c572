//! Invites waiting for the invitee's profile: an invitation is sealed to the invitee's
//! X25519 key, which its signed profile names. The host follows the invitee's feed (heads
//! and index only, no payloads) until the profile verifies, then sends.

use std::collections::BTreeMap;

use quorate_actor_core::rendezvous::{Body, GlobalEnvelope, MAX_TTL_MS};
use quorate_actor_core::sync::{self, Config, Event as FeedEvent, FeedSync, feed_event};
use quorate_actor_core::{ActorId, Identity};
use quorate_mesh_proto::mesh::{Event, Input, Topic};
use quorate_mesh_proto::{Block, Cid, Duration, Instant};
use rand_core::CryptoRngCore;

use super::{GroupHost, HostError, HostOutput};
use crate::id::GroupId;
use crate::invitation_body;
use crate::ops;

/// How long an invite lets an admin admit its invitee (Unix ms).
const INVITE_VALIDITY_MS: u64 = 7 * 24 * 3600 * 1000;
/// Invites waiting at most.
const MAX_WAITING: usize = 64;
/// Profiles remembered at most.
const MAX_PROFILES: usize = 256;

/// Names one [`GroupHost::invite`] call; its result comes back as
/// [`HostOutput::Invited`] with the same ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InviteTicket(pub u64);

#[derive(Debug)]
struct Waiting {
    ticket: InviteTicket,
    group: GroupId,
    invitee: ActorId,
    note: String,
    deadline: Instant,
}

/// Invites and the profile lookups they wait for.
#[derive(Debug, Default)]
pub(super) struct Invites {
    waiting: Vec<Waiting>,
    lookups: BTreeMap<ActorId, FeedSync>,
    /// Encryption keys of verified profiles.
    keys: BTreeMap<ActorId, [u8; 32]>,
    next_ticket: u64,
}

impl Invites {
    pub(super) fn on_event(&mut self, now: Instant, event: &Event) {
        for lookup in self.lookups.values_mut() {
            feed_event(lookup, now, event);
        }
    }

    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        let lookups = self.lookups.values().filter_map(FeedSync::poll_timeout);
        let deadlines = self.waiting.iter().map(|w| w.deadline);
        lookups.chain(deadlines).min()
    }
}

impl GroupHost {
    /// Invites `invitee` to `group`: once its profile is known (fetched from peers if
    /// need be, for up to `timeout`), an invite
    /// block goes on the group topic and a sealed invitation with `note` on the rendezvous
    /// topic. The outcome arrives as [`HostOutput::Invited`] with the returned ticket.
    ///
    /// # Errors
    /// [`HostError::NoActor`], [`HostError::NotFollowed`], [`HostError::TooManyInvites`];
    /// the rest arrive with the outcome.
    pub fn invite(
        &mut self,
        group: GroupId,
        invitee: ActorId,
        note: &str,
        now: Instant,
        timeout: Duration,
    ) -> Result<InviteTicket, HostError> {
        self.identity.as_ref().ok_or(HostError::NoActor)?;
        if !self.machines.contains_key(&group) {
            return Err(HostError::NotFollowed(group));
        }
        let invites = &mut self.invites;
        if invites.waiting.len() >= MAX_WAITING {
            return Err(HostError::TooManyInvites(MAX_WAITING));
        }
        let ticket = InviteTicket(invites.next_ticket);
        invites.next_ticket += 1;
        invites.waiting.push(Waiting {
            ticket,
            group,
            invitee,
            note: note.to_owned(),
            deadline: now + timeout,
        });
        if !invites.keys.contains_key(&invitee) && !invites.lookups.contains_key(&invitee) {
            let mut config = Config::default();
            config.fetch_payloads = false;
            invites
                .lookups
                .insert(invitee, FeedSync::new(config, invitee, now));
        }
        Ok(ticket)
    }

    /// Drives the profile lookups; sends the invites whose profile arrived, fails those
    /// whose time ran out.
    pub(super) fn pump_invites(
        &mut self,
        now: Instant,
        now_ms: u64,
        load: &mut impl FnMut(&Cid) -> Option<Block>,
        rng: &mut impl CryptoRngCore,
    ) -> usize {
        let mut work = 0;
        let actors: Vec<ActorId> = self.invites.lookups.keys().copied().collect();
        for actor in actors {
            let Some(lookup) = self.invites.lookups.get_mut(&actor) else {
                continue;
            };
            if lookup.poll_timeout().is_some_and(|t| t <= now) {
                lookup.handle_timeout(now);
            }
            let drained = sync::drain(lookup, now, &mut *load);
            work += drained.mesh.len();
            self.outputs
                .extend(drained.mesh.into_iter().map(HostOutput::Mesh));
            for event in drained.events {
                if let FeedEvent::Complete(snapshot) = event {
                    if self.invites.keys.len() >= MAX_PROFILES {
                        self.invites.keys.pop_first();
                    }
                    self.invites
                        .keys
                        .insert(actor, snapshot.profile.encryption_key);
                    self.invites.lookups.remove(&actor);
                }
            }
        }
        let waiting = std::mem::take(&mut self.invites.waiting);
        for w in waiting {
            let result = match self.invites.keys.get(&w.invitee) {
                Some(key) => self.send_invite(&w, *key, now, now_ms, rng),
                None if w.deadline <= now => Err(HostError::ProfileTimeout(w.invitee)),
                None => {
                    self.invites.waiting.push(w);
                    continue;
                }
            };
            work += 1;
            self.outputs.push_back(HostOutput::Invited {
                ticket: w.ticket,
                result,
            });
        }
        // Lookups nobody waits for any more stop.
        let wanted: Vec<ActorId> = self.invites.waiting.iter().map(|w| w.invitee).collect();
        self.invites.lookups.retain(|a, _| wanted.contains(a));
        work
    }

    fn send_invite(
        &mut self,
        w: &Waiting,
        key: [u8; 32],
        now: Instant,
        now_ms: u64,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Cid, HostError> {
        let me: Identity = self.identity.clone().ok_or(HostError::NoActor)?;
        let state = self
            .machines
            .get(&w.group)
            .ok_or(HostError::NotFollowed(w.group))?
            .state();
        let invite = ops::invite(&me, state, w.invitee, now_ms + INVITE_VALIDITY_MS)?;
        let body: Body = invitation_body(&w.group, *invite.cid(), &w.note);
        let recipient = x25519_dalek::PublicKey::from(key);
        let envelope = GlobalEnvelope::seal(&me, &recipient, body, now_ms, MAX_TTL_MS, rng)
            .and_then(|e| e.to_block())
            .map_err(|e| HostError::Envelope(e.to_string()))?;
        let cid = *invite.cid();
        self.publish(w.group, [invite], now);
        self.outputs.push_back(HostOutput::Mesh(Input::Publish {
            topic: Topic::global(),
            block: envelope,
        }));
        Ok(cid)
    }
}
