//! # quorate-group-core
//!
//! **Skeleton.** This crate will hold group genesis, membership sets, `GroupEpochState`,
//! epoch keys distributed as per-member HPKE `KeyEnvelope`s, AEAD-encrypted `GroupMessage`s
//! with causal history, revocation and rekey, and the deterministic conflict rules.
//!
//! Nothing is implemented yet; see the project README for the roadmap.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
