//! The commands of a [`GroupHost`], as its actor: create, accept, send, read, remove,
//! leave, list (invite is in `invites`).

use quorate_actor_core::rendezvous::Body;
use quorate_actor_core::{ActorId, Identity};
use quorate_mesh_proto::{Cid, Instant};
use rand_core::CryptoRngCore;

use super::views::{EpochView, GroupView, InvitationView, MessageView};
use super::{GroupHost, HostError};
use crate::id::GroupId;
use crate::ops::{self, EpochChange};
use crate::state::GroupState;

impl GroupHost {
    fn me(&self) -> Result<Identity, HostError> {
        self.identity.clone().ok_or(HostError::NoActor)
    }

    /// The state of a followed group.
    ///
    /// # Errors
    /// [`HostError::NotFollowed`].
    pub fn state(&self, group: &GroupId) -> Result<&GroupState, HostError> {
        self.machines
            .get(group)
            .map(|m| m.state())
            .ok_or(HostError::NotFollowed(*group))
    }

    /// Creates a group with the actor as creator and only member; returns its id.
    ///
    /// # Errors
    /// [`HostError::NoActor`], [`HostError::Op`].
    pub fn create(
        &mut self,
        name: &str,
        now: Instant,
        now_ms: u64,
        rng: &mut impl CryptoRngCore,
    ) -> Result<GroupId, HostError> {
        self.create_with_rules(name, Vec::new(), now, now_ms, rng)
    }

    /// [`GroupHost::create`] with voting rules in the policy (governance's rules).
    ///
    /// # Errors
    /// [`HostError::NoActor`], [`HostError::Op`] (a malformed rule…).
    pub fn create_with_rules(
        &mut self,
        name: &str,
        rules: Vec<crate::Rule>,
        now: Instant,
        now_ms: u64,
        rng: &mut impl CryptoRngCore,
    ) -> Result<GroupId, HostError> {
        let me = self.me()?;
        let created =
            ops::create_group_with_rules(&me, name, Vec::new(), Vec::new(), rules, now_ms, rng)?;
        if !self.follow(created.id, now) {
            return Err(HostError::NotFollowed(created.id));
        }
        self.publish(created.id, [created.genesis.clone()], now);
        self.install(created.id, &created.epoch, now);
        Ok(created.id)
    }

    /// Invitations the actor received, oldest first.
    #[must_use]
    pub fn invitations(&self) -> Vec<InvitationView> {
        self.invitations
            .iter()
            .filter_map(|d| match &d.body {
                Body::Invitation {
                    group: Some(g),
                    note,
                    payload: Some(invite),
                } => Some(InvitationView {
                    from: d.from.to_string(),
                    group: GroupId::from_bytes(*g).to_string(),
                    note: note.clone(),
                    invite: invite.to_string(),
                }),
                _ => None,
            })
            .collect()
    }

    /// Accepts the newest invitation to `group`: publishes a join request (an admin's node
    /// admits it with the next epoch); returns its CID.
    ///
    /// # Errors
    /// [`HostError::NoActor`], [`HostError::NoInvitation`], [`HostError::Op`].
    pub fn accept(&mut self, group: GroupId, now: Instant, now_ms: u64) -> Result<Cid, HostError> {
        let me = self.me()?;
        let delivery = self
            .invitations
            .iter()
            .rev()
            .find(|d| {
                matches!(&d.body, Body::Invitation { group: Some(g), payload: Some(_), .. }
                    if g == group.as_bytes())
            })
            .cloned()
            .ok_or(HostError::NoInvitation(group))?;
        let Body::Invitation {
            payload: Some(invite),
            ..
        } = delivery.body
        else {
            return Err(HostError::NoInvitation(group));
        };
        if let Some(inbox) = self.inbox.as_mut() {
            inbox.accept(delivery.from);
        }
        let request = ops::accept(&me, group, invite, now_ms)?;
        let cid = *request.cid();
        self.publish(group, [request], now);
        Ok(cid)
    }

    /// Sends a text message to `group`; returns its CID.
    ///
    /// # Errors
    /// [`HostError::NoActor`], [`HostError::NotFollowed`], [`HostError::Op`] (not a
    /// member, no key yet…).
    pub fn send(
        &mut self,
        group: GroupId,
        text: &str,
        now: Instant,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Cid, HostError> {
        let me = self.me()?;
        let block = ops::compose(&me, self.state(&group)?, text.as_bytes(), rng)?;
        let cid = *block.cid();
        self.publish(group, [block], now);
        Ok(cid)
    }

    /// The last `limit` messages of `group`, oldest first (text only where readable).
    ///
    /// # Errors
    /// [`HostError::NotFollowed`].
    pub fn messages(&self, group: &GroupId, limit: usize) -> Result<Vec<MessageView>, HostError> {
        let state = self.state(group)?;
        let skip = state.message_count().saturating_sub(limit);
        Ok(state
            .messages()
            .skip(skip)
            .map(|m| MessageView {
                cid: m.cid.to_string(),
                author: m.author.to_string(),
                epoch: m.epoch,
                lamport: m.lamport,
                text: m
                    .plaintext
                    .as_ref()
                    .map(|p| String::from_utf8_lossy(p).into_owned()),
            })
            .collect())
    }

    /// Removes `actor`: a new epoch with a fresh key it never receives.
    ///
    /// # Errors
    /// [`HostError::NoActor`], [`HostError::NotFollowed`], [`HostError::NotAMember`],
    /// [`HostError::Op`] (not an admin…).
    pub fn remove(
        &mut self,
        group: GroupId,
        actor: ActorId,
        now: Instant,
        now_ms: u64,
        rng: &mut impl CryptoRngCore,
    ) -> Result<EpochView, HostError> {
        let me = self.me()?;
        let state = self.state(&group)?;
        if !state.current().is_some_and(|e| e.members.contains(&actor)) {
            return Err(HostError::NotAMember(actor));
        }
        let change = EpochChange {
            remove: vec![actor],
            ..EpochChange::default()
        };
        let epoch = ops::next_epoch(&me, state, &change, now_ms, rng)?;
        self.install(group, &epoch, now);
        Ok(EpochView {
            epoch: super::epoch_number(&epoch),
            cid: epoch.state.cid().to_string(),
            bytes: epoch.wire_bytes(),
        })
    }

    /// Makes and publishes the next epoch of `group` with `change`, signed by the actor
    /// (an admin): how governance carries out an attested membership or policy change.
    ///
    /// # Errors
    /// [`HostError::NoActor`], [`HostError::NotFollowed`], [`HostError::Op`].
    pub fn change(
        &mut self,
        group: GroupId,
        change: &EpochChange,
        now: Instant,
        now_ms: u64,
        rng: &mut impl CryptoRngCore,
    ) -> Result<EpochView, HostError> {
        let me = self.me()?;
        let epoch = ops::next_epoch(&me, self.state(&group)?, change, now_ms, rng)?;
        self.install(group, &epoch, now);
        Ok(EpochView {
            epoch: super::epoch_number(&epoch),
            cid: epoch.state.cid().to_string(),
            bytes: epoch.wire_bytes(),
        })
    }

    /// Asks to leave `group` (an admin removes the actor with the next epoch); returns the
    /// request's CID.
    ///
    /// # Errors
    /// [`HostError::NoActor`], [`HostError::NotFollowed`], [`HostError::Op`].
    pub fn leave(&mut self, group: GroupId, now: Instant, now_ms: u64) -> Result<Cid, HostError> {
        let me = self.me()?;
        let request = ops::leave(&me, self.state(&group)?, now_ms)?;
        let cid = *request.cid();
        self.publish(group, [request], now);
        Ok(cid)
    }

    /// Every followed group.
    #[must_use]
    pub fn list(&self) -> Vec<GroupView> {
        let me = self.identity.as_ref().map(Identity::id);
        self.machines
            .iter()
            .map(|(id, m)| {
                let state = m.state();
                let current = state.current();
                let genesis = state.genesis().map(|(_, g)| g);
                let admin = match (me, current, genesis) {
                    (Some(me), Some(e), Some(g)) => e.admins(g).permission(&me).is_some(),
                    _ => false,
                };
                GroupView {
                    group: id.to_string(),
                    name: genesis.map(|g| g.name.clone()).unwrap_or_default(),
                    epoch: current.map(|e| e.state.epoch),
                    members: current
                        .map(|e| {
                            e.members
                                .members
                                .iter()
                                .map(|m| m.actor.to_string())
                                .collect()
                        })
                        .unwrap_or_default(),
                    member: match (me, current) {
                        (Some(me), Some(e)) => e.members.contains(&me),
                        _ => false,
                    },
                    admin,
                    messages: state.message_count(),
                }
            })
            .collect()
    }
}
