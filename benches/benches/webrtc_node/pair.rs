//! Two WebRTC transports in one process, bare ([`Raw`]) or each under a mesh
//! [`Driver`] ([`Nodes`]), driven by this thread; signals are carried by hand.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant as StdInstant};

use bytes::Bytes;
use quorate_mesh_blockstore::BlockStore;
use quorate_mesh_proto::mesh::{self, ConnId, Event, Mesh, NodeKey};
use quorate_mesh_proto::{Cid, Instant};
use quorate_mesh_transport::webrtc::{BindError, Config, WebRtcTransport};
use quorate_mesh_transport::{Driver, DriverEvent, SendError, Transport, TransportEvent};
use tokio::sync::Notify;

pub(crate) type Bind = fn(NodeKey, Config) -> Result<WebRtcTransport, BindError>;

/// One WebRTC stack.
#[derive(Clone, Copy)]
pub(crate) struct Stack {
    pub(crate) name: &'static str,
    pub(crate) bind: Bind,
}

/// Any single wait longer than this is a hung benchmark.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(30);
/// Longest sleep when nothing is pending (a lost wake-up costs at most this).
pub(crate) const NAP: Duration = Duration::from_millis(2);

/// Fresh 32 bytes for every key and seed of the run.
fn fresh() -> [u8; 32] {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let mut secret = [0x5a; 32];
    secret[..8].copy_from_slice(&NEXT.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    secret
}

/// A fresh node key for every transport of the run.
pub(crate) fn fresh_key() -> NodeKey {
    NodeKey::from_secret(fresh())
}

/// The mesh configuration of both nodes: the defaults of `mesh::Config::new`.
pub(crate) fn mesh_config(key: NodeKey) -> mesh::Config {
    mesh::Config::new(key, fresh())
}

/// Sleeps until either transport has events or signals, like an async node runtime
/// awaiting `WebRtcTransport::notify`.
pub(crate) struct Waiter {
    rt: tokio::runtime::Runtime,
}

impl Waiter {
    pub(crate) fn new() -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        Waiter { rt }
    }

    fn wait(&self, a: &Notify, b: &Notify, timeout: Duration) {
        self.rt.block_on(async {
            tokio::select! {
                () = a.notified() => {}
                () = b.notified() => {}
                () = tokio::time::sleep(timeout) => {}
            }
        });
    }
}

/// Delivers every pending signal between the two transports; how many moved.
fn carry(a: &mut WebRtcTransport, b: &mut WebRtcTransport) -> usize {
    let mut moved = 0;
    while let Some(s) = a.poll_signal() {
        b.handle_signal(a.id(), &s.payload).unwrap();
        moved += 1;
    }
    while let Some(s) = b.poll_signal() {
        a.handle_signal(b.id(), &s.payload).unwrap();
        moved += 1;
    }
    moved
}

/// Two bare transports with one open DataChannel, `a` → `b`.
pub(crate) struct Raw {
    a: WebRtcTransport,
    b: WebRtcTransport,
    ca: ConnId,
    cb: ConnId,
    na: Arc<Notify>,
    nb: Arc<Notify>,
}

impl Raw {
    /// Binds two transports (default [`Config`]) and opens a channel.
    pub(crate) fn open(stack: Stack, w: &Waiter) -> Raw {
        let mut a = (stack.bind)(fresh_key(), Config::default()).unwrap();
        let mut b = (stack.bind)(fresh_key(), Config::default()).unwrap();
        let (na, nb) = (a.notify(), b.notify());
        let start = StdInstant::now();
        let ca = a.connect(b.id()).unwrap();
        let (mut open_a, mut cb) = (false, None);
        while !open_a || cb.is_none() {
            assert!(
                start.elapsed() < TIMEOUT,
                "no channel: {:?} {:?}",
                a.recent_errors(),
                b.recent_errors()
            );
            carry(&mut a, &mut b);
            while let Some(e) = a.poll_event() {
                match e {
                    TransportEvent::Connected { conn, .. } if conn == ca => open_a = true,
                    other => panic!("a: {other:?}"),
                }
            }
            while let Some(e) = b.poll_event() {
                match e {
                    TransportEvent::Connected { conn, remote: None } => cb = Some(conn),
                    other => panic!("b: {other:?}"),
                }
            }
            if !open_a || cb.is_none() {
                w.wait(&na, &nb, NAP);
            }
        }
        let cb = cb.unwrap();
        Raw {
            a,
            b,
            ca,
            cb,
            na,
            nb,
        }
    }

    /// Sends `frames` from `a` with backpressure until `b` has them all; the time taken.
    pub(crate) fn transfer(&mut self, w: &Waiter, frames: &[Bytes]) -> Duration {
        let total: usize = frames.iter().map(Bytes::len).sum();
        let (mut next, mut got, mut got_bytes) = (0, 0, 0);
        let start = StdInstant::now();
        while got < frames.len() {
            assert!(start.elapsed() < TIMEOUT, "raw transfer stalled at {got}");
            let mut progressed = false;
            while let Some(f) = frames.get(next) {
                match self.a.send(self.ca, f.clone()) {
                    Ok(()) => {
                        next += 1;
                        progressed = true;
                    }
                    Err(SendError::Full) => break,
                    Err(e) => panic!("send: {e}"),
                }
            }
            while let Some(e) = self.a.poll_event() {
                assert!(matches!(e, TransportEvent::Writable { .. }), "a: {e:?}");
                progressed = true;
            }
            while let Some(e) = self.b.poll_event() {
                match e {
                    TransportEvent::Frame { bytes, .. } => {
                        got += 1;
                        got_bytes += bytes.len();
                        progressed = true;
                    }
                    TransportEvent::Writable { .. } => {}
                    other => panic!("b: {other:?}"),
                }
            }
            if !progressed {
                w.wait(&self.na, &self.nb, NAP);
            }
        }
        let took = start.elapsed();
        assert_eq!(got_bytes, total);
        took
    }

    /// One round trip: `a` sends `frame`, `b` echoes it, `a` receives it.
    pub(crate) fn echo(&mut self, w: &Waiter, frame: &Bytes) -> Duration {
        let start = StdInstant::now();
        self.a.send(self.ca, frame.clone()).unwrap();
        loop {
            assert!(start.elapsed() < TIMEOUT, "no echo");
            while let Some(e) = self.b.poll_event() {
                match e {
                    TransportEvent::Frame { bytes, .. } => self.b.send(self.cb, bytes).unwrap(),
                    TransportEvent::Writable { .. } => {}
                    other => panic!("b: {other:?}"),
                }
            }
            while let Some(e) = self.a.poll_event() {
                match e {
                    TransportEvent::Frame { bytes, .. } => {
                        let took = start.elapsed();
                        assert_eq!(bytes.len(), frame.len());
                        return took;
                    }
                    TransportEvent::Writable { .. } => {}
                    other => panic!("a: {other:?}"),
                }
            }
            w.wait(&self.na, &self.nb, NAP);
        }
    }
}

pub(crate) type Node<S> = Driver<WebRtcTransport, S>;

/// What the two drivers reported, with the time it was seen.
#[derive(Default)]
pub(crate) struct Seen {
    /// `Connected` reached the machine (it sent its Hello): a, b.
    pub(crate) open: [Option<StdInstant>; 2],
    /// `PeerUp`: a, b.
    pub(crate) up: [Option<StdInstant>; 2],
    /// Blocks `b` fetched, and when the last one arrived.
    pub(crate) fetched: usize,
    pub(crate) last_fetched: Option<StdInstant>,
    /// Anything unexpected (misbehaviour, drops, store failures).
    pub(crate) anomalies: Vec<String>,
}

/// Where the bench thread's time went while driving two nodes.
#[derive(Default, Clone, Copy)]
pub(crate) struct Busy {
    /// Inside `a.pump` (serving: load from the store, encode, hand to the transport).
    pub(crate) a: Duration,
    /// Inside `b.pump` (fetching: decode, verify, store).
    pub(crate) b: Duration,
    /// Asleep, waiting for either transport.
    pub(crate) waiting: Duration,
    /// Frames the serving node's mesh outbox dropped (`Stats::dropped_out`).
    pub(crate) dropped: u64,
}

/// Two nodes: `a` serves, `b` fetches.
pub(crate) struct Nodes<S> {
    pub(crate) a: Node<S>,
    pub(crate) b: Node<S>,
    na: Arc<Notify>,
    nb: Arc<Notify>,
    /// The clock of both machines (`Instant` = microseconds since this).
    pub(crate) clock: StdInstant,
    pub(crate) seen: Seen,
    pub(crate) busy: Busy,
}

impl<S: BlockStore> Nodes<S> {
    /// Binds two transports (fresh keys, default [`Config`]) and builds a driver on each
    /// (mesh settings: [`mesh_config`]).
    pub(crate) fn bind(stack: Stack, stores: (S, S), clock: StdInstant) -> Self {
        let node = |store: S| {
            let key = fresh_key();
            let transport = (stack.bind)(key.clone(), Config::default()).unwrap();
            let mesh = Mesh::new(mesh_config(key), micros(clock));
            Driver::new(mesh, transport, store)
        };
        let (a, b) = (node(stores.0), node(stores.1));
        let (na, nb) = (a.transport().notify(), b.transport().notify());
        Nodes {
            a,
            b,
            na,
            nb,
            clock,
            seen: Seen::default(),
            busy: Busy::default(),
        }
    }

    /// `a` dials `b`; runs until both have the other as a peer.
    pub(crate) fn connect(&mut self, w: &Waiter) {
        self.a.connect(self.b.mesh().id()).unwrap();
        self.run_until(w, |s| s.up.iter().all(Option::is_some));
    }

    /// `b` wants `cids` (priority 1, as the application does).
    pub(crate) fn want(&mut self, cids: &[Cid]) {
        let now = self.now();
        for cid in cids {
            let want = mesh::Input::Want {
                cid: *cid,
                priority: 1,
            };
            self.b.handle(now, want).unwrap();
        }
    }

    /// `b` wants `cids`; runs until it has fetched them all.
    pub(crate) fn fetch(&mut self, w: &Waiter, cids: &[Cid]) {
        let target = self.seen.fetched + cids.len();
        self.want(cids);
        self.run_until(w, |s| s.fetched >= target);
    }

    /// Steps until `done` holds.
    pub(crate) fn run_until(&mut self, w: &Waiter, done: impl Fn(&Seen) -> bool) {
        let start = StdInstant::now();
        while !done(&self.seen) {
            assert!(start.elapsed() < TIMEOUT, "stuck: {}", self.diag());
            self.step(w);
        }
    }

    fn now(&self) -> Instant {
        micros(self.clock)
    }

    /// Carries signals, pumps both drivers, records their events; sleeps if nothing
    /// happened.
    pub(crate) fn step(&mut self, w: &Waiter) {
        let mut handled = carry(self.a.transport_mut(), self.b.transport_mut());
        let t = StdInstant::now();
        handled += self.a.pump(self.now());
        let t2 = StdInstant::now();
        handled += self.b.pump(self.now());
        let t3 = StdInstant::now();
        self.busy.a += t2 - t;
        self.busy.b += t3 - t2;
        self.record();
        if handled == 0 {
            let next = [self.a.poll_timeout(), self.b.poll_timeout()]
                .into_iter()
                .flatten()
                .min()
                .map_or(NAP, |at| {
                    Duration::from_micros(at.as_micros().saturating_sub(self.now().as_micros()))
                });
            w.wait(&self.na, &self.nb, next.min(NAP));
            self.busy.waiting += t3.elapsed();
        }
    }

    fn record(&mut self) {
        let now = StdInstant::now();
        for (i, node) in [&mut self.a, &mut self.b].into_iter().enumerate() {
            if self.seen.open[i].is_none() && node.mesh().stats().frames_out > 0 {
                self.seen.open[i] = Some(now);
            }
            while let Some(e) = node.poll_event() {
                match e {
                    DriverEvent::Mesh(Event::PeerUp { .. }) => self.seen.up[i] = Some(now),
                    DriverEvent::Mesh(Event::Fetched { .. }) if i == 1 => {
                        self.seen.fetched += 1;
                        self.seen.last_fetched = Some(now);
                    }
                    // Counted from the machine's stats instead.
                    DriverEvent::Mesh(Event::HeadUpdated { .. } | Event::OutboxFull { .. }) => {}
                    other => self.seen.anomalies.push(format!("{i}: {other:?}")),
                }
            }
        }
    }

    pub(crate) fn diag(&self) -> String {
        format!(
            "a {:?} {:?}; b {:?} {:?}; {:?}",
            self.a.mesh().stats(),
            self.a.transport().recent_errors(),
            self.b.mesh().stats(),
            self.b.transport().recent_errors(),
            self.seen.anomalies
        )
    }
}

pub(crate) fn micros(since: StdInstant) -> Instant {
    Instant::from_micros(u64::try_from(since.elapsed().as_micros()).unwrap())
}
