//! [`TransportStats`]: what a [`WebRtcTransport`](super::WebRtcTransport) has carried.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use quorate_mesh_proto::mesh::{ConnId, NodeId};

/// Frames and their bytes, each way. A frame counts as sent once all of it has been
/// written to the data channel (handed to the WebRTC stack, not yet acknowledged), and
/// as received once reassembled; bytes are frame bytes, without chunk headers or the
/// stack's overhead.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Traffic {
    /// Frames written to the data channel.
    pub frames_sent: u64,
    /// Bytes of those frames.
    pub bytes_sent: u64,
    /// Frames received whole.
    pub frames_received: u64,
    /// Bytes of those frames.
    pub bytes_received: u64,
}

impl Traffic {
    pub(crate) fn sent(&mut self, frames: u64, bytes: usize) {
        self.frames_sent += frames;
        self.bytes_sent += bytes as u64;
    }

    pub(crate) fn received(&mut self, bytes: usize) {
        self.frames_received += 1;
        self.bytes_received += bytes as u64;
    }
}

/// One live connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnStats {
    /// The node at the other end.
    pub peer: NodeId,
    /// Whether its data channel has opened (`Connected` was reported).
    pub open: bool,
    /// What it has carried.
    pub traffic: Traffic,
}

/// Counters of a transport, from [`WebRtcTransport::stats`](super::WebRtcTransport::stats).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransportStats {
    /// Connections whose data channel opened, over the transport's life.
    pub connections_opened: u64,
    /// Connections the application has not closed and that have not been reported
    /// `Disconnected`, opening or open, by id.
    pub connections: BTreeMap<ConnId, ConnStats>,
    /// Totals over the transport's life, closed connections included.
    pub total: Traffic,
    /// Our server-reflexive addresses learned from STUN servers and offered as
    /// candidates (empty without STUN servers, before gathering ends, or when every
    /// server saw our bound address).
    pub server_reflexive: Vec<SocketAddr>,
    /// STUN gathering is over (at once without STUN servers); dials and offers wait for it.
    pub gathering_done: bool,
}
