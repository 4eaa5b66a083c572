//! Presence: rooms → connected members, and each member's bounded outbox.
//!
//! This is the server's only state. Every change happens under one lock and sends its
//! presence updates before the lock is released, so every member sees joins and leaves in
//! the same order as the registry applied them.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use quorate_mesh_proto::mesh::NodeId;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::protocol::{Payload, RoomName, ServerMessage};

/// A connection's number, unique for the server's lifetime.
pub(crate) type ConnId = u64;

/// What a connection task is asked to write.
#[derive(Debug)]
pub(crate) enum Outgoing {
    /// One text message; the permit returns its bytes to the budget once written.
    Text(Utf8Bytes, OwnedSemaphorePermit),
    /// Send an error with this reason, then close.
    Kick(String),
}

/// The sending side of one connection's queue, bounded in bytes.
#[derive(Debug, Clone)]
pub(crate) struct Outbox {
    tx: mpsc::UnboundedSender<Outgoing>,
    budget: Arc<Semaphore>,
    kicked: Arc<AtomicBool>,
}

impl Outbox {
    /// A queue holding at most `bytes` bytes of unwritten messages.
    pub(crate) fn new(bytes: usize) -> (Self, mpsc::UnboundedReceiver<Outgoing>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let budget = Arc::new(Semaphore::new(bytes.min(Semaphore::MAX_PERMITS)));
        (
            Self {
                tx,
                budget,
                kicked: Arc::new(AtomicBool::new(false)),
            },
            rx,
        )
    }

    /// Queues `text`. A connection that has fallen `bytes` behind is kicked instead.
    pub(crate) fn push(&self, text: &Utf8Bytes) {
        if self.kicked.load(Ordering::Relaxed) {
            return;
        }
        let len = u32::try_from(text.len()).unwrap_or(u32::MAX);
        match Arc::clone(&self.budget).try_acquire_many_owned(len) {
            // A send error means the connection is gone: nothing to do.
            Ok(permit) => drop(self.tx.send(Outgoing::Text(text.clone(), permit))),
            Err(_) => self.kick("too slow: too many unread messages".to_owned()),
        }
    }

    /// Asks the connection to close with `reason` (once; later kicks are ignored).
    pub(crate) fn kick(&self, reason: String) {
        if !self.kicked.swap(true, Ordering::Relaxed) {
            drop(self.tx.send(Outgoing::Kick(reason)));
        }
    }
}

#[derive(Debug)]
struct Member {
    conn: ConnId,
    outbox: Outbox,
}

/// The registry: rooms and their members, ordered by node id.
#[derive(Debug, Default)]
pub(crate) struct Rooms {
    rooms: HashMap<RoomName, BTreeMap<NodeId, Member>>,
}

/// A join was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JoinError {
    /// The room has `max_members` members.
    Full,
}

/// A signal could not be relayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RelayError {
    /// The addressee is not in the sender's room.
    UnknownPeer,
}

fn encode(msg: &ServerMessage) -> Option<Utf8Bytes> {
    match serde_json::to_string(msg) {
        Ok(text) => Some(text.into()),
        Err(e) => {
            tracing::error!("cannot encode {msg:?}: {e}");
            None
        }
    }
}

impl Rooms {
    /// Adds `node` to `room` and tells the other members. If `node` is already there, the
    /// older connection is kicked and replaced. Returns the other members.
    pub(crate) fn join(
        &mut self,
        room: &RoomName,
        node: NodeId,
        conn: ConnId,
        outbox: Outbox,
        max_members: usize,
    ) -> Result<Vec<NodeId>, JoinError> {
        let members = self.rooms.entry(room.clone()).or_default();
        if !members.contains_key(&node) && members.len() >= max_members {
            return Err(JoinError::Full);
        }
        if let Some(old) = members.insert(node, Member { conn, outbox }) {
            old.outbox
                .kick(format!("replaced: node {node} joined room {room} again"));
        }
        let others: Vec<NodeId> = members.keys().copied().filter(|n| *n != node).collect();
        Self::broadcast(members, node, &ServerMessage::Joined { node });
        Ok(others)
    }

    /// Removes `node` from `room` if `conn` is still its connection, and tells the others.
    pub(crate) fn leave(&mut self, room: &RoomName, node: NodeId, conn: ConnId) {
        let Some(members) = self.rooms.get_mut(room) else {
            return;
        };
        if members.get(&node).is_none_or(|m| m.conn != conn) {
            return; // replaced by a newer connection, which stays
        }
        members.remove(&node);
        if members.is_empty() {
            self.rooms.remove(room);
        } else {
            Self::broadcast(members, node, &ServerMessage::Left { node });
        }
    }

    /// Queues `payload` from `from` for `to`, if `to` is in `room`.
    pub(crate) fn relay(
        &self,
        room: &RoomName,
        from: NodeId,
        to: NodeId,
        payload: Payload,
    ) -> Result<(), RelayError> {
        let member = self.rooms.get(room).and_then(|m| m.get(&to));
        let member = member.ok_or(RelayError::UnknownPeer)?;
        if let Some(text) = encode(&ServerMessage::Signal { from, payload }) {
            member.outbox.push(&text);
        }
        Ok(())
    }

    /// Rooms with at least one member.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.rooms.len()
    }

    fn broadcast(members: &BTreeMap<NodeId, Member>, except: NodeId, msg: &ServerMessage) {
        let Some(text) = encode(msg) else { return };
        for (node, member) in members {
            if *node != except {
                member.outbox.push(&text);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(n: u8) -> NodeId {
        NodeId::from_bytes([n; 32])
    }

    fn texts(rx: &mut mpsc::UnboundedReceiver<Outgoing>) -> Vec<String> {
        std::iter::from_fn(|| rx.try_recv().ok())
            .map(|o| match o {
                Outgoing::Text(t, _) => t.as_str().to_owned(),
                Outgoing::Kick(r) => format!("KICK {r}"),
            })
            .collect()
    }

    #[test]
    fn join_leave_replace() {
        let room = RoomName::new("r").unwrap();
        let mut rooms = Rooms::default();
        let (a, mut a_rx) = Outbox::new(1 << 16);
        let (b, mut b_rx) = Outbox::new(1 << 16);
        let (b2, mut b2_rx) = Outbox::new(1 << 16);
        assert_eq!(rooms.join(&room, node(1), 1, a, 10), Ok(vec![]));
        assert_eq!(rooms.join(&room, node(2), 2, b, 10), Ok(vec![node(1)]));
        assert_eq!(texts(&mut a_rx).len(), 1); // joined 2
        assert_eq!(rooms.join(&room, node(2), 3, b2, 10), Ok(vec![node(1)]));
        assert!(texts(&mut b_rx)[0].starts_with("KICK replaced"));
        assert_eq!(texts(&mut a_rx).len(), 1); // joined 2 again
        rooms.leave(&room, node(2), 2); // the stale connection: no effect
        assert!(texts(&mut a_rx).is_empty());
        rooms.leave(&room, node(2), 3);
        assert!(texts(&mut a_rx)[0].contains(r#""type":"left""#));
        assert!(texts(&mut b2_rx).is_empty());
        rooms.leave(&room, node(1), 1);
        assert_eq!(rooms.len(), 0);
    }

    #[test]
    fn full_rooms_and_unknown_peers() {
        let room = RoomName::new("r").unwrap();
        let mut rooms = Rooms::default();
        let (a, _a_rx) = Outbox::new(1 << 16);
        rooms.join(&room, node(1), 1, a.clone(), 1).unwrap();
        assert_eq!(rooms.join(&room, node(2), 2, a, 1), Err(JoinError::Full));
        let payload = Payload::encode(b"x").unwrap();
        assert_eq!(
            rooms.relay(&room, node(1), node(2), payload),
            Err(RelayError::UnknownPeer)
        );
    }

    #[test]
    fn a_full_outbox_kicks_once() {
        let (a, mut rx) = Outbox::new(10);
        a.push(&Utf8Bytes::from("123456"));
        a.push(&Utf8Bytes::from("123456"));
        a.push(&Utf8Bytes::from("123456"));
        let got = texts(&mut rx);
        assert_eq!(got.len(), 2);
        assert!(got[1].starts_with("KICK too slow"));
    }
}
