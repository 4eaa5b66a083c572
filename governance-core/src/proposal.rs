//! `Proposal { proposalId, groupId, epoch, actionType, actionPayloadCid, createdBy,
//! createdAt, expiresAt }`, signed by its creator. `proposalId` is the CID of the block
//! (SHA-256 of its canonical bytes): a changed proposal is a new proposal.

use quorate_actor_core::{ActorId, Identity};
use quorate_group_core::{GroupId, ObjectError, is_action_type};
use quorate_mesh_proto::{Block, BlockPayload, Cid, Envelope, PinClass};
use serde::{Deserialize, Serialize};

/// Longest a proposal may stay open: 30 days.
pub const MAX_VOTING_MS: u64 = 30 * 24 * 3600 * 1000;

/// A proposal's id: the CID of its block.
pub type ProposalId = Cid;

/// A proposed action, open for votes from `created_at` until `expires_at` (Unix ms).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proposal {
    /// The group.
    pub group: GroupId,
    /// The epoch whose members and policy decide it.
    pub epoch: u64,
    /// That epoch's state (the membership snapshot, unambiguous even across forks).
    pub epoch_state: Cid,
    /// What to do: `TRIGGER_X`, `REMOVE_MEMBER`, … (`A`–`Z`, `0`–`9`, `_`).
    pub action_type: String,
    /// The action's parameters, as a block (`None`: no parameters).
    pub action_payload: Option<Cid>,
    /// The proposer (who signs the block).
    pub created_by: ActorId,
    /// When it was made (Unix ms, the proposer's clock).
    pub created_at: u64,
    /// When voting closes (Unix ms).
    pub expires_at: u64,
}

impl BlockPayload for Proposal {
    const TYPE: &'static str = "governance-proposal";
    const VERSION: u32 = 1;
    const PIN: PinClass = PinClass::Vote;
}

impl Proposal {
    /// Signs the proposal as `proposer` (who must be `created_by`).
    ///
    /// # Errors
    /// [`ObjectError::WrongSigner`], [`ObjectError::Invalid`] for a malformed action type or
    /// voting period, [`ObjectError::Encode`].
    pub fn sign(&self, proposer: &Identity) -> Result<Block, ObjectError> {
        if self.created_by != proposer.id() {
            return Err(ObjectError::WrongSigner);
        }
        self.check()?;
        Ok(Envelope::signed(self.clone(), proposer.signing_key())?.to_block()?)
    }

    fn check(&self) -> Result<(), ObjectError> {
        if !is_action_type(&self.action_type) {
            return Err(ObjectError::Invalid("a malformed action type"));
        }
        if self.expires_at <= self.created_at || self.expires_at - self.created_at > MAX_VOTING_MS {
            return Err(ObjectError::Invalid("a voting period outside (0, 30 days]"));
        }
        Ok(())
    }

    /// Decodes a proposal block and checks it is signed by its proposer and well formed.
    /// Whether the proposer may propose is the evaluator's question (it needs the epoch).
    ///
    /// # Errors
    /// [`ObjectError`].
    pub fn decode(block: &Block) -> Result<Proposal, ObjectError> {
        let envelope = block.decode::<Proposal>()?;
        let key = envelope.verify()?;
        if !envelope.payload.created_by.is_key_of(&key) {
            return Err(ObjectError::WrongSigner);
        }
        envelope.payload.check()?;
        Ok(envelope.payload)
    }
}
