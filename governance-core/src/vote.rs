//! `Vote { proposalId, groupId, epoch, voterActorId, voteValue, signature }`: the
//! signature is Ed25519 under [`Domain::Vote`] over
//! `SHA-256(proposalId ‖ voteValue ‖ epoch)` ([`vote_digest`]), as seed 000 specifies; the
//! vote block itself is unsigned (the inner signature is the authentication).

use ed25519_dalek::{Signature, VerifyingKey};
use quorate_actor_core::{ActorId, Identity};
use quorate_group_core::{GroupId, ObjectError};
use quorate_mesh_proto::{Block, BlockPayload, Cid, Domain, Envelope, PinClass};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::proposal::ProposalId;

/// A vote's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VoteValue {
    /// For.
    Yes,
    /// Against.
    No,
}

impl VoteValue {
    /// The byte hashed into the signed digest.
    #[must_use]
    pub const fn byte(self) -> u8 {
        match self {
            VoteValue::Yes => 1,
            VoteValue::No => 0,
        }
    }
}

/// One member's vote on one proposal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vote {
    /// The proposal.
    pub proposal: ProposalId,
    /// The group.
    pub group: GroupId,
    /// The proposal's epoch.
    pub epoch: u64,
    /// The voter.
    pub voter: ActorId,
    /// For or against.
    pub value: VoteValue,
    /// Ed25519 by the voter over [`Domain::Vote`] of [`vote_digest`].
    #[serde(with = "serde_bytes")]
    pub signature: [u8; 64],
}

impl BlockPayload for Vote {
    const TYPE: &'static str = "governance-vote";
    const VERSION: u32 = 1;
    const PIN: PinClass = PinClass::Vote;
}

/// `SHA-256(proposalId bytes ‖ value byte ‖ epoch as 8 bytes big-endian)`: what a voter
/// signs (under [`Domain::Vote`]). A vote cannot be replayed on another proposal or epoch.
#[must_use]
pub fn vote_digest(proposal: &Cid, value: VoteValue, epoch: u64) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(proposal.to_bytes());
    hash.update([value.byte()]);
    hash.update(epoch.to_be_bytes());
    hash.finalize().into()
}

impl Vote {
    /// `voter`'s vote `value` on `proposal` (of `group`, decided by `epoch`).
    #[must_use]
    pub fn cast(
        voter: &Identity,
        group: GroupId,
        proposal: ProposalId,
        epoch: u64,
        value: VoteValue,
    ) -> Vote {
        let digest = vote_digest(&proposal, value, epoch);
        let signature = Domain::Vote.sign(voter.signing_key(), &digest).to_bytes();
        Vote {
            proposal,
            group,
            epoch,
            voter: voter.id(),
            value,
            signature,
        }
    }

    /// Encodes as a block.
    ///
    /// # Errors
    /// [`ObjectError::Encode`].
    pub fn to_block(&self) -> Result<Block, ObjectError> {
        Ok(Envelope::unsigned(self.clone()).to_block()?)
    }

    /// Decodes a vote block (the signature is checked against the voter's key by
    /// [`Vote::verify`], which needs the member set).
    ///
    /// # Errors
    /// [`ObjectError::Decode`].
    pub fn decode(block: &Block) -> Result<Vote, ObjectError> {
        Ok(block.decode::<Vote>()?.payload)
    }

    /// Checks the signature against `key`, which must be the voter's (its id is the key's
    /// hash).
    ///
    /// # Errors
    /// [`ObjectError::WrongSigner`], [`ObjectError::BadSignature`].
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), ObjectError> {
        if !self.voter.is_key_of(key) {
            return Err(ObjectError::WrongSigner);
        }
        let digest = vote_digest(&self.proposal, self.value, self.epoch);
        Domain::Vote
            .verify(key, &digest, &Signature::from_bytes(&self.signature))
            .map_err(|_| ObjectError::BadSignature)
    }
}
