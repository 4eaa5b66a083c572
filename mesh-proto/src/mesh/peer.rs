//! Per-connection state.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use bytes::Bytes;

use crate::mesh::abuse::TokenBucket;
use crate::mesh::frame::{Hello, PeerLimits, Topic};
use crate::mesh::identity::NodeId;
use crate::mesh::types::ConnId;
use crate::{Cid, Instant};

/// Where a connection is in its life.
#[derive(Debug)]
pub(crate) enum Phase {
    /// Handshake running.
    Handshake {
        /// Our nonce the peer must sign.
        our_nonce: [u8; 16],
        /// SHA-256 of our Hello frame bytes.
        our_hello_hash: [u8; 32],
        /// Their Hello, once received, with the SHA-256 of its bytes.
        theirs: Option<(Hello, [u8; 32])>,
        /// Version chosen.
        version: u32,
        /// Give up at.
        deadline: Instant,
    },
    /// Handshake done.
    Up,
}

#[derive(Debug)]
pub(crate) struct Peer {
    pub(crate) conn: ConnId,
    pub(crate) expected: Option<NodeId>,
    pub(crate) phase: Phase,
    pub(crate) node: Option<NodeId>,
    /// Limits the peer advertised (conservative until its Hello).
    pub(crate) limits: PeerLimits,
    pub(crate) topics: BTreeSet<Topic>,
    /// Topics on which we pruned this peer (further eager pushes are duplicates).
    pub(crate) pruned: BTreeMap<Topic, Instant>,
    pub(crate) frames: TokenBucket,
    pub(crate) bytes: TokenBucket,
    pub(crate) score: i32,
    pub(crate) last_rx: Instant,
    /// Wants of this peer we are serving (a load is outstanding).
    pub(crate) serving: BTreeSet<Cid>,
    pub(crate) writable: bool,
    pub(crate) outbox: VecDeque<Bytes>,
    pub(crate) outbox_bytes: usize,
    pub(crate) dropped: u64,
    pub(crate) closing: bool,
}

/// Most outstanding loads served to one peer at once.
pub(crate) const MAX_SERVING: usize = 512;

impl Peer {
    pub(crate) fn new(
        conn: ConnId,
        expected: Option<NodeId>,
        phase: Phase,
        limits: PeerLimits,
        now: Instant,
    ) -> Self {
        Peer {
            conn,
            expected,
            phase,
            node: None,
            limits,
            topics: BTreeSet::new(),
            pruned: BTreeMap::new(),
            frames: TokenBucket::new(u64::from(limits.frames_per_sec), now),
            bytes: TokenBucket::new(u64::from(limits.bytes_per_sec), now),
            score: 0,
            last_rx: now,
            serving: BTreeSet::new(),
            writable: true,
            outbox: VecDeque::new(),
            outbox_bytes: 0,
            dropped: 0,
            closing: false,
        }
    }

    pub(crate) fn is_up(&self) -> bool {
        matches!(self.phase, Phase::Up) && !self.closing
    }
}
