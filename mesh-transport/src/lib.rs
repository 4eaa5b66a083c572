//! # quorate-mesh-transport
//!
//! **Skeleton.** This crate will hold the `Transport` trait (send with backpressure,
//! connect, disconnect, events), an in-memory network, the seeded discrete-event
//! simulator that drives whole stacks of sans-IO machines on virtual time, and the WebRTC
//! adapters (native, and browser through `web-sys`) behind features.
//!
//! Nothing is implemented yet; see the project README for the roadmap.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
