//! A tiny STUN server on 127.0.0.1 (its own codec, not the crate's) and the checks of
//! the adapters' ICE server support: server-reflexive candidates from STUN, bad answers
//! ignored, unreachable servers survived, TURN refused.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant as StdInstant};

use bytes::Bytes;
use quorate_mesh_proto::mesh::ConnId;
use quorate_mesh_transport::webrtc::signaling::{SignalBody, SignedSignal};
use quorate_mesh_transport::webrtc::{
    BindError, Config, IceServer, IceServerError, WebRtcTransport,
};
use quorate_mesh_transport::{Transport, TransportEvent};

use super::{Bind, TIMEOUT, key, transfer};

const MAGIC: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];

/// A request seen: its source and transaction id.
type Request = (SocketAddr, [u8; 12]);

/// How the test server answers a Binding Request.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Reply {
    /// A success response mapping the request's source port to this IP (a NAT).
    Nat(Ipv4Addr),
    /// A success response with the request's true source (no NAT).
    Echo,
    /// Malformed responses that carry the request's transaction id, and noise.
    Garbage,
    /// A well-formed success response for another transaction id.
    WrongId,
    /// Nothing.
    Silent,
}

/// A STUN server on 127.0.0.1 answering in one [`Reply`] mode, recording requests.
pub(crate) struct StunServer {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl StunServer {
    pub(crate) fn start(reply: Reply) -> Self {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let addr = socket.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (log, halt) = (Arc::clone(&requests), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while !halt.load(Ordering::Relaxed) {
                let Ok((n, from)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                let req = &buf[..n];
                // A Binding Request: type 0x0001, length 0 (ours carries no
                // attributes), magic cookie.
                assert_eq!(n, 20, "request length");
                assert_eq!(&req[..4], &[0, 1, 0, 0], "Binding Request, no attributes");
                assert_eq!(&req[4..8], &MAGIC);
                let id: [u8; 12] = req[8..20].try_into().unwrap();
                log.lock().unwrap().push((from, id));
                for out in answers(reply, from, &id) {
                    socket.send_to(&out, from).unwrap();
                }
            }
        });
        StunServer {
            addr,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("stun:{}", self.addr)
    }

    pub(crate) fn ice_server(&self) -> IceServer {
        IceServer::stun(&self.url()).unwrap()
    }

    /// Requests received so far: source address and transaction id.
    pub(crate) fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for StunServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            // Surface an assertion failure of the server thread.
            if t.join().is_err() && !std::thread::panicking() {
                panic!("STUN server thread panicked");
            }
        }
    }
}

/// A Binding success response with `attrs`.
fn success(id: &[u8; 12], attrs: &[u8]) -> Vec<u8> {
    let mut p = vec![0x01, 0x01];
    p.extend_from_slice(&u16::try_from(attrs.len()).unwrap().to_be_bytes());
    p.extend_from_slice(&MAGIC);
    p.extend_from_slice(id);
    p.extend_from_slice(attrs);
    p
}

/// SOFTWARE (11 bytes, padded: the client must skip the padding) and
/// XOR-MAPPED-ADDRESS of `mapped`.
fn mapped_attrs(mapped: SocketAddr) -> Vec<u8> {
    let SocketAddr::V4(v4) = mapped else {
        panic!("IPv4 only")
    };
    let mut a = vec![0x80, 0x22, 0x00, 0x0b];
    a.extend_from_slice(b"test server\0");
    a.extend_from_slice(&[0x00, 0x20, 0x00, 0x08, 0x00, 0x01]);
    a.extend_from_slice(&(v4.port() ^ 0x2112).to_be_bytes());
    a.extend(v4.ip().octets().iter().zip(MAGIC).map(|(b, m)| b ^ m));
    a
}

fn answers(reply: Reply, from: SocketAddr, id: &[u8; 12]) -> Vec<Vec<u8>> {
    match reply {
        Reply::Nat(ip) => vec![success(
            id,
            &mapped_attrs(SocketAddr::from((ip, from.port()))),
        )],
        Reply::Echo => vec![success(id, &mapped_attrs(from))],
        Reply::WrongId => {
            let mut other = *id;
            other[0] ^= 0xff;
            let nat = SocketAddr::from(([203, 0, 113, 9], from.port()));
            vec![success(&other, &mapped_attrs(nat))]
        }
        Reply::Garbage => {
            let nat = SocketAddr::from(([203, 0, 113, 9], from.port()));
            let good = success(id, &mapped_attrs(nat));
            let mut out = Vec::new();
            // Truncated at every length.
            for n in (0..good.len()).step_by(3) {
                out.push(good[..n].to_vec());
            }
            // Trailing bytes.
            let mut long = good.clone();
            long.extend_from_slice(&[0; 4]);
            out.push(long);
            // An attribute length past the end.
            let mut bad = good.clone();
            bad[23] = 0xf0;
            out.push(bad);
            // An unknown address family.
            let mut bad = good.clone();
            bad[41] = 0x07;
            out.push(bad);
            // An unknown comprehension-required attribute.
            let mut bad = good.clone();
            bad[20] = 0x7f;
            out.push(bad);
            // No cookie.
            let mut bad = good.clone();
            bad[4] ^= 1;
            out.push(bad);
            // Noise.
            out.push(vec![0xff; 300]);
            out.push(vec![0x16; 20]);
            out.push(Vec::new());
            out
        }
        Reply::Silent => Vec::new(),
    }
}

fn config(servers: &[&StunServer]) -> Config {
    let mut config = Config::default();
    config.ice_servers = servers.iter().map(|s| s.ice_server()).collect();
    config
}

/// The SDP of an offer or answer signal.
fn sdp(from: &WebRtcTransport, to: &WebRtcTransport, payload: &[u8]) -> String {
    match SignedSignal::open(payload, from.id(), to.id())
        .unwrap()
        .body
    {
        SignalBody::Offer(s) | SignalBody::Answer(s) => s,
        other => panic!("{other:?}"),
    }
}

/// `a` dials `b`; returns both ids and the offer and answer SDP.
fn connect_seeing_sdp(
    a: &mut WebRtcTransport,
    b: &mut WebRtcTransport,
) -> (ConnId, ConnId, Vec<String>) {
    let start = StdInstant::now();
    let ca = a.connect(b.id()).unwrap();
    let (mut open_a, mut cb, mut sdps) = (false, None, Vec::new());
    while !open_a || cb.is_none() {
        assert!(
            start.elapsed() < TIMEOUT,
            "no connection: a {:?} b {:?}",
            a.recent_errors(),
            b.recent_errors()
        );
        while let Some(s) = a.poll_signal() {
            sdps.push(sdp(a, b, &s.payload));
            b.handle_signal(a.id(), &s.payload).unwrap();
        }
        while let Some(s) = b.poll_signal() {
            sdps.push(sdp(b, a, &s.payload));
            a.handle_signal(b.id(), &s.payload).unwrap();
        }
        while let Some(e) = a.poll_event() {
            assert_eq!(
                e,
                TransportEvent::Connected {
                    conn: ca,
                    remote: Some(b.id())
                }
            );
            open_a = true;
        }
        while let Some(e) = b.poll_event() {
            match e {
                TransportEvent::Connected { conn, remote: None } => cb = Some(conn),
                other => panic!("{other:?}"),
            }
        }
        a.wait(Duration::from_millis(2));
    }
    (ca, cb.unwrap(), sdps)
}

fn exchange(a: &mut WebRtcTransport, b: &mut WebRtcTransport) -> Vec<String> {
    let (ca, cb, sdps) = connect_seeing_sdp(a, b);
    transfer(
        a,
        ca,
        b,
        cb,
        &[Bytes::from_static(b"over stun"), Bytes::new()],
    );
    transfer(b, cb, a, ca, &[Bytes::from_static(b"and back")]);
    sdps
}

fn srflx_line(addr: SocketAddr) -> String {
    format!("{} {} typ srflx", addr.ip(), addr.port())
}

/// Both ends ask a STUN server that reports them behind a NAT (203.0.113.7, TEST-NET-3):
/// the request leaves from the transport's own socket, the answer is parsed, the mapped
/// address is offered as a server-reflexive candidate in the offer and in the answer,
/// and the two still connect (over their host candidates) and exchange frames.
pub(crate) fn stun_reflexive_candidates(bind_a: Bind, bind_b: Bind) {
    let nat = Ipv4Addr::new(203, 0, 113, 7);
    let server = StunServer::start(Reply::Nat(nat));
    let mut a = bind_a(key(1), config(&[&server])).unwrap();
    let mut b = bind_b(key(2), config(&[&server])).unwrap();
    let sdps = exchange(&mut a, &mut b);
    let (mapped_a, mapped_b) = (
        SocketAddr::from((nat, a.local_addr().port())),
        SocketAddr::from((nat, b.local_addr().port())),
    );
    assert_eq!(sdps.len(), 2, "offer and answer");
    assert!(
        sdps[0].contains(&srflx_line(mapped_a)),
        "offer:\n{}",
        sdps[0]
    );
    assert!(
        sdps[1].contains(&srflx_line(mapped_b)),
        "answer:\n{}",
        sdps[1]
    );
    for s in &sdps {
        assert!(s.contains("typ host"), "{s}");
    }
    for (t, mapped) in [(&a, mapped_a), (&b, mapped_b)] {
        let stats = t.stats();
        assert!(stats.gathering_done);
        assert_eq!(stats.server_reflexive, [mapped]);
        assert!(t.recent_errors().is_empty(), "{:?}", t.recent_errors());
    }
    // One request each (loopback loses nothing), from each transport's bound socket.
    let mut sources: Vec<SocketAddr> = server.requests().iter().map(|r| r.0).collect();
    sources.sort();
    let mut expected = vec![a.local_addr(), b.local_addr()];
    expected.sort();
    assert_eq!(sources, expected);
}

/// A STUN server that sees our bound address (no NAT): nothing is added, nothing is
/// reported, the connection works.
pub(crate) fn stun_without_nat(bind_a: Bind, bind_b: Bind) {
    let server = StunServer::start(Reply::Echo);
    let mut a = bind_a(key(1), config(&[&server])).unwrap();
    let mut b = bind_b(key(2), Config::default()).unwrap();
    let sdps = exchange(&mut a, &mut b);
    assert!(!sdps[0].contains("srflx"), "{}", sdps[0]);
    let stats = a.stats();
    assert!(stats.gathering_done);
    assert!(stats.server_reflexive.is_empty());
    assert!(a.recent_errors().is_empty(), "{:?}", a.recent_errors());
    assert_eq!(server.requests().len(), 1);
    assert!(b.stats().gathering_done, "nothing to gather");
}

/// Servers that answer with garbage (carrying our transaction id), with another
/// transaction id, or not at all, and a closed port: each is asked 3 times with one
/// transaction id, then reported; no panic, no candidate, and the transport connects
/// over its host candidate.
pub(crate) fn stun_bad_servers(bind_a: Bind, bind_b: Bind) {
    let garbage = StunServer::start(Reply::Garbage);
    let wrong_id = StunServer::start(Reply::WrongId);
    let silent = StunServer::start(Reply::Silent);
    let closed = {
        let s = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        s.local_addr().unwrap()
    };
    let mut config = config(&[&garbage, &wrong_id, &silent]);
    config
        .ice_servers
        .push(IceServer::stun(&format!("stun:{closed}")).unwrap());
    let mut a = bind_a(key(1), config).unwrap();
    let mut b = bind_b(key(2), Config::default()).unwrap();
    let sdps = exchange(&mut a, &mut b);
    assert!(!sdps[0].contains("srflx"), "{}", sdps[0]);
    let stats = a.stats();
    assert!(stats.gathering_done);
    assert!(stats.server_reflexive.is_empty());
    let errors = a.recent_errors();
    for server in [garbage.addr, wrong_id.addr, silent.addr, closed] {
        assert!(
            errors
                .iter()
                .any(|e| e.contains(&format!("STUN server {server}"))),
            "{server} not reported: {errors:?}"
        );
    }
    assert!(
        errors
            .iter()
            .any(|e| e.contains(&garbage.addr.to_string()) && e.contains("no usable answer")),
        "{errors:?}"
    );
    for server in [&garbage, &wrong_id, &silent] {
        let requests = server.requests();
        assert_eq!(requests.len(), 3, "{requests:?}");
        assert!(
            requests.iter().all(|r| r == &requests[0]),
            "same id, same socket"
        );
        assert_eq!(requests[0].0, a.local_addr());
    }
}

/// Bad URLs are refused with typed errors; a TURN server makes `bind` fail rather than
/// be ignored.
pub(crate) fn ice_server_config_errors(bind: Bind) {
    assert!(matches!(
        IceServer::stun("stun.example.org:3478"),
        Err(IceServerError::Scheme(_))
    ));
    assert!(matches!(
        "stun:127.0.0.1:99999".parse::<IceServer>(),
        Err(IceServerError::Port(_))
    ));
    assert!(matches!(
        IceServer::stun("stun:"),
        Err(IceServerError::MissingHost(_))
    ));
    assert!(matches!(
        IceServer::stun("turn:127.0.0.1"),
        Err(IceServerError::MissingCredentials(_))
    ));
    let turn = IceServer::turn("turn:127.0.0.1:3478?transport=udp", "user", "pass").unwrap();
    let mut config = Config::default();
    config.ice_servers.push(turn);
    match bind(key(1), config) {
        Err(e @ BindError::TurnUnsupported { .. }) => {
            assert!(e.to_string().contains("TURN relays are not supported yet"));
            assert!(!e.to_string().contains("pass"));
        }
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("TURN accepted"),
    }
}
