//! The wire protocol, version 1: JSON text messages tagged by `"type"`.
//!
//! Both directions are plain serde types, so a Rust peer never builds JSON by hand and the
//! validation rules (room names, node ids, payload sizes) live in one place: a message that
//! deserializes is valid. Unknown fields are ignored (a later minor revision may add
//! optional ones); unknown `type`s are errors.

use core::fmt;
use core::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use quorate_mesh_proto::mesh::NodeId;
use serde::{Deserialize, Serialize};

/// The protocol version this crate speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// The WebSocket subprotocol naming [`PROTOCOL_VERSION`]. Clients should offer it
/// (`Sec-WebSocket-Protocol`); a client offering only other subprotocols is refused at the
/// handshake, and a client offering none is served version 1.
pub const SUBPROTOCOL: &str = "quorate-rendezvous.v1";

/// Largest signal payload, in decoded bytes (32 KiB).
pub const MAX_PAYLOAD: usize = 32 * 1024;

/// Longest room name, in characters (all ASCII).
pub const MAX_ROOM_LEN: usize = 64;

/// A message from a client to the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
#[non_exhaustive]
pub enum ClientMessage {
    /// Enter `room` as `node`. Answered by [`ServerMessage::Peers`] or an error.
    Join {
        /// The room (namespace) to enter.
        room: RoomName,
        /// The sender's node id, 64 lower-case hex characters.
        #[serde(with = "node_hex")]
        node: NodeId,
    },
    /// Relay `payload` to node `to` in the sender's room. Not acknowledged.
    Signal {
        /// The addressee.
        #[serde(with = "node_hex")]
        to: NodeId,
        /// Opaque bytes, base64.
        payload: Payload,
    },
    /// Leave the current room; the connection stays open and may join again.
    Leave,
}

/// A message from the server to a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
#[non_exhaustive]
pub enum ServerMessage {
    /// The answer to a join: the other members of the room, in ascending order.
    Peers {
        /// The room joined.
        room: RoomName,
        /// The members other than the joiner.
        #[serde(with = "node_hex_list")]
        nodes: Vec<NodeId>,
    },
    /// A node entered the room (or reconnected: it then replaces its older connection).
    Joined {
        /// The node.
        #[serde(with = "node_hex")]
        node: NodeId,
    },
    /// A node left the room or disconnected.
    Left {
        /// The node.
        #[serde(with = "node_hex")]
        node: NodeId,
    },
    /// A payload relayed from another member of the same room.
    Signal {
        /// The sender, as it joined.
        #[serde(with = "node_hex")]
        from: NodeId,
        /// The payload, exactly as the sender wrote it.
        payload: Payload,
    },
    /// Something the client sent was refused, or the server is closing the connection.
    Error {
        /// Human-readable; not a stable interface.
        reason: String,
    },
}

/// A room name: 1 to 64 characters from `a-z 0-9 - _ / .`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RoomName(String);

/// A string that is not a [`RoomName`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a room name is 1 to 64 characters from a-z 0-9 - _ / .")]
pub struct RoomNameError;

impl RoomName {
    /// Checks `name`.
    ///
    /// # Errors
    /// [`RoomNameError`] if it is empty, too long or has another character.
    pub fn new(name: impl Into<String>) -> Result<Self, RoomNameError> {
        let name = name.into();
        let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_/.".contains(&b);
        if name.is_empty() || name.len() > MAX_ROOM_LEN || !name.bytes().all(allowed) {
            return Err(RoomNameError);
        }
        Ok(Self(name))
    }

    /// The name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for RoomName {
    type Error = RoomNameError;
    fn try_from(name: String) -> Result<Self, RoomNameError> {
        Self::new(name)
    }
}

impl From<RoomName> for String {
    fn from(room: RoomName) -> String {
        room.0
    }
}

impl FromStr for RoomName {
    type Err = RoomNameError;
    fn from_str(s: &str) -> Result<Self, RoomNameError> {
        Self::new(s)
    }
}

impl fmt::Display for RoomName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A signal payload: standard base64 (with padding) of at most [`MAX_PAYLOAD`] bytes.
///
/// Kept in its text form so the server relays exactly what the sender wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Payload(String);

/// A string or byte string that cannot be a [`Payload`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// More than [`MAX_PAYLOAD`] bytes.
    #[error("payload is larger than {MAX_PAYLOAD} bytes")]
    TooLarge,
    /// Not standard, padded base64.
    #[error("payload is not standard base64")]
    NotBase64,
}

impl Payload {
    /// Encodes `bytes`.
    ///
    /// # Errors
    /// [`PayloadError::TooLarge`] past [`MAX_PAYLOAD`].
    pub fn encode(bytes: &[u8]) -> Result<Self, PayloadError> {
        if bytes.len() > MAX_PAYLOAD {
            return Err(PayloadError::TooLarge);
        }
        Ok(Self(BASE64.encode(bytes)))
    }

    /// The decoded bytes.
    ///
    /// # Errors
    /// None in practice: the text was checked when the payload was built.
    pub fn decode(&self) -> Result<Vec<u8>, PayloadError> {
        BASE64.decode(&self.0).map_err(|_| PayloadError::NotBase64)
    }

    /// The base64 text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Payload {
    type Error = PayloadError;
    fn try_from(text: String) -> Result<Self, PayloadError> {
        // Check the length before decoding anything: 4 characters per 3 bytes.
        if text.len() > MAX_PAYLOAD.div_ceil(3) * 4 {
            return Err(PayloadError::TooLarge);
        }
        let len = BASE64
            .decode(&text)
            .map_err(|_| PayloadError::NotBase64)?
            .len();
        if len > MAX_PAYLOAD {
            return Err(PayloadError::TooLarge);
        }
        Ok(Self(text))
    }
}

impl From<Payload> for String {
    fn from(payload: Payload) -> String {
        payload.0
    }
}

/// Parses a node id in its one accepted form: 64 lower-case hex characters.
///
/// # Errors
/// A message naming the rule.
pub fn parse_node(text: &str) -> Result<NodeId, &'static str> {
    const RULE: &str = "a node id is 64 lower-case hex characters";
    let lower_hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    if text.len() != 64 || !text.bytes().all(lower_hex) {
        return Err(RULE);
    }
    NodeId::from_str(text).map_err(|_| RULE)
}

mod node_hex {
    use quorate_mesh_proto::mesh::NodeId;
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    pub(super) fn serialize<S: Serializer>(node: &NodeId, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(node)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NodeId, D::Error> {
        let text = String::deserialize(d)?;
        super::parse_node(&text).map_err(D::Error::custom)
    }
}

mod node_hex_list {
    use quorate_mesh_proto::mesh::NodeId;
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    pub(super) fn serialize<S: Serializer>(nodes: &[NodeId], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(nodes.iter().map(ToString::to_string))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<NodeId>, D::Error> {
        let texts = Vec::<String>::deserialize(d)?;
        texts
            .iter()
            .map(|text| super::parse_node(text).map_err(D::Error::custom))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "aa00000000000000000000000000000000000000000000000000000000000001";

    #[test]
    fn join_parses_and_round_trips() {
        let text = format!(r#"{{"type":"join","room":"demo/room-1.x_y","node":"{A}"}}"#);
        let msg: ClientMessage = serde_json::from_str(&text).unwrap();
        assert_eq!(serde_json::to_string(&msg).unwrap(), text);
    }

    #[test]
    fn unknown_fields_are_ignored_unknown_types_are_not() {
        let text = format!(r#"{{"type":"join","room":"r","node":"{A}","extra":1}}"#);
        assert!(serde_json::from_str::<ClientMessage>(&text).is_ok());
        assert!(serde_json::from_str::<ClientMessage>(r#"{"type":"dance"}"#).is_err());
        assert!(serde_json::from_str::<ClientMessage>(r#"{"room":"r"}"#).is_err());
    }

    #[test]
    fn room_names() {
        for bad in ["", "Upper", "sp ace", "é", &"a".repeat(65)] {
            assert_eq!(RoomName::new(bad), Err(RoomNameError), "{bad:?}");
        }
        assert!(RoomName::new("a".repeat(64)).is_ok());
    }

    #[test]
    fn node_ids_are_lower_case_hex_only() {
        assert!(parse_node(A).is_ok());
        assert!(parse_node(&A.to_uppercase()).is_err());
        assert!(parse_node(&A[1..]).is_err());
        assert!(parse_node(&format!("+{}", &A[1..])).is_err());
    }

    #[test]
    fn payload_limits() {
        assert!(Payload::encode(&[7; MAX_PAYLOAD]).is_ok());
        assert_eq!(
            Payload::encode(&[7; MAX_PAYLOAD + 1]),
            Err(PayloadError::TooLarge)
        );
        let big = BASE64.encode([7; MAX_PAYLOAD + 1]);
        assert_eq!(Payload::try_from(big), Err(PayloadError::TooLarge));
        assert_eq!(
            Payload::try_from("!!".to_owned()),
            Err(PayloadError::NotBase64)
        );
        let p = Payload::encode(b"sdp").unwrap();
        assert_eq!(p.decode().unwrap(), b"sdp");
    }

    #[test]
    fn server_messages_serialize_as_documented() {
        let node = parse_node(A).unwrap();
        let room = RoomName::new("r").unwrap();
        let peers = ServerMessage::Peers {
            room,
            nodes: vec![node],
        };
        let text = serde_json::to_string(&peers).unwrap();
        assert_eq!(
            text,
            format!(r#"{{"type":"peers","room":"r","nodes":["{A}"]}}"#)
        );
        assert_eq!(serde_json::from_str::<ServerMessage>(&text).unwrap(), peers);
        let err = ServerMessage::Error {
            reason: "no".into(),
        };
        assert_eq!(
            serde_json::to_string(&err).unwrap(),
            r#"{"type":"error","reason":"no"}"#
        );
    }
}
