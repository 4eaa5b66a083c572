//! What strangers send a `quorate` node as text: HTTP request heads to `--serve-web`, and
//! JSON messages to and from the rendezvous server.
//!
//! Input: the whole input, as a request head, as a request target, and as a rendezvous
//! client or server message.
//!
//! Asserted:
//! - nothing panics; `head_len` never points past the input;
//! - a routed file path has only plain segments (no `..`, `.`, empty, hidden, separator or
//!   NUL) under one of the served directories;
//! - an accepted rendezvous message re-encodes to JSON that decodes to the same message.

#![no_main]

use libfuzzer_sys::fuzz_target;
use quorate_node::rendezvous::protocol::{ClientMessage, ServerMessage};
use quorate_node::web::request::{self, MAX_HEAD, Route, SERVED_DIRS};

fuzz_target!(|data: &[u8]| {
    if let Some(n) = request::head_len(data) {
        assert!(n <= data.len(), "head of {n} bytes in {}", data.len());
        // The server reads at most MAX_HEAD bytes before asking for a head.
        let _ = request::parse(data.get(..n.min(MAX_HEAD)).unwrap_or_default());
    }
    let _ = request::parse(data);
    if let Ok(Route::File(segments)) = request::route(data) {
        let first = segments.first().map(String::as_str).unwrap_or_default();
        assert!(SERVED_DIRS.contains(&first), "routed outside: {segments:?}");
        for s in &segments {
            assert!(!s.is_empty() && !s.starts_with('.'), "segment {s:?}");
            assert!(!s.contains(['/', '\\', '\0']), "segment {s:?}");
        }
    }

    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(msg) = serde_json::from_str::<ClientMessage>(text) {
        let again = serde_json::to_string(&msg).expect("encodes");
        assert_eq!(serde_json::from_str::<ClientMessage>(&again).ok(), Some(msg));
    }
    if let Ok(msg) = serde_json::from_str::<ServerMessage>(text) {
        let again = serde_json::to_string(&msg).expect("encodes");
        assert_eq!(serde_json::from_str::<ServerMessage>(&again).ok(), Some(msg));
    }
});
