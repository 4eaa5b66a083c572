//! The client the node runtime uses to find peers and exchange signaling payloads.

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use quorate_mesh_proto::mesh::NodeId;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::{HeaderValue, header};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::error::ClientError;
use super::protocol::{ClientMessage, Payload, RoomName, SUBPROTOCOL, ServerMessage};

/// How long connecting and joining may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest server message the client accepts: a full room's peer list fits many times.
const MAX_INCOMING: usize = 1024 * 1024;

/// Events buffered for a slow reader before the client stops reading the socket.
const EVENT_BUFFER: usize = 256;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What the server told this client.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The other members when the join succeeded; always the first event.
    Peers {
        /// The room joined.
        room: RoomName,
        /// The other members.
        nodes: Vec<NodeId>,
    },
    /// A node entered the room, or reconnected.
    Joined(NodeId),
    /// A node left the room.
    Left(NodeId),
    /// A payload from another member. Unauthenticated: check the signature inside.
    Signal {
        /// The sender, as the server saw it join.
        from: NodeId,
        /// The decoded payload.
        payload: Vec<u8>,
    },
    /// The server refused something this client sent, or is about to close.
    Error(String),
    /// The connection ended; no events follow.
    Closed(String),
}

enum Command {
    Send(Utf8Bytes),
}

/// A connection to a rendezvous server, joined to one room.
///
/// A background task owns the socket (answering the server's pings); dropping the client
/// closes the connection.
#[derive(Debug)]
pub struct Client {
    node: NodeId,
    room: RoomName,
    commands: mpsc::Sender<Command>,
    events: mpsc::Receiver<Event>,
    task: JoinHandle<()>,
}

impl Client {
    /// Connects to `url` (`ws://host:port`) and joins `room` as `node`. The room's other
    /// members are the first [`Event::Peers`] from [`Client::next_event`].
    ///
    /// # Errors
    /// [`ClientError::InvalidRoom`], [`ClientError::InvalidUrl`], [`ClientError::Connect`]
    /// (unreachable server, failed handshake), [`ClientError::Timeout`],
    /// [`ClientError::Refused`] (the server's reason, e.g. a full room),
    /// [`ClientError::Protocol`].
    pub async fn connect(url: &str, room: &str, node: NodeId) -> Result<Self, ClientError> {
        let room = RoomName::new(room)?;
        let seconds = CONNECT_TIMEOUT.as_secs();
        let timed_out = || ClientError::Timeout {
            url: url.to_owned(),
            seconds,
        };
        let joined = timeout(CONNECT_TIMEOUT, connect_and_join(url, room.clone(), node));
        let (ws, first) = joined.await.map_err(|_| timed_out())??;
        let (commands, command_rx) = mpsc::channel(64);
        let (event_tx, events) = mpsc::channel(EVENT_BUFFER);
        // The channel is new and empty: this cannot fail.
        drop(event_tx.try_send(first));
        let task = tokio::spawn(pump(ws, command_rx, event_tx));
        Ok(Self {
            node,
            room,
            commands,
            events,
            task,
        })
    }

    /// This client's node id.
    #[must_use]
    pub fn node(&self) -> NodeId {
        self.node
    }

    /// The room joined.
    #[must_use]
    pub fn room(&self) -> &RoomName {
        &self.room
    }

    /// Sends `payload` to node `to` in the same room. Delivery is not confirmed; an
    /// unknown addressee comes back as an [`Event::Error`].
    ///
    /// # Errors
    /// [`ClientError::Payload`] past [`MAX_PAYLOAD`](super::protocol::MAX_PAYLOAD),
    /// [`ClientError::Closed`] once the connection has ended.
    pub async fn send_signal(&self, to: NodeId, payload: &[u8]) -> Result<(), ClientError> {
        let msg = ClientMessage::Signal {
            to,
            payload: Payload::encode(payload)?,
        };
        let text = serde_json::to_string(&msg).map_err(|e| ClientError::Protocol(e.to_string()))?;
        let command = Command::Send(text.into());
        self.commands
            .send(command)
            .await
            .map_err(|_| ClientError::Closed)
    }

    /// Like [`Client::send_signal`] but without waiting: for synchronous event loops.
    ///
    /// # Errors
    /// [`ClientError::Payload`] past [`MAX_PAYLOAD`](super::protocol::MAX_PAYLOAD),
    /// [`ClientError::Busy`] when 64 messages already wait for the socket,
    /// [`ClientError::Closed`] once the connection has ended.
    pub fn try_send_signal(&self, to: NodeId, payload: &[u8]) -> Result<(), ClientError> {
        let msg = ClientMessage::Signal {
            to,
            payload: Payload::encode(payload)?,
        };
        let text = serde_json::to_string(&msg).map_err(|e| ClientError::Protocol(e.to_string()))?;
        self.commands
            .try_send(Command::Send(text.into()))
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => ClientError::Busy,
                mpsc::error::TrySendError::Closed(_) => ClientError::Closed,
            })
    }

    /// The next event, or `None` after [`Event::Closed`].
    pub async fn next_event(&mut self) -> Option<Event> {
        self.events.recv().await
    }

    /// Leaves the room and closes the connection politely.
    pub async fn close(self) {
        let Self { commands, task, .. } = self;
        if let Ok(text) = serde_json::to_string(&ClientMessage::Leave) {
            drop(commands.send(Command::Send(text.into())).await);
        }
        drop(commands); // the task closes the socket and ends
        drop(timeout(Duration::from_secs(5), task).await);
    }
}

async fn connect_and_join(
    url: &str,
    room: RoomName,
    node: NodeId,
) -> Result<(Ws, Event), ClientError> {
    let invalid = |source| ClientError::InvalidUrl {
        url: url.to_owned(),
        source,
    };
    let mut request = url.into_client_request().map_err(|e| invalid(e.into()))?;
    request.headers_mut().insert(
        header::SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_static(SUBPROTOCOL),
    );
    let config = WebSocketConfig::default()
        .read_buffer_size(16 * 1024)
        .max_message_size(Some(MAX_INCOMING))
        .max_frame_size(Some(MAX_INCOMING));
    let connect = tokio_tungstenite::connect_async_with_config(request, Some(config), true);
    let (mut ws, _response) = connect.await.map_err(|e| ClientError::Connect {
        url: url.to_owned(),
        source: e.into(),
    })?;
    let join = serde_json::to_string(&ClientMessage::Join { room, node })
        .map_err(|e| ClientError::Protocol(e.to_string()))?;
    let lost = |e: tokio_tungstenite::tungstenite::Error| ClientError::Connect {
        url: url.to_owned(),
        source: e.into(),
    };
    ws.send(Message::text(join)).await.map_err(lost)?;
    loop {
        let msg = ws.next().await.ok_or(ClientError::Closed)?.map_err(lost)?;
        let Message::Text(text) = msg else { continue };
        return match serde_json::from_str::<ServerMessage>(text.as_str()) {
            Ok(ServerMessage::Peers { room, nodes }) => Ok((ws, Event::Peers { room, nodes })),
            Ok(ServerMessage::Error { reason }) => Err(ClientError::Refused { reason }),
            Ok(other) => Err(ClientError::Protocol(format!(
                "expected peers, got {other:?}"
            ))),
            Err(e) => Err(ClientError::Protocol(e.to_string())),
        };
    }
}

/// Owns the socket: writes commands, turns server messages into events.
async fn pump(mut ws: Ws, mut commands: mpsc::Receiver<Command>, events: mpsc::Sender<Event>) {
    let reason = loop {
        tokio::select! {
            command = commands.recv() => match command {
                Some(Command::Send(text)) => {
                    if let Err(e) = ws.send(Message::Text(text)).await {
                        break format!("send failed: {e}");
                    }
                }
                None => {
                    drop(timeout(Duration::from_secs(5), ws.close(None)).await);
                    return;
                }
            },
            msg = ws.next() => {
                let text = match msg {
                    None => break "closed by the server".to_owned(),
                    Some(Err(e)) => break format!("connection lost: {e}"),
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(frame))) => {
                        break frame.map_or_else(|| "closed by the server".to_owned(), |f| {
                            format!("closed by the server: {}", f.reason)
                        });
                    }
                    Some(Ok(_)) => continue, // pings are answered by tungstenite
                };
                let Some(event) = to_event(text.as_str()) else { continue };
                if events.send(event).await.is_err() {
                    return; // the client was dropped
                }
            }
        }
    };
    drop(events.send(Event::Closed(reason)).await);
}

fn to_event(text: &str) -> Option<Event> {
    let msg = match serde_json::from_str::<ServerMessage>(text) {
        Ok(msg) => msg,
        Err(e) => {
            tracing::warn!("ignoring an unreadable rendezvous message: {e}");
            return None;
        }
    };
    Some(match msg {
        ServerMessage::Peers { room, nodes } => Event::Peers { room, nodes },
        ServerMessage::Joined { node } => Event::Joined(node),
        ServerMessage::Left { node } => Event::Left(node),
        ServerMessage::Signal { from, payload } => match payload.decode() {
            Ok(payload) => Event::Signal { from, payload },
            Err(_) => return None,
        },
        ServerMessage::Error { reason } => Event::Error(reason),
    })
}
