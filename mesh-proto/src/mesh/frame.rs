//! Wire frames between two mesh nodes: canonical DAG-CBOR, size-checked before parsing,
//! count-checked after, and re-encoded to reject any second encoding of the same frame.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::MAX_BLOCK_SIZE;
use crate::cid::Cid;
use crate::mesh::identity::NodeId;

/// Protocol versions this code speaks, newest last.
pub const PROTOCOL_VERSIONS: &[u32] = &[1];
/// Largest frame: a largest block plus room for the frame around it.
pub const MAX_FRAME_SIZE: usize = MAX_BLOCK_SIZE + 4096;
/// Most CIDs (or entries) in one list-carrying frame.
pub const MAX_LIST: usize = 1024;
/// Longest topic name in bytes.
pub const MAX_TOPIC_LEN: usize = 128;
/// Longest head name in bytes.
pub const MAX_HEAD_NAME_LEN: usize = 128;
/// Most head names in one query.
pub const MAX_HEAD_QUERY: usize = 64;
/// Largest signaling payload (an SDP offer with candidates fits easily).
pub const MAX_SIGNAL_PAYLOAD: usize = 16 * 1024;
/// Longest human-readable reason in a `Bye`.
pub const MAX_REASON_LEN: usize = 256;

/// A gossip topic name: 1 to [`MAX_TOPIC_LEN`] bytes of UTF-8.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Topic(String);

impl Topic {
    /// The global rendezvous topic (presence, invitations, encrypted envelopes only).
    #[must_use]
    pub fn global() -> Topic {
        Topic("global".into())
    }

    /// A topic by name.
    ///
    /// # Errors
    /// [`FrameError::BadTopic`] if empty or longer than [`MAX_TOPIC_LEN`].
    pub fn new(name: impl Into<String>) -> Result<Topic, FrameError> {
        let name = name.into();
        if name.is_empty() || name.len() > MAX_TOPIC_LEN {
            return Err(FrameError::BadTopic);
        }
        Ok(Topic(name))
    }

    /// The name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Topic {
    type Error = FrameError;
    fn try_from(s: String) -> Result<Self, FrameError> {
        Topic::new(s)
    }
}

impl From<Topic> for String {
    fn from(t: Topic) -> String {
        t.0
    }
}

impl core::fmt::Debug for Topic {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Topic({:?})", self.0)
    }
}

/// Limits a node advertises in its handshake; the peer must respect them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerLimits {
    /// Largest block it accepts.
    pub max_block_size: u32,
    /// Largest frame it accepts.
    pub max_frame_size: u32,
    /// Frames per second it accepts (sustained; bursts up to twice that).
    pub frames_per_sec: u32,
    /// Bytes per second it accepts (sustained; bursts up to twice that).
    pub bytes_per_sec: u32,
}

/// First frame on a connection, each way.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// Protocol versions spoken.
    pub versions: Vec<u32>,
    /// The sender's node id.
    pub node: NodeId,
    /// The sender's limits.
    pub limits: PeerLimits,
    /// Fresh randomness the peer must sign in its [`Auth`].
    #[serde(with = "serde_bytes")]
    pub nonce: [u8; 16],
}

/// Second frame, each way: proves possession of the node key for this connection.
///
/// `sig` = Ed25519 over [`Domain::MeshHandshake`](crate::Domain::MeshHandshake) of
/// `sha256(own Hello bytes) || peer's nonce`: it binds what the sender advertised and the
/// peer's fresh challenge, so a recorded handshake cannot be replayed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Auth {
    /// The signature.
    #[serde(with = "serde_bytes")]
    pub sig: [u8; 64],
}

/// One entry of a `Want` frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WantEntry {
    /// The block wanted.
    pub cid: Cid,
    /// Higher is served first.
    pub priority: u8,
    /// True withdraws an earlier want.
    pub cancel: bool,
}

/// A block in answer to a want (or pushed with gossip).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockFrame {
    /// The CID the sender claims; the receiver checks it.
    pub cid: Cid,
    /// The block bytes.
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}

/// A gossip message: a block published on a topic, inline if small.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GossipFrame {
    /// The topic.
    pub topic: Topic,
    /// The block's CID, also the message id.
    pub cid: Cid,
    /// Hops travelled so far (0 from the publisher).
    pub hops: u8,
    /// The block bytes, for blocks up to the inline limit; otherwise fetch by want.
    #[serde(with = "serde_bytes")]
    pub data: Option<Vec<u8>>,
}

/// Message ids on a topic: an announcement (`IHave`) or a request (`Graft`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicIds {
    /// The topic.
    pub topic: Topic,
    /// Message ids (block CIDs).
    pub cids: Vec<Cid>,
}

/// A named head (an actor's feed head, a group's epoch): the newest `seq` wins.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    /// Name, chosen by the layer that registers it.
    pub name: String,
    /// Monotonic sequence number.
    pub seq: u64,
    /// The block the head points at.
    pub cid: Cid,
}

/// Opaque signaling (SDP, ICE) relayed through the mesh to a node not directly connected.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignalFrame {
    /// Originating node; `sig` is by its key.
    pub from: NodeId,
    /// Destination node.
    pub to: NodeId,
    /// Origin's counter; (from, id) is unique, duplicates are dropped.
    pub id: u64,
    /// Remaining relay hops.
    pub ttl: u8,
    /// The payload, at most [`MAX_SIGNAL_PAYLOAD`] bytes.
    #[serde(with = "serde_bytes")]
    pub payload: Vec<u8>,
    /// Ed25519 by `from` over [`Domain::Signaling`](crate::Domain::Signaling) of the
    /// frame's canonical encoding with `ttl = 0` and `sig` zeroed.
    #[serde(with = "serde_bytes")]
    pub sig: [u8; 64],
}

/// Everything that crosses a mesh connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Frame {
    /// Handshake, step 1.
    Hello(Hello),
    /// Handshake, step 2.
    Auth(Auth),
    /// Blocks the sender can serve.
    Have(Vec<Cid>),
    /// Blocks the sender wants (or no longer wants).
    Want(Vec<WantEntry>),
    /// Wanted blocks the sender does not have.
    DontHave(Vec<Cid>),
    /// A block.
    Block(BlockFrame),
    /// Topics the sender joins.
    Subscribe(Vec<Topic>),
    /// Topics the sender leaves.
    Unsubscribe(Vec<Topic>),
    /// Eager push of a message.
    Gossip(GossipFrame),
    /// Lazy push: message ids the sender has.
    IHave(TopicIds),
    /// Pull: send me these messages and push eagerly to me from now on.
    Graft(TopicIds),
    /// Stop pushing eagerly to me on this topic.
    Prune(Topic),
    /// Named heads the sender knows.
    Heads(Vec<Head>),
    /// Asks for the sender's heads of these names (answered with `Heads`).
    HeadQuery(Vec<String>),
    /// Relayed signaling.
    Signal(SignalFrame),
    /// Liveness probe.
    Ping(u64),
    /// Answer to a ping.
    Pong(u64),
    /// Closing, with a reason for humans.
    Bye(String),
}

/// Why bytes are not an acceptable frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// Larger than the limit; not parsed.
    #[error("frame of {size} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Size received.
        size: usize,
        /// Limit applied.
        max: usize,
    },
    /// Not a well-formed frame.
    #[error("malformed frame: {0}")]
    Malformed(String),
    /// Parses, but not in its one canonical encoding.
    #[error("frame is not canonical DAG-CBOR")]
    NonCanonical,
    /// A list, string or payload beyond its limit.
    #[error("frame field {field} has {len} items/bytes, limit {max}")]
    FieldTooLong {
        /// Which field.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A topic name that is empty or too long.
    #[error("topic name must be 1 to {MAX_TOPIC_LEN} bytes")]
    BadTopic,
    /// The frame could not be encoded.
    #[error("frame cannot be encoded: {0}")]
    Encode(String),
}

impl Frame {
    /// Canonical bytes.
    ///
    /// # Errors
    /// [`FrameError::Encode`] (not expected for well-formed values).
    pub fn encode(&self) -> Result<Bytes, FrameError> {
        serde_ipld_dagcbor::to_vec(self)
            .map(Bytes::from)
            .map_err(|e| FrameError::Encode(e.to_string()))
    }

    /// Parses untrusted bytes: size first, then structure, then field limits, then the
    /// canonical-encoding check.
    ///
    /// # Errors
    /// [`FrameError`] naming the fault.
    pub fn decode(bytes: &[u8], max_size: usize) -> Result<Frame, FrameError> {
        let max = max_size.min(MAX_FRAME_SIZE);
        if bytes.len() > max {
            return Err(FrameError::TooLarge {
                size: bytes.len(),
                max,
            });
        }
        let frame: Frame = serde_ipld_dagcbor::from_slice(bytes)
            .map_err(|e| FrameError::Malformed(e.to_string()))?;
        frame.check_limits()?;
        let again = serde_ipld_dagcbor::to_vec(&frame).map_err(|_| FrameError::NonCanonical)?;
        if again != bytes {
            return Err(FrameError::NonCanonical);
        }
        Ok(frame)
    }

    /// Checks list lengths and field sizes.
    ///
    /// # Errors
    /// [`FrameError::FieldTooLong`].
    pub fn check_limits(&self) -> Result<(), FrameError> {
        let check = |field: &'static str, len: usize, max: usize| {
            if len > max {
                Err(FrameError::FieldTooLong { field, len, max })
            } else {
                Ok(())
            }
        };
        match self {
            Frame::Hello(h) => check("versions", h.versions.len(), 16),
            Frame::Have(c) | Frame::DontHave(c) => check("cids", c.len(), MAX_LIST),
            Frame::Want(w) => check("wants", w.len(), MAX_LIST),
            Frame::Subscribe(t) | Frame::Unsubscribe(t) => check("topics", t.len(), 64),
            Frame::IHave(t) | Frame::Graft(t) => check("cids", t.cids.len(), MAX_LIST),
            Frame::Heads(h) => {
                check("heads", h.len(), 256)?;
                h.iter()
                    .try_for_each(|h| check("head name", h.name.len(), MAX_HEAD_NAME_LEN))
            }
            Frame::HeadQuery(names) => {
                check("head names", names.len(), MAX_HEAD_QUERY)?;
                names
                    .iter()
                    .try_for_each(|n| check("head name", n.len(), MAX_HEAD_NAME_LEN))
            }
            Frame::Signal(s) => check("signal payload", s.payload.len(), MAX_SIGNAL_PAYLOAD),
            Frame::Bye(r) => check("reason", r.len(), MAX_REASON_LEN),
            Frame::Block(b) => check("block", b.data.len(), MAX_BLOCK_SIZE),
            Frame::Gossip(g) => check(
                "gossip data",
                g.data.as_ref().map_or(0, Vec::len),
                MAX_BLOCK_SIZE,
            ),
            Frame::Auth(_) | Frame::Prune(_) | Frame::Ping(_) | Frame::Pong(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Codec;

    fn all_kinds() -> Vec<Frame> {
        let cid = Cid::of(Codec::Raw, b"x");
        let topic = Topic::new("group/abc").unwrap();
        vec![
            Frame::Hello(Hello {
                versions: vec![1],
                node: NodeId::from_bytes([1; 32]),
                limits: PeerLimits {
                    max_block_size: 1,
                    max_frame_size: 2,
                    frames_per_sec: 3,
                    bytes_per_sec: 4,
                },
                nonce: [9; 16],
            }),
            Frame::Auth(Auth { sig: [7; 64] }),
            Frame::Have(vec![cid]),
            Frame::Want(vec![WantEntry {
                cid,
                priority: 3,
                cancel: false,
            }]),
            Frame::DontHave(vec![cid, cid]),
            Frame::Block(BlockFrame {
                cid,
                data: b"x".to_vec(),
            }),
            Frame::Subscribe(vec![topic.clone(), Topic::global()]),
            Frame::Unsubscribe(vec![topic.clone()]),
            Frame::Gossip(GossipFrame {
                topic: topic.clone(),
                cid,
                hops: 2,
                data: Some(vec![1, 2]),
            }),
            Frame::Gossip(GossipFrame {
                topic: topic.clone(),
                cid,
                hops: 0,
                data: None,
            }),
            Frame::IHave(TopicIds {
                topic: topic.clone(),
                cids: vec![cid],
            }),
            Frame::Graft(TopicIds {
                topic: topic.clone(),
                cids: vec![],
            }),
            Frame::Prune(topic),
            Frame::Heads(vec![Head {
                name: "feed/a".into(),
                seq: 9,
                cid,
            }]),
            Frame::Signal(SignalFrame {
                from: NodeId::from_bytes([1; 32]),
                to: NodeId::from_bytes([2; 32]),
                id: 5,
                ttl: 4,
                payload: b"v=0".to_vec(),
                sig: [0; 64],
            }),
            Frame::HeadQuery(vec!["feed/a".into(), "backup/b".into()]),
            Frame::Ping(1),
            Frame::Pong(u64::MAX),
            Frame::Bye("bye".into()),
        ]
    }

    #[test]
    fn every_frame_kind_round_trips() {
        for frame in all_kinds() {
            let bytes = frame.encode().unwrap();
            assert_eq!(Frame::decode(&bytes, MAX_FRAME_SIZE).unwrap(), frame);
        }
    }

    #[test]
    fn limits_are_enforced() {
        let cid = Cid::of(Codec::Raw, b"x");
        let big = Frame::Have(vec![cid; MAX_LIST + 1]).encode().unwrap();
        assert!(matches!(
            Frame::decode(&big, MAX_FRAME_SIZE),
            Err(FrameError::FieldTooLong { field: "cids", .. })
        ));
        let bytes = Frame::Ping(1).encode().unwrap();
        assert!(matches!(
            Frame::decode(&bytes, 2),
            Err(FrameError::TooLarge { .. })
        ));
        let long_topic =
            serde_ipld_dagcbor::to_vec(&serde_ipld_dagcbor::to_vec(&"t".repeat(200)).unwrap())
                .unwrap();
        assert!(Frame::decode(&long_topic, MAX_FRAME_SIZE).is_err());
        assert!(matches!(
            Frame::decode(&[0xff], 100),
            Err(FrameError::Malformed(_))
        ));
    }
}
