//! `GroupAttestation { groupId, epoch, proposalId, signedMessageHash, groupSignature,
//! issuedAt }`: what outsiders check. The signature is plain Ed25519 (RFC 8032, strict
//! verification) under the group key `PK_G` over [`signed_message`] — the 29-byte tag
//! `quorate/group-attestation/v1\0` followed by `signedMessageHash` — so any Ed25519
//! verifier can check it (OpenSSL: `openssl pkeyutl -verify -rawin`).
//!
//! `signedMessageHash = SHA-256("quorate/attested-proposal/v1\0" ‖ groupId ‖ epoch ‖
//! proposalId ‖ issuedAt)` (epoch and issuedAt as 8 bytes big-endian, proposalId as its
//! 36 CID bytes): an outsider recomputes it from the fields, so a signature cannot be
//! moved to another group, epoch or proposal. The proposal id is the hash of the proposal
//! block, which names the action and its payload.
//!
//! The data model does not depend on who signs: a single key (this crate's MVP committee)
//! or a FROST committee producing the same signature under the same `PK_G`.

use ed25519_dalek::{Signature, VerifyingKey};
use quorate_governance_core::ProposalId;
use quorate_group_core::{GroupId, ObjectError};
use quorate_mesh_proto::{Block, BlockPayload, Domain, Envelope, PinClass};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The tag hashed in front of the attested fields.
pub const HASH_TAG: &[u8] = b"quorate/attested-proposal/v1\0";

/// A group's signature on a passed proposal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupAttestation {
    /// The group.
    pub group: GroupId,
    /// The epoch the proposal was decided in.
    pub epoch: u64,
    /// The proposal.
    pub proposal: ProposalId,
    /// [`attested_hash`] of the fields above and `issued_at`.
    #[serde(with = "serde_bytes")]
    pub signed_message_hash: [u8; 32],
    /// Ed25519 under `PK_G` over [`signed_message`]`(signed_message_hash)`.
    #[serde(with = "serde_bytes")]
    pub group_signature: [u8; 64],
    /// When the committee signed (Unix ms).
    pub issued_at: u64,
}

impl BlockPayload for GroupAttestation {
    const TYPE: &'static str = "group-attestation";
    const VERSION: u32 = 1;
    const PIN: PinClass = PinClass::Attestation;
}

/// `signedMessageHash` of an attestation's fields.
#[must_use]
pub fn attested_hash(
    group: &GroupId,
    epoch: u64,
    proposal: &ProposalId,
    issued_at: u64,
) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(HASH_TAG);
    hash.update(group.as_bytes());
    hash.update(epoch.to_be_bytes());
    hash.update(proposal.to_bytes());
    hash.update(issued_at.to_be_bytes());
    hash.finalize().into()
}

/// The exact bytes the group key signs: [`Domain::GroupAttestation`]'s tag, then the hash.
#[must_use]
pub fn signed_message(signed_message_hash: &[u8; 32]) -> Vec<u8> {
    Domain::GroupAttestation.message(signed_message_hash)
}

/// Why an attestation does not verify.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AttestationError {
    /// The group key is not a valid Ed25519 public key.
    #[error("the group key is not a valid Ed25519 public key")]
    BadGroupKey,
    /// `signedMessageHash` is not the hash of the attestation's fields.
    #[error("signedMessageHash does not match the attestation's fields")]
    HashMismatch,
    /// The signature does not verify under the group key.
    #[error("the group signature does not verify under this group key")]
    BadSignature,
    /// Not an attestation block.
    #[error(transparent)]
    Object(#[from] ObjectError),
}

impl GroupAttestation {
    /// Encodes as a block (unsigned envelope: the group signature is inside).
    ///
    /// # Errors
    /// [`ObjectError::Encode`].
    pub fn to_block(&self) -> Result<Block, ObjectError> {
        Ok(Envelope::unsigned(self.clone()).to_block()?)
    }

    /// Decodes an attestation block (not verified: see [`verify_attestation`]).
    ///
    /// # Errors
    /// [`ObjectError::Decode`].
    pub fn decode(block: &Block) -> Result<GroupAttestation, ObjectError> {
        Ok(block.decode::<GroupAttestation>()?.payload)
    }

    /// The bytes the group key signed.
    #[must_use]
    pub fn signed_message(&self) -> Vec<u8> {
        signed_message(&self.signed_message_hash)
    }
}

/// What an outsider does, knowing only `PK_G`: checks that `signedMessageHash` is the hash
/// of the attestation's fields and that the signature verifies under `group_key` (strict
/// RFC 8032 verification). No votes, members or rules needed.
///
/// # Errors
/// [`AttestationError`].
pub fn verify_attestation(
    group_key: &[u8; 32],
    attestation: &GroupAttestation,
) -> Result<(), AttestationError> {
    let key = VerifyingKey::from_bytes(group_key).map_err(|_| AttestationError::BadGroupKey)?;
    let expected = attested_hash(
        &attestation.group,
        attestation.epoch,
        &attestation.proposal,
        attestation.issued_at,
    );
    if expected != attestation.signed_message_hash {
        return Err(AttestationError::HashMismatch);
    }
    key.verify_strict(
        &attestation.signed_message(),
        &Signature::from_bytes(&attestation.group_signature),
    )
    .map_err(|_| AttestationError::BadSignature)
}
