//! # quorate-node
//!
//! The runtime that drives the sans-IO machines with real IO. Today it holds the
//! [`rendezvous`] server and client, the first piece of the node: a WebSocket server
//! where nodes meet in rooms and exchange WebRTC signaling payloads, and the client the
//! node runtime uses to reach it. The `quorate` binary wraps them in a command-line tool
//! (`quorate rendezvous --listen 127.0.0.1:PORT`). Coming next: the tokio event loop that
//! owns the clock, OS randomness, the persistent block store and the WebRTC transports,
//! and drives the mesh machine by its poll contract.
//!
//! # Sans-IO
//! This crate is where IO lives: it has sockets, tasks and clocks, and the cores below it
//! do not. It adds no protocol logic of its own beyond rendezvous presence.
//!
//! # Driving
//! See [`rendezvous`] for the server and client loop, with an example, and the wire
//! protocol.
//!
//! # Errors and panics
//! Errors are typed and `#[non_exhaustive]`: [`rendezvous::BindError`] (bad limits, or
//! an address that cannot be bound, named in the message) and
//! [`rendezvous::ClientError`]. Nothing a client or server sends can make this crate
//! panic or stop the server: bad input becomes an `error` message, and repeated bad input
//! or a flood closes that one connection. The workspace lints deny `unwrap`, `expect`,
//! indexing and `panic!` here.
//!
//! # Logging
//! Through [`tracing`]; the binary installs a subscriber filtered by `RUST_LOG`
//! (default `info`). Per-connection events are at `debug`.
//!
//! # Features
//! None. No TLS: run the server behind a TLS-terminating proxy for `wss://`.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod rendezvous;
