//! How a committee run starts and ends on the group topic: a full admin's signed
//! [`CommitteeCall`] (a DKG for a new `PK_G`, or a resharing of the current one to new
//! members and threshold), each member's signed [`CommitteeResult`] naming the committee
//! block it derived, and — once every member named the same block — the admin's epoch
//! change recording it as `committeeRoot`.

use quorate_actor_core::ActorId;
use quorate_group_core::{GroupId, ObjectError};
use quorate_mesh_proto::{Block, BlockPayload, Cid, PinClass};
use serde::{Deserialize, Serialize};

use super::dkg::MAX_COMMITTEE;

/// A resharing's source: the committee whose key is kept, and the old holders who deal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReshareFrom {
    /// The old committee block (the epoch's current `committeeRoot`).
    pub committee: Cid,
    /// Exactly `t_old` old holders, sorted.
    pub dealers: Vec<ActorId>,
}

/// A full admin calls a committee run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommitteeCall {
    /// The group.
    pub group: GroupId,
    /// The epoch state the call is made in (the caller must be a full admin there, the
    /// members must be members there).
    pub epoch_state: Cid,
    /// Who calls (signs the block).
    pub called_by: ActorId,
    /// The (new) committee, sorted.
    pub members: Vec<ActorId>,
    /// Its threshold.
    pub threshold: u16,
    /// `None`: a DKG (a new `PK_G`); `Some`: a resharing keeping the old committee's key.
    pub reshare: Option<ReshareFrom>,
}

impl BlockPayload for CommitteeCall {
    const TYPE: &'static str = "committee-call";
    const VERSION: u32 = 1;
    const PIN: PinClass = PinClass::GroupEpoch;
}

impl CommitteeCall {
    /// Decodes a call, checks its signature and shape (sizes, sorting, threshold).
    ///
    /// # Errors
    /// [`ObjectError`].
    pub fn decode(block: &Block) -> Result<CommitteeCall, ObjectError> {
        let envelope = block.decode::<CommitteeCall>()?;
        let key = envelope.verify()?;
        let c = envelope.payload;
        if !c.called_by.is_key_of(&key) {
            return Err(ObjectError::WrongSigner);
        }
        if !(2..=MAX_COMMITTEE).contains(&c.members.len()) {
            return Err(ObjectError::TooLarge("committee"));
        }
        if !c.members.windows(2).all(|w| matches!(w, [a, b] if a < b)) {
            return Err(ObjectError::NotSorted("committee members"));
        }
        if c.threshold < 2 || usize::from(c.threshold) > c.members.len() {
            return Err(ObjectError::Invalid("a threshold outside 2..=members"));
        }
        if let Some(r) = &c.reshare {
            if !(1..=MAX_COMMITTEE).contains(&r.dealers.len()) {
                return Err(ObjectError::TooLarge("dealers"));
            }
            if !r.dealers.windows(2).all(|w| matches!(w, [a, b] if a < b)) {
                return Err(ObjectError::NotSorted("dealers"));
            }
        }
        Ok(c)
    }

    /// The run's session id (the call block's hash).
    #[must_use]
    pub fn session(cid: &Cid) -> [u8; 32] {
        *cid.digest()
    }
}

/// A committee member's report at the end of a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommitteeResult {
    /// The group.
    pub group: GroupId,
    /// The call block.
    pub call: Cid,
    /// The reporting member (signs the block).
    pub from: ActorId,
    /// The committee block it derived.
    pub committee: Cid,
}

impl BlockPayload for CommitteeResult {
    const TYPE: &'static str = "committee-result";
    const VERSION: u32 = 1;
    const PIN: PinClass = PinClass::GroupEpoch;
}

impl CommitteeResult {
    /// Decodes a result and checks it is signed by its member.
    ///
    /// # Errors
    /// [`ObjectError`].
    pub fn decode(block: &Block) -> Result<CommitteeResult, ObjectError> {
        let envelope = block.decode::<CommitteeResult>()?;
        let key = envelope.verify()?;
        if !envelope.payload.from.is_key_of(&key) {
            return Err(ObjectError::WrongSigner);
        }
        Ok(envelope.payload)
    }
}
