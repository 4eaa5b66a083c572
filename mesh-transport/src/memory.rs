//! [`MemoryNetwork`]: transports in one process, for tests and embedding.
//!
//! A single-threaded hub (`Rc<RefCell<…>>`): transports register under their node id and
//! dial each other by node id. Delivery is immediate and FIFO per connection: a frame sent
//! is at once in the receiver's event queue. Each connection may have at most
//! `capacity` frames sitting unread in the receiver's queue; beyond that
//! [`Transport::send`] answers [`SendError::Full`], and [`TransportEvent::Writable`]
//! follows once the receiver has read half of them.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

use bytes::Bytes;
use quorate_mesh_proto::mesh::{ConnId, NodeId};

use crate::transport::{SendError, Transport, TransportError, TransportEvent};

/// Default per-connection capacity, in unread frames.
pub const DEFAULT_CAPACITY: usize = 1_024;

/// An in-process network. Cheap to clone: clones share the same hub.
#[derive(Clone, Debug)]
pub struct MemoryNetwork {
    hub: Rc<RefCell<Hub>>,
}

#[derive(Debug)]
struct Hub {
    next_conn: u64,
    capacity: usize,
    queues: BTreeMap<NodeId, VecDeque<TransportEvent>>,
    /// Connection ends, by their network-unique id.
    ends: BTreeMap<ConnId, End>,
}

#[derive(Debug)]
struct End {
    owner: NodeId,
    /// The other end, while it is open.
    peer: Option<ConnId>,
    /// Frames sent on this end not yet read by the other side.
    unread: usize,
    blocked: bool,
}

impl Default for MemoryNetwork {
    fn default() -> Self {
        MemoryNetwork::new()
    }
}

impl MemoryNetwork {
    /// A network with [`DEFAULT_CAPACITY`] unread frames per connection.
    #[must_use]
    pub fn new() -> Self {
        MemoryNetwork::with_capacity(DEFAULT_CAPACITY)
    }

    /// A network allowing `capacity` unread frames per connection (at least 1).
    #[must_use]
    pub fn with_capacity(capacity: usize) -> Self {
        MemoryNetwork {
            hub: Rc::new(RefCell::new(Hub {
                next_conn: 0,
                capacity: capacity.max(1),
                queues: BTreeMap::new(),
                ends: BTreeMap::new(),
            })),
        }
    }

    /// Registers a transport under `id`. It unregisters (closing its connections) when
    /// dropped.
    ///
    /// # Errors
    /// [`TransportError::AddressInUse`] if a live transport already has this id.
    pub fn transport(&self, id: NodeId) -> Result<MemoryTransport, TransportError> {
        let mut hub = self.hub.borrow_mut();
        if hub.queues.contains_key(&id) {
            return Err(TransportError::AddressInUse(id));
        }
        hub.queues.insert(id, VecDeque::new());
        Ok(MemoryTransport {
            hub: Rc::clone(&self.hub),
            id,
        })
    }

    /// Events waiting across all transports; zero means the network is quiet.
    #[must_use]
    pub fn pending(&self) -> usize {
        self.hub.borrow().queues.values().map(VecDeque::len).sum()
    }
}

/// One node's end of a [`MemoryNetwork`].
#[derive(Debug)]
pub struct MemoryTransport {
    hub: Rc<RefCell<Hub>>,
    id: NodeId,
}

impl MemoryTransport {
    /// The node id this transport is registered under.
    #[must_use]
    pub fn id(&self) -> NodeId {
        self.id
    }
}

impl Hub {
    fn new_conn(&mut self) -> ConnId {
        self.next_conn += 1;
        ConnId(self.next_conn)
    }

    fn push(&mut self, to: NodeId, event: TransportEvent) {
        if let Some(queue) = self.queues.get_mut(&to) {
            queue.push_back(event);
        }
    }

    /// Closes `conn` (owned by `owner`) and tells the other side.
    fn close(&mut self, owner: NodeId, conn: ConnId) {
        if self.ends.get(&conn).is_none_or(|e| e.owner != owner) {
            return;
        }
        let Some(end) = self.ends.remove(&conn) else {
            return;
        };
        if let Some(peer) = end.peer
            && let Some(other) = self.ends.get_mut(&peer)
        {
            other.peer = None;
            let to = other.owner;
            self.push(to, TransportEvent::Disconnected { conn: peer });
        }
    }

    /// A frame on `conn` was read: the sender may get room back.
    fn frame_read(&mut self, conn: ConnId) {
        let capacity = self.capacity;
        let Some(sender) = self.ends.get(&conn).and_then(|e| e.peer) else {
            return;
        };
        let Some(end) = self.ends.get_mut(&sender) else {
            return;
        };
        end.unread = end.unread.saturating_sub(1);
        if end.blocked && end.unread <= capacity / 2 {
            end.blocked = false;
            let to = end.owner;
            self.push(to, TransportEvent::Writable { conn: sender });
        }
    }
}

impl Transport for MemoryTransport {
    fn connect(&mut self, to: NodeId) -> Result<ConnId, TransportError> {
        if to == self.id {
            return Err(TransportError::SelfDial);
        }
        let mut hub = self.hub.borrow_mut();
        let ours = hub.new_conn();
        if !hub.queues.contains_key(&to) {
            hub.push(self.id, TransportEvent::Disconnected { conn: ours });
            return Ok(ours);
        }
        let theirs = hub.new_conn();
        let end = |owner, peer| End {
            owner,
            peer: Some(peer),
            unread: 0,
            blocked: false,
        };
        hub.ends.insert(ours, end(self.id, theirs));
        hub.ends.insert(theirs, end(to, ours));
        let remote = Some(to);
        hub.push(self.id, TransportEvent::Connected { conn: ours, remote });
        hub.push(
            to,
            TransportEvent::Connected {
                conn: theirs,
                remote: None,
            },
        );
        Ok(ours)
    }

    fn send(&mut self, conn: ConnId, frame: Bytes) -> Result<(), SendError> {
        let mut hub = self.hub.borrow_mut();
        let capacity = hub.capacity;
        let Some(end) = hub.ends.get_mut(&conn).filter(|e| e.owner == self.id) else {
            return Err(SendError::Closed);
        };
        let Some(peer) = end.peer else {
            return Err(SendError::Closed);
        };
        if end.unread >= capacity {
            end.blocked = true;
            return Err(SendError::Full);
        }
        end.unread += 1;
        let Some(to) = hub.ends.get(&peer).map(|e| e.owner) else {
            return Err(SendError::Closed);
        };
        hub.push(
            to,
            TransportEvent::Frame {
                conn: peer,
                bytes: frame,
            },
        );
        Ok(())
    }

    fn disconnect(&mut self, conn: ConnId) {
        self.hub.borrow_mut().close(self.id, conn);
    }

    fn poll_event(&mut self) -> Option<TransportEvent> {
        let mut hub = self.hub.borrow_mut();
        loop {
            let event = hub.queues.get_mut(&self.id)?.pop_front()?;
            match &event {
                // Frames for an end we closed ourselves are not delivered.
                TransportEvent::Frame { conn, .. } => {
                    if !hub.ends.contains_key(conn) {
                        continue;
                    }
                    hub.frame_read(*conn);
                }
                TransportEvent::Disconnected { conn } => {
                    hub.ends.remove(conn);
                }
                TransportEvent::Connected { .. } | TransportEvent::Writable { .. } => {}
            }
            return Some(event);
        }
    }
}

impl Drop for MemoryTransport {
    fn drop(&mut self) {
        let mut hub = self.hub.borrow_mut();
        let mine: Vec<ConnId> = hub
            .ends
            .iter()
            .filter(|(_, e)| e.owner == self.id)
            .map(|(c, _)| *c)
            .collect();
        for conn in mine {
            hub.close(self.id, conn);
        }
        hub.queues.remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quorate_mesh_proto::mesh::NodeKey;

    fn id(n: u8) -> NodeId {
        NodeKey::from_secret([n; 32]).id()
    }

    fn drain(t: &mut MemoryTransport) -> Vec<TransportEvent> {
        std::iter::from_fn(|| t.poll_event()).collect()
    }

    #[test]
    fn dial_send_close() {
        let net = MemoryNetwork::new();
        let (mut a, mut b) = (net.transport(id(1)).unwrap(), net.transport(id(2)).unwrap());
        assert_eq!(
            net.transport(id(1)).unwrap_err(),
            TransportError::AddressInUse(id(1))
        );
        assert_eq!(a.connect(id(1)), Err(TransportError::SelfDial));
        let ca = a.connect(id(2)).unwrap();
        a.send(ca, Bytes::from_static(b"hi")).unwrap();
        assert_eq!(
            drain(&mut a),
            vec![TransportEvent::Connected {
                conn: ca,
                remote: Some(id(2))
            }]
        );
        let events = drain(&mut b);
        let [
            TransportEvent::Connected {
                conn: cb,
                remote: None,
            },
            TransportEvent::Frame { bytes, .. },
        ] = &events[..]
        else {
            panic!("{events:?}");
        };
        assert_eq!(&bytes[..], b"hi");
        b.disconnect(*cb);
        assert_eq!(b.send(*cb, Bytes::new()), Err(SendError::Closed));
        assert_eq!(
            drain(&mut a),
            vec![TransportEvent::Disconnected { conn: ca }]
        );
        assert_eq!(a.send(ca, Bytes::new()), Err(SendError::Closed));
        assert_eq!(net.pending(), 0);
    }

    #[test]
    fn unknown_node_fails_asynchronously_and_drop_closes() {
        let net = MemoryNetwork::new();
        let mut a = net.transport(id(1)).unwrap();
        let c = a.connect(id(9)).unwrap();
        assert_eq!(
            drain(&mut a),
            vec![TransportEvent::Disconnected { conn: c }]
        );
        let b = net.transport(id(2)).unwrap();
        let c = a.connect(id(2)).unwrap();
        drain(&mut a);
        drop(b);
        assert_eq!(
            drain(&mut a),
            vec![TransportEvent::Disconnected { conn: c }]
        );
        assert!(net.transport(id(2)).is_ok(), "id free again");
    }

    #[test]
    fn backpressure_full_then_writable() {
        let net = MemoryNetwork::with_capacity(4);
        let (mut a, mut b) = (net.transport(id(1)).unwrap(), net.transport(id(2)).unwrap());
        let ca = a.connect(id(2)).unwrap();
        drain(&mut a);
        for _ in 0..4 {
            a.send(ca, Bytes::from_static(b"x")).unwrap();
        }
        assert_eq!(a.send(ca, Bytes::from_static(b"x")), Err(SendError::Full));
        assert_eq!(b.poll_event().map(|_| ()), Some(())); // Connected
        b.poll_event();
        assert!(drain(&mut a).is_empty(), "3 unread: still blocked");
        b.poll_event();
        assert_eq!(drain(&mut a), vec![TransportEvent::Writable { conn: ca }]);
        a.send(ca, Bytes::from_static(b"x")).unwrap();
    }
}
