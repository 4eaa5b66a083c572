//! The str0m WebRTC adapter on 127.0.0.1: connect by copied signals, frames both ways
//! (and the transport's counters of them), disconnect, bad signals, two mesh drivers
//! fetching a block, and STUN servers (a test server on 127.0.0.1: server-reflexive
//! candidates, bad, lying and unreachable servers, TURN refused).
//!
//! `measure` (ignored) prints connect time and 64 KiB-frame throughput:
//! `cargo test --release -p quorate-mesh-transport --features str0m --test webrtc_str0m -- --ignored --nocapture`

#![cfg(feature = "str0m")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stdout,
    reason = "test code: a panic is a failed test"
)]

mod webrtc_common;

use quorate_mesh_transport::webrtc::str0m;
use webrtc_common::Bind;

const BIND: Bind = str0m::bind;

#[test]
fn connect_exchange_frames_and_see_the_peer_drop() {
    webrtc_common::connect_exchange_drop(BIND, BIND);
}

#[test]
fn simultaneous_dials_make_one_connection() {
    webrtc_common::glare(BIND, BIND);
}

#[test]
fn forged_replayed_and_garbage_signals_are_refused() {
    webrtc_common::bad_signals(BIND);
}

#[test]
fn two_drivers_handshake_and_fetch_a_block() {
    webrtc_common::drivers_fetch_a_block(BIND, BIND);
}

#[test]
fn stun_server_reflexive_candidates_are_offered() {
    webrtc_common::stun::stun_reflexive_candidates(BIND, BIND);
}

#[test]
fn stun_server_seeing_the_bound_address_adds_nothing() {
    webrtc_common::stun::stun_without_nat(BIND, BIND);
}

#[test]
fn bad_and_unreachable_stun_servers_are_survived() {
    webrtc_common::stun::stun_bad_servers(BIND, BIND);
}

#[test]
fn bad_ice_server_urls_and_turn_are_refused() {
    webrtc_common::stun::ice_server_config_errors(BIND);
}

#[test]
#[ignore = "measurement: run with --release --ignored --nocapture"]
fn measure() {
    webrtc_common::measure(BIND, BIND, 5, 64);
}
