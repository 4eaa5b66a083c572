//! The trace: a running SHA-256 over every event the simulator processes.

use quorate_mesh_proto::Instant;
use sha2::{Digest, Sha256};

/// What kind of event a [`TraceRecord`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TraceKind {
    /// A frame arrived.
    Frame,
    /// A connection opened.
    Open,
    /// A connection closed (or a dial failed).
    Close,
    /// A connection became writable.
    Writable,
    /// A node's timer fired.
    Timer,
    /// A flooder's tick.
    Flood,
    /// The peer-count maintenance round.
    Maintain,
    /// An application command (publish, subscribe, want, connect…).
    Command,
    /// A node went offline.
    Offline,
    /// A node came back online.
    Online,
}

impl TraceKind {
    fn code(self) -> u8 {
        match self {
            TraceKind::Frame => 1,
            TraceKind::Open => 2,
            TraceKind::Close => 3,
            TraceKind::Writable => 4,
            TraceKind::Timer => 5,
            TraceKind::Flood => 6,
            TraceKind::Maintain => 7,
            TraceKind::Command => 8,
            TraceKind::Offline => 9,
            TraceKind::Online => 10,
        }
    }
}

/// One processed event, kept when [`SimConfig::record_trace`](crate::sim::SimConfig) is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceRecord {
    /// Virtual time.
    pub at: Instant,
    /// The node (`u32::MAX` for simulation-wide events).
    pub node: u32,
    /// The kind.
    pub kind: TraceKind,
    /// SHA-256 of the event's payload (frame bytes, connection id…).
    pub payload: [u8; 32],
}

/// Running digest of `at ‖ node ‖ kind ‖ sha256(payload)` for every event.
#[derive(Debug, Clone)]
pub(crate) struct Trace {
    hasher: Sha256,
    len: u64,
    log: Option<Vec<TraceRecord>>,
}

impl Trace {
    pub(crate) fn new(keep: bool) -> Self {
        Trace {
            hasher: Sha256::new(),
            len: 0,
            log: keep.then(Vec::new),
        }
    }

    pub(crate) fn record(
        &mut self,
        at: Instant,
        node: Option<usize>,
        kind: TraceKind,
        payload: &[u8],
    ) {
        let node = node.map_or(u32::MAX, |n| u32::try_from(n).unwrap_or(u32::MAX - 1));
        let payload: [u8; 32] = Sha256::digest(payload).into();
        self.hasher.update(at.as_micros().to_le_bytes());
        self.hasher.update(node.to_le_bytes());
        self.hasher.update([kind.code()]);
        self.hasher.update(payload);
        self.len += 1;
        if let Some(log) = &mut self.log {
            log.push(TraceRecord {
                at,
                node,
                kind,
                payload,
            });
        }
    }

    pub(crate) fn digest(&self) -> [u8; 32] {
        self.hasher.clone().finalize().into()
    }

    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    pub(crate) fn log(&self) -> &[TraceRecord] {
        self.log.as_deref().unwrap_or(&[])
    }
}
