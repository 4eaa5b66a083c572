//! `GroupId`: the SHA-256 digest of the group's genesis block.

use core::fmt;
use core::str::FromStr;

use quorate_mesh_proto::mesh::Topic;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A group's id: `SHA-256(genesis block bytes)`, i.e. the digest inside the genesis
/// block's CID. The genesis carries 32 random bytes, so ids are unpredictable and unique,
/// and the id commits to the creator: nobody can claim another creator for a group.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct GroupId(#[serde(with = "serde_bytes")] [u8; 32]);

/// Prefix of group topic and head names.
pub const NAME_PREFIX: &str = "group/";

impl GroupId {
    /// The id of a genesis block's bytes.
    #[must_use]
    pub fn of_genesis_bytes(bytes: &[u8]) -> Self {
        GroupId(Sha256::digest(bytes).into())
    }

    /// Raw bytes (nothing checks them).
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        GroupId(bytes)
    }

    /// The 32 bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The gossip topic group blocks travel on: `group/<hex>`.
    #[must_use]
    pub fn topic(&self) -> Topic {
        // 6 + 64 bytes is within MAX_TOPIC_LEN (128); the fallback is never taken.
        Topic::new(format!("{NAME_PREFIX}{self}")).unwrap_or_else(|_| Topic::global())
    }

    /// The mesh head naming the group's current epoch state: `group/<hex>/epoch`.
    #[must_use]
    pub fn epoch_head(&self) -> String {
        format!("{NAME_PREFIX}{self}/epoch")
    }

    /// The mesh head naming the group's latest message: `group/<hex>/msgs`.
    #[must_use]
    pub fn messages_head(&self) -> String {
        format!("{NAME_PREFIX}{self}/msgs")
    }

    /// First 4 bytes in hex, for logs.
    #[must_use]
    pub fn short(&self) -> String {
        self.0.iter().take(4).map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Display for GroupId {
    /// Full lower-case hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GroupId({})", self.short())
    }
}

/// A string that is not a group id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a group id is 64 hex characters")]
pub struct GroupIdParseError;

impl FromStr for GroupId {
    type Err = GroupIdParseError;

    fn from_str(s: &str) -> Result<Self, GroupIdParseError> {
        if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(GroupIdParseError);
        }
        let mut out = [0u8; 32];
        for (byte, pair) in out.iter_mut().zip(s.as_bytes().chunks_exact(2)) {
            let text = core::str::from_utf8(pair).map_err(|_| GroupIdParseError)?;
            *byte = u8::from_str_radix(text, 16).map_err(|_| GroupIdParseError)?;
        }
        Ok(GroupId(out))
    }
}

/// Parses a group topic or head name (`group/<hex>` or `group/<hex>/…`) back to its id.
#[must_use]
pub fn group_of_name(name: &str) -> Option<GroupId> {
    let rest = name.strip_prefix(NAME_PREFIX)?;
    let hex = rest.get(..64)?;
    let tail = rest.get(64..)?;
    (tail.is_empty() || tail.starts_with('/'))
        .then(|| hex.parse().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_parses_back_names_round_trip_and_garbage_does_not() {
        let id = GroupId::of_genesis_bytes(b"genesis");
        assert_eq!(id.to_string().parse::<GroupId>(), Ok(id));
        assert_eq!(group_of_name(id.topic().as_str()), Some(id));
        assert_eq!(group_of_name(&id.epoch_head()), Some(id));
        assert_eq!(group_of_name(&id.messages_head()), Some(id));
        for bad in ["", "zz", &"0".repeat(63), &"g".repeat(64), &"+1".repeat(32)] {
            assert_eq!(bad.parse::<GroupId>(), Err(GroupIdParseError), "{bad:?}");
        }
        assert_eq!(group_of_name("group/"), None);
        assert_eq!(group_of_name(&format!("group/{id}x")), None);
        assert_eq!(group_of_name(&format!("feed/{id}")), None);
    }
}
