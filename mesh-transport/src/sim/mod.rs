//! A deterministic discrete-event simulator for whole meshes.
//!
//! [`Sim`] runs many [`Driver`]s — each an honest [`Mesh`](quorate_mesh_proto::mesh::Mesh)
//! with a [`SimStore`] — over [`SimTransport`]s on virtual time. One event queue orders
//! everything (frame arrivals, connection events, node timers) by `(time, sequence)`,
//! and one ChaCha20 generator seeded by a `u64` makes every random choice: node keys,
//! machine seeds, latencies, faults, topology, churn. The same seed and the same calls
//! give the same run, bit for bit, on any machine.
//!
//! # What it models
//! - **Latency**: a fixed one-way latency plus uniform jitter per frame
//!   ([`NetConfig`]). Connections stay FIFO unless `reorder` is set, in which case
//!   jitter may reorder frames of one connection.
//! - **Stress faults**: loss, duplication, reordering and tampering (one random byte
//!   flipped). Real WebRTC DataChannels are reliable and ordered, so these are not what
//!   a deployment sees; they drive the machine's repair paths and defences.
//! - **Partitions**: [`Sim::partition`] assigns nodes to groups; frames and dials across
//!   groups are dropped until [`Sim::heal`].
//! - **Churn**: [`Sim::take_offline`] closes a node's connections and keeps its key and
//!   store; [`Sim::bring_online`] restarts it with the same [`NodeKey`] and the same store
//!   but a fresh machine, re-subscribed to its topics, its named heads set again, and
//!   dialing random online nodes.
//!   Nodes below [`SimConfig::min_peers`] dial random online nodes every
//!   [`SimConfig::maintain_interval`], as a runtime with peer discovery would.
//! - **Byzantine nodes** ([`Behaviour`]): a flooder and a block forger, built around an
//!   honest machine by adding to or rewriting what the node sends.
//!
//! # Invariants
//! Checked after every event, on the node that handled it; the first violation stops
//! the run with an [`InvariantViolation`] whose message ends in
//! `replay with QUORATE_SIM_SEED=<seed>`:
//! - every block put in any store hashes to its CID, and is one the simulation knows to
//!   be genuine (published with [`Sim::publish`] or seeded with [`Sim::seed_block`]);
//! - every `Delivered` message was published by someone, and every `Fetched` block is
//!   genuine; both hash to their CID;
//! - with tampering off, no honest node reports `ForgedBlock` against an honest node;
//! - the machine's outputs and the transport's inbox are drained after every step, and
//!   the transport never hands the machine a reused connection id.
//!
//! # Replaying a failure
//! Tests take their seed from [`seed_from_env`]: with `QUORATE_SIM_SEED` set (decimal or
//! `0x` hex), every such test runs with that seed instead of its default:
//!
//! ```text
//! QUORATE_SIM_SEED=1234 cargo test -p quorate-mesh-transport --test sim_churn
//! ```
//!
//! # Trace
//! Every processed event is hashed into a running SHA-256 of
//! `(time, node, kind, sha256(payload))` ([`Sim::trace_digest`]); two runs agree on it iff
//! they processed the same events in the same order with the same bytes. With
//! [`SimConfig::record_trace`] the records are also kept, to find where runs diverge.
//!
//! # Metrics
//! Per published message: which nodes delivered it, when, after how many hops
//! ([`Sim::message`]); over a set of messages, delivery fraction and hop and latency
//! percentiles ([`Sim::report`]); summed machine counters ([`Sim::stats`]) such as
//! gossip copies and duplicates; what the network did ([`Sim::net_stats`]).
//!
//! ```
//! use quorate_mesh_proto::{payloads::Text, Block, Duration};
//! use quorate_mesh_proto::mesh::Topic;
//! use quorate_mesh_transport::sim::{Sim, SimConfig};
//!
//! let mut config = SimConfig::new(12, 7); // 12 nodes, seed 7
//! config.degree = 4;
//! let mut sim = Sim::new(config);
//! sim.connect_random()?;
//! let topic = Topic::new("demo")?;
//! sim.subscribe_all(&topic)?;
//! sim.run_for(Duration::from_secs(1))?;
//! let block = Block::encode(&Text { body: "hello".into() })?;
//! let cid = sim.publish(0, &topic, block)?;
//! sim.run_for(Duration::from_secs(2))?;
//! assert_eq!(sim.report(&[cid]).delivered_fraction, 1.0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod byzantine;
mod config;
mod control;
mod engine;
mod error;
mod inspect;
mod network;
mod observe;
mod queue;
mod report;
mod rng;
mod store;
mod trace;
mod transport;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use quorate_mesh_proto::mesh::{ConnId, Event, Head, NodeId, NodeKey, Stats, Topic};
use quorate_mesh_proto::{Cid, Instant};

pub use config::{Behaviour, NetConfig, SimConfig};
pub use error::{InvariantViolation, SimError};
pub use report::{Cutoff, Delivery, MessageRecord, MisbehaviourReport, NetStats, Report};
pub use store::SimStore;
pub use trace::{TraceKind, TraceRecord};
pub use transport::SimTransport;

use crate::driver::Driver;
use queue::Queue;
use rng::SimRng;
use trace::Trace;

/// The environment variable that overrides test seeds.
pub const SEED_ENV: &str = "QUORATE_SIM_SEED";

/// The seed for a test: `QUORATE_SIM_SEED` if set and valid (decimal, or hex with `0x`),
/// otherwise `default`.
#[must_use]
pub fn seed_from_env(default: u64) -> u64 {
    std::env::var(SEED_ENV)
        .ok()
        .and_then(|text| parse_seed(&text))
        .unwrap_or(default)
}

fn parse_seed(text: &str) -> Option<u64> {
    let text = text.trim();
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// The driver type of a simulated node.
pub type SimDriver = Driver<SimTransport, SimStore>;

/// One simulated node: its identity outlives its machine.
#[derive(Debug)]
pub(crate) struct SimNode {
    pub(crate) key: NodeKey,
    pub(crate) id: NodeId,
    pub(crate) behaviour: Behaviour,
    /// Bumped each time the node goes offline; events for older incarnations are void.
    pub(crate) incarnation: u32,
    pub(crate) driver: Option<SimDriver>,
    /// The store, while the node is offline.
    pub(crate) parked: Option<SimStore>,
    pub(crate) topics: BTreeSet<Topic>,
    /// Named heads set through [`Sim::command`], re-set when the node comes back (a
    /// runtime persists them).
    pub(crate) heads: BTreeMap<String, Head>,
    pub(crate) online_since: Instant,
    pub(crate) timer_at: Option<Instant>,
    pub(crate) flood_counter: u64,
    pub(crate) events: Vec<(Instant, Event)>,
}

/// A simulated mesh. See the [module docs](self).
#[derive(Debug)]
pub struct Sim {
    pub(crate) cfg: SimConfig,
    pub(crate) rng: SimRng,
    pub(crate) now: Instant,
    pub(crate) queue: Queue,
    pub(crate) steps: u64,
    pub(crate) nodes: Vec<SimNode>,
    pub(crate) index: HashMap<NodeId, usize>,
    /// Partition group of each node, while partitioned.
    pub(crate) groups: Option<Vec<u32>>,
    /// Latest scheduled arrival per sending connection end (FIFO without `reorder`).
    pub(crate) last_arrival: HashMap<(usize, u32, ConnId), Instant>,
    pub(crate) messages: BTreeMap<Cid, MessageRecord>,
    pub(crate) genuine: BTreeSet<Cid>,
    pub(crate) trace: Trace,
    pub(crate) net: NetStats,
    pub(crate) misbehaviour: Vec<MisbehaviourReport>,
    pub(crate) cutoffs: Vec<Cutoff>,
    pub(crate) store_failures: u64,
    /// Counters of machines that were replaced (churn).
    pub(crate) retired: Stats,
    pub(crate) failure: Option<InvariantViolation>,
    pub(crate) loss_ppm: u32,
    pub(crate) duplicate_ppm: u32,
    pub(crate) tamper_ppm: u32,
}

#[cfg(test)]
mod tests {
    use super::parse_seed;

    #[test]
    fn seeds_parse_in_decimal_and_hex() {
        assert_eq!(parse_seed("42"), Some(42));
        assert_eq!(parse_seed(" 0x2a\n"), Some(42));
        assert_eq!(parse_seed("0XFF"), Some(255));
        assert_eq!(parse_seed("forty-two"), None);
        assert_eq!(parse_seed(""), None);
    }
}
