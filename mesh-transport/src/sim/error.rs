//! Errors of the simulator.

use core::fmt;

use quorate_mesh_proto::Instant;

use crate::driver::DriverError;
use crate::transport::TransportError;

/// An invariant of the simulation broke: a bug in the machine, the driver or the
/// simulator. The message names the seed; `QUORATE_SIM_SEED=<seed>` replays the run in
/// tests that read [`seed_from_env`](crate::sim::seed_from_env).
#[derive(Clone, PartialEq, Eq)]
pub struct InvariantViolation {
    /// The simulation's seed.
    pub seed: u64,
    /// Events processed before the violation.
    pub step: u64,
    /// Virtual time.
    pub at: Instant,
    /// The node where it was seen, if one.
    pub node: Option<usize>,
    /// What broke.
    pub what: String,
}

impl fmt::Display for InvariantViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "simulation invariant violated at step {} ({:?}",
            self.step, self.at
        )?;
        if let Some(node) = self.node {
            write!(f, ", node {node}")?;
        }
        write!(
            f,
            "): {}; replay with QUORATE_SIM_SEED={}",
            self.what, self.seed
        )
    }
}

/// Same as `Display`, so that `unwrap()` on a failed run prints the replay line.
impl fmt::Debug for InvariantViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for InvariantViolation {}

/// Why a simulator call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// An invariant broke (sticky: later calls return it again).
    #[error(transparent)]
    Invariant(#[from] InvariantViolation),
    /// No node has this index.
    #[error("no node {0}")]
    NoSuchNode(usize),
    /// The node is offline.
    #[error("node {0} is offline")]
    Offline(usize),
    /// The node's driver refused a command.
    #[error("node {node}: {error}")]
    Driver {
        /// The node.
        node: usize,
        /// The driver's error.
        error: DriverError,
    },
    /// The node's transport refused (dialing itself).
    #[error("node {node}: {error}")]
    Transport {
        /// The node.
        node: usize,
        /// The transport's error.
        error: TransportError,
    },
}
