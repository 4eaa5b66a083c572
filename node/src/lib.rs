//! # quorate-node
//!
//! The runtime that drives the sans-IO machines with real IO, and the `quorate` binary.
//!
//! - [`runtime`]: the node. A tokio event loop ([`runtime::Node`]) that owns the clock,
//!   OS randomness, the node key, a persistent [`RedbStore`](quorate_mesh_blockstore::RedbStore),
//!   a WebRTC transport (webrtc-rs by default, str0m with the `str0m` feature) and the
//!   signaling carriers, and drives the mesh machine by its poll contract. Local tools talk
//!   to it over a control socket ([`runtime::control`]); [`runtime::files`] puts and gets
//!   files through it.
//! - [`rendezvous`]: the WebSocket rendezvous server where nodes meet in rooms and
//!   exchange WebRTC signaling payloads, and the client the node uses to reach it.
//! - [`web`]: a small static file server for the browser node (the page, its wasm and a
//!   generated `/config.json` naming the rendezvous server and the serving node), run by
//!   `quorate node --serve-web ADDR` or `quorate rendezvous --serve-web ADDR`.
//!
//! # Embedding a node
//! ```no_run
//! use quorate_node::runtime::{Node, NodeConfig};
//!
//! # async fn run() -> Result<(), quorate_node::runtime::NodeError> {
//! let mut config = NodeConfig::new("/tmp/quorate-a");
//! config.rendezvous = Some("ws://127.0.0.1:7480".to_owned());
//! let node = Node::start(config).await?; // key, store, UDP socket, first contact
//! println!("node {} on udp {}", node.info().id, node.info().udp);
//! node.run(async { tokio::signal::ctrl_c().await.ok(); }).await; // until ctrl-c
//! # Ok(()) }
//! ```
//!
//! # The command line
//! `quorate rendezvous --listen 127.0.0.1:7480`; `quorate node --rendezvous
//! ws://127.0.0.1:7480 --data DIR`; `quorate put FILE --data DIR` (prints a CID);
//! `quorate get CID --data DIR --out FILE`; `quorate status --data DIR`; `quorate signal
//! offer|accept` to connect two nodes by copy-paste; `--serve-web 127.0.0.1:8080` on
//! `quorate node` or `quorate rendezvous` also serves the browser page (build it first
//! with `scripts/build-web`; `--web-dir` if not run from the repository root); `quorate
//! demo` runs the whole flow (group, FROST committee, vote, attestation, action, removal)
//! on five node processes and narrates it. `quorate --help` explains each.
//!
//! # Sans-IO
//! This crate is where IO lives: it has sockets, tasks and clocks, and the cores below it
//! do not. Its own logic is limited to routing signals (which carrier reaches which
//! node), whom to dial, and bookkeeping for the control socket. The web server's request
//! parser and path normaliser ([`web::request`]) are sans-IO like the cores.
//!
//! # Errors and panics
//! Errors are typed and `#[non_exhaustive]`: [`runtime::NodeError`] (a corrupt key file,
//! a locked or corrupt store, an address that cannot be bound, an unreachable rendezvous
//! server — each message names the file or address), [`runtime::files::FileError`],
//! [`runtime::control::ControlError`], [`rendezvous::BindError`],
//! [`rendezvous::ClientError`], [`web::WebError`]. Nothing a peer, a rendezvous server,
//! a local control client or a browser sends can make this crate panic: the workspace
//! lints deny `unwrap`, `expect`, indexing and `panic!` here, and tests feed garbage on
//! every path.
//!
//! # Logging
//! Through [`tracing`]; the binary installs a subscriber filtered by `RUST_LOG`
//! (default `info`): peers up and down, fetches, misbehaviour, signaling refusals.
//! Per-message detail is at `debug`.
//!
//! # Features
//! `str0m`: the str0m WebRTC stack as an alternative (`quorate node --stack str0m`). No
//! TLS: run the rendezvous server behind a TLS-terminating proxy for `wss://`.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod accept;
pub mod rendezvous;
pub mod runtime;
pub mod web;
