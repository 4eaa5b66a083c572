//! Joining and leaving: an admin's signed invite, the invitee's signed join request, a
//! member's signed leave request. All three are blocks on the group topic, so any admin
//! (the creator or a co-admin) who is online can act on them — the inviter need not be.
//!
//! The invitation itself reaches the invitee on the rendezvous topic (a `GlobalEnvelope`
//! sealed to their key, see [`invitation_body`]); their node ignores it unless they accept
//! or allow-listed the sender. Accepting publishes a [`JoinRequest`] naming the invite;
//! an admin then makes the next epoch with the newcomer (whose key material comes from
//! their own signed request) and a fresh key — so they read nothing from before.

use quorate_actor_core::rendezvous::Body;
use quorate_actor_core::{ActorId, Identity};
use quorate_mesh_proto::{Block, BlockPayload, Cid, Envelope, PinClass};
use serde::{Deserialize, Serialize};

use crate::error::ObjectError;
use crate::id::GroupId;
use crate::member::Member;

/// Most bytes of an invitation note.
pub const MAX_NOTE: usize = 512;

/// An admin invites an actor; signed (object-level) by the inviter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupInvite {
    /// The group.
    pub group: GroupId,
    /// Who is invited.
    pub invitee: ActorId,
    /// The admin inviting (must hold the members permission in `epoch_state`).
    pub inviter: ActorId,
    /// The epoch the inviter was admin in.
    pub epoch_state: Cid,
    /// After this (Unix ms) admins no longer admit on it.
    pub expires_at: u64,
}

impl BlockPayload for GroupInvite {
    const TYPE: &'static str = "group-invite";
    const VERSION: u32 = 1;
    const PIN: PinClass = PinClass::Membership;
}

/// The invitee accepts: its member record (keys) and the invite; signed by the invitee.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinRequest {
    /// The group.
    pub group: GroupId,
    /// The invite accepted.
    pub invite: Cid,
    /// The joiner and its public keys.
    pub member: Member,
    /// Unix ms.
    pub created_at: u64,
}

impl BlockPayload for JoinRequest {
    const TYPE: &'static str = "group-join";
    const VERSION: u32 = 1;
    const PIN: PinClass = PinClass::Membership;
}

/// A member asks to be removed; signed by the member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaveRequest {
    /// The group.
    pub group: GroupId,
    /// Who leaves.
    pub actor: ActorId,
    /// The epoch the leaver was a member of when asking.
    pub epoch_state: Cid,
    /// Unix ms.
    pub created_at: u64,
}

impl BlockPayload for LeaveRequest {
    const TYPE: &'static str = "group-leave";
    const VERSION: u32 = 1;
    const PIN: PinClass = PinClass::Membership;
}

/// Decodes a signed request block and checks the signer is `who`.
fn signed_by<T: BlockPayload>(
    block: &Block,
    who: impl Fn(&T) -> ActorId,
) -> Result<T, ObjectError> {
    let envelope = block.decode::<T>()?;
    let key = envelope.verify()?;
    if !who(&envelope.payload).is_key_of(&key) {
        return Err(ObjectError::WrongSigner);
    }
    Ok(envelope.payload)
}

impl GroupInvite {
    /// Signs an invite as `inviter`.
    ///
    /// # Errors
    /// [`ObjectError::Encode`].
    pub fn sign(&self, inviter: &Identity) -> Result<Block, ObjectError> {
        Ok(Envelope::signed(self.clone(), inviter.signing_key())?.to_block()?)
    }

    /// Decodes an invite and checks it is signed by its inviter (authority is checked
    /// against the epoch by the group state).
    ///
    /// # Errors
    /// [`ObjectError`].
    pub fn decode(block: &Block, group: &GroupId) -> Result<GroupInvite, ObjectError> {
        let invite = signed_by::<GroupInvite>(block, |i| i.inviter)?;
        if invite.group != *group {
            return Err(ObjectError::WrongGroup);
        }
        Ok(invite)
    }
}

impl JoinRequest {
    /// The request of `joiner` accepting `invite`.
    ///
    /// # Errors
    /// [`ObjectError::Encode`].
    pub fn sign(
        joiner: &Identity,
        group: GroupId,
        invite: Cid,
        now_ms: u64,
    ) -> Result<Block, ObjectError> {
        let request = JoinRequest {
            group,
            invite,
            member: Member::of(joiner),
            created_at: now_ms,
        };
        Ok(Envelope::signed(request, joiner.signing_key())?.to_block()?)
    }

    /// Decodes a request and checks it is signed by the joiner, whose id is its key's hash.
    ///
    /// # Errors
    /// [`ObjectError`].
    pub fn decode(block: &Block, group: &GroupId) -> Result<JoinRequest, ObjectError> {
        let request = signed_by::<JoinRequest>(block, |r| r.member.actor)?;
        if request.group != *group {
            return Err(ObjectError::WrongGroup);
        }
        // Signed by the key hashing to `actor`, and `signing_key` hashes to it too: they
        // are the same key.
        if !request
            .member
            .actor
            .is_key_of(&request.member.verifying_key()?)
        {
            return Err(ObjectError::WrongSigner);
        }
        Ok(request)
    }
}

impl LeaveRequest {
    /// The request of `member` to leave.
    ///
    /// # Errors
    /// [`ObjectError::Encode`].
    pub fn sign(
        member: &Identity,
        group: GroupId,
        epoch_state: Cid,
        now_ms: u64,
    ) -> Result<Block, ObjectError> {
        let request = LeaveRequest {
            group,
            actor: member.id(),
            epoch_state,
            created_at: now_ms,
        };
        Ok(Envelope::signed(request, member.signing_key())?.to_block()?)
    }

    /// Decodes a request and checks it is signed by the leaver.
    ///
    /// # Errors
    /// [`ObjectError`].
    pub fn decode(block: &Block, group: &GroupId) -> Result<LeaveRequest, ObjectError> {
        let request = signed_by::<LeaveRequest>(block, |r| r.actor)?;
        if request.group != *group {
            return Err(ObjectError::WrongGroup);
        }
        Ok(request)
    }
}

/// The rendezvous body inviting someone to `group` (its genesis names where to start).
#[must_use]
pub fn invitation_body(group: &GroupId, invite: Cid, note: &str) -> Body {
    let mut note = note.to_owned();
    while note.len() > MAX_NOTE {
        note.pop();
    }
    Body::Invitation {
        group: Some(*group.as_bytes()),
        note,
        payload: Some(invite),
    }
}
