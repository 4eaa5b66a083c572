//! # quorate-actor-core
//!
//! Actors: people, as opposed to the devices (mesh nodes) they use.

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
