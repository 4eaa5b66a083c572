//! The rendezvous (signaling) server and its client.
//!
//! Nodes that know nothing of each other meet here: each joins a room (a namespace) and
//! learns who else is in it, then the nodes exchange WebRTC offers and answers as opaque
//! signal payloads through the server until they have a direct connection. Once a node
//! has one mesh peer, signaling can go through the mesh and this server is no longer
//! needed.
//!
//! # Protocol, version 1
//! WebSocket (`ws://host:port/`, any path), subprotocol [`protocol::SUBPROTOCOL`]
//! (`quorate-rendezvous.v1`; a client offering none is served version 1, one offering
//! only others is refused at the handshake). Every message is one JSON text frame with a
//! `"type"`. Node ids are 64 lower-case hex characters (an Ed25519 public key); rooms are
//! 1–64 characters from `a-z 0-9 - _ / .`; payloads are standard padded base64 of at most
//! 32 KiB. Unknown fields are ignored.
//!
//! Client → server:
//!
//! | message | meaning |
//! |---|---|
//! | `{"type":"join","room":R,"node":N}` | enter room `R` as node `N`; answered by `peers` or `error` |
//! | `{"type":"signal","to":N,"payload":B64}` | relay to node `N` in the same room; not acknowledged |
//! | `{"type":"leave"}` | leave the room; the connection stays open and may join again |
//!
//! Server → client:
//!
//! | message | meaning |
//! |---|---|
//! | `{"type":"peers","room":R,"nodes":[N,…]}` | the join succeeded; the other members, ascending |
//! | `{"type":"joined","node":N}` | `N` entered the room (again, if it was there: it reconnected) |
//! | `{"type":"left","node":N}` | `N` left or disconnected |
//! | `{"type":"signal","from":N,"payload":B64}` | a payload from `N`, a member of the same room |
//! | `{"type":"error","reason":TEXT}` | a refusal; the connection stays open unless the server closes it right after |
//!
//! Rules:
//! - A connection is in at most one room. Signals go only to members of the sender's room.
//! - A node id joining a room it is already in replaces the older connection, which gets
//!   an `error` and is closed; the others see `joined` again, not `left`.
//! - The server keeps no state beyond presence (rooms → connected members) and stores
//!   nothing.
//! - On shutdown every connection is closed with code 1001, without `left` messages.
//!
//! # Trust
//! The server is not trusted with anything but availability. Payloads are opaque: the
//! WebRTC layer signs each SDP offer and answer with the node key inside the payload, and
//! the node id *is* that key, so a server that altered a payload (to substitute a DTLS
//! fingerprint) or forged a `from` would break the signature and be detected. It can
//! still drop, delay or withhold messages and lie about presence; a node that finds one
//! peer no longer depends on it.
//!
//! # Abuse limits
//! All in [`ServerConfig`]; nothing a client sends can stop the server or another
//! connection.
//!
//! | limit | default | past it |
//! |---|---|---|
//! | message size | 64 KiB | `error`, close 1009 |
//! | rate, every frame counts | 20/s, burst 40 | message dropped with an `error` |
//! | errors (malformed JSON, unknown `type`, binary frames, invalid fields, rate excess, signals to absent nodes) | 10 in a burst, one forgiven per 5 s | close 1008 |
//! | members per room | 1,000 | join refused |
//! | connections | 1,024 | HTTP 503 |
//! | time to join (again, after a leave) | 30 s | `error`, close 1008 |
//! | WebSocket handshake | 10 s | dropped |
//! | silence (the server pings every 20 s) | 60 s | close 1001 |
//! | unread messages queued for one client | 256 KiB | `error`, close 1008; it rejoins for a fresh peer list |
//! | one write to a client | 10 s | close 1001 |
//!
//! # Driving
//! 1. [`Server::bind`] a [`ServerConfig`]; read [`Server::local_addr`].
//! 2. [`Server::run`] with a shutdown future (e.g. `ctrl_c`); it returns after closing
//!    every connection.
//! 3. Nodes [`Client::connect`], read [`Client::next_event`] and
//!    [`Client::send_signal`].
//!
//! ```
//! use quorate_mesh_proto::mesh::NodeId;
//! use quorate_node::rendezvous::{Client, Event, Server, ServerConfig};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = Server::bind(ServerConfig::new("127.0.0.1:0".parse()?)).await?;
//! let url = format!("ws://{}", server.local_addr());
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let running = tokio::spawn(server.run(async { drop(stopped.await) }));
//!
//! let (a, b) = (NodeId::from_bytes([1; 32]), NodeId::from_bytes([2; 32]));
//! let mut alice = Client::connect(&url, "demo", a).await?;
//! let mut bob = Client::connect(&url, "demo", b).await?;
//! assert_eq!(bob.next_event().await, Some(Event::Peers { room: "demo".parse()?, nodes: vec![a] }));
//! alice.send_signal(b, b"offer").await?;
//! assert_eq!(bob.next_event().await, Some(Event::Signal { from: a, payload: b"offer".to_vec() }));
//!
//! drop(stop.send(()));
//! running.await?;
//! assert!(matches!(alice.next_event().await, Some(Event::Peers { .. })));
//! assert!(matches!(alice.next_event().await, Some(Event::Joined(n)) if n == b));
//! # Ok(())
//! # }
//! ```

mod client;
mod config;
mod connection;
mod error;
mod limits;
pub mod protocol;
mod rooms;
mod server;

pub use client::{CONNECT_TIMEOUT, Client, Event};
pub use config::ServerConfig;
pub use error::{BindError, BoxError, ClientError};
pub use server::Server;
