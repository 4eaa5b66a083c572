//! The parameters of an action (`actionPayloadCid` names such a block): who to add or
//! remove, the new rules, or free data for an external action.

use quorate_actor_core::ActorId;
use quorate_group_core::{Member, ObjectError, Rule};
use quorate_mesh_proto::{Block, BlockPayload, Envelope, PinClass};
use serde::{Deserialize, Serialize};

/// Longest data of an external action, in bytes.
pub const MAX_ACTION_DATA: usize = 4096;

/// What a proposal asks for, beyond its action type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum ActionPayload {
    /// `ADD_MEMBER`: this member record (its keys).
    AddMember(Member),
    /// `REMOVE_MEMBER`: this actor.
    RemoveMember(ActorId),
    /// `CHANGE_POLICY`: these voting rules replace the current ones.
    ChangePolicy(Vec<Rule>),
    /// An external action's data (UTF-8, at most [`MAX_ACTION_DATA`] bytes), passed on to
    /// its handler.
    Data(String),
    /// `ROTATE_COMMITTEE`: reshare the group key to these holders (sorted) with this
    /// threshold.
    Committee {
        /// The new holders, sorted.
        members: Vec<ActorId>,
        /// Signers needed.
        threshold: u16,
    },
}

/// Most holders a `ROTATE_COMMITTEE` payload names.
const MAX_COMMITTEE: usize = 256;

impl BlockPayload for ActionPayload {
    const TYPE: &'static str = "governance-action";
    const VERSION: u32 = 1;
    const PIN: PinClass = PinClass::Vote;
}

impl ActionPayload {
    /// Encodes as a block (unsigned: the proposal that names it is signed).
    ///
    /// # Errors
    /// [`ObjectError::TooLarge`], [`ObjectError::Encode`].
    pub fn to_block(&self) -> Result<Block, ObjectError> {
        self.check()?;
        Ok(Envelope::unsigned(self.clone()).to_block()?)
    }

    /// Decodes an action payload block.
    ///
    /// # Errors
    /// [`ObjectError`].
    pub fn decode(block: &Block) -> Result<ActionPayload, ObjectError> {
        let payload = block.decode::<ActionPayload>()?.payload;
        payload.check()?;
        Ok(payload)
    }

    fn check(&self) -> Result<(), ObjectError> {
        match self {
            ActionPayload::Data(d) if d.len() > MAX_ACTION_DATA => {
                Err(ObjectError::TooLarge("action data"))
            }
            ActionPayload::AddMember(m) if !m.actor.is_key_of(&m.verifying_key()?) => {
                Err(ObjectError::WrongSigner)
            }
            ActionPayload::Committee { members, .. } if members.len() > MAX_COMMITTEE => {
                Err(ObjectError::TooLarge("committee"))
            }
            ActionPayload::Committee { members, .. }
                if !members.windows(2).all(|w| matches!(w, [a, b] if a < b)) =>
            {
                Err(ObjectError::NotSorted("committee members"))
            }
            ActionPayload::Committee { members, threshold }
                if *threshold < 2 || usize::from(*threshold) > members.len() =>
            {
                Err(ObjectError::Invalid("a threshold outside 2..=members"))
            }
            _ => Ok(()),
        }
    }
}
