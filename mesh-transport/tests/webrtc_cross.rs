//! Cross-stack: the str0m adapter and the webrtc-rs adapter talk to each other, each as
//! dialer and as answerer, and two mesh drivers fetch a block across them.

#![cfg(all(feature = "str0m", feature = "webrtc-rs"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stdout,
    reason = "test code: a panic is a failed test"
)]

mod webrtc_common;

use quorate_mesh_transport::webrtc::{str0m, webrtc_rs};
use webrtc_common::Bind;

const STR0M: Bind = str0m::bind;
const WEBRTC_RS: Bind = webrtc_rs::bind;

#[test]
fn str0m_dials_webrtc_rs() {
    webrtc_common::connect_exchange_drop(STR0M, WEBRTC_RS);
}

#[test]
fn webrtc_rs_dials_str0m() {
    webrtc_common::connect_exchange_drop(WEBRTC_RS, STR0M);
}

#[test]
fn simultaneous_dials_across_stacks() {
    webrtc_common::glare(STR0M, WEBRTC_RS);
    webrtc_common::glare(WEBRTC_RS, STR0M);
}

#[test]
fn drivers_fetch_a_block_across_stacks() {
    webrtc_common::drivers_fetch_a_block(STR0M, WEBRTC_RS);
}

#[test]
fn stun_server_reflexive_candidates_across_stacks() {
    webrtc_common::stun::stun_reflexive_candidates(STR0M, WEBRTC_RS);
    webrtc_common::stun::stun_reflexive_candidates(WEBRTC_RS, STR0M);
}
