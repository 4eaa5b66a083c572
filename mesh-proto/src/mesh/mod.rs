//! The mesh machine: a sans-IO node of the Quorate mesh.
//!
//! One [`Mesh`] per device or browser tab. It speaks the frame protocol of [`Frame`] with
//! each connected peer and decides everything — handshake, block exchange, topic gossip,
//! named heads, relayed signaling, rate limits and scores — while the driver owns the
//! sockets, the clock and the block store.
//!
//! # Protocol in one screen
//! - **Handshake.** `Hello { versions, node, limits, nonce }` each way, then `Auth` each way:
//!   an Ed25519 signature by the node key over the sender's own Hello and the peer's nonce.
//!   Incompatible versions, a node id other than the one dialed, a banned node, nonsense
//!   limits or a bad signature refuse the connection with a [`RefuseReason`].
//! - **Blocks.** `Have`, `Want` (priority, cancel), `DontHave`, `Block`. Every block received
//!   is checked against its CID before it is stored, delivered or forwarded.
//! - **Gossip.** Plumtree per topic (see the `gossip` module docs for the design and why):
//!   eager push along a self-repairing spanning tree, `IHave` lazy push, `Graft`/`Prune`,
//!   a seen-cache with TTL, periodic anti-entropy. Blocks up to `inline_max` ride inside the
//!   gossip frame; larger ones are announced and fetched by want.
//! - **Heads.** Upper layers register named heads (an actor's feed head, a group's epoch);
//!   they are announced on connect, on change and periodically. An application looking
//!   for a head it does not have asks with `HeadQuery`; every answer is reported, so a
//!   lying peer cannot hide an honest one behind a higher sequence number, and the
//!   application reports lies with [`Input::Penalize`].
//! - **Signaling.** Opaque payloads (SDP/ICE) relayed to nodes we are not connected to.
//! - **Abuse controls.** Per-peer token buckets (frames/s, bytes/s) and a global byte
//!   bucket, size caps before parsing, list caps after, bounded outboxes that drop lazy
//!   frames first, and a score per peer: useful deliveries raise it, malformed, forged,
//!   duplicate-flooding or rate-limited traffic lowers it; at the graylist threshold its
//!   frames are ignored, at the disconnect threshold it is cut off and banned. Higher
//!   scores are asked first for wanted blocks, so relaying earns priority.
//!
//! # Driving
//! 1. `Mesh::new(config, now)`.
//! 2. Feed [`Input`]s with `handle_input(now, …)`: connections opening and closing, frame
//!    bytes, writability, answers to `LoadBlock`, and application commands.
//! 3. After **every** call, drain `poll_output()` until `None`: send frames, close
//!    connections, store and load blocks, surface events.
//! 4. Call `handle_timeout(now)` when `poll_timeout()` says (early calls are harmless),
//!    then drain again.
//!
//! ```
//! use quorate_mesh_proto::mesh::{ApiMisuse, Config, ConnId, Input, Mesh, NodeKey, Output};
//! use quorate_mesh_proto::Instant;
//!
//! /// Moves every frame `from` wants to send into `to`; true if anything moved.
//! fn pump(from: &mut Mesh, to: &mut Mesh, now: Instant) -> Result<bool, ApiMisuse> {
//!     let mut moved = false;
//!     while let Some(out) = from.poll_output() {
//!         if let Output::Send { frame, .. } = out {
//!             to.handle_input(now, Input::Frame { conn: ConnId(1), bytes: &frame })?;
//!             moved = true;
//!         }
//!     }
//!     Ok(moved)
//! }
//!
//! let t0 = Instant::ZERO;
//! let mut a = Mesh::new(Config::new(NodeKey::from_secret([1; 32]), [1; 32]), t0);
//! let mut b = Mesh::new(Config::new(NodeKey::from_secret([2; 32]), [2; 32]), t0);
//! a.handle_input(t0, Input::Connected { conn: ConnId(1), expected: None })?;
//! b.handle_input(t0, Input::Connected { conn: ConnId(1), expected: Some(a.id()) })?;
//! while pump(&mut a, &mut b, t0)? | pump(&mut b, &mut a, t0)? {}
//! assert_eq!(a.peers().len(), 1);
//! assert_eq!(b.peers()[0].1, a.id());
//! # Ok::<(), ApiMisuse>(())
//! ```

mod abuse;
mod config;
mod frame;
mod gossip;
mod handshake;
mod heads;
mod identity;
mod machine;
mod peer;
mod signal;
#[cfg(feature = "test-util")]
pub mod testing;
mod types;
mod want;

pub use config::{Config, ScoreConfig};
pub use frame::{
    Auth, BlockFrame, Frame, FrameError, GossipFrame, Head, Hello, MAX_FRAME_SIZE,
    MAX_HEAD_NAME_LEN, MAX_HEAD_QUERY, MAX_LIST, MAX_REASON_LEN, MAX_SIGNAL_PAYLOAD, MAX_TOPIC_LEN,
    PROTOCOL_VERSIONS, PeerLimits, SignalFrame, Topic, TopicIds, WantEntry,
};
pub use identity::{NodeId, NodeIdParseError, NodeKey};
pub use machine::Mesh;
pub use types::{
    ApiMisuse, ConnId, DownReason, Event, Input, Misbehaviour, Output, RefuseReason, Stats,
};
