//! Node identity: an Ed25519 key per device or tab.
//!
//! A node id is the transport-level identity of one running node. It is ephemeral and says
//! nothing about who uses the node: actors (people) have their own keys one layer up. Peers
//! prove possession of the node key in the handshake, so a transport address (a WebRTC
//! connection, a signaling room) is never trusted on its own.

use core::fmt;
use core::str::FromStr;

use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A node's public key, 32 bytes. Ordered bytewise.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId([u8; 32]);

impl NodeId {
    /// The id of a public key.
    #[must_use]
    pub fn from_key(key: &VerifyingKey) -> Self {
        NodeId(key.to_bytes())
    }

    /// Raw bytes. Not every 32-byte string is a valid key: see [`NodeId::verifying_key`].
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        NodeId(bytes)
    }

    /// The 32 bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The Ed25519 key, if these bytes are a valid point.
    #[must_use]
    pub fn verifying_key(&self) -> Option<VerifyingKey> {
        VerifyingKey::from_bytes(&self.0).ok()
    }

    /// First 4 bytes in hex: enough to tell nodes apart in logs.
    #[must_use]
    pub fn short(&self) -> String {
        self.0.iter().take(4).map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Display for NodeId {
    /// Full lower-case hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({})", self.short())
    }
}

/// A hex string that is not a node id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a node id is 64 hex characters")]
pub struct NodeIdParseError;

impl FromStr for NodeId {
    type Err = NodeIdParseError;

    fn from_str(s: &str) -> Result<Self, NodeIdParseError> {
        let s = s.as_bytes();
        if s.len() != 64 {
            return Err(NodeIdParseError);
        }
        let mut out = [0u8; 32];
        for (byte, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
            // Digits only: `from_str_radix` would also take a sign ("+f").
            let hex = core::str::from_utf8(pair).map_err(|_| NodeIdParseError)?;
            if !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(NodeIdParseError);
            }
            *byte = u8::from_str_radix(hex, 16).map_err(|_| NodeIdParseError)?;
        }
        Ok(NodeId(out))
    }
}

impl Serialize for NodeId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for NodeId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bytes: serde_bytes::ByteArray<32> = Deserialize::deserialize(d)?;
        Ok(NodeId(bytes.into_array()))
    }
}

/// A node's signing key. Drivers draw it from the OS (or a simulator from its seed).
#[derive(Clone)]
pub struct NodeKey(SigningKey);

impl NodeKey {
    /// A key from 32 secret bytes.
    #[must_use]
    pub fn from_secret(secret: [u8; 32]) -> Self {
        NodeKey(SigningKey::from_bytes(&secret))
    }

    /// This node's id.
    #[must_use]
    pub fn id(&self) -> NodeId {
        NodeId::from_key(&self.0.verifying_key())
    }

    /// The signing key, for the handshake and signaling.
    #[must_use]
    pub fn signing_key(&self) -> &SigningKey {
        &self.0
    }
}

impl fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeKey({})", self.id().short())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_id_text_round_trip() {
        let id = NodeKey::from_secret([3; 32]).id();
        assert_eq!(id.to_string().parse::<NodeId>(), Ok(id));
        assert!(id.verifying_key().is_some());
        assert_eq!("zz".parse::<NodeId>(), Err(NodeIdParseError));
        assert_eq!("é".repeat(32).parse::<NodeId>(), Err(NodeIdParseError));
        let signed = format!("+{}", &id.to_string()[1..]);
        assert_eq!(signed.parse::<NodeId>(), Err(NodeIdParseError));
    }
}
