//! What a simulation measured: per message, per run, and what went wrong.

use std::collections::BTreeMap;

use quorate_mesh_proto::mesh::{Misbehaviour, Topic};
use quorate_mesh_proto::{Cid, Duration, Instant};

/// One published message and who got it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRecord {
    /// The message id (the block's CID).
    pub cid: Cid,
    /// The topic.
    pub topic: Topic,
    /// Index of the publishing node.
    pub publisher: usize,
    /// When it was published.
    pub published_at: Instant,
    /// First delivery at each node that delivered it, by node index.
    pub deliveries: BTreeMap<usize, Delivery>,
}

/// A node's first delivery of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// Virtual time of delivery.
    pub at: Instant,
    /// Hops from the publisher.
    pub hops: u8,
}

/// A node reported a peer's misbehaviour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MisbehaviourReport {
    /// When.
    pub at: Instant,
    /// The reporting node.
    pub reporter: usize,
    /// The culprit's node index, if its node id was known.
    pub culprit: Option<usize>,
    /// What it did.
    pub reason: Misbehaviour,
    /// Its score after the penalty.
    pub score: i32,
}

/// A node cut a peer off because its score fell to the disconnect threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cutoff {
    /// When.
    pub at: Instant,
    /// The node that cut.
    pub by: usize,
    /// The node cut off, if its node id was known.
    pub culprit: Option<usize>,
}

/// What the simulated network did with frames.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Frames handed to the network.
    pub frames_sent: u64,
    /// Bytes handed to the network.
    pub bytes_sent: u64,
    /// Frames that reached a transport.
    pub frames_delivered: u64,
    /// Frames lost (`loss`).
    pub lost: u64,
    /// Frames dropped between partition groups.
    pub partitioned: u64,
    /// Extra copies delivered (`duplicate`).
    pub duplicated: u64,
    /// Frames with a flipped byte (`tamper`).
    pub tampered: u64,
    /// Times a full send buffer drained enough to accept frames again (backpressure).
    pub writable: u64,
    /// Frames rewritten or injected by byzantine nodes.
    pub byzantine: u64,
    /// Dials started.
    pub dials: u64,
    /// Dials that failed (node offline or unknown, or across a partition).
    pub dials_failed: u64,
}

/// Delivery statistics over a set of messages ([`Sim::report`](crate::sim::Sim::report)).
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Messages covered.
    pub messages: usize,
    /// Deliveries expected: for each message, the honest nodes subscribed to its topic
    /// that were online from its publication until now, publisher excluded.
    pub expected: u64,
    /// Of those, how many delivered it.
    pub delivered: u64,
    /// `delivered / expected` (1 when nothing was expected).
    pub delivered_fraction: f64,
    /// Median hops of the deliveries.
    pub hops_p50: u8,
    /// 99th-percentile hops.
    pub hops_p99: u8,
    /// Most hops.
    pub hops_max: u8,
    /// Median publish → delivery virtual latency.
    pub latency_p50: Duration,
    /// 99th-percentile latency.
    pub latency_p99: Duration,
    /// Largest latency.
    pub latency_max: Duration,
}

/// Nearest-rank percentile (`pct` in percent) of sorted values.
pub(crate) fn percentile<T: Copy + Default>(sorted: &[T], pct: usize) -> T {
    let rank = (pct.min(100) * sorted.len()).div_ceil(100);
    sorted
        .get(rank.saturating_sub(1))
        .copied()
        .unwrap_or_default()
}

/// A fraction, 1 when the denominator is 0.
#[allow(
    clippy::cast_precision_loss,
    reason = "a ratio for reports; counts far below 2^52"
)]
pub(crate) fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        1.0
    } else {
        num as f64 / den as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&v, 50), 50);
        assert_eq!(percentile(&v, 99), 99);
        assert_eq!(percentile(&v, 100), 100);
        assert_eq!(percentile(&[7u32], 99), 7);
        assert_eq!(percentile::<u32>(&[], 50), 0);
        assert!((ratio(1, 4) - 0.25).abs() < 1e-12);
        assert!((ratio(0, 0) - 1.0).abs() < 1e-12);
    }
}
