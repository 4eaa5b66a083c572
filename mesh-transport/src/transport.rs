//! The [`Transport`] trait: what the mesh needs from a network, and nothing more.

use bytes::Bytes;
use quorate_mesh_proto::mesh::{ConnId, NodeId};

/// A message-oriented, connection-based network seen from one node.
///
/// Node ids are the addresses: a transport dials a [`NodeId`] and finds its own way there
/// (a lookup table in memory, signaling plus ICE for WebRTC). Identity is cryptographic
/// and checked by the mesh handshake, never by the transport, so a transport may be
/// wrong about who answered without harm.
///
/// The trait is poll-based and never blocks: calls queue work, and everything that
/// happens later — a dial completing or failing, a frame arriving, a connection closing,
/// room in a send buffer — comes back from [`Transport::poll_event`]. Frames are
/// delivered whole (message boundaries are kept) and, for real transports, reliably and
/// in order per connection.
///
/// Connection ids are chosen by the transport and must never be reused while the
/// transport lives.
pub trait Transport {
    /// Starts dialing `to`. The id is assigned now; [`TransportEvent::Connected`] (with
    /// `remote: Some(to)`) follows once the connection is open, or
    /// [`TransportEvent::Disconnected`] if it fails.
    ///
    /// # Errors
    /// [`TransportError`] when the dial cannot even start (dialing ourselves, a transport
    /// that has shut down).
    fn connect(&mut self, to: NodeId) -> Result<ConnId, TransportError>;

    /// Queues one frame on `conn`.
    ///
    /// # Errors
    /// [`SendError::Full`]: the send buffer is full and the frame was **not** taken; a
    /// [`TransportEvent::Writable`] follows when there is room again.
    /// [`SendError::Closed`]: the connection is gone (or never opened); the frame is
    /// dropped and a [`TransportEvent::Disconnected`] has been or will be emitted.
    fn send(&mut self, conn: ConnId, frame: Bytes) -> Result<(), SendError>;

    /// Closes `conn`. Frames already queued may still be delivered. The transport may or
    /// may not emit [`TransportEvent::Disconnected`] for a connection closed this way;
    /// callers must accept both.
    fn disconnect(&mut self, conn: ConnId);

    /// The next thing that happened, or `None`. Drain it until `None` whenever the
    /// transport may have made progress.
    fn poll_event(&mut self) -> Option<TransportEvent>;
}

/// Something that happened on a [`Transport`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportEvent {
    /// A connection opened: one we dialed (`remote` is the node we dialed) or an inbound
    /// one (`remote` is `None`: the handshake will tell who it is).
    Connected {
        /// The connection.
        conn: ConnId,
        /// For outbound connections, the node dialed.
        remote: Option<NodeId>,
    },
    /// A connection closed, or a dial failed.
    Disconnected {
        /// The connection.
        conn: ConnId,
    },
    /// One whole frame arrived (untrusted bytes).
    Frame {
        /// The connection.
        conn: ConnId,
        /// The frame.
        bytes: Bytes,
    },
    /// A connection that answered [`SendError::Full`] accepts frames again.
    Writable {
        /// The connection.
        conn: ConnId,
    },
}

/// Why a dial could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The node id dialed is our own.
    #[error("cannot dial our own node id")]
    SelfDial,
    /// Another transport already uses this node id on the same network.
    #[error("node id {0} is already registered on this network")]
    AddressInUse(NodeId),
    /// The transport (or the network it belongs to) has shut down.
    #[error("the transport has shut down")]
    Shutdown,
}

/// Why a frame was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// Backpressure: the send buffer is full and the frame was not taken. Wait for
    /// [`TransportEvent::Writable`].
    #[error("send buffer full")]
    Full,
    /// The connection is closed or unknown; the frame was dropped.
    #[error("connection closed")]
    Closed,
}
