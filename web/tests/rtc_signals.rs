//! `BrowserTransport` fed untrusted signals in Chromium: garbage and forged payloads are
//! errors, never panics; a signed offer with unusable SDP fails the inbound connection
//! (reported `Disconnected`) instead of hanging; replays and unknown sessions are dropped.

#![cfg(target_arch = "wasm32")]

use js_sys::Promise;
use quorate_mesh_proto::mesh::NodeKey;
use quorate_mesh_transport::webrtc::signaling::{SignalBody, SignalMessage};
use quorate_mesh_transport::{Transport, TransportEvent};
use quorate_web::rtc::{BrowserTransport, Config};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

async fn sleep(ms: i32) {
    let promise = Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .unwrap();
    });
    JsFuture::from(promise).await.unwrap();
}

fn signed(from: &NodeKey, to: &NodeKey, session: u64, body: SignalBody) -> Vec<u8> {
    let msg = SignalMessage {
        from: from.id(),
        to: to.id(),
        session,
        body,
    };
    msg.sign(from).unwrap().into_bytes()
}

#[wasm_bindgen_test]
async fn untrusted_signals_never_panic() {
    let (me, peer, other) = (
        NodeKey::from_secret([1; 32]),
        NodeKey::from_secret([2; 32]),
        NodeKey::from_secret([3; 32]),
    );
    let mut t = BrowserTransport::new(me.clone(), Config::default(), [9; 32]);
    for bad in [vec![], vec![0xff; 100], vec![0; 20_000]] {
        assert!(t.handle_signal(peer.id(), &bad).is_err());
    }
    // Signed by someone else, or for someone else.
    let forged = signed(&other, &me, 1, SignalBody::Offer("v=0\r\n".into()));
    assert!(t.handle_signal(peer.id(), &forged).is_err());
    let elsewhere = signed(&peer, &other, 1, SignalBody::Offer("v=0\r\n".into()));
    assert!(t.handle_signal(peer.id(), &elsewhere).is_err());
    // Answers and candidates for no session: accepted and ignored.
    let answer = signed(&peer, &me, 5, SignalBody::Answer("v=0\r\n".into()));
    t.handle_signal(peer.id(), &answer).unwrap();
    let cands = signed(&peer, &me, 5, SignalBody::Candidates(vec!["junk".into()]));
    t.handle_signal(peer.id(), &cands).unwrap();
    assert_eq!(t.poll_event(), None);
    // A valid signature over unusable SDP: the inbound attempt fails, once (the replay is
    // dropped), and no answer goes out.
    let offer = signed(&peer, &me, 7, SignalBody::Offer("not sdp".into()));
    t.handle_signal(peer.id(), &offer).unwrap();
    t.handle_signal(peer.id(), &offer).unwrap();
    let mut events = Vec::new();
    for _ in 0..50 {
        sleep(20).await;
        events.extend(std::iter::from_fn(|| t.poll_event()));
        if !events.is_empty() {
            break;
        }
    }
    assert!(
        matches!(events.as_slice(), [TransportEvent::Disconnected { .. }]),
        "{events:?}"
    );
    assert_eq!(t.poll_signal(), None);
    assert!(!t.recent_errors().is_empty());
}
