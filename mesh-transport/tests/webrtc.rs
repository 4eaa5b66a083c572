//! Both WebRTC adapters on 127.0.0.1, each alone and against the other: connect by copied
//! signals, frames both ways (and the transport's counters of them), disconnect, glare,
//! bad signals, two mesh drivers fetching a block, and STUN servers (a test server on
//! 127.0.0.1: server-reflexive candidates, bad, lying and unreachable servers, TURN
//! refused). The same suite runs per stack (`str0m::…`, `webrtc_rs::…`); `cross::…` runs
//! when both are built.
//!
//! `measure` (ignored) prints connect time and 64 KiB-frame throughput of each stack:
//! `cargo test --release -p quorate-mesh-transport --features str0m,webrtc-rs --test webrtc -- --ignored --nocapture`

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stdout,
    reason = "test code: a panic is a failed test"
)]

#[cfg(any(feature = "str0m", feature = "webrtc-rs"))]
mod webrtc_common;

/// The suite for one stack, as a module named after it.
macro_rules! suite {
    ($stack:ident, $feature:literal) => {
        #[cfg(feature = $feature)]
        mod $stack {
            use crate::webrtc_common::{self, Bind, stun};
            use quorate_mesh_transport::webrtc;

            const BIND: Bind = webrtc::$stack::bind;

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
                stun::stun_reflexive_candidates(BIND, BIND);
            }

            #[test]
            fn stun_server_seeing_the_bound_address_adds_nothing() {
                stun::stun_without_nat(BIND, BIND);
            }

            #[test]
            fn bad_and_unreachable_stun_servers_are_survived() {
                stun::stun_bad_servers(BIND, BIND);
            }

            #[test]
            fn bad_ice_server_urls_and_turn_are_refused() {
                stun::ice_server_config_errors(BIND);
            }

            #[test]
            #[ignore = "measurement: run with --release --ignored --nocapture"]
            fn measure() {
                webrtc_common::measure(BIND, BIND, 5, 64);
            }
        }
    };
}

suite!(str0m, "str0m");
suite!(webrtc_rs, "webrtc-rs");

/// The two stacks talk to each other, each as dialer and as answerer.
#[cfg(all(feature = "str0m", feature = "webrtc-rs"))]
mod cross {
    use crate::webrtc_common::{self, Bind, stun};
    use quorate_mesh_transport::webrtc::{str0m, webrtc_rs};

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
        stun::stun_reflexive_candidates(STR0M, WEBRTC_RS);
        stun::stun_reflexive_candidates(WEBRTC_RS, STR0M);
    }
}
