//! The handshake: `Hello` each way, then `Auth` each way.
//!
//! Each side sends `Hello { versions, node, limits, nonce }` on connect. On the peer's
//! Hello it checks versions, limits, node id (valid key, not itself, the id it dialed,
//! not banned) and answers `Auth { sig }` with
//! `sig = Ed25519_node(MeshHandshake || sha256(own Hello bytes) || peer nonce)`. On the
//! peer's Auth it verifies the same over the peer's Hello and its own nonce. The signature
//! binds the advertised limits and a fresh challenge, so neither a tampered nor a replayed
//! handshake passes. Anything else before both steps refuses the connection with a reason.

use rand_core::RngCore;
use sha2::{Digest, Sha256};

use crate::mesh::frame::{Auth, Frame, Hello, PROTOCOL_VERSIONS, PeerLimits};
use crate::mesh::machine::Mesh;
use crate::mesh::peer::{Peer, Phase};
use crate::mesh::types::{ApiMisuse, ConnId, DownReason, Event, RefuseReason};
use crate::{Domain, MAX_BLOCK_SIZE};

/// Limits assumed for a peer until its Hello arrives: enough for the handshake only.
const PRE_HANDSHAKE: PeerLimits = PeerLimits {
    max_block_size: 0,
    max_frame_size: 4096,
    frames_per_sec: 20,
    bytes_per_sec: 64 * 1024,
};

impl Mesh {
    pub(crate) fn on_connected(
        &mut self,
        conn: crate::mesh::types::ConnId,
        expected: Option<crate::mesh::identity::NodeId>,
    ) -> Result<(), ApiMisuse> {
        if self.peers.contains_key(&conn) {
            return Err(ApiMisuse::DuplicateConn(conn));
        }
        let mut nonce = [0u8; 16];
        self.rng.fill_bytes(&mut nonce);
        let hello = Frame::Hello(Hello {
            versions: PROTOCOL_VERSIONS.to_vec(),
            node: self.id,
            limits: self.config.limits,
            nonce,
        });
        let Ok(bytes) = hello.encode() else {
            return Ok(());
        };
        let phase = Phase::Handshake {
            our_nonce: nonce,
            our_hello_hash: Sha256::digest(&bytes).into(),
            theirs: None,
            version: 0,
            deadline: self.now + self.config.handshake_timeout,
        };
        let peer = Peer::new(conn, expected, phase, PRE_HANDSHAKE, self.now);
        self.peers.insert(conn, peer);
        if self.peers.len() > self.config.max_peers {
            self.refuse(conn, RefuseReason::TooManyPeers);
            return Ok(());
        }
        self.send_bytes(conn, bytes, false);
        Ok(())
    }

    pub(crate) fn refuse(&mut self, conn: ConnId, reason: RefuseReason) {
        let text = format!("refused: {reason:?}");
        self.close(conn, DownReason::Refused(reason), &text);
    }

    pub(crate) fn on_handshake_frame(&mut self, conn: ConnId, frame: Frame, bytes: &[u8]) {
        match frame {
            Frame::Hello(hello) => self.on_hello(conn, hello, bytes),
            Frame::Auth(auth) => self.on_auth(conn, &auth),
            Frame::Bye(reason) => self.on_bye_early(conn, reason),
            _ => self.refuse(
                conn,
                RefuseReason::BadHandshake("frame before handshake".into()),
            ),
        }
    }

    fn on_bye_early(&mut self, conn: ConnId, reason: String) {
        if self.peers.contains_key(&conn) {
            self.close(conn, DownReason::Bye(reason.clone()), "bye");
        }
    }

    fn on_hello(&mut self, conn: ConnId, hello: Hello, bytes: &[u8]) {
        let Some(peer) = self.peers.get(&conn) else {
            return;
        };
        let Phase::Handshake { theirs: None, .. } = &peer.phase else {
            self.refuse(conn, RefuseReason::BadHandshake("second Hello".into()));
            return;
        };
        let Some(version) = PROTOCOL_VERSIONS
            .iter()
            .rev()
            .find(|v| hello.versions.contains(v))
            .copied()
        else {
            self.refuse(
                conn,
                RefuseReason::IncompatibleVersion {
                    theirs: hello.versions,
                },
            );
            return;
        };
        if let Some(reason) = self.check_identity(peer.expected, &hello) {
            self.refuse(conn, reason);
            return;
        }
        let l = hello.limits;
        let sane = l.frames_per_sec > 0
            && l.bytes_per_sec > 0
            && l.max_block_size > 0
            && l.max_block_size as usize <= MAX_BLOCK_SIZE
            && l.max_frame_size > l.max_block_size;
        if !sane {
            self.refuse(conn, RefuseReason::BadLimits);
            return;
        }
        let their_hash: [u8; 32] = Sha256::digest(bytes).into();
        let key = self.config.key.signing_key().clone();
        let Some(peer) = self.peers.get_mut(&conn) else {
            return;
        };
        let Phase::Handshake {
            our_hello_hash,
            theirs,
            version: v,
            ..
        } = &mut peer.phase
        else {
            return;
        };
        let mut msg = our_hello_hash.to_vec();
        msg.extend_from_slice(&hello.nonce);
        let sig = Domain::MeshHandshake.sign(&key, &msg).to_bytes();
        *v = version;
        *theirs = Some((hello, their_hash));
        self.send(conn, &Frame::Auth(Auth { sig }), false);
    }

    fn check_identity(
        &self,
        expected: Option<crate::mesh::identity::NodeId>,
        hello: &Hello,
    ) -> Option<RefuseReason> {
        if hello.node == self.id {
            return Some(RefuseReason::SelfConnection);
        }
        if hello.node.verifying_key().is_none() {
            return Some(RefuseReason::BadAuth);
        }
        if let Some(expected) = expected
            && expected != hello.node
        {
            return Some(RefuseReason::UnexpectedNode {
                expected,
                found: hello.node,
            });
        }
        if self
            .banned
            .get(&hello.node)
            .is_some_and(|until| *until > self.now)
        {
            return Some(RefuseReason::Banned);
        }
        None
    }

    fn on_auth(&mut self, conn: ConnId, auth: &Auth) {
        let Some(peer) = self.peers.get(&conn) else {
            return;
        };
        let Phase::Handshake {
            our_nonce,
            theirs: Some((hello, their_hash)),
            ..
        } = &peer.phase
        else {
            self.refuse(conn, RefuseReason::BadHandshake("Auth before Hello".into()));
            return;
        };
        let mut msg = their_hash.to_vec();
        msg.extend_from_slice(our_nonce);
        let sig = ed25519_dalek::Signature::from_bytes(&auth.sig);
        let ok = hello
            .node
            .verifying_key()
            .is_some_and(|key| Domain::MeshHandshake.verify(&key, &msg, &sig).is_ok());
        if !ok {
            self.refuse(conn, RefuseReason::BadAuth);
            return;
        }
        let (node, limits) = (hello.node, hello.limits);
        if let Some(existing) = self.by_node.get(&node).copied() {
            // Two connections to one node (both sides dialed at once). Both ends must keep
            // the same one: the connection dialed by the smaller node id wins; between two
            // equally good ones, the older stays.
            if self.dialed_by_smaller(conn, node) && !self.dialed_by_smaller(existing, node) {
                self.close(
                    existing,
                    DownReason::Refused(RefuseReason::Duplicate),
                    "replaced",
                );
            } else {
                self.refuse(conn, RefuseReason::Duplicate);
                return;
            }
        }
        let now = self.now;
        let ours = self.config.limits;
        let Some(peer) = self.peers.get_mut(&conn) else {
            return;
        };
        peer.phase = Phase::Up;
        peer.node = Some(node);
        peer.limits = limits;
        (peer.pace_frames, peer.pace_bytes) = crate::mesh::peer::pace(limits, now);
        // Inbound rates are ours to set: what we advertised.
        peer.frames = crate::mesh::abuse::TokenBucket::new(u64::from(ours.frames_per_sec), now);
        peer.bytes = crate::mesh::abuse::TokenBucket::new(u64::from(ours.bytes_per_sec), now);
        self.by_node.insert(node, conn);
        self.emit(Event::PeerUp { conn, node, limits });
        self.on_peer_up(conn);
    }

    /// Whether `conn` (to `node`) was dialed by the smaller of the two node ids. Drivers
    /// pass `expected` exactly for the connections they dial.
    fn dialed_by_smaller(&self, conn: ConnId, node: crate::mesh::identity::NodeId) -> bool {
        let we_dialed = self.peers.get(&conn).is_some_and(|p| p.expected.is_some());
        let dialer = if we_dialed { self.id } else { node };
        dialer == self.id.min(node)
    }

    /// First things said on a fresh connection: our topics and our heads.
    fn on_peer_up(&mut self, conn: ConnId) {
        let topics: Vec<_> = self.topics.keys().cloned().collect();
        // A Subscribe frame carries at most 64 topics.
        for chunk in topics.chunks(64) {
            self.send(conn, &Frame::Subscribe(chunk.to_vec()), false);
        }
        let heads: Vec<_> = self.local_heads.values().cloned().collect();
        for chunk in heads.chunks(256) {
            self.send(conn, &Frame::Heads(chunk.to_vec()), true);
        }
        self.send_head_queries(conn);
        self.redispatch_wants();
    }
}
