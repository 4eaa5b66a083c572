//! # quorate-mesh-transport
//!
//! Everything between the sans-IO mesh machine ([`quorate_mesh_proto::mesh::Mesh`]) and a
//! network:
//!
//! - [`Transport`]: the small trait a network must implement — dial a node id, send a
//!   frame with backpressure, close, and report events. The WebRTC adapters implement
//!   it; nothing in it knows about simulation.
//! - [`Driver`]: the generic glue that owns one `Mesh`, one transport and one
//!   [`BlockStore`](quorate_mesh_blockstore::BlockStore) and drives the machine by its
//!   poll contract.
//! - [`MemoryNetwork`]: transports in one process with immediate FIFO delivery, for unit
//!   tests and embedding.
//! - [`sim`]: a deterministic discrete-event simulator for meshes of thousands of nodes
//!   with latency, loss, duplication, reordering, partitions, churn, tampering and
//!   byzantine nodes, invariant checks after every event, a replayable trace and
//!   metrics.
//! - `webrtc` (behind features): native WebRTC transports over str0m or webrtc-rs, one
//!   UDP socket and one IO thread per node, with signaling messages signed by the node
//!   key. See the module docs for the design, the signaling format and measured numbers.
//!
//! # Sans-IO
//! The mesh machine never performs IO, reads a clock or draws randomness; this crate is
//! where those meet it, and still none of it reads a clock: every driver call takes
//! `now` as an argument. [`MemoryNetwork`] and [`sim`] involve no sockets or threads, so
//! a whole mesh runs inside one test, on virtual time, reproducibly.
//!
//! # Driving
//! A node runtime (or a test) owns one [`Driver`] per node and runs this loop:
//!
//! 1. Build it: `Driver::new(Mesh::new(config, now), transport, store)`.
//! 2. Issue commands with [`Driver::handle`] (subscribe, publish, want, set a head, send
//!    a signal) and dial peers with [`Driver::connect`].
//! 3. Whenever the transport may have something, or [`Driver::poll_timeout`] has passed,
//!    call [`Driver::pump`]`(now)`: it turns transport events into machine inputs, fires
//!    due timers, and carries out every output (frames out, blocks stored and loaded).
//! 4. Drain [`Driver::poll_event`] for deliveries, peers, misbehaviour and store errors.
//!
//! ```
//! use quorate_mesh_blockstore::{MemoryStore, StoreConfig};
//! use quorate_mesh_proto::mesh::{Config, Event, Input, Mesh, NodeKey, Topic};
//! use quorate_mesh_proto::{payloads::Text, Block, Instant};
//! use quorate_mesh_transport::{Driver, DriverEvent, MemoryNetwork};
//!
//! let net = MemoryNetwork::new();
//! let now = Instant::ZERO;
//! let mut node = |n: u8| -> Result<_, Box<dyn std::error::Error>> {
//!     let key = NodeKey::from_secret([n; 32]);
//!     let transport = net.transport(key.id())?;
//!     let mesh = Mesh::new(Config::new(key, [n; 32]), now);
//!     Ok(Driver::new(mesh, transport, MemoryStore::new(StoreConfig::default())))
//! };
//! let (mut a, mut b) = (node(1)?, node(2)?);
//! let topic = Topic::new("chat")?;
//! a.handle(now, Input::Subscribe(topic.clone()))?;
//! b.handle(now, Input::Subscribe(topic.clone()))?;
//! a.connect(b.mesh().id())?;
//! while a.pump(now) + b.pump(now) > 0 {} // until the handshake is done
//!
//! let hello = Block::encode(&Text { body: "hello".into() })?;
//! a.handle(now, Input::Publish { topic, block: hello.clone() })?;
//! b.pump(now);
//! let delivered = std::iter::from_fn(|| b.poll_event()).any(|e| {
//!     matches!(e, DriverEvent::Mesh(Event::Delivered { block, .. }) if block == hello)
//! });
//! assert!(delivered);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Errors and panics
//! Nothing here panics on peer data or on a failing store. Errors are typed and
//! `#[non_exhaustive]`: [`TransportError`] (a dial that cannot start),
//! [`SendError`] (backpressure or a closed connection), [`DriverError`] (a command the
//! machine refused). Store failures and transport bugs do not stop a driver: they become
//! [`DriverEvent::StoreFailed`] and [`DriverEvent::InputRejected`]. The simulator
//! returns [`sim::SimError`]; a broken invariant is [`sim::InvariantViolation`], whose
//! message (also its `Debug`, so `unwrap` shows it) ends in `QUORATE_SIM_SEED=<seed>`.
//!
//! # Features
//! None by default: the core of this crate has no IO and no async runtime.
//!
//! - `str0m`: `webrtc::str0m`, the WebRTC adapter on [str0m](https://crates.io/crates/str0m)
//!   (sans-IO; crypto by aws-lc-rs, which builds C code).
//! - `webrtc-rs`: `webrtc::webrtc_rs`, the WebRTC adapter on webrtc-rs' sans-IO core
//!   [`rtc`](https://crates.io/crates/rtc) (crypto by ring).
//! - `webrtc-signaling`: only `webrtc::signaling` (signed offer/answer messages) and
//!   `webrtc::framing` (frames over DataChannel messages), without IO or tokio — for
//!   carriers of signals (a rendezvous server) and other WebRTC stacks (the browser).
//!   Also `webrtc::envelope`, the node envelope (WebRTC signal or peer list) every carrier
//!   uses. Both adapters imply it.
//! - `fuzzing`: a hidden `webrtc::fuzzing` module exposing the STUN response decoder to the
//!   fuzz targets (`fuzz/`); not for applications.
//!
//! Both adapters pull in tokio (a current-thread runtime on the adapter's own IO
//! thread, so the application may use any runtime or none) and socket2.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod driver;
mod memory;
pub mod sim;
mod transport;
#[cfg(feature = "webrtc-signaling")]
pub mod webrtc;

pub use driver::{Driver, DriverError, DriverEvent, EVENT_QUEUE_CAP, StoreOp};
pub use memory::{DEFAULT_CAPACITY, MemoryNetwork, MemoryTransport};
pub use transport::{SendError, Transport, TransportError, TransportEvent};
