//! # quorate-actor-core
//!
//! Actors are people, as opposed to the devices (mesh nodes, browser tabs) they use. This
//! crate holds everything about an actor that is not IO:
//!
//! - [`Identity`]: one 32-byte [`ActorSecret`] and the two keys HKDF derives from it —
//!   Ed25519 for signing, X25519 for HPKE — and [`ActorId`] `= SHA-256(signing key)`.
//! - [`ActorProfile`]: `{ actorId, signingPubKey, encryptionPubKey, metadata }`, a block
//!   signed by the key it names.
//! - [`keystore`]: the secret at rest, sealed under a passphrase (Argon2id with the
//!   parameters stored in the file, then XChaCha20-Poly1305), and the 24-word recovery
//!   phrase.
//! - [`backup`]: "log in anywhere" — an optional encrypted copy of the secret that peers
//!   keep at a locator derived from (handle, passphrase); its docs state the offline
//!   guessing trade-off and the parameters.
//! - [`feed`]: the append-only signed feed (`FeedEntry`, chained by `prev`), its signed
//!   head and index pages, and equivocation evidence.
//! - [`sync`]: the sans-IO machines that fetch, verify and rebuild a feed ([`sync::FeedSync`])
//!   and log in from handle and passphrase ([`sync::Login`]), with the glue every runtime
//!   uses to drive them over a mesh node.
//! - [`rendezvous`]: the global topic — presence, invitations, `GlobalEnvelope` (HPKE,
//!   RFC 9180, to a recipient tag; optional proof of work, checked first), and the
//!   [`rendezvous::Inbox`] that ignores unsolicited invitations unless accepted or
//!   allow-listed.
//!
//! # Sans-IO
//! No clock, no files, no sockets, no global RNG. Time is an argument (`Instant` for the
//! machines, Unix milliseconds for timestamps and expiries), randomness arrives as
//! `&mut impl CryptoRngCore`, and blocks come in and go out as values. The crate builds for
//! `wasm32-unknown-unknown`; the native node (`quorate-node`) and the browser node
//! (`quorate-web`) drive the same machines.
//!
//! # Driving
//! An actor publishes by appending to its [`feed::FeedLog`] and announcing the signed head;
//! another node rebuilds the whole feed from any peers that have it:
//!
//! ```
//! use quorate_actor_core::feed::FeedLog;
//! use quorate_actor_core::sync::{self, Event, FeedSync};
//! use quorate_actor_core::{ActorProfile, ActorSecret, Identity};
//! use quorate_mesh_proto::mesh::NodeId;
//! use quorate_mesh_proto::{Block, Cid, Instant};
//! use std::collections::BTreeMap;
//!
//! // The author: a profile, three entries, a signed head.
//! let alice = Identity::from_secret(ActorSecret::from_bytes([7; 32]));
//! let mut blocks: BTreeMap<Cid, Block> = BTreeMap::new();
//! let profile = ActorProfile::publish(&alice, BTreeMap::new())?;
//! let mut log = FeedLog::new(alice.id());
//! for t in 0..3 {
//!     let entry = log.append(&alice, 1_700_000_000_000 + t, vec![])?;
//!     blocks.insert(*entry.cid(), entry);
//! }
//! let published = log.publish(&alice, *profile.cid())?;
//! let head = published.feed_head.mesh_head(*published.head.cid());
//! blocks.insert(*profile.cid(), profile);
//! blocks.extend(published.pages.into_iter().map(|p| (*p.cid(), p)));
//! blocks.insert(*published.head.cid(), published.head);
//!
//! // Another node: hears the head from a peer, fetches what it needs, verifies it all.
//! let now = Instant::ZERO;
//! let mut follower = FeedSync::new(sync::Config::default(), alice.id(), now);
//! follower.handle_head(now, &head, NodeId::from_bytes([1; 32]));
//! // `drain` answers needs from the "store" (here: the author's blocks); a real runtime
//! // passes its store, and hands `drained.mesh` to its mesh machine.
//! let drained = sync::drain(&mut follower, now, |cid| blocks.get(cid).cloned());
//! assert!(drained.events.iter().any(|e| matches!(e, Event::Complete(s) if s.entries.len() == 3)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Errors and panics
//! One `#[non_exhaustive]` error enum per operation, each variant documented and worded for
//! people: [`ProfileError`], [`feed::FeedError`], [`keystore::KeystoreError`],
//! [`keystore::RecoveryError`], [`backup::BackupError`], [`backup::LocatorError`],
//! [`rendezvous::EnvelopeError`] and friends. Nothing reachable from peer bytes unwraps,
//! indexes or panics (workspace lints); the machines never return errors for peer input:
//! they report it as events and ask the mesh to penalise the sender. Fuzz targets
//! (`fuzz/fuzz_targets/actor_*`) cover every decoder and the sync machine.
//!
//! # Features
//! None.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod backup;
pub mod feed;
mod hex;
mod id;
mod identity;
pub mod keystore;
mod profile;
pub mod rendezvous;
pub mod sync;

pub use id::{ActorId, ActorIdParseError};
pub use identity::{ActorSecret, Identity};
pub use profile::{ActorProfile, MAX_METADATA, MAX_METADATA_KEY, MAX_METADATA_VALUE, ProfileError};

/// The pin class of an actor-core block type (its envelope `type`), for runtimes that
/// store blocks handed to them; `None` for types this crate does not define.
#[must_use]
pub fn pin_class(kind: &str) -> Option<quorate_mesh_proto::PinClass> {
    use quorate_mesh_proto::BlockPayload;
    [
        (feed::FeedEntry::TYPE, feed::FeedEntry::PIN),
        (feed::FeedPage::TYPE, feed::FeedPage::PIN),
        (feed::FeedHead::TYPE, feed::FeedHead::PIN),
        (feed::Equivocation::TYPE, feed::Equivocation::PIN),
        (ActorProfile::TYPE, ActorProfile::PIN),
        (backup::KeyBackup::TYPE, backup::KeyBackup::PIN),
    ]
    .into_iter()
    .find(|(t, _)| *t == kind)
    .map(|(_, pin)| pin)
}
