//! [`BrowserTransport`]: the mesh's [`Transport`] over the browser's `RTCPeerConnection`,
//! speaking exactly what the native adapters speak (`quorate_mesh_transport::webrtc`), so
//! a tab connects to a tab or to a native node alike.
//!
//! # Conventions (the native adapters' own)
//! - One data channel per connection, label `quorate`, reliable and ordered, opened
//!   in-band (DCEP) by the dialer; the answerer adopts the first `quorate` channel.
//! - Frames are cut into messages of at most [`Config::chunk_size`] bytes behind the
//!   one-byte header of `webrtc::framing`; a bad header, a text message or a frame over
//!   [`Config::max_frame_size`] closes the connection (reported as `Disconnected`).
//! - Signals are `webrtc::signaling` messages signed with the node key, for a random
//!   per-dial `session`. Offers and answers are sent once ICE gathering is complete, so
//!   they carry every candidate (no trickling out); trickled `Candidates` that arrive are
//!   added. Outgoing signals wait in [`BrowserTransport::poll_signal`]; incoming ones go
//!   to [`BrowserTransport::handle_signal`]. Carrying them is the caller's job.
//! - At most one connection per remote node. Glare (both dialed): the offer of the node
//!   with the smaller id wins, and the other node answers it under its own dial's
//!   connection id. A fresh offer from a node we are connected to replaces the old
//!   connection (the peer restarted). Replayed offers (same `(from, session)`) are dropped.
//!
//! # Driving
//! Everything the browser reports (a callback, a resolved promise) is queued as a raw
//! event tagged with its connection and session, then the wake function given to
//! [`BrowserTransport::set_wake`] runs: it must schedule a call to the driver's `pump`
//! (a microtask is right), which drains [`Transport::poll_event`], which is where raw
//! events become [`TransportEvent`]s. Nothing happens inside callbacks, so no state is
//! ever borrowed twice. Then drain [`BrowserTransport::poll_signal`].
//!
//! # Backpressure
//! Messages are written while the channel's `bufferedAmount` is under
//! [`Config::channel_buffer`]; `bufferedamountlow` (at half of it) resumes writing.
//! Behind the channel each connection queues up to [`Config::send_buffer`] bytes of
//! frames; past that `send` answers [`SendError::Full`] without taking the frame, and
//! [`TransportEvent::Writable`] follows once the queue has drained to half. A frame is
//! always taken when the queue is empty.

mod conn;
mod setup;

use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

use bytes::Bytes;
use quorate_mesh_proto::mesh::{ConnId, MAX_FRAME_SIZE, NodeId, NodeKey};
use quorate_mesh_transport::webrtc::admission::{Admit, Existing, OfferLog};
use quorate_mesh_transport::webrtc::signaling::{
    SignalBody, SignalError, SignalMessage, SignedSignal,
};
use quorate_mesh_transport::{SendError, Transport, TransportError, TransportEvent};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use web_sys::{RtcConfiguration, RtcPeerConnection};

use conn::{Conn, Hub, LABEL, Raw, WriteOutcome};

/// Settings of a [`BrowserTransport`]; the defaults match the native adapters'.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// How long a connection may take to open, from dial or offer (default 20 s).
    pub connect_timeout_ms: i32,
    /// Payload bytes per data channel message (default 16 KiB).
    pub chunk_size: usize,
    /// Bytes the channel may buffer (`bufferedAmount`) before writing pauses (default
    /// 1 MiB; writing resumes at half).
    pub channel_buffer: u32,
    /// Bytes of frames queued per connection before `send` answers `Full` (default 4 MiB).
    pub send_buffer: usize,
    /// Largest frame accepted from a peer (default the mesh's `MAX_FRAME_SIZE`).
    pub max_frame_size: usize,
    /// Most connections opening at once (default 64).
    pub max_pending: usize,
    /// ICE server URLs (`stun:…`); default none: host candidates only.
    pub ice_servers: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            connect_timeout_ms: 20_000,
            chunk_size: 16 * 1024,
            channel_buffer: 1024 * 1024,
            send_buffer: 4 * 1024 * 1024,
            max_frame_size: MAX_FRAME_SIZE,
            max_pending: 64,
            ice_servers: Vec::new(),
        }
    }
}

/// A signed signaling payload for node `to`, to carry to its `handle_signal`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingSignal {
    /// The node it is for.
    pub to: NodeId,
    /// The payload (a signed `webrtc::signaling` message).
    pub payload: Vec<u8>,
}

/// Largest chunk: with its header within a 64 KiB `max-message-size`.
const MAX_CHUNK: usize = 65_535;
/// Failures kept for [`BrowserTransport::recent_errors`].
const ERRORS_KEPT: usize = 32;

/// The mesh's transport in a browser tab. See the [module docs](self).
#[derive(Debug)]
pub struct BrowserTransport {
    key: NodeKey,
    me: NodeId,
    cfg: Config,
    rng: ChaCha20Rng,
    hub: Rc<Hub>,
    conns: BTreeMap<ConnId, Conn>,
    by_node: BTreeMap<NodeId, ConnId>,
    next_conn: u64,
    events: VecDeque<TransportEvent>,
    signals: VecDeque<OutgoingSignal>,
    offers: OfferLog,
    errors: VecDeque<String>,
}

impl BrowserTransport {
    /// A transport for the node `key`; `seed` (from `crypto.getRandomValues`) draws the
    /// session ids.
    #[must_use]
    pub fn new(key: NodeKey, config: Config, seed: [u8; 32]) -> Self {
        BrowserTransport {
            me: key.id(),
            key,
            cfg: config,
            rng: ChaCha20Rng::from_seed(seed),
            hub: Rc::new(Hub::default()),
            conns: BTreeMap::new(),
            by_node: BTreeMap::new(),
            next_conn: 0,
            events: VecDeque::new(),
            signals: VecDeque::new(),
            offers: OfferLog::default(),
            errors: VecDeque::new(),
        }
    }

    /// Sets what runs whenever the browser reported something: it must schedule the
    /// driver's `pump` (not call it: it runs inside browser callbacks).
    pub fn set_wake(&self, wake: Rc<dyn Fn()>) {
        self.hub.set_wake(wake);
    }

    /// Our node id.
    #[must_use]
    pub fn id(&self) -> NodeId {
        self.me
    }

    /// The next signaling payload to deliver, oldest first. Drain it after every pump.
    pub fn poll_signal(&mut self) -> Option<OutgoingSignal> {
        self.signals.pop_front()
    }

    /// Takes a payload that node `from` sent us (by any carrier): verified here (size,
    /// encoding, signature by `from`, addressed to us), then acted on: an offer opens an
    /// inbound connection whose answer comes out of [`BrowserTransport::poll_signal`],
    /// an answer completes our dial, candidates are added. Replays and signals for
    /// unknown sessions are dropped silently.
    ///
    /// # Errors
    /// [`SignalError`] when the payload is refused; nothing changes then.
    pub fn handle_signal(&mut self, from: NodeId, payload: &[u8]) -> Result<(), SignalError> {
        let msg = SignedSignal::open(payload, from, self.me)?;
        let session = msg.session;
        match msg.body {
            SignalBody::Offer(sdp) => self.on_offer(from, session, sdp),
            SignalBody::Answer(sdp) => {
                let hub = Rc::clone(&self.hub);
                let Some((conn, c)) = self.session_conn(from, session) else {
                    return Ok(());
                };
                if c.awaiting_answer {
                    c.awaiting_answer = false;
                    setup::accept_answer(&hub, conn, session, &c.pc, &sdp);
                }
            }
            SignalBody::Candidates(lines) => {
                if let Some((_, c)) = self.session_conn(from, session) {
                    setup::add_candidates(&c.pc, &lines);
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The peer connection to `node`, if any (for `getStats()`).
    #[must_use]
    pub fn peer_connection(&self, node: &NodeId) -> Option<RtcPeerConnection> {
        let conn = self.by_node.get(node)?;
        self.conns.get(conn).map(|c| c.pc.clone())
    }

    /// The last few failures (bad SDP, browser errors, framing violations, timeouts),
    /// oldest first.
    #[must_use]
    pub fn recent_errors(&self) -> Vec<String> {
        self.errors.iter().cloned().collect()
    }

    fn session_conn(&mut self, from: NodeId, session: u64) -> Option<(ConnId, &mut Conn)> {
        let conn = *self.by_node.get(&from)?;
        let c = self.conns.get_mut(&conn)?;
        (c.session == session).then_some((conn, c))
    }

    fn error(&mut self, e: String) {
        if self.errors.len() >= ERRORS_KEPT {
            self.errors.pop_front();
        }
        self.errors.push_back(e);
    }

    fn new_pc(&mut self) -> Result<RtcPeerConnection, String> {
        let config = RtcConfiguration::new();
        if !self.cfg.ice_servers.is_empty() {
            let servers = js_sys::Array::new();
            for url in &self.cfg.ice_servers {
                let server = js_sys::Object::new();
                let _ = js_sys::Reflect::set(&server, &"urls".into(), &url.into());
                servers.push(&server);
            }
            config.set_ice_servers(&servers);
        }
        RtcPeerConnection::new_with_configuration(&config)
            .map_err(|e| format!("RTCPeerConnection: {}", crate::browser::describe(&e)))
    }

    fn new_conn_id(&mut self) -> ConnId {
        self.next_conn += 1;
        ConnId(self.next_conn)
    }

    fn pending(&self) -> usize {
        self.conns.values().filter(|c| !c.open).count()
    }

    fn insert(&mut self, conn: ConnId, c: Conn) {
        self.by_node.insert(c.peer, conn);
        self.conns.insert(conn, c);
    }

    /// Forgets `conn` (its drop closes it); no event.
    fn remove(&mut self, conn: ConnId) -> Option<Conn> {
        let c = self.conns.remove(&conn)?;
        if self.by_node.get(&c.peer) == Some(&conn) {
            self.by_node.remove(&c.peer);
        }
        Some(c)
    }

    /// Drops `conn` and reports it `Disconnected`.
    fn fail(&mut self, conn: ConnId) {
        if self.remove(conn).is_some() {
            self.events.push_back(TransportEvent::Disconnected { conn });
        }
    }

    fn on_offer(&mut self, from: NodeId, session: u64, sdp: String) {
        // The conn id to use, if it is one we dialed.
        let Some(reuse) = self.admit(from, session) else {
            return;
        };
        let pc = match self.new_pc() {
            Ok(pc) => pc,
            Err(e) => {
                self.error(e);
                if let Some(conn) = reuse {
                    self.events.push_back(TransportEvent::Disconnected { conn });
                }
                return;
            }
        };
        let conn = reuse.unwrap_or_else(|| self.new_conn_id());
        let timeout = self.cfg.connect_timeout_ms;
        let mut c = Conn::new(
            &self.hub,
            conn,
            pc.clone(),
            from,
            session,
            reuse.is_some(),
            timeout,
        );
        c.awaiting_answer = false;
        self.insert(conn, c);
        setup::answer(&self.hub, conn, session, pc, sdp);
    }

    fn sign_and_queue(&mut self, to: NodeId, session: u64, body: SignalBody) {
        let msg = SignalMessage {
            from: self.me,
            to,
            session,
            body,
        };
        match msg.sign(&self.key) {
            Ok(signed) => self.signals.push_back(OutgoingSignal {
                to,
                payload: signed.into_bytes(),
            }),
            Err(e) => self.error(format!("signal to {}: {e}", to.short())),
        }
    }

    /// Turns queued browser reports into transport events.
    fn process_raw(&mut self) {
        while let Some((conn, session, raw)) = self.hub.pop() {
            if self.conns.get(&conn).is_none_or(|c| c.session != session) {
                continue; // stale: closed or replaced
            }
            self.on_raw(conn, raw);
        }
    }

    fn on_raw(&mut self, conn: ConnId, raw: Raw) {
        let low = self.cfg.channel_buffer / 2;
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let peer = c.peer;
        match raw {
            Raw::Local(body) => {
                let session = c.session;
                self.sign_and_queue(peer, session, body);
            }
            Raw::Failed(why) => {
                self.error(format!("{}: {why}", peer.short()));
                self.fail(conn);
            }
            Raw::Channel(dc) => {
                if c.dc.is_none() && dc.label() == LABEL {
                    c.attach(&self.hub, conn, dc, low);
                } else {
                    dc.close();
                }
            }
            Raw::Open => {
                if !c.open {
                    c.opened();
                    let remote = c.outbound.then_some(peer);
                    self.events
                        .push_back(TransportEvent::Connected { conn, remote });
                    self.write_out(conn);
                }
            }
            Raw::Message(data) => {
                let max = self.cfg.max_frame_size;
                let pushed = match data {
                    Some(data) => c.rx.push(&data, max).map_err(|e| e.to_string()),
                    None => Err("a text message".to_owned()),
                };
                match pushed {
                    Ok(Some(bytes)) => self.events.push_back(TransportEvent::Frame { conn, bytes }),
                    Ok(None) => {}
                    Err(e) => {
                        self.error(format!("{}: framing: {e}", peer.short()));
                        self.fail(conn);
                    }
                }
            }
            Raw::Closed => self.fail(conn),
            Raw::BufferedLow => self.write_out(conn),
            Raw::Timeout => {
                if !c.open {
                    self.error(format!("{}: connection timed out", peer.short()));
                    self.fail(conn);
                }
            }
        }
    }

    fn write_out(&mut self, conn: ConnId) {
        let chunk = self.cfg.chunk_size.clamp(1, MAX_CHUNK);
        let (high, half) = (self.cfg.channel_buffer, self.cfg.send_buffer / 2);
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        match c.write_out(chunk, high, half) {
            WriteOutcome::Ok { writable: true } => {
                self.events.push_back(TransportEvent::Writable { conn });
            }
            WriteOutcome::Ok { writable: false } => {}
            WriteOutcome::Broken => {
                let peer = c.peer.short();
                self.error(format!("{peer}: the data channel refused a message"));
                self.fail(conn);
            }
        }
    }
}

impl Admit for BrowserTransport {
    fn local_id(&self) -> NodeId {
        self.me
    }
    fn offer_log(&mut self) -> &mut OfferLog {
        &mut self.offers
    }
    fn connection_with(&self, node: NodeId) -> Option<Existing> {
        let conn = *self.by_node.get(&node)?;
        let our_dial_pending = self.conns.get(&conn).is_some_and(|c| c.outbound && !c.open);
        Some(Existing {
            conn,
            our_dial_pending,
        })
    }
    fn opening(&self) -> (usize, usize) {
        (self.pending(), self.cfg.max_pending)
    }
    fn forget_dial(&mut self, conn: ConnId) {
        self.remove(conn);
    }
    fn fail_conn(&mut self, conn: ConnId) {
        self.fail(conn);
    }
    fn offer_refused(&mut self, why: String) {
        self.error(why);
    }
}

impl Transport for BrowserTransport {
    fn connect(&mut self, to: NodeId) -> Result<ConnId, TransportError> {
        if to == self.me {
            return Err(TransportError::SelfDial);
        }
        let conn = self.new_conn_id();
        if self.by_node.contains_key(&to) || self.pending() >= self.cfg.max_pending {
            // One connection per node (the mesh refuses a second one anyway).
            self.events.push_back(TransportEvent::Disconnected { conn });
            return Ok(conn);
        }
        let pc = match self.new_pc() {
            Ok(pc) => pc,
            Err(e) => {
                self.error(e);
                self.events.push_back(TransportEvent::Disconnected { conn });
                return Ok(conn);
            }
        };
        let session = self.rng.next_u64();
        let timeout = self.cfg.connect_timeout_ms;
        let mut c = Conn::new(&self.hub, conn, pc.clone(), to, session, true, timeout);
        // Default init: reliable, ordered, negotiated in-band.
        let dc = pc.create_data_channel(LABEL);
        c.attach(&self.hub, conn, dc, self.cfg.channel_buffer / 2);
        self.insert(conn, c);
        setup::offer(&self.hub, conn, session, pc);
        Ok(conn)
    }

    fn send(&mut self, conn: ConnId, frame: Bytes) -> Result<(), SendError> {
        let limit = self.cfg.send_buffer;
        let Some(c) = self.conns.get_mut(&conn) else {
            return Err(SendError::Closed);
        };
        if c.queued > 0 && c.queued + frame.len() > limit {
            c.blocked = true;
            return Err(SendError::Full);
        }
        c.queue(frame);
        self.write_out(conn);
        Ok(())
    }

    /// Closes `conn`; no event about it follows, and events not yet polled are dropped.
    fn disconnect(&mut self, conn: ConnId) {
        self.remove(conn);
        self.events.retain(|e| match e {
            TransportEvent::Connected { conn: c, .. }
            | TransportEvent::Disconnected { conn: c }
            | TransportEvent::Frame { conn: c, .. }
            | TransportEvent::Writable { conn: c } => *c != conn,
            _ => true,
        });
    }

    fn poll_event(&mut self) -> Option<TransportEvent> {
        if self.events.is_empty() {
            self.process_raw();
        }
        self.events.pop_front()
    }
}
