//! The IO loop shared by both adapters: one UDP socket, one thread, many peer connections.
//!
//! Everything stack-specific sits behind [`Engine`], one sans-IO peer connection (an
//! `str0m::Rtc` or an `rtc::RTCPeerConnection`). The loop owns the socket and the clock,
//! demultiplexes datagrams to engines, fragments and reassembles frames, runs the
//! signaling state (sessions, glare, replayed offers, dial timeouts), asks the configured
//! STUN servers for our server-reflexive address ([`super::stun::Gatherer`]) and reports
//! to the application through [`Shared`].

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use quorate_mesh_proto::mesh::{ConnId, NodeId, NodeKey};
use tokio::net::UdpSocket;
use tokio::sync::{Notify, mpsc};

use super::admission::{Admit, Existing, OfferLog};
use super::framing::{Reassembler, fragment};
use super::ice::IceServerKind;
use super::signaling::{SignalBody, SignalMessage};
use super::stats::Traffic;
use super::stun::{GatherEvent, Gatherer};
use super::{Config, OutgoingSignal};
use crate::transport::TransportEvent;

/// What an engine reports.
#[derive(Debug)]
pub(crate) enum EngineEvent {
    /// The data channel is open.
    Open,
    /// One DataChannel message.
    Data(Vec<u8>),
    /// The channel's send buffer has room again.
    BufferedLow,
    /// The connection is gone (closed by the peer, failed, timed out).
    Closed,
}

/// Result of writing one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Write {
    Written,
    Full,
    Closed,
}

/// A stack-specific failure, kept as text for [`super::WebRtcTransport::recent_errors`].
#[derive(Debug, Clone)]
pub(crate) struct EngineError(pub(crate) String);

impl EngineError {
    pub(crate) fn new(what: &str, e: impl std::fmt::Display) -> Self {
        EngineError(format!("{what}: {e}"))
    }
}

/// One sans-IO peer connection with one reliable, ordered data channel.
///
/// Outputs are drained with `poll_*` after every call; `poll_timeout` is a getter.
pub(crate) trait Engine: Sized + Send + 'static {
    /// A dialing connection and its SDP offer, with a host candidate for `local` and a
    /// server-reflexive one (base `local`) for each of `reflexive`.
    fn offer(
        cfg: &Config,
        local: SocketAddr,
        reflexive: &[SocketAddr],
        now: Instant,
    ) -> Result<(Self, String), EngineError>;
    /// An answering connection for `offer` and its SDP answer, with the same candidates.
    fn answer(
        cfg: &Config,
        local: SocketAddr,
        reflexive: &[SocketAddr],
        now: Instant,
        offer: &str,
    ) -> Result<(Self, String), EngineError>;
    fn accept_answer(&mut self, now: Instant, answer: &str) -> Result<(), EngineError>;
    fn add_remote_candidate(&mut self, now: Instant, candidate: &str) -> Result<(), EngineError>;
    /// Whether a datagram from `source` belongs to this connection.
    fn accepts(&self, now: Instant, source: SocketAddr, local: SocketAddr, packet: &[u8]) -> bool;
    fn handle_receive(
        &mut self,
        now: Instant,
        source: SocketAddr,
        local: SocketAddr,
        packet: &[u8],
    );
    fn handle_timeout(&mut self, now: Instant);
    fn poll_timeout(&self) -> Option<Instant>;
    fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)>;
    fn poll_event(&mut self) -> Option<EngineEvent>;
    /// Writes one message on the data channel (only after [`EngineEvent::Open`]).
    fn write(&mut self, now: Instant, msg: &[u8]) -> Write;
    /// Starts closing; transmits (close notifications) may follow.
    fn close(&mut self, now: Instant);
}

/// A request from the application side.
#[derive(Debug)]
pub(crate) enum Command {
    Dial { conn: ConnId, to: NodeId },
    Send { conn: ConnId, frame: Bytes },
    Close { conn: ConnId },
    Signal(SignalMessage),
    Shutdown,
}

/// Application-visible state, behind a mutex.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) events: VecDeque<TransportEvent>,
    pub(crate) signals: VecDeque<OutgoingSignal>,
    /// Live connections: bytes accepted by `send` and not yet handed to the engine.
    pub(crate) conns: BTreeMap<ConnId, ConnState>,
    pub(crate) next_conn: u64,
    /// The IO loop has stopped.
    pub(crate) down: bool,
    pub(crate) errors: VecDeque<String>,
    /// Connections that opened, ever.
    pub(crate) opened: u64,
    /// Traffic of every connection, ever.
    pub(crate) total: Traffic,
    /// Server-reflexive addresses offered as candidates.
    pub(crate) reflexive: Vec<SocketAddr>,
    /// STUN gathering has ended.
    pub(crate) gathering_done: bool,
}

#[derive(Debug)]
pub(crate) struct ConnState {
    pub(crate) peer: NodeId,
    pub(crate) open: bool,
    pub(crate) queued: usize,
    pub(crate) blocked: bool,
    pub(crate) traffic: Traffic,
}

/// Most errors kept for [`super::WebRtcTransport::recent_errors`].
const ERRORS_KEPT: usize = 32;
/// Datagrams read per wake before timers run.
const RECV_BATCH: usize = 64;
/// Largest UDP datagram read.
const RECV_BUF: usize = 2048;
/// How long a STUN server's name may take to resolve.
const DNS_TIMEOUT: Duration = Duration::from_secs(2);
/// Largest chunk per message: with the header, within the 64 KiB `max-message-size` that
/// many stacks (webrtc-rs, Firefox) advertise by default.
pub(crate) const MAX_CHUNK: usize = 65_535;

impl State {
    pub(crate) fn new_conn(&mut self, peer: NodeId) -> ConnId {
        self.next_conn += 1;
        let conn = ConnId(self.next_conn);
        self.conns.insert(
            conn,
            ConnState {
                peer,
                open: false,
                queued: 0,
                blocked: false,
                traffic: Traffic::default(),
            },
        );
        conn
    }

    fn error(&mut self, e: String) {
        if self.errors.len() >= ERRORS_KEPT {
            self.errors.pop_front();
        }
        self.errors.push_back(e);
    }
}

/// State plus the two ways to wake the application (blocking and async).
#[derive(Debug, Default)]
pub(crate) struct Shared {
    state: Mutex<State>,
    cond: Condvar,
    pub(crate) notify: Arc<Notify>,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn wake(&self) {
        self.cond.notify_all();
        self.notify.notify_one();
    }

    /// Blocks until there is an event or signal, the loop is down, or `timeout` passes.
    pub(crate) fn wait(&self, timeout: Duration) -> bool {
        let ready = |s: &mut State| !s.events.is_empty() || !s.signals.is_empty() || s.down;
        let guard = self.lock();
        let (mut guard, _) = self
            .cond
            .wait_timeout_while(guard, timeout, |s| !ready(s))
            .unwrap_or_else(PoisonError::into_inner);
        ready(&mut guard)
    }
}

struct Peer<E> {
    engine: E,
    remote: NodeId,
    session: u64,
    outbound: bool,
    open: bool,
    /// Still waiting for the answer (outbound only).
    awaiting_answer: bool,
    /// When an unopened connection gives up.
    deadline: Instant,
    out: VecDeque<Bytes>,
    /// Progress in the front frame of `out`.
    offset: usize,
    rx: Reassembler,
}

pub(crate) struct IoLoop<E> {
    key: NodeKey,
    me: NodeId,
    cfg: Config,
    local: SocketAddr,
    shared: Arc<Shared>,
    peers: BTreeMap<ConnId, Peer<E>>,
    by_session: BTreeMap<(NodeId, u64), ConnId>,
    by_node: BTreeMap<NodeId, ConnId>,
    by_addr: BTreeMap<SocketAddr, ConnId>,
    offers: OfferLog,
    transmits: Vec<(SocketAddr, Vec<u8>)>,
    /// STUN server names are being looked up.
    resolving: bool,
    /// Asks the STUN servers; kept after gathering to take late duplicate responses.
    gatherer: Option<Gatherer>,
    /// Gathering has ended: candidates are known, offers and answers can be made.
    ready: bool,
    /// Commands that came while gathering, in order.
    deferred: VecDeque<Command>,
    /// Our server-reflexive addresses.
    reflexive: Vec<SocketAddr>,
}

impl<E: Engine> IoLoop<E> {
    pub(crate) fn new(key: NodeKey, cfg: Config, local: SocketAddr, shared: Arc<Shared>) -> Self {
        IoLoop {
            me: key.id(),
            key,
            cfg,
            local,
            shared,
            peers: BTreeMap::new(),
            by_session: BTreeMap::new(),
            by_node: BTreeMap::new(),
            by_addr: BTreeMap::new(),
            offers: OfferLog::default(),
            transmits: Vec::new(),
            resolving: false,
            gatherer: None,
            ready: false,
            deferred: VecDeque::new(),
            reflexive: Vec::new(),
        }
    }

    /// Runs until shutdown (or the application side is dropped).
    pub(crate) async fn run(mut self, socket: UdpSocket, mut rx: mpsc::UnboundedReceiver<Command>) {
        let mut buf = vec![0u8; RECV_BUF];
        let stun: Vec<(String, u16)> = self
            .cfg
            .ice_servers
            .iter()
            .filter(|s| s.kind() == IceServerKind::Stun)
            .map(|s| (s.host().to_owned(), s.port()))
            .collect();
        self.resolving = !stun.is_empty();
        let resolved = resolve(stun, self.local);
        tokio::pin!(resolved);
        if !self.resolving {
            self.gathering_over(Instant::now());
        }
        loop {
            let now = Instant::now();
            let next = self.next_wake(now);
            tokio::select! {
                biased;
                found = &mut resolved, if self.resolving => self.start_gathering(Instant::now(), found),
                cmd = rx.recv() => match cmd {
                    None | Some(Command::Shutdown) => break,
                    Some(cmd) => {
                        self.on_command(Instant::now(), cmd);
                        // Take every queued command before doing IO.
                        while let Ok(cmd) = rx.try_recv() {
                            if matches!(cmd, Command::Shutdown) {
                                self.shutdown(&socket).await;
                                return;
                            }
                            self.on_command(Instant::now(), cmd);
                        }
                    }
                },
                r = socket.recv_from(&mut buf) => {
                    if let Ok((n, source)) = r {
                        self.on_datagram(Instant::now(), source, buf.get(..n).unwrap_or_default());
                    }
                    for _ in 1..RECV_BATCH {
                        match socket.try_recv_from(&mut buf) {
                            Ok((n, source)) => self.on_datagram(
                                Instant::now(), source, buf.get(..n).unwrap_or_default()),
                            Err(_) => break,
                        }
                    }
                },
                () = tokio::time::sleep_until(tokio::time::Instant::from_std(next)) => {}
            }
            self.process(Instant::now());
            self.flush_transmits(&socket).await;
            self.shared.wake_if_needed();
        }
        self.shutdown(&socket).await;
    }

    async fn shutdown(&mut self, socket: &UdpSocket) {
        let now = Instant::now();
        for peer in self.peers.values_mut() {
            peer.engine.close(now);
            while let Some(t) = peer.engine.poll_transmit() {
                self.transmits.push(t);
            }
        }
        self.flush_transmits(socket).await;
        self.peers.clear();
        self.shared.lock().down = true;
        self.shared.wake();
    }

    async fn flush_transmits(&mut self, socket: &UdpSocket) {
        for (to, bytes) in self.transmits.drain(..) {
            // UDP: a failed send is a lost datagram, which SCTP and ICE retransmit.
            let _ = socket.send_to(&bytes, to).await;
        }
    }

    fn next_wake(&self, now: Instant) -> Instant {
        let idle = now + Duration::from_secs(3600);
        self.peers
            .values()
            .flat_map(|p| [p.engine.poll_timeout(), (!p.open).then_some(p.deadline)])
            .chain([self.gatherer.as_ref().and_then(Gatherer::poll_timeout)])
            .flatten()
            .fold(idle, Instant::min)
    }

    /// The STUN servers' addresses are known: ask them.
    fn start_gathering(&mut self, now: Instant, found: Vec<Result<SocketAddr, String>>) {
        self.resolving = false;
        let mut servers = Vec::new();
        for r in found {
            match r {
                Ok(a) if !servers.contains(&a) => servers.push(a),
                Ok(_) => {}
                Err(e) => self.error(e),
            }
        }
        if servers.is_empty() {
            self.gathering_over(now);
            return;
        }
        let mut rng = rand_core::OsRng;
        self.gatherer = Some(Gatherer::new(&servers, now, &mut rng));
        // `process` sends the requests.
    }

    /// Runs the STUN gatherer's timers and takes its outputs.
    fn process_gathering(&mut self, now: Instant) {
        let Some(g) = self.gatherer.as_mut() else {
            return;
        };
        if g.poll_timeout().is_some_and(|t| t <= now) {
            g.handle_timeout(now);
        }
        while let Some((to, request)) = g.poll_transmit() {
            self.transmits.push((to, request.to_vec()));
        }
        let events: Vec<GatherEvent> = std::iter::from_fn(|| g.poll_event()).collect();
        let done = g.is_done();
        for e in events {
            match e {
                GatherEvent::Mapped { server, mapped } => self.add_reflexive(server, mapped),
                GatherEvent::Failed { server, reason } => {
                    self.error(format!("STUN server {server}: {reason}"));
                }
            }
        }
        if done {
            self.gathering_over(now);
        }
    }

    fn add_reflexive(&mut self, server: SocketAddr, mapped: SocketAddr) {
        if mapped == self.local || self.reflexive.contains(&mapped) {
            return; // no NAT in between, or known already
        }
        if mapped.is_ipv4() != self.local.is_ipv4() || mapped.ip().is_unspecified() {
            self.error(format!(
                "STUN server {server}: unusable mapped address {mapped}"
            ));
            return;
        }
        self.reflexive.push(mapped);
    }

    /// Candidates are known: publish them and run the commands that waited.
    fn gathering_over(&mut self, now: Instant) {
        if self.ready {
            return;
        }
        self.ready = true;
        {
            let mut state = self.shared.lock();
            state.gathering_done = true;
            state.reflexive.clone_from(&self.reflexive);
        }
        for cmd in std::mem::take(&mut self.deferred) {
            self.on_command(now, cmd);
        }
    }

    fn error(&self, e: String) {
        self.shared.lock().error(e);
    }

    /// Reports an event, unless the application has closed the connection itself (it
    /// hears nothing more about it then).
    /// Counts opened connections and received frames.
    fn emit(&self, event: TransportEvent) {
        let conn = match &event {
            TransportEvent::Connected { conn, .. }
            | TransportEvent::Disconnected { conn }
            | TransportEvent::Frame { conn, .. }
            | TransportEvent::Writable { conn } => *conn,
        };
        let mut state = self.shared.lock();
        let state = &mut *state;
        match &event {
            TransportEvent::Connected { .. } => state.opened += 1,
            TransportEvent::Frame { bytes, .. } => state.total.received(bytes.len()),
            TransportEvent::Disconnected { .. } | TransportEvent::Writable { .. } => {}
        }
        let Some(c) = state.conns.get_mut(&conn) else {
            return;
        };
        match &event {
            TransportEvent::Connected { .. } => c.open = true,
            TransportEvent::Frame { bytes, .. } => c.traffic.received(bytes.len()),
            TransportEvent::Disconnected { .. } => {
                state.conns.remove(&conn);
            }
            TransportEvent::Writable { .. } => {}
        }
        state.events.push_back(event);
    }

    fn signal(&self, to: NodeId, session: u64, body: SignalBody) {
        let msg = SignalMessage {
            from: self.me,
            to,
            session,
            body,
        };
        match msg.sign(&self.key) {
            Ok(signed) => self.shared.lock().signals.push_back(OutgoingSignal {
                to,
                payload: signed.into_bytes(),
            }),
            Err(e) => self.error(format!("signal to {}: {e}", to.short())),
        }
    }

    fn pending(&self) -> usize {
        self.peers.values().filter(|p| !p.open).count()
    }

    fn on_command(&mut self, now: Instant, cmd: Command) {
        if !self.ready {
            // Offers and answers need our candidates; keep the order of everything.
            self.deferred.push_back(cmd);
            return;
        }
        match cmd {
            Command::Dial { conn, to } => self.dial(now, conn, to),
            Command::Send { conn, frame } => {
                if let Some(peer) = self.peers.get_mut(&conn) {
                    peer.out.push_back(frame);
                }
            }
            Command::Close { conn } => {
                if let Some(mut peer) = self.remove(conn) {
                    peer.engine.close(now);
                    while let Some(t) = peer.engine.poll_transmit() {
                        self.transmits.push(t);
                    }
                }
                self.shared.lock().conns.remove(&conn);
            }
            Command::Signal(msg) => self.on_signal(now, msg),
            Command::Shutdown => {}
        }
    }

    fn dial(&mut self, now: Instant, conn: ConnId, to: NodeId) {
        if self.by_node.contains_key(&to) || self.pending() >= self.cfg.max_pending {
            // One session per node (the mesh refuses a second connection anyway).
            self.emit(TransportEvent::Disconnected { conn });
            return;
        }
        match E::offer(&self.cfg, self.local, &self.reflexive, now) {
            Ok((engine, sdp)) => {
                let session = random_u64();
                self.insert(conn, Peer::new(engine, to, session, true, now, &self.cfg));
                self.signal(to, session, SignalBody::Offer(sdp));
            }
            Err(e) => {
                self.error(e.0);
                self.emit(TransportEvent::Disconnected { conn });
            }
        }
    }

    fn on_signal(&mut self, now: Instant, msg: SignalMessage) {
        let key = (msg.from, msg.session);
        match msg.body {
            SignalBody::Offer(sdp) => self.on_offer(now, msg.from, msg.session, &sdp),
            SignalBody::Answer(sdp) => {
                let Some(&conn) = self.by_session.get(&key) else {
                    return;
                };
                let Some(peer) = self.peers.get_mut(&conn) else {
                    return;
                };
                if !peer.awaiting_answer {
                    return;
                }
                peer.awaiting_answer = false;
                if let Err(e) = peer.engine.accept_answer(now, &sdp) {
                    self.error(e.0);
                    self.fail(conn);
                }
            }
            SignalBody::Candidates(list) => {
                let Some(peer) = self
                    .by_session
                    .get(&key)
                    .and_then(|c| self.peers.get_mut(c))
                else {
                    return;
                };
                let mut errors = Vec::new();
                for c in &list {
                    if let Err(e) = peer.engine.add_remote_candidate(now, c) {
                        errors.push(e.0);
                    }
                }
                for e in errors {
                    self.error(e);
                }
            }
        }
    }

    fn on_offer(&mut self, now: Instant, from: NodeId, session: u64, sdp: &str) {
        // The conn id to use, if it is one we dialed.
        let Some(reuse) = self.admit(from, session) else {
            return;
        };
        match E::answer(&self.cfg, self.local, &self.reflexive, now, sdp) {
            Ok((engine, answer)) => {
                let outbound = reuse.is_some();
                let conn = reuse.unwrap_or_else(|| self.shared.lock().new_conn(from));
                let mut peer = Peer::new(engine, from, session, outbound, now, &self.cfg);
                peer.awaiting_answer = false;
                self.insert(conn, peer);
                self.signal(from, session, SignalBody::Answer(answer));
            }
            Err(e) => {
                self.error(e.0);
                if let Some(conn) = reuse {
                    self.emit(TransportEvent::Disconnected { conn });
                }
            }
        }
    }

    fn insert(&mut self, conn: ConnId, peer: Peer<E>) {
        self.by_session.insert((peer.remote, peer.session), conn);
        self.by_node.insert(peer.remote, conn);
        self.peers.insert(conn, peer);
    }

    fn remove(&mut self, conn: ConnId) -> Option<Peer<E>> {
        let peer = self.peers.remove(&conn)?;
        self.by_session.remove(&(peer.remote, peer.session));
        if self.by_node.get(&peer.remote) == Some(&conn) {
            self.by_node.remove(&peer.remote);
        }
        self.by_addr.retain(|_, c| *c != conn);
        Some(peer)
    }

    /// Drops a connection and tells the application.
    fn fail(&mut self, conn: ConnId) {
        if let Some(mut peer) = self.remove(conn) {
            peer.engine.close(Instant::now());
            while let Some(t) = peer.engine.poll_transmit() {
                self.transmits.push(t);
            }
            self.emit(TransportEvent::Disconnected { conn });
        }
    }

    fn on_datagram(&mut self, now: Instant, source: SocketAddr, packet: &[u8]) {
        // A STUN server's answer to us (matched by transaction id), not a peer's.
        if let Some(g) = self.gatherer.as_mut()
            && g.handle_receive(source, packet)
        {
            return;
        }
        let local = self.local;
        // The connection that last took a datagram from this address gets the next one
        // too, even if its engine would not claim it yet: a DTLS ClientHello may arrive
        // before the receiving side has a nominated pair, and refusing it costs a DTLS
        // retransmission (about a second).
        let hinted = self
            .by_addr
            .get(&source)
            .copied()
            .filter(|c| self.peers.contains_key(c));
        let conn = hinted.or_else(|| {
            self.peers
                .iter()
                .find(|(_, p)| p.engine.accepts(now, source, local, packet))
                .map(|(c, _)| *c)
        });
        let Some(conn) = conn else {
            return; // nobody's: stray or garbage datagram
        };
        if let Some(peer) = self.peers.get_mut(&conn) {
            peer.engine.handle_receive(now, source, local, packet);
            self.by_addr.insert(source, conn);
        }
    }

    /// Timers, outputs and writes of every connection, until all are quiet.
    fn process(&mut self, now: Instant) {
        self.process_gathering(now);
        let conns: Vec<ConnId> = self.peers.keys().copied().collect();
        for conn in conns {
            self.process_peer(now, conn);
        }
    }

    fn process_peer(&mut self, now: Instant, conn: ConnId) {
        let mut timer_checked = false;
        loop {
            let Some(peer) = self.peers.get_mut(&conn) else {
                return;
            };
            if !peer.open && peer.deadline <= now {
                let remote = peer.remote;
                self.error(format!("connection to {} timed out", remote.short()));
                self.fail(conn);
                return;
            }
            if !timer_checked && peer.engine.poll_timeout().is_some_and(|t| t <= now) {
                peer.engine.handle_timeout(now);
            }
            timer_checked = true;
            let mut wrote = false;
            if peer.open {
                wrote = self.write_out(now, conn);
            }
            let Some(peer) = self.peers.get_mut(&conn) else {
                return;
            };
            while let Some(t) = peer.engine.poll_transmit() {
                self.transmits.push(t);
            }
            let mut events = Vec::new();
            while let Some(e) = peer.engine.poll_event() {
                events.push(e);
            }
            if events.is_empty() && !wrote {
                return;
            }
            for e in events {
                self.on_engine_event(conn, e);
            }
        }
    }

    fn on_engine_event(&mut self, conn: ConnId, event: EngineEvent) {
        let Some(peer) = self.peers.get_mut(&conn) else {
            return;
        };
        match event {
            EngineEvent::Open => {
                if !peer.open {
                    peer.open = true;
                    let remote = peer.outbound.then_some(peer.remote);
                    self.emit(TransportEvent::Connected { conn, remote });
                }
            }
            EngineEvent::Data(msg) => match peer.rx.push(&msg, self.cfg.max_frame_size) {
                Ok(Some(bytes)) => self.emit(TransportEvent::Frame { conn, bytes }),
                Ok(None) => {}
                Err(e) => {
                    let remote = peer.remote;
                    self.error(format!("{}: {e}", remote.short()));
                    self.fail(conn);
                }
            },
            EngineEvent::BufferedLow => {}
            EngineEvent::Closed => {
                self.remove(conn);
                self.emit(TransportEvent::Disconnected { conn });
            }
        }
    }

    /// Writes queued frames as messages while the engine takes them. True if it wrote.
    fn write_out(&mut self, now: Instant, conn: ConnId) -> bool {
        let Some(peer) = self.peers.get_mut(&conn) else {
            return false;
        };
        let mut wrote = false;
        let mut closed = false;
        let mut done_bytes = 0usize;
        let mut done_frames = 0u64;
        let chunk = self.cfg.chunk_size.clamp(1, MAX_CHUNK);
        while let Some(front) = peer.out.front() {
            let (msg, next) = fragment(front, peer.offset, chunk);
            match peer.engine.write(now, &msg) {
                Write::Written => {
                    wrote = true;
                    match next {
                        Some(offset) => peer.offset = offset,
                        None => {
                            done_bytes += front.len();
                            done_frames += 1;
                            peer.offset = 0;
                            peer.out.pop_front();
                        }
                    }
                }
                Write::Full => break,
                Write::Closed => {
                    // The channel refused a message it should take (closed under us, or
                    // a message over the peer's limit): the connection cannot go on.
                    closed = true;
                    break;
                }
            }
        }
        if done_frames > 0 {
            let half = self.cfg.send_buffer / 2;
            let mut state = self.shared.lock();
            state.total.sent(done_frames, done_bytes);
            if let Some(c) = state.conns.get_mut(&conn) {
                c.traffic.sent(done_frames, done_bytes);
                c.queued = c.queued.saturating_sub(done_bytes);
                if c.blocked && c.queued <= half {
                    c.blocked = false;
                    state.events.push_back(TransportEvent::Writable { conn });
                }
            }
        }
        if closed {
            let remote = self.peers.get(&conn).map(|p| p.remote.short());
            self.error(format!("{remote:?}: data channel refused a write"));
            self.fail(conn);
            return false;
        }
        wrote
    }
}

impl<E: Engine> Admit for IoLoop<E> {
    fn local_id(&self) -> NodeId {
        self.me
    }
    fn offer_log(&mut self) -> &mut OfferLog {
        &mut self.offers
    }
    fn connection_with(&self, node: NodeId) -> Option<Existing> {
        let conn = *self.by_node.get(&node)?;
        let our_dial_pending = self.peers.get(&conn).is_some_and(|p| p.outbound && !p.open);
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

impl<E> Peer<E> {
    fn new(
        engine: E,
        remote: NodeId,
        session: u64,
        outbound: bool,
        now: Instant,
        cfg: &Config,
    ) -> Self {
        Peer {
            engine,
            remote,
            session,
            outbound,
            open: false,
            awaiting_answer: outbound,
            deadline: now + cfg.connect_timeout,
            out: VecDeque::new(),
            offset: 0,
            rx: Reassembler::default(),
        }
    }
}

impl Shared {
    /// Wakes the application if anything is waiting for it.
    fn wake_if_needed(&self) {
        let ready = {
            let s = self.lock();
            !s.events.is_empty() || !s.signals.is_empty()
        };
        if ready {
            self.wake();
        }
    }
}

/// A random u64 from the OS (session ids, ICE credentials).
pub(crate) fn random_u64() -> u64 {
    use rand_core::{OsRng, RngCore};
    OsRng.next_u64()
}

/// A random string of `n` characters from `[a-z0-9]` (ICE ufrag and password).
pub(crate) fn random_token(n: usize) -> String {
    use rand_core::{OsRng, RngCore};
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..n)
        .map(|_| {
            let i = (OsRng.next_u32() as usize) % ALPHABET.len();
            char::from(ALPHABET.get(i).copied().unwrap_or(b'a'))
        })
        .collect()
}

/// Looks up the STUN servers' names (IP literals need no lookup): for each, its first
/// address of the bound socket's family, or why there is none.
async fn resolve(
    servers: Vec<(String, u16)>,
    local: SocketAddr,
) -> Vec<Result<SocketAddr, String>> {
    let mut out = Vec::with_capacity(servers.len());
    for (host, port) in servers {
        let lookup = tokio::net::lookup_host((host.as_str(), port));
        let found = match tokio::time::timeout(DNS_TIMEOUT, lookup).await {
            Err(_) => Err("name lookup timed out".to_owned()),
            Ok(Err(e)) => Err(format!("name lookup: {e}")),
            Ok(Ok(mut addrs)) => addrs
                .find(|a| a.is_ipv4() == local.is_ipv4())
                .ok_or_else(|| format!("no address of the family of {local}")),
        };
        out.push(found.map_err(|e| format!("STUN server {host}:{port}: {e}")));
    }
    out
}
