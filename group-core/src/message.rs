//! `GroupMessage`: a signed, encrypted message with its causal history.
//!
//! - **Encryption**: XChaCha20-Poly1305 (RustCrypto) under
//!   `HKDF-SHA256(K_epoch, info = "quorate/group-message-key/v1")`, with a random 192-bit
//!   nonce (many authors share one key, so nonces must be safe to draw at random).
//! - **AAD**: `aad = SHA-256("quorate/group-message-aad/v1" ‖ groupId ‖ epoch ‖ epochState
//!   ‖ authorActorId ‖ lamport ‖ parents)`, carried in the message and recomputed by every
//!   receiver: the ciphertext only opens as this author's message in this group and epoch,
//!   at this place in the history.
//! - **Signature**: Ed25519 by the author over [`Domain::GroupMessage`] of the canonical
//!   DAG-CBOR of every other field, checked with the key the epoch's member set holds for
//!   the author — before anything is decrypted.
//! - **Causal history** (seed 001, scalable data sync): `parents` are up to
//!   [`MAX_PARENTS`] CIDs of messages the author had seen, and `lamport` exceeds theirs. A
//!   receiver that lacks a parent has found a gap and fetches it by CID from any peer.
//!   Display order is `(lamport, CID)`.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use ed25519_dalek::{Signature, VerifyingKey};
use hkdf::Hkdf;
use quorate_actor_core::{ActorId, Identity};
use quorate_mesh_proto::{Block, BlockPayload, Cid, Domain, Envelope, PinClass};
use rand_core::CryptoRngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::ObjectError;
use crate::id::GroupId;
use crate::key::EpochKey;
use crate::member::MemberSet;

/// Most parents a message names.
pub const MAX_PARENTS: usize = 8;
/// Largest plaintext.
pub const MAX_PLAINTEXT: usize = 64 * 1024;
const TAG_LEN: usize = 16;
const KEY_INFO: &[u8] = b"quorate/group-message-key/v1";
const AAD_LABEL: &[u8] = b"quorate/group-message-aad/v1";

/// `GroupMessage { groupId, epoch, authorActorId, ciphertext, nonce, aad, signature }`
/// plus the epoch state it was sealed under and its causal history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupMessage {
    /// The group.
    pub group: GroupId,
    /// The epoch number.
    pub epoch: u64,
    /// The epoch state whose key and member set apply (epochs can fork).
    pub epoch_state: Cid,
    /// The author.
    pub author: ActorId,
    /// Lamport clock: greater than every parent's.
    pub lamport: u64,
    /// Messages the author had seen, strictly sorted, at most [`MAX_PARENTS`].
    pub parents: Vec<Cid>,
    /// XChaCha20-Poly1305 nonce.
    #[serde(with = "serde_bytes")]
    pub nonce: [u8; 24],
    /// The binding digest described in the module docs.
    #[serde(with = "serde_bytes")]
    pub aad: [u8; 32],
    /// The encrypted plaintext with its tag.
    #[serde(with = "serde_bytes")]
    pub ciphertext: Vec<u8>,
    /// Ed25519 by the author.
    #[serde(with = "serde_bytes")]
    pub signature: [u8; 64],
}

impl BlockPayload for GroupMessage {
    const TYPE: &'static str = "group-message";
    const VERSION: u32 = 1;
    const PIN: PinClass = PinClass::GroupMessage;
}

#[derive(Serialize)]
struct Signed<'a> {
    group: &'a GroupId,
    epoch: u64,
    epoch_state: &'a Cid,
    author: &'a ActorId,
    lamport: u64,
    parents: &'a [Cid],
    #[serde(with = "serde_bytes")]
    nonce: &'a [u8; 24],
    #[serde(with = "serde_bytes")]
    aad: &'a [u8; 32],
    #[serde(with = "serde_bytes")]
    ciphertext: &'a [u8],
}

/// Why a message is rejected, or cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    /// Not a canonical message block, or over a limit.
    #[error(transparent)]
    Object(#[from] ObjectError),
    /// For another group.
    #[error("message belongs to another group")]
    WrongGroup,
    /// Names an epoch state that is not (yet) a valid epoch of the group.
    #[error("message names an unknown epoch state")]
    UnknownEpoch,
    /// Its epoch number is not its epoch state's.
    #[error("message epoch {claimed} is not its epoch state's ({actual})")]
    EpochMismatch {
        /// In the message.
        claimed: u64,
        /// In the state.
        actual: u64,
    },
    /// The author is not a member of that epoch.
    #[error("author {0:?} is not a member of the epoch")]
    NotAMember(ActorId),
    /// `aad` is not the digest of the message's own fields.
    #[error("aad does not bind this group, epoch, author and history")]
    AadMismatch,
    /// The author's signature does not verify.
    #[error("author signature does not verify")]
    BadSignature,
    /// Signed by its author, but the ciphertext does not open under the epoch key.
    #[error("ciphertext does not decrypt under the epoch key")]
    Decrypt,
    /// Parents unsorted, duplicated, too many, or naming itself.
    #[error("malformed causal history")]
    BadHistory,
}

/// What the author chooses for a new message.
#[derive(Clone, Debug)]
pub struct Draft<'a> {
    /// The group.
    pub group: GroupId,
    /// The epoch number.
    pub epoch: u64,
    /// The epoch state.
    pub epoch_state: Cid,
    /// The epoch key.
    pub key: &'a EpochKey,
    /// Lamport clock.
    pub lamport: u64,
    /// Parents (sorted and deduplicated here).
    pub parents: Vec<Cid>,
}

fn message_key(key: &EpochKey) -> Zeroizing<[u8; 32]> {
    let mut out = Zeroizing::new([0u8; 32]);
    // Expanding 32 bytes cannot fail (the limit is 255 * 32).
    let _ = Hkdf::<Sha256>::new(None, key.expose()).expand(KEY_INFO, out.as_mut());
    out
}

impl GroupMessage {
    /// Encrypts and signs `plaintext` as `author`.
    ///
    /// # Errors
    /// [`MessageError::Object`] for an oversized plaintext or too many parents.
    pub fn seal(
        author: &Identity,
        draft: Draft<'_>,
        plaintext: &[u8],
        rng: &mut impl CryptoRngCore,
    ) -> Result<Block, MessageError> {
        if plaintext.len() > MAX_PLAINTEXT {
            return Err(ObjectError::TooLarge("plaintext").into());
        }
        let mut parents = draft.parents;
        parents.sort_unstable();
        parents.dedup();
        if parents.len() > MAX_PARENTS {
            return Err(MessageError::BadHistory);
        }
        let mut nonce = [0u8; 24];
        rng.fill_bytes(&mut nonce);
        let mut msg = GroupMessage {
            group: draft.group,
            epoch: draft.epoch,
            epoch_state: draft.epoch_state,
            author: author.id(),
            lamport: draft.lamport,
            parents,
            nonce,
            aad: [0; 32],
            ciphertext: Vec::new(),
            signature: [0; 64],
        };
        msg.aad = msg.expected_aad();
        let cipher = XChaCha20Poly1305::new(message_key(draft.key).as_ref().into());
        msg.ciphertext = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &msg.aad,
                },
            )
            .map_err(|_| ObjectError::Invalid("plaintext cannot be encrypted"))?;
        let signed = msg.signed_bytes()?;
        msg.signature = Domain::GroupMessage
            .sign(author.signing_key(), &signed)
            .to_bytes();
        Ok(Envelope::unsigned(msg)
            .to_block()
            .map_err(ObjectError::from)?)
    }

    fn signed_bytes(&self) -> Result<Vec<u8>, ObjectError> {
        crate::encode::canonical(&Signed {
            group: &self.group,
            epoch: self.epoch,
            epoch_state: &self.epoch_state,
            author: &self.author,
            lamport: self.lamport,
            parents: &self.parents,
            nonce: &self.nonce,
            aad: &self.aad,
            ciphertext: &self.ciphertext,
        })
    }

    /// The `aad` this message must carry.
    #[must_use]
    pub fn expected_aad(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(AAD_LABEL);
        h.update(self.group.as_bytes());
        h.update(self.epoch.to_be_bytes());
        h.update(self.epoch_state.to_bytes());
        h.update(self.author.as_bytes());
        h.update(self.lamport.to_be_bytes());
        h.update((self.parents.len() as u64).to_be_bytes());
        for p in &self.parents {
            h.update(p.to_bytes());
        }
        h.finalize().into()
    }

    /// Decodes a message block and checks what needs no group state: limits, history
    /// shape, group.
    ///
    /// # Errors
    /// [`MessageError`].
    pub fn decode(block: &Block, group: &GroupId) -> Result<GroupMessage, MessageError> {
        let msg = block
            .decode::<GroupMessage>()
            .map_err(ObjectError::from)?
            .payload;
        if msg.group != *group {
            return Err(MessageError::WrongGroup);
        }
        if msg.ciphertext.len() > MAX_PLAINTEXT + TAG_LEN {
            return Err(ObjectError::TooLarge("ciphertext").into());
        }
        let sorted = msg.parents.windows(2).all(|w| match w {
            [a, b] => a < b,
            _ => true,
        });
        if !sorted || msg.parents.len() > MAX_PARENTS || msg.parents.contains(block.cid()) {
            return Err(MessageError::BadHistory);
        }
        Ok(msg)
    }

    /// Checks the message against its epoch (`epoch` number, member set): membership,
    /// aad, then the author's signature. Blind caches run this too: it needs no key.
    ///
    /// # Errors
    /// [`MessageError`] naming the first check that failed.
    pub fn authenticate(&self, epoch: u64, members: &MemberSet) -> Result<(), MessageError> {
        if self.epoch != epoch {
            return Err(MessageError::EpochMismatch {
                claimed: self.epoch,
                actual: epoch,
            });
        }
        let member = members
            .get(&self.author)
            .ok_or(MessageError::NotAMember(self.author))?;
        if self.aad != self.expected_aad() {
            return Err(MessageError::AadMismatch);
        }
        let key = VerifyingKey::from_bytes(&member.signing_key)
            .map_err(|_| MessageError::Object(ObjectError::BadKey))?;
        let signed = self.signed_bytes()?;
        Domain::GroupMessage
            .verify(&key, &signed, &Signature::from_bytes(&self.signature))
            .map_err(|_| MessageError::BadSignature)
    }

    /// Decrypts (after [`GroupMessage::authenticate`]).
    ///
    /// # Errors
    /// [`MessageError::Decrypt`].
    pub fn open(&self, key: &EpochKey) -> Result<Zeroizing<Vec<u8>>, MessageError> {
        let cipher = XChaCha20Poly1305::new(message_key(key).as_ref().into());
        cipher
            .decrypt(
                XNonce::from_slice(&self.nonce),
                Payload {
                    msg: &self.ciphertext,
                    aad: &self.aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| MessageError::Decrypt)
    }
}
