//! # quorate-attestation-core
//!
//! **Skeleton.** This crate will hold the committee that turns a passed vote into one
//! Ed25519 signature under the group key `PK_G` (a single-key MVP first, then FROST DKG,
//! signing and resharing machines built on the Zcash Foundation `frost-ed25519`),
//! `GroupAttestation`, outsider verification, and the execution engine that runs each
//! attested action exactly once.
//!
//! Nothing is implemented yet; see the project README for the roadmap.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
