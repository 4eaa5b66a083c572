//! The node's signal envelope (`webrtc::envelope::NodeSignal`): one accepted encoding per
//! value, and typed errors for the rest.
//!
//! Input: the whole input, as an envelope, and as the content of envelopes to encode.
//!
//! Asserted:
//! - `Ok(s) = decode(data)` ⇒ `encode(s) == data`, and a peer list has at most
//!   `MAX_PEER_LIST` ids;
//! - `Err(Empty)` exactly for no bytes; `Err(UnknownTag(t))` exactly for a first byte `t`
//!   other than 1 and 2; `Err(BadPeerList(n))` exactly for tag 2 with `n` body bytes that
//!   are not a whole number of ids or more than `MAX_PEER_LIST` of them;
//! - `decode(encode(WebRtc(data))) == WebRtc(data)`;
//! - `decode(encode(Peers(ids)))` gives the first `MAX_PEER_LIST` of `ids` (the 32-byte
//!   chunks of `data`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use quorate_mesh_proto::mesh::NodeId;
use quorate_mesh_transport::webrtc::envelope::{EnvelopeError, MAX_PEER_LIST, NodeSignal};

fuzz_target!(|data: &[u8]| {
    match NodeSignal::decode(data) {
        Ok(signal) => {
            assert_eq!(signal.encode(), data, "accepted bytes are not canonical");
            if let NodeSignal::Peers(ids) = &signal {
                assert!(ids.len() <= MAX_PEER_LIST, "{} ids", ids.len());
            }
        }
        Err(e) => {
            let _ = e.to_string();
            let expected = match data.split_first() {
                None => EnvelopeError::Empty,
                Some((&2, body)) => EnvelopeError::BadPeerList(body.len()),
                Some((&t, _)) => EnvelopeError::UnknownTag(t),
            };
            assert_eq!(e, expected);
            if let EnvelopeError::BadPeerList(n) = e {
                assert!(n % 32 != 0 || n / 32 > MAX_PEER_LIST, "refused {n} bytes");
            }
        }
    }

    let webrtc = NodeSignal::WebRtc(data.to_vec());
    assert_eq!(NodeSignal::decode(&webrtc.encode()), Ok(webrtc));

    let ids: Vec<NodeId> = data
        .chunks_exact(32)
        .filter_map(|c| <[u8; 32]>::try_from(c).ok())
        .map(NodeId::from_bytes)
        .collect();
    let kept = ids.iter().take(MAX_PEER_LIST).copied().collect();
    assert_eq!(
        NodeSignal::decode(&NodeSignal::Peers(ids).encode()),
        Ok(NodeSignal::Peers(kept))
    );
});
