//! Criterion benchmarks for the Quorate crates. Each benchmark group measures a raw
//! baseline (plain SHA2-256, plain redb, …) in the same run, so results read as ratios.
//!
//! Run `cargo bench -p quorate-benches`, then `python3 benches/report.py` for the table
//! that goes into `BENCHMARKS.md`. The `webrtc_node` bench (two nodes over real WebRTC
//! against the raw DataChannel) does not use criterion: it prints its own tables.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
