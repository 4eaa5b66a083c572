//! [`WebRtcTransport`]: the application's side of an adapter.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use quorate_mesh_proto::mesh::{ConnId, MAX_FRAME_SIZE, NodeId, NodeKey};
use tokio::sync::{Notify, mpsc};

use crate::transport::{SendError, Transport, TransportError, TransportEvent};

use super::ice::{IceServer, IceServerKind};
use super::io::{Command, Engine, IoLoop, Shared};
use super::signaling::{SignalError, SignedSignal};
use super::stats::{ConnStats, TransportStats};

/// Settings of a WebRTC transport. `Config::default()` suits tests on loopback.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Address of the UDP socket (default `127.0.0.1:0`). It is offered as the host ICE
    /// candidate, so bind a concrete address, not `0.0.0.0`. Every datagram of the
    /// transport, STUN included, leaves from this socket.
    pub bind: SocketAddr,
    /// STUN servers to learn our address behind a NAT from (default: none, and then no
    /// STUN or TURN server is ever contacted).
    ///
    /// On start the IO thread sends each `stun:` server a Binding Request from the
    /// transport's socket (up to 3 times, 500 ms apart; a host name is first resolved by
    /// the system resolver, within 2 s) and offers each mapped address that differs from
    /// [`Config::bind`] as a server-reflexive candidate, beside the host one. Dials and
    /// offers wait for that, up to 1.5 s (plus the name lookup); a server that does not
    /// answer is reported in [`WebRtcTransport::recent_errors`] and the transport goes on
    /// with what it has. Gathering happens once: a NAT mapping that changes later is not
    /// followed.
    ///
    /// TURN (`turn:`/`turns:`) is not supported yet: `bind` refuses a configuration with
    /// one ([`BindError::TurnUnsupported`]) rather than ignore it.
    pub ice_servers: Vec<IceServer>,
    /// How long a connection may take to open, from dial or offer (default 20 s).
    pub connect_timeout: Duration,
    /// Payload bytes per DataChannel message (default 16 KiB; at most 65,535, so that a
    /// message with its header stays within a 64 KiB `max-message-size`).
    pub chunk_size: usize,
    /// The stack's SCTP send buffer per connection: bytes written to the data channel and
    /// not yet acknowledged (default 128 KiB, 8 chunks).
    pub sctp_buffer: usize,
    /// Bytes of frames queued per connection before `send` answers `Full` (default 4 MiB).
    pub send_buffer: usize,
    /// Largest frame accepted from a peer (default the mesh's `MAX_FRAME_SIZE`).
    pub max_frame_size: usize,
    /// Kernel receive and send buffer of the socket (default 4 MiB; the kernel may cap it).
    pub socket_buffer: usize,
    /// Most connections opening at once (default 64).
    pub max_pending: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            ice_servers: Vec::new(),
            connect_timeout: Duration::from_secs(20),
            chunk_size: 16 * 1024,
            sctp_buffer: 128 * 1024,
            send_buffer: 4 * 1024 * 1024,
            max_frame_size: MAX_FRAME_SIZE,
            socket_buffer: 4 * 1024 * 1024,
            max_pending: 64,
        }
    }
}

impl Config {
    /// The default settings with another bind address.
    #[must_use]
    pub fn bind(addr: SocketAddr) -> Self {
        Config {
            bind: addr,
            ..Config::default()
        }
    }
}

/// A signed signaling payload to deliver to node `to` (by any carrier).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingSignal {
    /// The node it is for.
    pub to: NodeId,
    /// The payload: pass it to that node's [`WebRtcTransport::handle_signal`].
    pub payload: Vec<u8>,
}

/// Why a WebRTC transport could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BindError {
    /// The socket could not be created or bound.
    #[error("cannot bind the UDP socket: {0}")]
    Socket(#[source] std::io::Error),
    /// The IO thread or its runtime could not start.
    #[error("cannot start the IO thread: {0}")]
    Thread(#[source] std::io::Error),
    /// [`Config::ice_servers`] has a TURN server: relayed candidates are not supported
    /// yet, and the transport would not be reachable the way the configuration expects.
    #[error("TURN relays are not supported yet ({server})")]
    TurnUnsupported {
        /// The TURN server's URL.
        server: String,
    },
}

/// A WebRTC transport: one node's UDP socket, IO thread and peer connections.
///
/// Made by `webrtc::str0m::bind` or `webrtc::webrtc_rs::bind`. Dropping it closes every connection
/// (peers see them close) and stops the IO thread.
#[derive(Debug)]
pub struct WebRtcTransport {
    id: NodeId,
    stack: &'static str,
    local_addr: SocketAddr,
    send_buffer: usize,
    shared: Arc<Shared>,
    commands: mpsc::UnboundedSender<Command>,
    thread: Option<JoinHandle<()>>,
}

impl WebRtcTransport {
    pub(crate) fn spawn<E: Engine>(
        stack: &'static str,
        key: NodeKey,
        config: Config,
    ) -> Result<Self, BindError> {
        if let Some(turn) = config
            .ice_servers
            .iter()
            .find(|s| s.kind() != IceServerKind::Stun)
        {
            return Err(BindError::TurnUnsupported {
                server: turn.to_string(),
            });
        }
        let socket = bind_socket(&config).map_err(BindError::Socket)?;
        let local_addr = socket.local_addr().map_err(BindError::Socket)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(BindError::Thread)?;
        let shared = Arc::new(Shared::default());
        let (commands, rx) = mpsc::unbounded_channel();
        let id = key.id();
        let send_buffer = config.send_buffer;
        let io_loop = IoLoop::<E>::new(key, config, local_addr, Arc::clone(&shared));
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("quorate-webrtc".into())
            .spawn(move || {
                let loop_shared = Arc::clone(&thread_shared);
                runtime.block_on(async move {
                    match tokio::net::UdpSocket::from_std(socket) {
                        Ok(socket) => io_loop.run(socket, rx).await,
                        Err(e) => {
                            let mut state = loop_shared.lock();
                            state.errors.push_back(format!("socket: {e}"));
                            state.down = true;
                        }
                    }
                });
                // Do not wait for a STUN server's name lookup still running on the
                // blocking pool.
                runtime.shutdown_background();
                thread_shared.lock().down = true;
                thread_shared.wake();
            })
            .map_err(BindError::Thread)?;
        Ok(WebRtcTransport {
            id,
            stack,
            local_addr,
            send_buffer,
            shared,
            commands,
            thread: Some(thread),
        })
    }

    /// Our node id.
    #[must_use]
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The WebRTC stack: `"str0m"` or `"webrtc-rs"`.
    #[must_use]
    pub fn stack(&self) -> &'static str {
        self.stack
    }

    /// The bound UDP address (the port chosen for `:0`).
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The next signaling payload to deliver, oldest first. Drain it whenever woken.
    pub fn poll_signal(&mut self) -> Option<OutgoingSignal> {
        self.shared.lock().signals.pop_front()
    }

    /// Takes a signaling payload that node `from` sent us (by whatever carrier). It is
    /// verified here — size, encoding, signature by `from`, addressed to us — and then
    /// acted on by the IO thread: an offer opens an inbound connection (answered through
    /// [`WebRtcTransport::poll_signal`]), an answer completes our dial. A replayed,
    /// unknown-session or unusable SDP is dropped there (see
    /// [`WebRtcTransport::recent_errors`]); a dial whose answer fails closes with
    /// [`TransportEvent::Disconnected`].
    ///
    /// # Errors
    /// [`SignalError`] when the payload is refused; nothing changes then.
    pub fn handle_signal(&mut self, from: NodeId, payload: &[u8]) -> Result<(), SignalError> {
        let msg = SignedSignal::open(payload, from, self.id)?;
        // A stopped IO thread drops it, like any lost signal.
        let _ = self.commands.send(Command::Signal(msg));
        Ok(())
    }

    /// Notified whenever events or signals are waiting (one stored permit, so a
    /// notification between two `notified().await`s is not lost). For async drivers:
    /// `loop { transport.notify().notified().await; driver.pump(now()); … }`.
    #[must_use]
    pub fn notify(&self) -> Arc<Notify> {
        Arc::clone(&self.shared.notify)
    }

    /// Blocks up to `timeout` until an event or signal is waiting (or the IO thread has
    /// stopped); true if so. For synchronous drivers and tests.
    pub fn wait(&self, timeout: Duration) -> bool {
        self.shared.wait(timeout)
    }

    /// The last few failures inside the IO thread (bad SDP, timeouts, refused offers,
    /// STUN servers that gave no answer), oldest first, for diagnostics.
    #[must_use]
    pub fn recent_errors(&self) -> Vec<String> {
        self.shared.lock().errors.iter().cloned().collect()
    }

    /// Counters: connections opened, frames and bytes each way per live connection and
    /// in total, and the server-reflexive addresses STUN found. The IO thread updates
    /// them as it goes; this copies them (one lock, O(live connections)).
    #[must_use]
    pub fn stats(&self) -> TransportStats {
        let state = self.shared.lock();
        TransportStats {
            connections_opened: state.opened,
            connections: state
                .conns
                .iter()
                .map(|(&conn, c)| {
                    let stats = ConnStats {
                        peer: c.peer,
                        open: c.open,
                        traffic: c.traffic,
                    };
                    (conn, stats)
                })
                .collect(),
            total: state.total,
            server_reflexive: state.reflexive.clone(),
            gathering_done: state.gathering_done,
        }
    }
}

impl Transport for WebRtcTransport {
    fn connect(&mut self, to: NodeId) -> Result<ConnId, TransportError> {
        if to == self.id {
            return Err(TransportError::SelfDial);
        }
        let conn = {
            let mut state = self.shared.lock();
            if state.down {
                return Err(TransportError::Shutdown);
            }
            state.new_conn(to)
        };
        if self.commands.send(Command::Dial { conn, to }).is_err() {
            self.shared.lock().conns.remove(&conn);
            return Err(TransportError::Shutdown);
        }
        Ok(conn)
    }

    fn send(&mut self, conn: ConnId, frame: Bytes) -> Result<(), SendError> {
        {
            let mut state = self.shared.lock();
            let Some(c) = state.conns.get_mut(&conn) else {
                return Err(SendError::Closed);
            };
            if c.queued > 0 && c.queued + frame.len() > self.send_buffer {
                c.blocked = true;
                return Err(SendError::Full);
            }
            c.queued += frame.len();
        }
        self.commands
            .send(Command::Send { conn, frame })
            .map_err(|_| SendError::Closed)
    }

    /// Closes `conn`; no event about it follows (not even `Disconnected`), and events
    /// not yet polled are dropped.
    fn disconnect(&mut self, conn: ConnId) {
        {
            let mut state = self.shared.lock();
            state.conns.remove(&conn);
            state.events.retain(|e| match e {
                TransportEvent::Connected { conn: c, .. }
                | TransportEvent::Disconnected { conn: c }
                | TransportEvent::Frame { conn: c, .. }
                | TransportEvent::Writable { conn: c } => *c != conn,
            });
        }
        let _ = self.commands.send(Command::Close { conn });
    }

    fn poll_event(&mut self) -> Option<TransportEvent> {
        self.shared.lock().events.pop_front()
    }
}

impl Drop for WebRtcTransport {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Shutdown);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn bind_socket(config: &Config) -> std::io::Result<std::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(
        Domain::for_address(config.bind),
        Type::DGRAM,
        Some(Protocol::UDP),
    )?;
    // Best effort: the kernel caps these (net.core.rmem_max).
    let _ = socket.set_recv_buffer_size(config.socket_buffer);
    let _ = socket.set_send_buffer_size(config.socket_buffer);
    socket.bind(&config.bind.into())?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}
