//! # quorate-node
//!
//! **In progress.** The runtime that drives the sans-IO machines with real IO: a tokio
//! event loop owning the clock, OS randomness, the persistent block store and the
//! transports; the rendezvous/signaling server; and the `quorate` command-line tool.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
