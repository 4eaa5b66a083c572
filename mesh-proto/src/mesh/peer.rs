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
    /// Wants of this peer we accepted and have not answered (queued or loading).
    pub(crate) serving: BTreeSet<Cid>,
    /// Accepted wants in arrival order, loaded only while the outbox has room.
    pub(crate) serve_queue: VecDeque<Cid>,
    /// Loads handed to the driver and not yet answered.
    pub(crate) loading: BTreeSet<Cid>,
    /// Our sending pace: a little under the rates the peer advertised, so it never has
    /// cause to drop what we send.
    pub(crate) pace_frames: TokenBucket,
    pub(crate) pace_bytes: TokenBucket,
    pub(crate) writable: bool,
    pub(crate) outbox: VecDeque<Bytes>,
    pub(crate) outbox_bytes: usize,
    pub(crate) dropped: u64,
    pub(crate) closing: bool,
}

/// Most wants of one peer accepted at once (queued or loading); more get `DontHave`.
pub(crate) const MAX_SERVING: usize = 512;
/// Most loads outstanding for one peer (drivers with asynchronous stores answer later).
pub(crate) const MAX_LOADING: usize = 8;

/// Our pace toward a peer that advertised `limits`: 15/16 of its rates, bursts of one
/// second's worth (its own buckets allow two), so clock drift and jitter stay inside it.
pub(crate) fn pace(limits: PeerLimits, now: Instant) -> (TokenBucket, TokenBucket) {
    let under = |rate: u32| u64::from(rate) - u64::from(rate) / 16;
    let frames = under(limits.frames_per_sec);
    let bytes = under(limits.bytes_per_sec);
    (
        TokenBucket::with_burst(frames, frames, now),
        TokenBucket::with_burst(bytes, bytes, now),
    )
}

impl Peer {
    pub(crate) fn new(
        conn: ConnId,
        expected: Option<NodeId>,
        phase: Phase,
        limits: PeerLimits,
        now: Instant,
    ) -> Self {
        let (pace_frames, pace_bytes) = pace(limits, now);
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
            serve_queue: VecDeque::new(),
            loading: BTreeSet::new(),
            pace_frames,
            pace_bytes,
            writable: true,
            outbox: VecDeque::new(),
            outbox_bytes: 0,
            dropped: 0,
            closing: false,
        }
    }

    /// Whether a frame of `len` bytes may go out now; takes the tokens if so.
    pub(crate) fn take_pace(&mut self, now: Instant, len: usize) -> bool {
        let len = len as u64;
        let bytes_ok = self.pace_bytes.ready_at(now, len) == Some(now);
        if bytes_ok && self.pace_frames.take(now, 1) {
            return self.pace_bytes.take(now, len.min(self.pace_bytes.burst()));
        }
        false
    }

    /// When the next queued frame may go out by pace (`None`: nothing queued).
    pub(crate) fn pace_ready_at(&self, now: Instant) -> Option<Instant> {
        let len = self.outbox.front()?.len() as u64;
        let bytes = self.pace_bytes.ready_at(now, len)?;
        let frames = self.pace_frames.ready_at(now, 1)?;
        Some(bytes.max(frames))
    }

    pub(crate) fn is_up(&self) -> bool {
        matches!(self.phase, Phase::Up) && !self.closing
    }
}
