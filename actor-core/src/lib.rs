//! # quorate-actor-core
//!
//! **Skeleton.** This crate will hold actor identity (Ed25519 signing + X25519 encryption
//! keys, `ActorId = hash(signing key)`), the passphrase keystore, `ActorProfile`, the
//! append-only signed feed, the rehydration machine ("log in anywhere") and the rendezvous
//! topic objects (presence, invitations, `GlobalEnvelope`).
//!
//! Nothing is implemented yet; see the project README for the roadmap.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
