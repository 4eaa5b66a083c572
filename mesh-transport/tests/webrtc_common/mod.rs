//! Shared checks for the WebRTC adapters: each `tests/webrtc_*.rs` runs them with its
//! adapter's `bind` (or two different ones, for the cross-stack test).

#![allow(
    dead_code,
    reason = "each test file uses a different subset of the helpers"
)]

pub(crate) mod stun;

use std::time::{Duration, Instant as StdInstant};

use bytes::Bytes;
use quorate_mesh_blockstore::{BlockStore, MemoryStore, PutOptions, StoreConfig};
use quorate_mesh_proto::mesh::{self, ConnId, Event, Input, Mesh, NodeKey};
use quorate_mesh_proto::payloads::Text;
use quorate_mesh_proto::{Block, Instant};
use quorate_mesh_transport::webrtc::signaling::{
    SignalBody, SignalError, SignalMessage, SignedSignal,
};
use quorate_mesh_transport::webrtc::{BindError, Config, WebRtcTransport};
use quorate_mesh_transport::{Driver, DriverEvent, SendError, Transport, TransportEvent};

pub(crate) type Bind = fn(NodeKey, Config) -> Result<WebRtcTransport, BindError>;

pub(crate) const TIMEOUT: Duration = Duration::from_secs(15);

pub(crate) fn key(n: u8) -> NodeKey {
    NodeKey::from_secret([n; 32])
}

/// Delivers every pending signal between the two (the "copy-paste" carrier).
pub(crate) fn carry(a: &mut WebRtcTransport, b: &mut WebRtcTransport) -> usize {
    let mut moved = 0;
    while let Some(s) = a.poll_signal() {
        assert_eq!(s.to, b.id());
        b.handle_signal(a.id(), &s.payload).unwrap();
        moved += 1;
    }
    while let Some(s) = b.poll_signal() {
        assert_eq!(s.to, a.id());
        a.handle_signal(b.id(), &s.payload).unwrap();
        moved += 1;
    }
    moved
}

/// Waits for the next transport event of `t`, carrying signals meanwhile.
pub(crate) fn next_event(
    t: &mut WebRtcTransport,
    other: &mut WebRtcTransport,
    timeout: Duration,
) -> Option<TransportEvent> {
    let deadline = StdInstant::now() + timeout;
    loop {
        carry(t, other);
        if let Some(e) = t.poll_event() {
            return Some(e);
        }
        let left = deadline.saturating_duration_since(StdInstant::now());
        if left.is_zero() {
            return None;
        }
        t.wait(left.min(Duration::from_millis(5)));
    }
}

/// `a` dials `b`; returns both connection ids and the time from `connect` to both open.
pub(crate) fn connect(
    a: &mut WebRtcTransport,
    b: &mut WebRtcTransport,
) -> (ConnId, ConnId, Duration) {
    let start = StdInstant::now();
    let ca = a.connect(b.id()).unwrap();
    let (mut open_a, mut cb) = (false, None);
    while !open_a || cb.is_none() {
        assert!(
            start.elapsed() < TIMEOUT,
            "no connection: a {:?} b {:?}",
            a.recent_errors(),
            b.recent_errors()
        );
        carry(a, b);
        while let Some(e) = a.poll_event() {
            match e {
                TransportEvent::Connected { conn, remote } => {
                    assert_eq!((conn, remote), (ca, Some(b.id())));
                    open_a = true;
                }
                other => panic!("a: unexpected {other:?}, errors {:?}", a.recent_errors()),
            }
        }
        while let Some(e) = b.poll_event() {
            match e {
                TransportEvent::Connected { conn, remote: None } => cb = Some(conn),
                other => panic!("b: unexpected {other:?}, errors {:?}", b.recent_errors()),
            }
        }
        a.wait(Duration::from_millis(1));
    }
    (ca, cb.unwrap(), start.elapsed())
}

/// Sends `frames` from `x` on `cx` and checks that `y` receives them in order on `cy`.
pub(crate) fn transfer(
    x: &mut WebRtcTransport,
    cx: ConnId,
    y: &mut WebRtcTransport,
    cy: ConnId,
    frames: &[Bytes],
) {
    let mut next = 0;
    let mut got = Vec::new();
    let start = StdInstant::now();
    while got.len() < frames.len() {
        assert!(start.elapsed() < TIMEOUT * 4, "stalled at {}", got.len());
        while let Some(f) = frames.get(next) {
            match x.send(cx, f.clone()) {
                Ok(()) => next += 1,
                Err(SendError::Full) => break,
                Err(e) => panic!("send: {e}"),
            }
        }
        while let Some(e) = x.poll_event() {
            assert!(
                matches!(e, TransportEvent::Writable { conn } if conn == cx),
                "{e:?}"
            );
        }
        while let Some(e) = y.poll_event() {
            match e {
                TransportEvent::Frame { conn, bytes } if conn == cy => got.push(bytes),
                // Room back from an earlier transfer the other way.
                TransportEvent::Writable { conn } if conn == cy => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        y.wait(Duration::from_millis(1));
    }
    assert!(got.iter().eq(frames.iter()), "frames differ");
}

/// Connects, exchanges frames both ways (small, empty, multi-fragment), then drops `b`
/// and expects `a` to see the connection close.
pub(crate) fn connect_exchange_drop(bind_a: Bind, bind_b: Bind) {
    let mut a = bind_a(key(1), Config::default()).unwrap();
    let mut b = bind_b(key(2), Config::default()).unwrap();
    let (ca, cb, took) = connect(&mut a, &mut b);
    println!("{} -> {}: open after {took:?}", a.stack(), b.stack());
    let big: Bytes = (0..1_500_000u32).map(|i| (i % 251) as u8).collect();
    let frames = vec![
        Bytes::from_static(b"hello"),
        Bytes::new(),
        big.clone(),
        Bytes::from_static(b"after"),
    ];
    transfer(&mut a, ca, &mut b, cb, &frames);
    transfer(&mut b, cb, &mut a, ca, &frames);
    check_stats(&a, ca, b.id(), &frames);
    check_stats(&b, cb, a.id(), &frames);
    // A second dial to a connected node fails at once.
    let again = a.connect(b.id()).unwrap();
    assert_eq!(
        next_event(&mut a, &mut b, TIMEOUT),
        Some(TransportEvent::Disconnected { conn: again })
    );
    drop(b);
    let start = StdInstant::now();
    loop {
        match a.poll_event() {
            Some(TransportEvent::Disconnected { conn }) => {
                assert_eq!(conn, ca);
                break;
            }
            Some(other) => panic!("unexpected {other:?}"),
            None => {
                assert!(start.elapsed() < TIMEOUT, "no disconnect");
                a.wait(Duration::from_millis(10));
            }
        }
    }
    println!("disconnect seen after {:?}", start.elapsed());
    assert_eq!(a.send(ca, Bytes::from_static(b"x")), Err(SendError::Closed));
    // The closed connection leaves the live list; the totals stay.
    let stats = a.stats();
    assert!(stats.connections.is_empty(), "{stats:?}");
    assert_eq!(stats.connections_opened, 1);
    assert_eq!(stats.total.frames_received, frames.len() as u64);
}

/// `t` sent and received `frames` on `conn` with `peer`, and nothing else.
fn check_stats(t: &WebRtcTransport, conn: ConnId, peer: mesh::NodeId, frames: &[Bytes]) {
    let count = frames.len() as u64;
    let bytes: u64 = frames.iter().map(|f| f.len() as u64).sum();
    let stats = t.stats();
    assert_eq!(stats.connections_opened, 1);
    assert_eq!(stats.connections.len(), 1, "{stats:?}");
    let c = &stats.connections[&conn];
    assert_eq!(c.peer, peer);
    assert!(c.open);
    for traffic in [c.traffic, stats.total] {
        assert_eq!(
            (traffic.frames_sent, traffic.bytes_sent),
            (count, bytes),
            "{stats:?}"
        );
        assert_eq!(
            (traffic.frames_received, traffic.bytes_received),
            (count, bytes),
            "{stats:?}"
        );
    }
    assert!(stats.gathering_done);
    assert!(stats.server_reflexive.is_empty());
}

/// Forged, re-signed, misaddressed, replayed and garbage signals are refused; the
/// transport keeps working.
pub(crate) fn bad_signals(bind: Bind) {
    let (ka, kb, kc) = (key(1), key(2), key(3));
    let mut a = bind(ka.clone(), Config::default()).unwrap();
    let mut b = bind(kb.clone(), Config::default()).unwrap();
    a.connect(b.id()).unwrap();
    let offer = loop {
        if let Some(s) = a.poll_signal() {
            break s;
        }
        assert!(a.wait(TIMEOUT));
    };
    let SignalMessage { session, body, .. } =
        SignedSignal::open(&offer.payload, a.id(), b.id()).unwrap();
    assert!(matches!(body, SignalBody::Offer(_)));

    // Presented as from another node.
    assert_eq!(
        b.handle_signal(kc.id(), &offer.payload),
        Err(SignalError::BadSignature)
    );
    // Same content, re-signed by c (say, a server substituting SDP).
    let forged = SignalMessage {
        from: a.id(),
        to: b.id(),
        session,
        body: body.clone(),
    }
    .sign(&kc)
    .unwrap();
    assert_eq!(
        b.handle_signal(a.id(), forged.as_bytes()),
        Err(SignalError::BadSignature)
    );
    // Signed by a, but for c.
    let elsewhere = SignalMessage {
        from: a.id(),
        to: kc.id(),
        session,
        body: body.clone(),
    }
    .sign(&ka)
    .unwrap();
    assert_eq!(
        b.handle_signal(a.id(), elsewhere.as_bytes()),
        Err(SignalError::WrongRecipient { to: kc.id() })
    );
    // Garbage of every kind.
    let mut garbage: Vec<Vec<u8>> = vec![
        vec![],
        vec![0],
        vec![0xff; 64],
        vec![0xa2; 20_000],
        offer.payload[..offer.payload.len() / 2].to_vec(),
    ];
    let mut flipped = offer.payload.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x40;
    garbage.push(flipped);
    for g in &garbage {
        assert!(b.handle_signal(a.id(), g).is_err());
    }
    // A validly signed offer with an SDP that is not SDP: accepted as a signal, dropped
    // by the IO thread, which keeps running.
    let nonsense = SignalMessage {
        from: a.id(),
        to: b.id(),
        session: session ^ 1,
        body: SignalBody::Offer("not sdp at all".into()),
    }
    .sign(&ka)
    .unwrap();
    b.handle_signal(a.id(), nonsense.as_bytes()).unwrap();

    // The real offer, twice (a replay): one answer only, and the connection opens.
    b.handle_signal(a.id(), &offer.payload).unwrap();
    b.handle_signal(a.id(), &offer.payload).unwrap();
    let start = StdInstant::now();
    let mut answers = 0;
    let mut open = Vec::new();
    while open.len() < 2 && start.elapsed() < TIMEOUT {
        while let Some(s) = b.poll_signal() {
            answers += 1;
            a.handle_signal(b.id(), &s.payload).unwrap();
        }
        for t in [&mut a, &mut b] {
            while let Some(e) = t.poll_event() {
                let TransportEvent::Connected { conn, .. } = e else {
                    panic!("{e:?}");
                };
                open.push(conn);
            }
        }
        b.wait(Duration::from_millis(5));
    }
    assert_eq!(open.len(), 2, "errors: {:?}", b.recent_errors());
    assert_eq!(answers, 1);
    assert!(!b.recent_errors().is_empty(), "the bad SDP was reported");

    // Closing our end: the other side hears of it, we hear nothing more.
    let (ca, cb) = (open[0], open[1]);
    b.send(cb, Bytes::from_static(b"late")).unwrap();
    a.disconnect(ca);
    let start = StdInstant::now();
    loop {
        assert!(start.elapsed() < TIMEOUT, "b never saw the close");
        match b.poll_event() {
            Some(TransportEvent::Disconnected { conn }) if conn == cb => break,
            Some(other) => panic!("{other:?}"),
            None => b.wait(Duration::from_millis(5)),
        };
    }
    assert_eq!(a.poll_event(), None);
    assert_eq!(a.send(ca, Bytes::new()), Err(SendError::Closed));
}

/// Both nodes dial each other before any signal moves (glare): one connection results,
/// reported on each side under its own dial's id.
pub(crate) fn glare(bind_a: Bind, bind_b: Bind) {
    let mut a = bind_a(key(1), Config::default()).unwrap();
    let mut b = bind_b(key(2), Config::default()).unwrap();
    let ca = a.connect(b.id()).unwrap();
    let cb = b.connect(a.id()).unwrap();
    let mut open = (false, false);
    let start = StdInstant::now();
    while !(open.0 && open.1) {
        assert!(
            start.elapsed() < TIMEOUT,
            "{:?} {:?}",
            a.recent_errors(),
            b.recent_errors()
        );
        carry(&mut a, &mut b);
        while let Some(e) = a.poll_event() {
            assert_eq!(
                e,
                TransportEvent::Connected {
                    conn: ca,
                    remote: Some(b.id())
                }
            );
            open.0 = true;
        }
        while let Some(e) = b.poll_event() {
            assert_eq!(
                e,
                TransportEvent::Connected {
                    conn: cb,
                    remote: Some(a.id())
                }
            );
            open.1 = true;
        }
        a.wait(Duration::from_millis(2));
    }
    transfer(
        &mut a,
        ca,
        &mut b,
        cb,
        &[Bytes::from_static(b"one connection")],
    );
    transfer(&mut b, cb, &mut a, ca, &[Bytes::from_static(b"both ways")]);
}

pub(crate) fn now(start: StdInstant) -> Instant {
    Instant::from_micros(u64::try_from(start.elapsed().as_micros()).unwrap())
}

type Node = Driver<WebRtcTransport, MemoryStore>;

fn driver(bind: Bind, n: u8, start: StdInstant) -> Node {
    let k = key(n);
    let transport = bind(k.clone(), Config::default()).unwrap();
    let mesh = Mesh::new(mesh::Config::new(k, [n; 32]), now(start));
    Driver::new(mesh, transport, MemoryStore::new(StoreConfig::default()))
}

fn pump_both(a: &mut Node, b: &mut Node, start: StdInstant) {
    while let Some(s) = a.transport_mut().poll_signal() {
        let from = a.mesh().id();
        b.transport_mut().handle_signal(from, &s.payload).unwrap();
    }
    while let Some(s) = b.transport_mut().poll_signal() {
        let from = b.mesh().id();
        a.transport_mut().handle_signal(from, &s.payload).unwrap();
    }
    a.pump(now(start));
    b.pump(now(start));
    a.transport().wait(Duration::from_millis(1));
}

/// Two drivers (mesh machine + memory store) over the adapters: handshake, then `b`
/// fetches a block only `a` has.
pub(crate) fn drivers_fetch_a_block(bind_a: Bind, bind_b: Bind) {
    let start = StdInstant::now();
    let mut a = driver(bind_a, 1, start);
    let mut b = driver(bind_b, 2, start);
    a.connect(b.mesh().id()).unwrap();
    let mut up = 0;
    while up < 2 {
        assert!(start.elapsed() < TIMEOUT, "no handshake");
        pump_both(&mut a, &mut b, start);
        for n in [&mut a, &mut b] {
            while let Some(e) = n.poll_event() {
                if let DriverEvent::Mesh(Event::PeerUp { .. }) = e {
                    up += 1;
                }
            }
        }
    }
    // A block larger than one fragment.
    let body = "quorate ".repeat(40_000);
    let wanted = Block::encode(&Text { body }).unwrap();
    a.store_mut().put(&wanted, PutOptions::cache()).unwrap();
    b.handle(
        now(start),
        Input::Want {
            cid: *wanted.cid(),
            priority: 1,
        },
    )
    .unwrap();
    let fetched_at = StdInstant::now();
    loop {
        assert!(fetched_at.elapsed() < TIMEOUT, "no fetch");
        pump_both(&mut a, &mut b, start);
        let fetched = std::iter::from_fn(|| b.poll_event()).any(|e| {
            matches!(e, DriverEvent::Mesh(Event::Fetched { block, from })
                if block == wanted && from == a.mesh().id())
        });
        if fetched {
            break;
        }
    }
    assert_eq!(b.store_mut().get(wanted.cid()).unwrap(), Some(wanted));
}

/// CPU time of this process so far (user + system), from /proc.
pub(crate) fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // Fields 14 and 15 of stat (utime, stime) are 11 and 12 after the command name.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// The default config, with `QUORATE_CHUNK` / `QUORATE_SCTP` (bytes) overriding the chunk
/// size and the SCTP send buffer, for tuning runs.
fn tuned() -> Config {
    let mut config = Config::default();
    let var = |name: &str| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
    };
    if let Some(v) = var("QUORATE_CHUNK") {
        config.chunk_size = v;
    }
    if let Some(v) = var("QUORATE_SCTP") {
        config.sctp_buffer = v;
    }
    config
}

/// Connect time (median of `rounds`) and one-way throughput of 64 KiB frames.
pub(crate) fn measure(bind_a: Bind, bind_b: Bind, rounds: usize, mib: usize) {
    let mut times = Vec::new();
    for r in 0..rounds {
        let n = u8::try_from(10 + 2 * r).unwrap();
        let mut a = bind_a(key(n), Config::default()).unwrap();
        let mut b = bind_b(key(n + 1), Config::default()).unwrap();
        let (_, _, took) = connect(&mut a, &mut b);
        times.push(took);
    }
    times.sort();
    let mut a = bind_a(key(100), tuned()).unwrap();
    let mut b = bind_b(key(101), tuned()).unwrap();
    let (ca, cb, _) = connect(&mut a, &mut b);
    let frame: Bytes = (0..65_536u32).map(|i| (i % 253) as u8).collect();
    let count = mib * 16;
    let frames = vec![frame; count];
    let cpu = cpu_time();
    let start = StdInstant::now();
    transfer(&mut a, ca, &mut b, cb, &frames);
    let took = start.elapsed();
    let cpu = cpu_time().saturating_sub(cpu);
    #[allow(clippy::cast_precision_loss, reason = "a printed rate")]
    let rate = mib as f64 / took.as_secs_f64();
    println!(
        "MEASURE {} -> {}: connect median {:?} (min {:?}, max {:?}, n={}); \
         {mib} MiB in 64 KiB frames: {took:?} = {rate:.1} MiB/s, CPU {:.1} ms/MiB \
         (chunk {} B, SCTP buffer {} B)",
        a.stack(),
        b.stack(),
        times[times.len() / 2],
        times[0],
        times[times.len() - 1],
        times.len(),
        cpu.as_secs_f64() * 1000.0 / mib as f64,
        tuned().chunk_size,
        tuned().sctp_buffer,
    );
}
