//! [`SimTransport`]: a node's transport inside the simulator.
//!
//! It is a plain value with an inbox and an outbox: `send`, `connect` and `disconnect`
//! only record what the node asked for; after each step the simulator takes the outbox
//! and decides — with the seeded network model — when and whether each frame arrives,
//! then fills the receivers' inboxes when their time comes.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;
use quorate_mesh_proto::mesh::{ConnId, NodeId};

use crate::transport::{SendError, Transport, TransportError, TransportEvent};

/// One end of a simulated connection: node index, its incarnation, its connection id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Endpoint {
    pub(crate) node: usize,
    pub(crate) incarnation: u32,
    pub(crate) conn: ConnId,
}

#[derive(Debug)]
pub(crate) struct SimConn {
    /// The other end, once the dial is resolved.
    pub(crate) remote: Option<Endpoint>,
    /// `Connected` was reported.
    pub(crate) open: bool,
    pub(crate) in_flight: usize,
    pub(crate) blocked: bool,
}

/// What a node asked its transport to do, for the simulator to carry out.
#[derive(Debug)]
pub(crate) enum Outgoing {
    Dial {
        conn: ConnId,
        to: NodeId,
    },
    Frame {
        conn: ConnId,
        remote: Endpoint,
        bytes: Bytes,
    },
    Close {
        conn: ConnId,
        remote: Option<Endpoint>,
    },
}

/// The [`Transport`] of a simulated node. Created and fed by [`Sim`](crate::sim::Sim).
#[derive(Debug)]
pub struct SimTransport {
    id: NodeId,
    next_conn: u64,
    buffer: usize,
    pub(crate) conns: BTreeMap<ConnId, SimConn>,
    inbox: VecDeque<TransportEvent>,
    outbox: Vec<Outgoing>,
}

impl SimTransport {
    pub(crate) fn new(id: NodeId, buffer: usize) -> Self {
        SimTransport {
            id,
            next_conn: 0,
            buffer: buffer.max(1),
            conns: BTreeMap::new(),
            inbox: VecDeque::new(),
            outbox: Vec::new(),
        }
    }

    /// Connections open or being opened.
    #[must_use]
    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    /// Whether a connection to (or from) simulated node `node` exists.
    pub(crate) fn connected_to(&self, node: usize) -> bool {
        self.conns
            .values()
            .any(|c| c.remote.is_some_and(|r| r.node == node))
    }

    fn new_conn(&mut self) -> ConnId {
        self.next_conn += 1;
        ConnId(self.next_conn)
    }

    pub(crate) fn take_outbox(&mut self) -> Vec<Outgoing> {
        std::mem::take(&mut self.outbox)
    }

    pub(crate) fn inbox_is_empty(&self) -> bool {
        self.inbox.is_empty()
    }

    /// An inbound connection from `remote`; reported when `on_open` runs.
    pub(crate) fn accept(&mut self, remote: Endpoint) -> ConnId {
        let conn = self.new_conn();
        self.conns.insert(conn, SimConn::new(Some(remote)));
        conn
    }

    pub(crate) fn set_remote(&mut self, conn: ConnId, remote: Endpoint) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.remote = Some(remote);
        }
    }

    pub(crate) fn on_open(&mut self, conn: ConnId, remote: Option<NodeId>) -> bool {
        let Some(c) = self.conns.get_mut(&conn) else {
            return false;
        };
        c.open = true;
        self.inbox
            .push_back(TransportEvent::Connected { conn, remote });
        true
    }

    pub(crate) fn on_close(&mut self, conn: ConnId) -> bool {
        if self.conns.remove(&conn).is_none() {
            return false;
        }
        self.inbox.push_back(TransportEvent::Disconnected { conn });
        true
    }

    pub(crate) fn on_frame(&mut self, conn: ConnId, bytes: Bytes) -> bool {
        if !self.conns.get(&conn).is_some_and(|c| c.open) {
            return false;
        }
        self.inbox.push_back(TransportEvent::Frame { conn, bytes });
        true
    }

    /// `len` bytes sent on `conn` left the network; true if it just became writable.
    pub(crate) fn on_delivered(&mut self, conn: ConnId, len: usize) -> bool {
        let half = self.buffer / 2;
        let Some(c) = self.conns.get_mut(&conn) else {
            return false;
        };
        c.in_flight = c.in_flight.saturating_sub(len);
        if c.blocked && c.in_flight <= half {
            c.blocked = false;
            return true;
        }
        false
    }

    pub(crate) fn on_writable(&mut self, conn: ConnId) -> bool {
        if !self.conns.contains_key(&conn) {
            return false;
        }
        self.inbox.push_back(TransportEvent::Writable { conn });
        true
    }

    /// Drops every connection; returns them with their remote ends (to close those when
    /// the node goes offline).
    pub(crate) fn close_all(&mut self) -> Vec<(ConnId, Option<Endpoint>)> {
        let conns = std::mem::take(&mut self.conns);
        conns.into_iter().map(|(id, c)| (id, c.remote)).collect()
    }
}

impl SimConn {
    fn new(remote: Option<Endpoint>) -> Self {
        SimConn {
            remote,
            open: false,
            in_flight: 0,
            blocked: false,
        }
    }
}

impl Transport for SimTransport {
    fn connect(&mut self, to: NodeId) -> Result<ConnId, TransportError> {
        if to == self.id {
            return Err(TransportError::SelfDial);
        }
        let conn = self.new_conn();
        self.conns.insert(conn, SimConn::new(None));
        self.outbox.push(Outgoing::Dial { conn, to });
        Ok(conn)
    }

    fn send(&mut self, conn: ConnId, frame: Bytes) -> Result<(), SendError> {
        let buffer = self.buffer;
        let Some(c) = self.conns.get_mut(&conn).filter(|c| c.open) else {
            return Err(SendError::Closed);
        };
        let Some(remote) = c.remote else {
            return Err(SendError::Closed);
        };
        // One frame larger than the whole buffer may go when nothing else is in flight.
        if c.blocked || (c.in_flight > 0 && c.in_flight + frame.len() > buffer) {
            c.blocked = true;
            return Err(SendError::Full);
        }
        c.in_flight += frame.len();
        self.outbox.push(Outgoing::Frame {
            conn,
            remote,
            bytes: frame,
        });
        Ok(())
    }

    fn disconnect(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.remove(&conn) {
            let remote = c.remote;
            self.outbox.push(Outgoing::Close { conn, remote });
        }
    }

    fn poll_event(&mut self) -> Option<TransportEvent> {
        self.inbox.pop_front()
    }
}
