//! Runnable examples for the Quorate crates. Nothing to import: run them with
//! `cargo run --release --example <name>`; each file's docs say what it shows.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
