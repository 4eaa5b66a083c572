//! # quorate-governance-core
//!
//! **Skeleton.** This crate will hold `Policy` rules (fractional approval such as
//! "if at least 10% approve, trigger X"; a 2n/3 quorum rule), `Proposal`s, `Vote`s kept as a
//! set keyed by (proposal, voter), and a pure evaluator whose result does not depend on the
//! order or duplication of its inputs.
//!
//! Nothing is implemented yet; see the project README for the roadmap.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
