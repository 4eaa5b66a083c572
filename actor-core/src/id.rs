//! `ActorId`: who an actor is, independent of any device or transport.

use core::fmt;
use core::str::FromStr;

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// `ActorId = SHA-256(signing public key)`: 32 bytes, ordered bytewise.
///
/// It names a person across devices. Node ids (one per device or tab) are separate and
/// ephemeral; an actor proves it runs on a node by signing a presence announcement.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ActorId(#[serde(with = "serde_bytes")] [u8; 32]);

impl ActorId {
    /// The id of a signing key.
    #[must_use]
    pub fn of(key: &VerifyingKey) -> Self {
        ActorId(Sha256::digest(key.as_bytes()).into())
    }

    /// Raw bytes (for ids read from elsewhere; nothing checks them).
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        ActorId(bytes)
    }

    /// The 32 bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// True if `key` is this actor's signing key.
    #[must_use]
    pub fn is_key_of(&self, key: &VerifyingKey) -> bool {
        ActorId::of(key) == *self
    }

    /// First 4 bytes in hex, for logs.
    #[must_use]
    pub fn short(&self) -> String {
        self.0.iter().take(4).map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Display for ActorId {
    /// Full lower-case hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for ActorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ActorId({})", self.short())
    }
}

/// A string that is not an actor id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an actor id is 64 hex characters")]
pub struct ActorIdParseError;

impl FromStr for ActorId {
    type Err = ActorIdParseError;

    fn from_str(s: &str) -> Result<Self, ActorIdParseError> {
        let mut out = [0u8; 32];
        crate::hex::decode_into(s, &mut out).map_err(|()| ActorIdParseError)?;
        Ok(ActorId(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_parses_back_and_garbage_does_not() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key();
        let id = ActorId::of(&key);
        assert!(id.is_key_of(&key));
        assert_eq!(id.to_string().parse::<ActorId>(), Ok(id));
        for bad in ["", "zz", &"0".repeat(63), &"g".repeat(64), &"0".repeat(65)] {
            assert_eq!(bad.parse::<ActorId>(), Err(ActorIdParseError), "{bad:?}");
        }
    }
}
