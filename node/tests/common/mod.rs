//! Helpers shared by the integration tests: a rendezvous server on 127.0.0.1:0, raw
//! WebSocket clients, and reads that fail a test instead of hanging it; [`process`] runs
//! the `quorate` binary.

#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test helpers shared by several test files; each uses a different subset"
)]

pub mod cli;
pub mod process;

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use quorate_mesh_proto::mesh::NodeId;
use quorate_node::rendezvous::{Client, Event, Server, ServerConfig};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long any single expected event may take.
pub const WAIT: Duration = Duration::from_secs(5);

pub type RawWs = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub struct TestServer {
    pub addr: SocketAddr,
    pub url: String,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tune: impl FnOnce(&mut ServerConfig)) -> Self {
        let mut config = ServerConfig::new("127.0.0.1:0".parse().unwrap());
        tune(&mut config);
        let server = Server::bind(config).await.unwrap();
        let addr = server.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async { drop(stopped.await) }));
        Self {
            addr,
            url: format!("ws://{addr}"),
            stop,
            task,
        }
    }

    /// Shuts down and checks that `run` returned.
    pub async fn stop(self) {
        self.stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .unwrap()
            .unwrap();
    }
}

pub fn node(n: u8) -> NodeId {
    NodeId::from_bytes([n; 32])
}

pub async fn client(url: &str, room: &str, n: u8) -> Client {
    let mut c = Client::connect(url, room, node(n)).await.unwrap();
    match next(&mut c).await {
        Event::Peers { .. } => {}
        other => panic!("expected peers first, got {other:?}"),
    }
    c
}

pub async fn next(c: &mut Client) -> Event {
    tokio::time::timeout(WAIT, c.next_event())
        .await
        .expect("an event in time")
        .expect("the connection to be open")
}

pub async fn raw(url: &str) -> RawWs {
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

pub async fn send_text(ws: &mut RawWs, text: impl Into<String>) {
    ws.send(Message::text(text.into())).await.unwrap();
}

/// The next text message as JSON; panics on close or timeout.
pub async fn recv_json(ws: &mut RawWs) -> Value {
    loop {
        let msg = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a message in time");
        match msg.expect("open").expect("no error") {
            Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("expected text, got {other:?}"),
        }
    }
}

/// Reads until the server closes; returns the close frame and the error reasons seen.
pub async fn read_until_closed(ws: &mut RawWs) -> (Option<CloseFrame>, Vec<String>) {
    let mut reasons = Vec::new();
    loop {
        let msg = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("closed in time");
        match msg {
            None | Some(Err(_)) => return (None, reasons),
            Some(Ok(Message::Close(frame))) => return (frame, reasons),
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                if v["type"] == "error" {
                    reasons.push(v["reason"].as_str().unwrap().to_owned());
                }
            }
            Some(Ok(_)) => {}
        }
    }
}

pub fn join_json(room: &str, n: u8) -> String {
    format!(r#"{{"type":"join","room":"{room}","node":"{}"}}"#, node(n))
}

pub fn signal_json(to: u8, payload_b64: &str) -> String {
    format!(
        r#"{{"type":"signal","to":"{}","payload":"{payload_b64}"}}"#,
        node(to)
    )
}
