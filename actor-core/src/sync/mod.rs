//! Rehydration: fetch, verify and rebuild an actor's state from whoever has it.
//!
//! Two sans-IO machines share one output vocabulary:
//!
//! - [`FeedSync`] follows one actor's feed: it asks peers for the feed head, fetches the
//!   signed head, the index pages, every entry and every block the entries reference, checks
//!   all of it, and reports [`Event::Complete`] with the rebuilt [`FeedSnapshot`]. A node
//!   that replicates feeds runs one per followed actor with `announce` on, so it serves
//!   the head to others once verified.
//! - [`Login`] is "log in anywhere": from a handle and passphrase it finds the encrypted key
//!   backup on the mesh, opens it, and then runs a `FeedSync` for the recovered actor.
//!
//! # Driving
//! [`feed_event`] and [`drain`] do all of the following for any runtime; the native node,
//! the browser node and the simulator tests use them.
//!
//! The machines never touch a store or a socket. After every call, drain
//! [`poll_output`](FeedSync::poll_output) and carry out each [`Output`]:
//!
//! - `QueryHeads(names)` → the mesh's `Input::QueryHeads`;
//! - `Need { cid, priority }` → look in the local store first and, if the block is there,
//!   hand it back at once with `handle_block(now, block, None)`; otherwise the mesh's
//!   `Input::Want`. Blocks the mesh fetches (`Event::Fetched { block, from }`) go to
//!   `handle_block(now, block, Some(from))` — the same replication path as any message;
//! - `Penalize { node, reason }` → the mesh's `Input::Penalize`;
//! - `Announce(head)` → the mesh's `Input::SetHead`;
//! - `Event(..)` → the application.
//!
//! Mesh `Event::HeadUpdated { head, from }` goes to `handle_head`; call `handle_timeout`
//! when [`poll_timeout`](FeedSync::poll_timeout) says.
//!
//! # Churn and garbage
//! Any peer that has a block will do: wants stay open in the mesh and move to other peers
//! when one leaves. Blocks are authenticated by their CIDs inside the mesh (a forged block
//! costs its sender score there). The one thing a peer can lie about is which block a head
//! names: a head whose block is not a valid head signed by the actor makes the machine
//! penalise every peer that announced it and carry on with another candidate. Among valid
//! heads the highest `seq` wins (then the smaller CID); two valid heads or entries for the
//! same `seq` become [`crate::feed::Equivocation`] evidence.

mod drive;
mod feed_sync;
mod login;

pub use drive::{Drained, Machine, drain, feed_event};
pub use feed_sync::{FeedSnapshot, FeedSync};
pub use login::Login;

use quorate_mesh_proto::mesh::{Head, NodeId};
use quorate_mesh_proto::{Cid, Duration};

use crate::feed::{Equivocation, FeedError};
use crate::id::ActorId;

/// Settings shared by the machines.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Config {
    /// Most blocks asked for and not yet received.
    pub window: usize,
    /// Fetch the blocks entries reference, not only the entries.
    pub fetch_payloads: bool,
    /// Announce the head once the whole feed verified (replicas and the owner do).
    pub announce: bool,
    /// How often to ask for heads again until the feed is complete.
    pub requery: Duration,
    /// How often to ask again once it is (new entries also arrive as head announcements).
    pub refresh: Duration,
    /// Heads of longer feeds are ignored: every entry is pinned, so this is the quota one
    /// followed actor may use (seq `max_entries - 1` is the last accepted).
    pub max_entries: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            window: 2048,
            fetch_payloads: true,
            announce: false,
            requery: Duration::from_secs(5),
            refresh: Duration::from_secs(60),
            max_entries: 1_000_000,
        }
    }
}

/// Something the driver must do. `E` is the machine's event type: [`Event`] for the feed
/// machines here; other layers (groups) reuse the vocabulary with their own events.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Output<E = Event> {
    /// Ask peers for these heads.
    QueryHeads(Vec<String>),
    /// Obtain this block: the local store first, else the mesh.
    Need {
        /// The block.
        cid: Cid,
        /// Mesh want priority.
        priority: u8,
    },
    /// Lower this peer's score: it announced something invalid.
    Penalize {
        /// The peer.
        node: NodeId,
        /// Why.
        reason: String,
    },
    /// Announce this head to peers.
    Announce(Head),
    /// Tell the application.
    Event(E),
}

/// What the application hears.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A peer announced a head that is not a valid head of this actor.
    HeadRejected {
        /// The peer.
        from: NodeId,
        /// What was wrong.
        reason: FeedError,
    },
    /// Fetching the feed behind a verified head.
    Progress {
        /// The actor.
        actor: ActorId,
        /// Entries verified.
        have: u64,
        /// Entries in the head.
        total: u64,
    },
    /// The whole feed verified.
    Complete(Box<FeedSnapshot>),
    /// The actor signed two different entries for one position.
    Equivocation(Box<Equivocation>),
    /// A head signed by the actor names a feed that does not verify (the actor's own
    /// fault: everything below a signed head is authenticated by CIDs).
    InvalidFeed {
        /// The actor.
        actor: ActorId,
        /// What was wrong.
        reason: FeedError,
    },
    /// [`Login`] found a backup that opens: the keys are recovered.
    KeysRecovered {
        /// The actor.
        actor: ActorId,
    },
    /// [`Login`] rejected a backup a peer pointed at.
    BackupRejected {
        /// The peer.
        from: Option<NodeId>,
        /// Why, for people.
        reason: String,
    },
}
