//! Simulation settings.

use quorate_mesh_blockstore::StoreConfig;
use quorate_mesh_proto::Duration;
use quorate_mesh_proto::mesh::Config;

/// How the simulated network treats frames. Every draw comes from the simulation's seed.
///
/// Real WebRTC DataChannels (as the mesh uses them) are reliable and ordered, so the
/// defaults lose, duplicate, reorder and corrupt nothing. `loss`, `duplicate`,
/// `reorder` and `tamper` are stress settings: they exercise the machine's repair paths
/// and its defences against a hostile or broken network.
#[derive(Clone, Debug, PartialEq)]
pub struct NetConfig {
    /// Fixed one-way latency of every frame and connection event.
    pub latency: Duration,
    /// Extra latency per frame, uniform in `[0, jitter)`.
    pub jitter: Duration,
    /// `false` (default): a connection stays FIFO despite jitter (a frame never
    /// overtakes an earlier one on the same connection). `true`: each frame keeps its
    /// own jittered latency, so frames on one connection can arrive out of order.
    pub reorder: bool,
    /// Probability that a frame is lost.
    pub loss: f64,
    /// Probability that a frame is delivered twice (the copy with its own latency).
    pub duplicate: f64,
    /// Probability that one random byte of a frame is flipped in flight.
    pub tamper: f64,
    /// Bytes in flight per connection before `send` answers `Full`.
    pub send_buffer: usize,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            latency: Duration::from_millis(20),
            jitter: Duration::from_millis(20),
            reorder: false,
            loss: 0.0,
            duplicate: 0.0,
            tamper: 0.0,
            send_buffer: 4 * 1024 * 1024,
        }
    }
}

/// A whole simulation: how many nodes, which network, which seed.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Seed of the simulation's only random generator: keys, machine seeds, latencies,
    /// faults, topology, churn choices. Same seed (and same calls) ⇒ same run.
    pub seed: u64,
    /// Number of nodes.
    pub nodes: usize,
    /// The network.
    pub net: NetConfig,
    /// Least number of links per node made by
    /// [`Sim::connect_random`](crate::sim::Sim::connect_random) (default 6).
    pub degree: usize,
    /// A node with fewer open connections than this dials random online nodes (checked
    /// every `maintain_interval`), as a node runtime with peer discovery would. 0 turns
    /// it off.
    pub min_peers: usize,
    /// Period of the `min_peers` check.
    pub maintain_interval: Duration,
    /// Applied to each node's mesh [`Config`] after the defaults.
    pub tune: fn(&mut Config),
    /// Each node's block store.
    pub store: StoreConfig,
    /// Keep every mesh event of every node ([`Sim::events`](crate::sim::Sim::events)).
    /// Off by default: at ten thousand nodes the log is large.
    pub record_events: bool,
    /// Keep one [`TraceRecord`](crate::sim::TraceRecord) per processed event besides the
    /// running digest (to find where two runs diverge).
    pub record_trace: bool,
}

impl SimConfig {
    /// `nodes` nodes on the default network with seed `seed`, degree 6, `min_peers` 3.
    #[must_use]
    pub fn new(nodes: usize, seed: u64) -> Self {
        SimConfig {
            seed,
            nodes,
            net: NetConfig::default(),
            degree: 6,
            min_peers: 3,
            maintain_interval: Duration::from_secs(1),
            tune: |_| {},
            store: StoreConfig::default(),
            record_events: false,
            record_trace: false,
        }
    }
}

/// How a simulated node behaves. Byzantine behaviour is implemented by the simulator
/// around an honest machine — by adding to or rewriting what the node sends — never by
/// changing the machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Behaviour {
    /// Follows the protocol.
    Honest,
    /// Besides its honest traffic, sends every established peer a stream of well-formed
    /// frames with junk content (pings, and gossip on a topic nobody subscribes to) at
    /// `frames_per_sec` per peer, above the default limit of 8,000.
    Flooder {
        /// Junk frames per second per peer.
        frames_per_sec: u32,
    },
    /// Replaces the bytes of every block it serves or forwards (`Block` frames, gossip
    /// with inline data) with junk under the genuine CID, answers wants it cannot serve
    /// with junk instead of `DontHave`, and pushes junk gossip for every id it hears
    /// announced.
    Forger,
}

impl Behaviour {
    /// Whether the node follows the protocol.
    #[must_use]
    pub fn is_honest(self) -> bool {
        self == Behaviour::Honest
    }
}
