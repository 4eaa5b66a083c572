//! Presence: joins, leaves, peer lists, the one-connection-per-node rule, limits.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

mod common;

use std::time::Duration;

use common::*;
use quorate_node::rendezvous::{Client, ClientError, Event};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

#[tokio::test]
async fn two_clients_see_each_other_join_and_leave() {
    let server = TestServer::start().await;
    let mut a = Client::connect(&server.url, "lobby", node(1))
        .await
        .unwrap();
    assert!(matches!(next(&mut a).await, Event::Peers { nodes, .. } if nodes.is_empty()));
    let mut b = Client::connect(&server.url, "lobby", node(2))
        .await
        .unwrap();
    match next(&mut b).await {
        Event::Peers { room, nodes } => {
            assert_eq!(room.as_str(), "lobby");
            assert_eq!(nodes, vec![node(1)]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(next(&mut a).await, Event::Joined(node(2)));
    b.close().await;
    assert_eq!(next(&mut a).await, Event::Left(node(2)));
    // A member of another room is not announced here.
    let _other = client(&server.url, "elsewhere", 3).await;
    let _c = client(&server.url, "lobby", 4).await;
    assert_eq!(next(&mut a).await, Event::Joined(node(4)));
    server.stop().await;
    assert!(matches!(next(&mut a).await, Event::Closed(_)));
}

#[tokio::test]
async fn a_node_joining_twice_replaces_its_older_connection() {
    let server = TestServer::start().await;
    let mut a = client(&server.url, "r", 1).await;
    let mut old = client(&server.url, "r", 2).await;
    assert_eq!(next(&mut a).await, Event::Joined(node(2)));

    let mut new = Client::connect(&server.url, "r", node(2)).await.unwrap();
    assert_eq!(
        next(&mut new).await,
        Event::Peers {
            room: "r".parse().unwrap(),
            nodes: vec![node(1)]
        }
    );
    match next(&mut old).await {
        Event::Error(reason) => assert!(reason.contains("replaced"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(next(&mut old).await, Event::Closed(_)));
    // The others see the node join again, never leave.
    assert_eq!(next(&mut a).await, Event::Joined(node(2)));
    // Signals for the node reach the new connection.
    a.send_signal(node(2), b"to the new one").await.unwrap();
    assert_eq!(
        next(&mut new).await,
        Event::Signal {
            from: node(1),
            payload: b"to the new one".to_vec()
        }
    );
    new.close().await;
    assert_eq!(next(&mut a).await, Event::Left(node(2)));
    server.stop().await;
}

#[tokio::test]
async fn leave_then_join_another_room_on_the_same_connection() {
    let server = TestServer::start().await;
    let mut watcher = client(&server.url, "one", 9).await;
    let mut ws = raw(&server.url).await;
    send_text(&mut ws, join_json("one", 1)).await;
    assert_eq!(recv_json(&mut ws).await["type"], "peers");
    send_text(&mut ws, join_json("two", 1)).await;
    let err = recv_json(&mut ws).await;
    assert!(
        err["reason"]
            .as_str()
            .unwrap()
            .contains("already in room one"),
        "{err}"
    );
    send_text(&mut ws, r#"{"type":"leave"}"#).await;
    assert_eq!(next(&mut watcher).await, Event::Joined(node(1)));
    assert_eq!(next(&mut watcher).await, Event::Left(node(1)));
    send_text(&mut ws, join_json("two", 1)).await;
    let peers = recv_json(&mut ws).await;
    assert_eq!(peers["type"], "peers", "{peers}");
    assert_eq!(peers["room"], "two");
    server.stop().await;
}

#[tokio::test]
async fn a_full_room_refuses_and_the_connection_can_go_elsewhere() {
    let server = TestServer::start_with(|c| c.max_room_members = 2).await;
    let _a = client(&server.url, "small", 1).await;
    let _b = client(&server.url, "small", 2).await;
    let refused = Client::connect(&server.url, "small", node(3)).await;
    match refused {
        Err(ClientError::Refused { reason }) => assert!(reason.contains("full"), "{reason}"),
        other => panic!("{other:?}"),
    }
    let _c = client(&server.url, "big", 3).await;
    server.stop().await;
}

#[tokio::test]
async fn a_connection_that_never_joins_is_closed() {
    let server = TestServer::start_with(|c| c.join_timeout = Duration::from_millis(300)).await;
    let mut ws = raw(&server.url).await;
    let (frame, reasons) = read_until_closed(&mut ws).await;
    assert_eq!(frame.unwrap().code, CloseCode::Policy);
    assert!(reasons[0].contains("no join"), "{reasons:?}");
    server.stop().await;
}

#[tokio::test]
async fn invalid_rooms_and_urls_are_client_errors() {
    let bad_room = Client::connect("ws://127.0.0.1:1", "Not Valid", node(1)).await;
    assert!(matches!(bad_room, Err(ClientError::InvalidRoom(_))));
    let bad_url = Client::connect("http//nope", "r", node(1)).await;
    assert!(
        matches!(bad_url, Err(ClientError::InvalidUrl { .. })),
        "{bad_url:?}"
    );
    // A closed port: a clear connect error naming the URL.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    drop(listener);
    let err = Client::connect(&url, "r", node(1)).await.unwrap_err();
    assert!(matches!(err, ClientError::Connect { .. }), "{err:?}");
    assert!(err.to_string().contains(&url), "{err}");
}
