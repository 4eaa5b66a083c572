//! Signal relaying: only to the addressee, only within a room, within size limits.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

mod common;

use common::*;
use quorate_node::rendezvous::protocol::MAX_PAYLOAD;
use quorate_node::rendezvous::{ClientError, Event};

#[tokio::test]
async fn a_signal_reaches_the_addressee_only_and_never_another_room() {
    let server = TestServer::start().await;
    let mut a = client(&server.url, "r", 1).await;
    let mut b = client(&server.url, "r", 2).await;
    let mut c = client(&server.url, "r", 3).await;
    // Node 4 lives in another room; node 5 is its neighbour there.
    let mut d = client(&server.url, "s", 4).await;
    let e = client(&server.url, "s", 5).await;
    assert_eq!(next(&mut a).await, Event::Joined(node(2)));
    assert_eq!(next(&mut a).await, Event::Joined(node(3)));
    assert_eq!(next(&mut b).await, Event::Joined(node(3)));
    assert_eq!(next(&mut d).await, Event::Joined(node(5)));

    a.send_signal(node(2), b"for b").await.unwrap();
    a.send_signal(node(4), b"across rooms").await.unwrap();
    match next(&mut a).await {
        Event::Error(reason) => assert!(reason.contains("not in room r"), "{reason}"),
        other => panic!("{other:?}"),
    }
    a.send_signal(node(3), b"for c").await.unwrap();
    e.send_signal(node(4), b"for d").await.unwrap();

    assert_eq!(
        next(&mut b).await,
        Event::Signal {
            from: node(1),
            payload: b"for b".to_vec()
        }
    );
    // Messages from one sender arrive in order, so "for c" first means c never got "for b".
    assert_eq!(
        next(&mut c).await,
        Event::Signal {
            from: node(1),
            payload: b"for c".to_vec()
        }
    );
    assert_eq!(
        next(&mut d).await,
        Event::Signal {
            from: node(5),
            payload: b"for d".to_vec()
        }
    );
    server.stop().await;
}

#[tokio::test]
async fn payload_limits_and_encoding_are_enforced() {
    let server = TestServer::start().await;
    let a = client(&server.url, "r", 1).await;
    let mut b = client(&server.url, "r", 2).await;
    let too_big = a.send_signal(node(2), &vec![0; MAX_PAYLOAD + 1]).await;
    assert!(matches!(too_big, Err(ClientError::Payload(_))));
    let full = vec![0xA5; MAX_PAYLOAD];
    a.send_signal(node(2), &full).await.unwrap();
    assert_eq!(
        next(&mut b).await,
        Event::Signal {
            from: node(1),
            payload: full
        }
    );

    let mut ws = raw(&server.url).await;
    send_text(&mut ws, signal_json(2, "AAAA")).await;
    let err = recv_json(&mut ws).await;
    assert!(
        err["reason"]
            .as_str()
            .unwrap()
            .contains("join a room first"),
        "{err}"
    );
    send_text(&mut ws, join_json("r", 3)).await;
    assert_eq!(recv_json(&mut ws).await["type"], "peers");
    for bad in ["not base64!", "AAA"] {
        send_text(&mut ws, signal_json(2, bad)).await;
        let err = recv_json(&mut ws).await;
        assert!(err["reason"].as_str().unwrap().contains("base64"), "{err}");
    }
    let oversize = "A".repeat((MAX_PAYLOAD / 3 + 2) * 4);
    send_text(&mut ws, signal_json(2, &oversize)).await;
    let err = recv_json(&mut ws).await;
    assert!(
        err["reason"].as_str().unwrap().contains("larger than"),
        "{err}"
    );
    // b saw node 3 join and nothing else from it.
    assert_eq!(next(&mut b).await, Event::Joined(node(3)));
    send_text(&mut ws, signal_json(2, "b2s=")).await;
    assert_eq!(
        next(&mut b).await,
        Event::Signal {
            from: node(3),
            payload: b"ok".to_vec()
        }
    );
    server.stop().await;
}
