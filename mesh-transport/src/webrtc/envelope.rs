//! The node's signaling envelope: what rides inside rendezvous, mesh and copy-paste signal
//! payloads, so one carrier can bring both WebRTC signals and peer lists. Native nodes and
//! browser tabs use the same bytes.
//!
//! One tag byte, then the body:
//!
//! | tag | body | carried by |
//! |---|---|---|
//! | `1` | a signed WebRTC signal (`quorate_mesh_transport::webrtc::signaling`) | rendezvous, mesh, copy-paste |
//! | `2` | a peer list: 0 to [`MAX_PEER_LIST`] node ids of 32 bytes each | mesh only (signed by the mesh) |
//!
//! Anything else is refused. A peer list that arrives through the rendezvous server is
//! ignored: only the mesh authenticates its sender.

use quorate_mesh_proto::mesh::NodeId;

/// Most node ids in one peer list.
pub const MAX_PEER_LIST: usize = 32;

const TAG_WEBRTC: u8 = 1;
const TAG_PEERS: u8 = 2;

/// A decoded node signal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeSignal {
    /// A signed WebRTC signal for the transport.
    WebRtc(Vec<u8>),
    /// Nodes the sender is connected to.
    Peers(Vec<NodeId>),
}

/// Why a node signal was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// No bytes at all.
    #[error("empty signal")]
    Empty,
    /// An unknown tag byte.
    #[error("unknown signal tag {0}")]
    UnknownTag(u8),
    /// A peer list that is not a whole number of ids, or too long.
    #[error("malformed peer list of {0} bytes")]
    BadPeerList(usize),
}

impl NodeSignal {
    /// The bytes on the wire.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        match self {
            NodeSignal::WebRtc(body) => {
                let mut out = Vec::with_capacity(body.len() + 1);
                out.push(TAG_WEBRTC);
                out.extend_from_slice(body);
                out
            }
            NodeSignal::Peers(nodes) => {
                let mut out = Vec::with_capacity(nodes.len().min(MAX_PEER_LIST) * 32 + 1);
                out.push(TAG_PEERS);
                for node in nodes.iter().take(MAX_PEER_LIST) {
                    out.extend_from_slice(node.as_bytes());
                }
                out
            }
        }
    }

    /// Parses untrusted bytes.
    ///
    /// # Errors
    /// [`EnvelopeError`] for an empty payload, an unknown tag or a malformed peer list.
    pub fn decode(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        let (&tag, body) = bytes.split_first().ok_or(EnvelopeError::Empty)?;
        match tag {
            TAG_WEBRTC => Ok(NodeSignal::WebRtc(body.to_vec())),
            TAG_PEERS => {
                if body.len() % 32 != 0 || body.len() / 32 > MAX_PEER_LIST {
                    return Err(EnvelopeError::BadPeerList(body.len()));
                }
                let nodes = body
                    .chunks_exact(32)
                    .filter_map(|c| <[u8; 32]>::try_from(c).ok())
                    .map(NodeId::from_bytes)
                    .collect();
                Ok(NodeSignal::Peers(nodes))
            }
            other => Err(EnvelopeError::UnknownTag(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb_signal() -> impl Strategy<Value = NodeSignal> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..512).prop_map(NodeSignal::WebRtc),
            proptest::collection::vec(any::<[u8; 32]>(), 0..=MAX_PEER_LIST).prop_map(|ids| {
                NodeSignal::Peers(ids.into_iter().map(NodeId::from_bytes).collect())
            }),
        ]
    }

    proptest! {
        #[test]
        fn every_signal_round_trips(signal in arb_signal()) {
            prop_assert_eq!(NodeSignal::decode(&signal.encode()), Ok(signal));
        }

        /// Whatever the bytes, decoding returns (never panics), and what it accepts
        /// encodes back to exactly the same bytes: one encoding per signal.
        #[test]
        fn any_bytes_decode_canonically_or_not_at_all(
            bytes in proptest::collection::vec(any::<u8>(), 0..(MAX_PEER_LIST + 2) * 32),
        ) {
            if let Ok(signal) = NodeSignal::decode(&bytes) {
                prop_assert_eq!(signal.encode(), bytes);
            }
        }
    }

    #[test]
    fn round_trips() {
        let nodes = vec![NodeId::from_bytes([7; 32]), NodeId::from_bytes([9; 32])];
        for s in [
            NodeSignal::WebRtc(vec![1, 2, 3]),
            NodeSignal::Peers(nodes),
            NodeSignal::Peers(vec![]),
        ] {
            assert_eq!(NodeSignal::decode(&s.encode()), Ok(s));
        }
    }

    #[test]
    fn long_lists_are_cut_on_encode_and_refused_on_decode() {
        let many = vec![NodeId::from_bytes([1; 32]); MAX_PEER_LIST + 5];
        let bytes = NodeSignal::Peers(many).encode();
        assert_eq!(bytes.len(), 1 + 32 * MAX_PEER_LIST);
        let mut too_long = bytes.clone();
        too_long.extend_from_slice(&[0; 32]);
        assert!(matches!(
            NodeSignal::decode(&too_long),
            Err(EnvelopeError::BadPeerList(_))
        ));
    }

    #[test]
    fn garbage_is_refused() {
        assert_eq!(NodeSignal::decode(&[]), Err(EnvelopeError::Empty));
        assert_eq!(
            NodeSignal::decode(&[9, 1]),
            Err(EnvelopeError::UnknownTag(9))
        );
        assert!(matches!(
            NodeSignal::decode(&[2, 1, 2]),
            Err(EnvelopeError::BadPeerList(2))
        ));
    }
}
