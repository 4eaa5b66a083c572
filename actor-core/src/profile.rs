//! `ActorProfile`: the self-signed card that binds an actor id to its two public keys.

use std::collections::BTreeMap;

use ed25519_dalek::VerifyingKey;
use quorate_mesh_proto::{Block, BlockPayload, DecodeError, EncodeError, PinClass};
use serde::{Deserialize, Serialize};

use crate::id::ActorId;
use crate::identity::Identity;

/// Most metadata entries in a profile.
pub const MAX_METADATA: usize = 16;
/// Longest metadata key, in bytes.
pub const MAX_METADATA_KEY: usize = 64;
/// Longest metadata value, in bytes.
pub const MAX_METADATA_VALUE: usize = 1024;

/// `ActorProfile { actorId, signingPubKey, encryptionPubKey, metadata }`, in a block
/// signed by the signing key it names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActorProfile {
    /// `SHA-256(signing_key)`.
    pub actor: ActorId,
    /// Ed25519 public key.
    #[serde(with = "serde_bytes")]
    pub signing_key: [u8; 32],
    /// X25519 public key (HPKE recipient key).
    #[serde(with = "serde_bytes")]
    pub encryption_key: [u8; 32],
    /// Free-form, small: a display name, an avatar CID…
    pub metadata: BTreeMap<String, String>,
}

impl BlockPayload for ActorProfile {
    const TYPE: &'static str = "actor-profile";
    const VERSION: u32 = 1;
    const PIN: PinClass = PinClass::ActorKey;
}

/// Why a block is not a valid profile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// Not a profile block, or malformed.
    #[error("not a profile: {0}")]
    Decode(#[from] DecodeError),
    /// Metadata beyond the limits.
    #[error("profile metadata is too large")]
    MetadataTooLarge,
    /// Unsigned, badly signed, or signed by a key other than the one it names.
    #[error("profile signature is missing, invalid, or not by the profile's own key")]
    BadSignature,
    /// The actor id is not the hash of the signing key.
    #[error("profile actor id does not match its signing key")]
    WrongActor,
    /// The signing key is not a valid Ed25519 point.
    #[error("profile signing key is not a valid Ed25519 key")]
    BadKey,
}

impl ActorProfile {
    /// The profile of `identity`, signed, as a block.
    ///
    /// # Errors
    /// [`ProfileError::MetadataTooLarge`] beyond the limits; encoding errors otherwise.
    pub fn publish(
        identity: &Identity,
        metadata: BTreeMap<String, String>,
    ) -> Result<Block, ProfileError> {
        let profile = ActorProfile {
            actor: identity.id(),
            signing_key: identity.verifying_key().to_bytes(),
            encryption_key: identity.encryption_public().to_bytes(),
            metadata,
        };
        profile.check_limits()?;
        Block::encode_signed(&profile, identity.signing_key())
            .map_err(|e: EncodeError| ProfileError::Decode(DecodeError::Malformed(e.to_string())))
    }

    /// Decodes and checks a profile block: limits, self-signature, id = hash(key).
    ///
    /// # Errors
    /// [`ProfileError`] naming the fault.
    pub fn verify(block: &Block) -> Result<ActorProfile, ProfileError> {
        let envelope = block.decode::<ActorProfile>()?;
        let profile = envelope.payload.clone();
        profile.check_limits()?;
        let key =
            VerifyingKey::from_bytes(&profile.signing_key).map_err(|_| ProfileError::BadKey)?;
        if !profile.actor.is_key_of(&key) {
            return Err(ProfileError::WrongActor);
        }
        match envelope.verify() {
            Ok(signer) if signer == key => Ok(profile),
            _ => Err(ProfileError::BadSignature),
        }
    }

    fn check_limits(&self) -> Result<(), ProfileError> {
        let too_big = self.metadata.len() > MAX_METADATA
            || self
                .metadata
                .iter()
                .any(|(k, v)| k.len() > MAX_METADATA_KEY || v.len() > MAX_METADATA_VALUE);
        if too_big {
            Err(ProfileError::MetadataTooLarge)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::ActorSecret;

    #[test]
    fn a_profile_verifies_and_a_forged_one_does_not() {
        let alice = Identity::from_secret(ActorSecret::from_bytes([1; 32]));
        let mallory = Identity::from_secret(ActorSecret::from_bytes([2; 32]));
        let meta = BTreeMap::from([("name".to_string(), "Alice".to_string())]);
        let block = ActorProfile::publish(&alice, meta.clone()).unwrap();
        let profile = ActorProfile::verify(&block).unwrap();
        assert_eq!(profile.actor, alice.id());
        assert_eq!(profile.encryption_key, alice.encryption_public().to_bytes());

        // Mallory signs a profile that names Alice's keys: wrong signer.
        let forged = ActorProfile {
            metadata: BTreeMap::new(),
            ..profile.clone()
        };
        let block = Block::encode_signed(&forged, mallory.signing_key()).unwrap();
        assert_eq!(
            ActorProfile::verify(&block),
            Err(ProfileError::BadSignature)
        );
        // Mallory's own key, but Alice's id.
        let forged = ActorProfile {
            signing_key: mallory.verifying_key().to_bytes(),
            ..profile
        };
        let block = Block::encode_signed(&forged, mallory.signing_key()).unwrap();
        assert_eq!(ActorProfile::verify(&block), Err(ProfileError::WrongActor));
        // Unsigned.
        let block = Block::encode(&forged).unwrap();
        assert_eq!(ActorProfile::verify(&block), Err(ProfileError::WrongActor));
        let big: BTreeMap<_, _> = (0..17).map(|i| (i.to_string(), String::new())).collect();
        assert_eq!(
            ActorProfile::publish(&alice, big).unwrap_err(),
            ProfileError::MetadataTooLarge
        );
    }
}
