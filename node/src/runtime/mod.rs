//! The node runtime: a tokio event loop that drives the mesh machine with real IO.
//!
//! A [`Node`] owns everything the sans-IO cores leave out:
//!
//! - the **clock** (microseconds since start, fed to the machine as its `Instant`) and
//!   **OS randomness** (the machine's seed, the key on first start);
//! - the **identity**: `DIR/node.key`, created on first start ([`keyfile`]);
//! - the **block store**: a [`RedbStore`](quorate_mesh_blockstore::RedbStore) at
//!   `DIR/blocks.redb`, every put committed durably (the file is locked: one node per
//!   directory);
//! - the **transport**: a WebRTC adapter of `quorate_mesh_transport::webrtc` (webrtc-rs by
//!   default, str0m with the `str0m` feature), its UDP socket bound to
//!   [`NodeConfig::listen`];
//! - **signaling**, three ways, all carrying the same signed WebRTC payloads inside the
//!   node envelope of `quorate_mesh_transport::webrtc::envelope`: the rendezvous server (first contact), the mesh (signals
//!   relayed by peers, once a node has one), and copy-paste through the control socket;
//! - the **control socket** `DIR/control.sock` ([`control`]) for `quorate put`, `get`,
//!   `status` and `signal`.
//! - optionally, the **browser page** over HTTP ([`NodeConfig::web`], `quorate node
//!   --serve-web ADDR`): [`crate::web`] serves the page, its wasm and a `/config.json`
//!   naming this node and its rendezvous server, from its own task.
//!
//! # The loop
//! [`Node::run`] waits for the first of: the transport's notification, the machine's next
//! timer, a control request, a rendezvous message, a shutdown signal. Then it runs one
//! step: `Driver::pump(now)` (transport events and due timers, each followed by draining
//! the machine's outputs — the poll contract), then the driver's events, then the
//! transport's outgoing signals, repeated until nothing is left.
//!
//! # Finding peers
//! A node joining a rendezvous room dials the members it finds there (members already in
//! the room wait to be dialed, so two nodes rarely dial each other at once; when they do,
//! the transport's tie-break keeps one connection). When a mesh handshake completes, each
//! side sends the other its list of peers as a mesh signal (authenticated by the mesh),
//! and the receiver dials those it is not connected to, up to [`NodeConfig::max_peers`].
//! Outgoing WebRTC signals go by copy-paste if the peer is being connected by hand, else
//! through the rendezvous server if the peer is in the room, else through the mesh — so
//! when the server goes away, nodes keep finding each other through their peers. A lost
//! server is retried with backoff (1 s doubling to 30 s).
//!
//! # Bad input
//! Frames from peers are judged by the mesh machine (scores, graylist, cut-off, ban).
//! Signals are checked by the transport (signature by the claimed sender, addressed to
//! us); a sender of [`NodeConfig::bad_signal_limit`] refused signals is ignored for ten
//! minutes. Over the rendezvous server the sender is only what the server says, so this
//! ignore list is per carrier in effect: the same node can still reach us through the
//! mesh, where senders are authenticated.
//!
//! # Shutdown
//! On the future given to [`Node::run`] (the binary: SIGINT or SIGTERM) the node stops
//! taking control requests, leaves the rendezvous room, closes its peer connections
//! (peers see them close at once) and closes the store, releasing its lock.

pub mod actor_files;
mod actors;
pub mod config;
pub mod control;
mod control_server;
mod events;
pub mod files;
mod group_commands;
pub mod group_control;
mod groups;
pub mod keyfile;
mod markers;
mod node;
mod requests;
mod trigger;

pub use config::{NodeConfig, Stack};
pub use node::{Node, NodeError, NodeInfo, STORE_FILE};
