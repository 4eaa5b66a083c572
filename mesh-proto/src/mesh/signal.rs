//! Signaling relayed through the mesh, so a transport can dial a node it is not
//! connected to (WebRTC offers and answers travel this way once a node has one peer).
//!
//! A signal is signed by its origin (domain `Signaling`, over the frame with `ttl` zeroed
//! and `sig` blank, so relays can count hops down without breaking it), deduplicated by
//! `(from, id)`, verified before it is relayed, sent straight to the destination when
//! connected to it and otherwise to every neighbour with one hop less, and rate-limited
//! across all origins.

use ed25519_dalek::Signature;

use crate::Domain;
use crate::mesh::abuse::Deed;
use crate::mesh::frame::{Frame, SignalFrame};
use crate::mesh::identity::NodeId;
use crate::mesh::machine::Mesh;
use crate::mesh::types::{ConnId, Event, Misbehaviour};

fn signing_bytes(s: &SignalFrame) -> Option<Vec<u8>> {
    let mut blank = s.clone();
    blank.ttl = 0;
    blank.sig = [0; 64];
    Frame::Signal(blank).encode().ok().map(|b| b.to_vec())
}

impl Mesh {
    pub(crate) fn send_signal(&mut self, to: NodeId, payload: Vec<u8>) {
        self.signal_counter += 1;
        let mut frame = SignalFrame {
            from: self.id,
            to,
            id: self.signal_counter,
            ttl: self.config.signal_ttl,
            payload,
            sig: [0; 64],
        };
        let Some(bytes) = signing_bytes(&frame) else {
            return;
        };
        frame.sig = Domain::Signaling
            .sign(self.config.key.signing_key(), &bytes)
            .to_bytes();
        self.remember_signal((frame.from, frame.id));
        self.route_signal(frame, None);
    }

    fn route_signal(&mut self, frame: SignalFrame, except: Option<ConnId>) {
        match self.by_node.get(&frame.to).copied() {
            Some(conn) => self.send(conn, &Frame::Signal(frame), false),
            None => self.broadcast(&Frame::Signal(frame), except, false),
        }
    }

    pub(crate) fn on_signal(&mut self, conn: ConnId, mut s: SignalFrame) {
        if s.from == self.id || !self.remember_signal((s.from, s.id)) {
            return;
        }
        let now = self.now;
        if !self.signal_bucket.take(now, 1) {
            self.stats.dropped_in += 1;
            return;
        }
        let valid = s
            .from
            .verifying_key()
            .zip(signing_bytes(&s))
            .is_some_and(|(key, bytes)| {
                Domain::Signaling
                    .verify(&key, &bytes, &Signature::from_bytes(&s.sig))
                    .is_ok()
            });
        if !valid {
            self.penalize(conn, Deed::Violation, Misbehaviour::BadSignal);
            return;
        }
        if s.to == self.id {
            self.emit(Event::Signal {
                from: s.from,
                payload: s.payload,
            });
        } else if s.ttl > 0 {
            s.ttl -= 1;
            self.route_signal(s, Some(conn));
        }
    }
}
