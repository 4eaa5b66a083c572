//! # quorate-actor-core
//!
//! Actors: people, as opposed to the devices (mesh nodes) they use.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod backup;
mod hex;
mod id;
mod identity;
pub mod keystore;
pub mod rendezvous;

pub use id::{ActorId, ActorIdParseError};
pub use identity::{ActorSecret, Identity};
