//! `GroupGenesis`: the block a group starts from; its hash is the [`GroupId`].

use ed25519_dalek::VerifyingKey;
use quorate_actor_core::{ActorId, Identity};
use quorate_mesh_proto::{Block, BlockPayload, Envelope, PinClass};
use rand_core::CryptoRngCore;
use serde::{Deserialize, Serialize};

use crate::error::ObjectError;
use crate::id::GroupId;

/// Longest group name, in bytes.
pub const MAX_NAME: usize = 128;

/// The first block of a group, signed (object-level signature) by its creator.
///
/// `GroupId = SHA-256(block bytes)`. The creator is the group's first admin for ever: the
/// [`AdminRule`](crate::AdminRule) of every epoch includes them implicitly.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupGenesis {
    /// The creator.
    pub creator: ActorId,
    /// The creator's Ed25519 public key (`creator = SHA-256(creator_key)`).
    #[serde(with = "serde_bytes")]
    pub creator_key: [u8; 32],
    /// A display name, at most [`MAX_NAME`] bytes.
    pub name: String,
    /// 32 random bytes: two groups never share an id.
    #[serde(with = "serde_bytes")]
    pub nonce: [u8; 32],
    /// Creation time, Unix milliseconds (informational).
    pub created_at: u64,
}

impl BlockPayload for GroupGenesis {
    const TYPE: &'static str = "group-genesis";
    const VERSION: u32 = 1;
    const PIN: PinClass = PinClass::GroupEpoch;
}

impl GroupGenesis {
    /// A new genesis block signed by `creator`.
    ///
    /// # Errors
    /// [`ObjectError::TooLarge`] for a name over [`MAX_NAME`]; [`ObjectError::Encode`].
    pub fn create(
        creator: &Identity,
        name: &str,
        created_at: u64,
        rng: &mut impl CryptoRngCore,
    ) -> Result<(GroupId, Block), ObjectError> {
        if name.len() > MAX_NAME {
            return Err(ObjectError::TooLarge("group name"));
        }
        let mut nonce = [0u8; 32];
        rng.fill_bytes(&mut nonce);
        let genesis = GroupGenesis {
            creator: creator.id(),
            creator_key: creator.verifying_key().to_bytes(),
            name: name.to_owned(),
            nonce,
            created_at,
        };
        let block = Envelope::signed(genesis, creator.signing_key())?.to_block()?;
        Ok((GroupId::of_genesis_bytes(block.bytes()), block))
    }

    /// Decodes and checks a genesis block: canonical, signed by the key it names, the
    /// creator id is that key's hash. Returns the group id and the genesis.
    ///
    /// # Errors
    /// [`ObjectError`] naming what is wrong.
    pub fn verify(block: &Block) -> Result<(GroupId, GroupGenesis), ObjectError> {
        let envelope = block.decode::<GroupGenesis>()?;
        let signer = envelope.verify()?;
        let genesis = envelope.payload;
        if genesis.name.len() > MAX_NAME {
            return Err(ObjectError::TooLarge("group name"));
        }
        if signer.as_bytes() != &genesis.creator_key || !genesis.creator.is_key_of(&signer) {
            return Err(ObjectError::WrongSigner);
        }
        Ok((GroupId::of_genesis_bytes(block.bytes()), genesis))
    }

    /// The creator's verifying key (checked by [`GroupGenesis::verify`]).
    ///
    /// # Errors
    /// [`ObjectError::BadKey`] if the bytes are not a key (only for unverified values).
    pub fn creator_key(&self) -> Result<VerifyingKey, ObjectError> {
        VerifyingKey::from_bytes(&self.creator_key).map_err(|_| ObjectError::BadKey)
    }
}
