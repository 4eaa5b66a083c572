//! Configuration of the mesh machine.

use crate::mesh::frame::{MAX_FRAME_SIZE, PeerLimits};
use crate::mesh::identity::NodeKey;
use crate::{Duration, MAX_BLOCK_SIZE};

/// Peer scoring thresholds and weights. Scores start at 0; useful work raises them,
/// misbehaviour lowers them, and every `decay_interval` they move 10% back toward 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScoreConfig {
    /// At or below: frames from the peer are ignored.
    pub graylist: i32,
    /// At or below: the peer is disconnected and its node id banned for `ban`.
    pub disconnect: i32,
    /// How long a cut-off node id is refused.
    pub ban: Duration,
    /// Upper bound of the score.
    pub max: i32,
    /// How often scores decay toward zero.
    pub decay_interval: Duration,
}

impl Default for ScoreConfig {
    fn default() -> Self {
        ScoreConfig {
            graylist: -100,
            disconnect: -200,
            ban: Duration::from_secs(600),
            max: 1_000,
            decay_interval: Duration::from_secs(10),
        }
    }
}

/// Everything the mesh machine needs at birth. Time and randomness come from the driver:
/// the key and the seed are inputs, so a simulation replays exactly.
#[derive(Clone, Debug)]
pub struct Config {
    /// This node's key.
    pub key: NodeKey,
    /// Seed of the machine's deterministic RNG (handshake nonces).
    pub rng_seed: [u8; 32],
    /// Limits advertised to peers and enforced on what they send.
    pub limits: PeerLimits,
    /// Blocks up to this size travel inside gossip frames; larger ones are announced and
    /// fetched by want.
    pub inline_max: usize,
    /// Handshake must finish within this.
    pub handshake_timeout: Duration,
    /// A connection with nothing received for this long is closed (pings keep it alive).
    pub idle_timeout: Duration,
    /// Ping period.
    pub ping_interval: Duration,
    /// Lazy-push (IHAVE) batching period.
    pub ihave_interval: Duration,
    /// Anti-entropy period: re-announce recent message ids to every topic peer.
    pub repair_interval: Duration,
    /// Ids per topic per anti-entropy round (rotating through the seen cache).
    pub repair_batch: usize,
    /// Wait this long for an eagerly pushed copy before grafting an announcer.
    pub graft_timeout: Duration,
    /// Ask another peer if a wanted block has not arrived after this.
    pub want_timeout: Duration,
    /// Peers asked at once for one wanted block.
    pub want_fanout: usize,
    /// Most blocks asked of one peer at once; further wants wait for a free slot, so a
    /// peer is never asked for more than it can send before `want_timeout`.
    pub want_window: usize,
    /// Period of named-head announcements.
    pub heads_interval: Duration,
    /// How long a head query stays open (peers that connect meanwhile are asked too).
    pub head_query_ttl: Duration,
    /// How long message ids are remembered (duplicate suppression and repair window).
    pub seen_ttl: Duration,
    /// Most message ids remembered.
    pub seen_capacity: usize,
    /// Most hops a gossip message travels.
    pub max_hops: u8,
    /// Per-peer outbox cap in bytes (frames beyond it are dropped, lowest priority first).
    pub outbox_max_bytes: usize,
    /// Inbound cap across all peers, bytes per second (bursts up to twice that).
    pub global_bytes_per_sec: u64,
    /// Most connections (established or handshaking).
    pub max_peers: usize,
    /// Relay hops for mesh-carried signaling.
    pub signal_ttl: u8,
    /// Signals relayed per second in total (bursts up to twice that).
    pub signals_per_sec: u32,
    /// Scoring.
    pub score: ScoreConfig,
}

impl Config {
    /// Defaults suited to a browser or desktop node.
    #[must_use]
    pub fn new(key: NodeKey, rng_seed: [u8; 32]) -> Self {
        Config {
            key,
            rng_seed,
            limits: PeerLimits {
                max_block_size: u32::try_from(MAX_BLOCK_SIZE).unwrap_or(u32::MAX),
                max_frame_size: u32::try_from(MAX_FRAME_SIZE).unwrap_or(u32::MAX),
                frames_per_sec: 8_000,
                bytes_per_sec: 64 * 1024 * 1024,
            },
            inline_max: 16 * 1024,
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            ping_interval: Duration::from_secs(10),
            ihave_interval: Duration::from_millis(100),
            repair_interval: Duration::from_secs(3),
            repair_batch: 256,
            graft_timeout: Duration::from_millis(400),
            want_timeout: Duration::from_secs(2),
            want_fanout: 2,
            want_window: 32,
            heads_interval: Duration::from_secs(5),
            head_query_ttl: Duration::from_secs(30),
            seen_ttl: Duration::from_secs(300),
            seen_capacity: 100_000,
            max_hops: 32,
            outbox_max_bytes: 8 * 1024 * 1024,
            global_bytes_per_sec: 256 * 1024 * 1024,
            max_peers: 64,
            signal_ttl: 6,
            signals_per_sec: 200,
            score: ScoreConfig::default(),
        }
    }
}
