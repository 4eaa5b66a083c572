//! One client connection: the handshake, then a loop over incoming frames, queued
//! messages, timers and shutdown.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures_util::{SinkExt as _, StreamExt as _};
use quorate_mesh_proto::mesh::NodeId;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, MissedTickBehavior, sleep_until, timeout};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode, header};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::ServerConfig;
use super::limits::Gcra;
use super::protocol::{ClientMessage, Payload, RoomName, SUBPROTOCOL, ServerMessage};
use super::rooms::{ConnId, JoinError, Outbox, Outgoing, RelayError, Rooms};

/// State shared by all connections.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: ServerConfig,
    pub(crate) rooms: Mutex<Rooms>,
}

impl Shared {
    fn rooms(&self) -> MutexGuard<'_, Rooms> {
        // Nothing panics while holding the lock; if something did, the map is still whole.
        self.rooms.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

type Ws = WebSocketStream<TcpStream>;

/// How a connection ends.
enum End {
    /// The client went away or the socket failed: nothing more to send.
    Gone,
    /// Close with this code and reason.
    Close(CloseCode, &'static str),
}

/// Serves one accepted TCP connection until it ends.
pub(crate) async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    id: ConnId,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let config = &shared.config;
    let ws_config = WebSocketConfig::default()
        .read_buffer_size(16 * 1024)
        .max_write_buffer_size(config.outbox_bytes.saturating_mul(2))
        .max_message_size(Some(config.max_message_size))
        .max_frame_size(Some(config.max_message_size));
    let handshake = tokio_tungstenite::accept_hdr_async_with_config(
        stream,
        negotiate_subprotocol,
        Some(ws_config),
    );
    let mut ws = match timeout(config.handshake_timeout, handshake).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => return tracing::debug!(%peer, "handshake failed: {e}"),
        Err(_) => return tracing::debug!(%peer, "handshake timed out"),
    };
    tracing::debug!(%peer, id, "connected");
    let mut conn = Conn::new(id, Arc::clone(&shared));
    let end = conn.run(&mut ws, &mut shutdown).await;
    // On shutdown every member goes at once: telling each of the others is noise, and
    // quadratic in the room size.
    if !*shutdown.borrow() {
        conn.leave();
    }
    if let End::Close(code, reason) = end {
        tracing::debug!(%peer, id, "closing: {reason}");
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        drop(timeout(config.write_timeout, ws.close(Some(frame))).await);
    }
    tracing::debug!(%peer, id, "disconnected");
}

/// Accepts clients that offer [`SUBPROTOCOL`] (answering with it) or offer none.
#[expect(
    clippy::result_large_err,
    reason = "the handshake callback signature is tungstenite's"
)]
fn negotiate_subprotocol(
    request: &Request,
    mut response: Response,
) -> Result<Response, ErrorResponse> {
    let offered: Vec<&str> = request
        .headers()
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    if offered.is_empty() {
        return Ok(response);
    }
    if offered.contains(&SUBPROTOCOL) {
        response.headers_mut().insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static(SUBPROTOCOL),
        );
        return Ok(response);
    }
    let mut refusal = ErrorResponse::new(Some(format!("this server speaks {SUBPROTOCOL}\n")));
    *refusal.status_mut() = StatusCode::BAD_REQUEST;
    Err(refusal)
}

struct Conn {
    id: ConnId,
    shared: Arc<Shared>,
    outbox: Outbox,
    inbox: mpsc::UnboundedReceiver<Outgoing>,
    joined: Option<(RoomName, NodeId)>,
    join_deadline: Option<Instant>,
    last_heard: Instant,
    rate: Gcra,
    errors: Gcra,
}

impl Conn {
    fn new(id: ConnId, shared: Arc<Shared>) -> Self {
        let now = Instant::now();
        let c = &shared.config;
        let (outbox, inbox) = Outbox::new(c.outbox_bytes);
        Self {
            id,
            outbox,
            inbox,
            joined: None,
            join_deadline: now.checked_add(c.join_timeout),
            last_heard: now,
            rate: Gcra::per_second(c.messages_per_sec, c.message_burst, now),
            errors: Gcra::every(c.error_forgiveness, c.max_errors, now),
            shared,
        }
    }

    async fn run(&mut self, ws: &mut Ws, shutdown: &mut watch::Receiver<bool>) -> End {
        let mut ping = tokio::time::interval(self.shared.config.ping_interval);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        ping.tick().await; // the first tick is immediate
        loop {
            let join_deadline = self.join_deadline;
            // Unbiased: a busy outbox must not starve reading, nor the reverse.
            tokio::select! {
                _ = shutdown.changed() => return End::Close(CloseCode::Away, "server shutting down"),
                Some(out) = self.inbox.recv() => match out {
                    Outgoing::Text(text, _permit) => {
                        if let Err(end) = self.write(ws, Message::Text(text)).await {
                            return end;
                        }
                    }
                    Outgoing::Kick(reason) => {
                        drop(self.write(ws, error(reason)).await);
                        return End::Close(CloseCode::Policy, "kicked");
                    }
                },
                frame = ws.next() => {
                    if let Err(end) = self.on_frame(ws, frame).await {
                        return end;
                    }
                }
                () = sleep_until(join_deadline.unwrap_or_else(Instant::now)),
                    if join_deadline.is_some() =>
                {
                    let secs = self.shared.config.join_timeout.as_secs();
                    drop(self.write(ws, error(format!("no join within {secs} s"))).await);
                    return End::Close(CloseCode::Policy, "no join");
                }
                _ = ping.tick() => {
                    if self.last_heard.elapsed() > self.shared.config.dead_timeout {
                        return End::Close(CloseCode::Away, "no traffic");
                    }
                    if let Err(end) = self.write(ws, Message::Ping(Default::default())).await {
                        return end;
                    }
                }
            }
        }
    }

    async fn on_frame(
        &mut self,
        ws: &mut Ws,
        frame: Option<Result<Message, WsError>>,
    ) -> Result<(), End> {
        let msg = match frame {
            None
            | Some(Err(WsError::ConnectionClosed | WsError::AlreadyClosed | WsError::Io(_))) => {
                return Err(End::Gone);
            }
            Some(Err(WsError::Capacity(e))) => {
                let max = self.shared.config.max_message_size;
                drop(
                    self.write(ws, error(format!("{e}; the limit is {max} bytes")))
                        .await,
                );
                return Err(End::Close(CloseCode::Size, "message too large"));
            }
            Some(Err(e)) => {
                tracing::debug!(id = self.id, "protocol error: {e}");
                return Err(End::Close(CloseCode::Protocol, "WebSocket protocol error"));
            }
            Some(Ok(msg)) => msg,
        };
        let now = Instant::now();
        self.last_heard = now;
        if matches!(msg, Message::Close(_)) {
            return Err(End::Gone); // tungstenite answers the close itself
        }
        if !self.rate.allow(now) {
            let c = &self.shared.config;
            let why = format!(
                "rate limit: at most {} messages/s (burst {}); message dropped",
                c.messages_per_sec, c.message_burst
            );
            return self.refuse(ws, why).await;
        }
        match msg {
            Message::Text(text) => match serde_json::from_str::<ClientMessage>(text.as_str()) {
                Ok(msg) => self.on_message(ws, msg).await,
                Err(e) => {
                    let mut why = format!("malformed message: {e}");
                    if let Some((cut, _)) = why.char_indices().nth(200) {
                        why.truncate(cut);
                    }
                    self.refuse(ws, why).await
                }
            },
            Message::Binary(_) => {
                self.refuse(
                    ws,
                    "binary messages are not part of the protocol".to_owned(),
                )
                .await
            }
            _ => Ok(()), // pings (answered by tungstenite), pongs
        }
    }

    async fn on_message(&mut self, ws: &mut Ws, msg: ClientMessage) -> Result<(), End> {
        match msg {
            ClientMessage::Join { room, node } => self.on_join(ws, room, node).await,
            ClientMessage::Signal { to, payload } => self.on_signal(ws, to, payload).await,
            ClientMessage::Leave => {
                if self.joined.is_none() {
                    return self.refuse(ws, "not in a room".to_owned()).await;
                }
                self.leave();
                self.join_deadline = Instant::now().checked_add(self.shared.config.join_timeout);
                match self.drain_stale() {
                    None => Ok(()),
                    Some(reason) => {
                        drop(self.write(ws, error(reason)).await);
                        Err(End::Close(CloseCode::Policy, "kicked"))
                    }
                }
            }
        }
    }

    async fn on_join(&mut self, ws: &mut Ws, room: RoomName, node: NodeId) -> Result<(), End> {
        if let Some((current, _)) = &self.joined {
            let why = format!("already in room {current}; leave first");
            return self.refuse(ws, why).await;
        }
        let max = self.shared.config.max_room_members;
        let joined = self
            .shared
            .rooms()
            .join(&room, node, self.id, self.outbox.clone(), max);
        match joined {
            Ok(nodes) => {
                tracing::debug!(id = self.id, %room, node = node.short(), "joined");
                self.joined = Some((room.clone(), node));
                self.join_deadline = None;
                // Written before anything queued meanwhile, so `peers` comes first.
                let peers = ServerMessage::Peers { room, nodes };
                match serde_json::to_string(&peers) {
                    Ok(text) => self.write(ws, Message::text(text)).await,
                    Err(_) => Err(End::Close(CloseCode::Error, "internal error")),
                }
            }
            Err(JoinError::Full) => {
                let why = format!("room {room} is full ({max} members)");
                self.refuse(ws, why).await
            }
        }
    }

    async fn on_signal(&mut self, ws: &mut Ws, to: NodeId, payload: Payload) -> Result<(), End> {
        let Some((room, from)) = &self.joined else {
            return self.refuse(ws, "join a room first".to_owned()).await;
        };
        let relayed = self.shared.rooms().relay(room, *from, to, payload);
        match relayed {
            Ok(()) => Ok(()),
            Err(RelayError::UnknownPeer) => {
                let why = format!("node {to} is not in room {room}");
                self.refuse(ws, why).await
            }
        }
    }

    /// Answers with an error; closes the connection if it has used up its errors.
    async fn refuse(&mut self, ws: &mut Ws, reason: String) -> Result<(), End> {
        if self.errors.allow(Instant::now()) {
            return self.write(ws, error(reason)).await;
        }
        drop(
            self.write(ws, error(format!("{reason}; too many errors, closing")))
                .await,
        );
        Err(End::Close(CloseCode::Policy, "too many errors"))
    }

    async fn write(&mut self, ws: &mut Ws, msg: Message) -> Result<(), End> {
        match timeout(self.shared.config.write_timeout, ws.send(msg)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                tracing::debug!(id = self.id, "write failed: {e}");
                Err(End::Gone)
            }
            Err(_) => Err(End::Close(CloseCode::Away, "write timed out")),
        }
    }

    /// Leaves the room, if in one.
    fn leave(&mut self) {
        if let Some((room, node)) = self.joined.take() {
            self.shared.rooms().leave(&room, node, self.id);
            tracing::debug!(id = self.id, %room, node = node.short(), "left");
        }
    }

    /// Drops messages queued from the room just left, so a later join starts clean.
    /// Returns the reason of a kick found among them.
    fn drain_stale(&mut self) -> Option<String> {
        while let Ok(out) = self.inbox.try_recv() {
            if let Outgoing::Kick(reason) = out {
                return Some(reason);
            }
        }
        None
    }
}

fn error(reason: String) -> Message {
    let msg = ServerMessage::Error { reason };
    Message::text(serde_json::to_string(&msg).unwrap_or_default())
}
