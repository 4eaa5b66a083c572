//! Inputs, outputs and events of the mesh machine.

use bytes::Bytes;

use crate::mesh::frame::{Head, PeerLimits, Topic};
use crate::mesh::identity::NodeId;
use crate::{Block, Cid};

/// A transport connection, numbered by the driver. Unique for the machine's lifetime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(pub u64);

/// Something the driver tells the machine.
#[derive(Debug)]
#[non_exhaustive]
pub enum Input<'a> {
    /// A transport connection opened. `expected` is the node id the driver dialed, if
    /// it knows one; a peer proving another id is refused.
    Connected {
        /// The connection.
        conn: ConnId,
        /// The node the driver meant to reach.
        expected: Option<NodeId>,
    },
    /// A connection closed (by the peer, the transport, or after [`Output::Close`]).
    Disconnected {
        /// The connection.
        conn: ConnId,
    },
    /// Bytes of one frame arrived (untrusted).
    Frame {
        /// The connection.
        conn: ConnId,
        /// The frame.
        bytes: &'a [u8],
    },
    /// The transport's send buffer for `conn` is full (`false`) or has room again (`true`).
    Writable {
        /// The connection.
        conn: ConnId,
        /// Whether sends may proceed.
        writable: bool,
    },
    /// The answer to [`Output::LoadBlock`].
    BlockLoaded {
        /// The connection that asked.
        conn: ConnId,
        /// The CID asked for.
        cid: Cid,
        /// The block, if the store has it.
        block: Option<Block>,
    },
    /// Publish a block on a topic (the machine also asks the driver to store it).
    Publish {
        /// The topic.
        topic: Topic,
        /// The block.
        block: Block,
    },
    /// Join a topic.
    Subscribe(Topic),
    /// Leave a topic.
    Unsubscribe(Topic),
    /// Fetch a block from peers.
    Want {
        /// The block.
        cid: Cid,
        /// Higher is fetched first.
        priority: u8,
    },
    /// Stop fetching a block.
    CancelWant(Cid),
    /// Announce (or advance) a named head.
    SetHead(Head),
    /// Ask every peer (and peers that connect in the next `head_query_ttl`) for the heads
    /// of these names. Every answer is reported as [`Event::HeadUpdated`], even one older
    /// than a head already known, so the application can check each peer's claim.
    /// At most [`MAX_HEAD_QUERY`](crate::mesh::MAX_HEAD_QUERY) names.
    QueryHeads(Vec<String>),
    /// The application found content from `node` invalid (a head pointing at a forged
    /// entry, a block that fails its signature check): lower its score like any other
    /// misbehaviour, which may cut it off. Ignored if `node` is not connected.
    Penalize {
        /// The peer that served or announced it.
        node: NodeId,
        /// What was wrong, for logs.
        reason: String,
    },
    /// Send an opaque signaling payload to a node, through the mesh if not connected.
    SendSignal {
        /// Destination.
        to: NodeId,
        /// Payload, at most [`MAX_SIGNAL_PAYLOAD`](crate::mesh::MAX_SIGNAL_PAYLOAD) bytes.
        payload: Vec<u8>,
    },
}

/// Something the machine asks the driver to do.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Output {
    /// Send these frame bytes on `conn`.
    Send {
        /// The connection.
        conn: ConnId,
        /// Encoded frame.
        frame: Bytes,
    },
    /// Close `conn`.
    Close {
        /// The connection.
        conn: ConnId,
    },
    /// Persist a verified block (received, or published locally).
    StoreBlock(Block),
    /// Load a block from the store and answer with [`Input::BlockLoaded`].
    LoadBlock {
        /// The connection that wants it.
        conn: ConnId,
        /// The CID.
        cid: Cid,
    },
    /// Something happened.
    Event(Event),
}

/// Why a connection was refused during the handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefuseReason {
    /// No protocol version in common.
    IncompatibleVersion {
        /// The peer's versions.
        theirs: Vec<u32>,
    },
    /// The peer proved a node id other than the one dialed.
    UnexpectedNode {
        /// The id dialed.
        expected: NodeId,
        /// The id proved.
        found: NodeId,
    },
    /// The node id is not a valid key or the handshake signature does not verify.
    BadAuth,
    /// Advertised limits are nonsensical (zero rates, a frame smaller than a block…).
    BadLimits,
    /// Handshake frames out of order or malformed.
    BadHandshake(String),
    /// Handshake did not finish in time.
    Timeout,
    /// The node id is banned after misbehaving.
    Banned,
    /// We are already connected to this node on another connection.
    Duplicate,
    /// Too many connections.
    TooManyPeers,
    /// It is ourselves.
    SelfConnection,
}

/// A way a peer misbehaved.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Misbehaviour {
    /// Frame over the size limit.
    Oversized {
        /// Its size.
        size: usize,
    },
    /// Frame that does not decode, or breaks a field limit.
    Malformed(String),
    /// Frame beyond the peer's rate limits (or the global cap).
    RateLimited,
    /// A block whose bytes do not hash to its claimed CID.
    ForgedBlock {
        /// The CID claimed.
        cid: Cid,
    },
    /// A block nobody asked for.
    UnsolicitedBlock {
        /// The CID.
        cid: Cid,
    },
    /// Eager pushes after being pruned.
    DuplicateFlood,
    /// A frame that makes no sense now (handshake frame after the handshake…).
    ProtocolViolation(&'static str),
    /// A relayed signal with a bad signature.
    BadSignal,
    /// Content the application rejected ([`Input::Penalize`]).
    InvalidContent(String),
}

/// Why a connection went down.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DownReason {
    /// The transport reported it closed.
    Closed,
    /// Nothing received for the idle timeout.
    Idle,
    /// Score fell to the disconnect threshold.
    ScoreTooLow,
    /// Refused during the handshake.
    Refused(RefuseReason),
    /// The peer said goodbye.
    Bye(String),
}

/// Something the driver (or the application above it) may want to know.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// Handshake complete.
    PeerUp {
        /// The connection.
        conn: ConnId,
        /// The proven node id.
        node: NodeId,
        /// What it accepts.
        limits: PeerLimits,
    },
    /// A connection is gone (the driver also gets [`Output::Close`] when we close it).
    PeerDown {
        /// The connection.
        conn: ConnId,
        /// Its node, if the handshake had finished.
        node: Option<NodeId>,
        /// Why.
        reason: DownReason,
    },
    /// A peer broke a rule; its score was lowered.
    PeerMisbehaved {
        /// The connection.
        conn: ConnId,
        /// Its node, if known.
        node: Option<NodeId>,
        /// What it did.
        reason: Misbehaviour,
        /// Its score after the penalty.
        score: i32,
    },
    /// A new message on a subscribed topic (already verified against its CID).
    Delivered {
        /// The topic.
        topic: Topic,
        /// The block.
        block: Block,
        /// Hops from the publisher.
        hops: u8,
        /// The neighbour it came from.
        from: NodeId,
    },
    /// A wanted block arrived (already verified).
    Fetched {
        /// The block.
        block: Block,
        /// Who served it.
        from: NodeId,
    },
    /// A peer announced a newer named head.
    HeadUpdated {
        /// The head.
        head: Head,
        /// Who announced it.
        from: NodeId,
    },
    /// A signaling payload addressed to us (signature checked).
    Signal {
        /// Sender.
        from: NodeId,
        /// Payload.
        payload: Vec<u8>,
    },
    /// Frames to `conn` were dropped because its outbox was full.
    OutboxFull {
        /// The connection.
        conn: ConnId,
        /// Frames dropped so far.
        dropped: u64,
    },
}

/// The driver broke the machine's contract (never caused by peer data).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiMisuse {
    /// `Connected` for a connection id already in use.
    #[error("connection {0:?} is already known")]
    DuplicateConn(ConnId),
    /// A block larger than this node's limit.
    #[error("block of {size} bytes exceeds the limit of {max}")]
    BlockTooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// A signaling payload over the limit.
    #[error("signal payload of {0} bytes is too large")]
    SignalTooLarge(usize),
    /// A head name over the limit.
    #[error("head name too long")]
    HeadNameTooLong,
    /// More head names in one query than the limit.
    #[error("head query of {0} names is too large")]
    HeadQueryTooLarge(usize),
}

/// Counters, for metrics and simulations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Frames received (before any check).
    pub frames_in: u64,
    /// Frames queued for sending.
    pub frames_out: u64,
    /// Bytes received.
    pub bytes_in: u64,
    /// Bytes queued for sending.
    pub bytes_out: u64,
    /// Gossip frames carrying data received.
    pub gossip_copies: u64,
    /// Gossip messages delivered (first copies).
    pub delivered: u64,
    /// Gossip frames received for messages already seen.
    pub duplicates: u64,
    /// Wanted blocks fetched.
    pub fetched: u64,
    /// Frames dropped: rate limits, graylist, malformed.
    pub dropped_in: u64,
    /// Frames dropped because an outbox was full.
    pub dropped_out: u64,
}
