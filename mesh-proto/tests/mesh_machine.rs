//! The mesh machine driven by the in-crate harness on virtual time.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::cast_possible_truncation,
    reason = "test code: a panic is a failed test"
)]

mod common;

use common::{Net, config};
use quorate_mesh_proto::mesh::{
    ApiMisuse, BlockFrame, ConnId, DownReason, Event, Frame, Head, Hello, Input, Mesh,
    Misbehaviour, NodeKey, PeerLimits, RefuseReason, SignalFrame, Topic,
};
use quorate_mesh_proto::payloads::Text;
use quorate_mesh_proto::{Block, Duration, Instant};

fn text(s: &str) -> Block {
    Block::encode(&Text { body: s.into() }).unwrap()
}

fn up(net: &mut Net, i: usize) -> usize {
    net.nodes[i].mesh.peers().len()
}

fn refused(net: &mut Net, i: usize) -> Vec<RefuseReason> {
    net.take_events(i, |e| match e {
        Event::PeerDown {
            reason: DownReason::Refused(r),
            ..
        } => Some(r.clone()),
        _ => None,
    })
}

fn misbehaved(net: &mut Net, i: usize) -> Vec<Misbehaviour> {
    net.take_events(i, |e| match e {
        Event::PeerMisbehaved { reason, .. } => Some(reason.clone()),
        _ => None,
    })
}

fn hello(key: &NodeKey, versions: Vec<u32>) -> Vec<u8> {
    Frame::Hello(Hello {
        versions,
        node: key.id(),
        limits: PeerLimits {
            max_block_size: 1 << 20,
            max_frame_size: 2 << 20,
            frames_per_sec: 100,
            bytes_per_sec: 1 << 20,
        },
        nonce: [5; 16],
    })
    .encode()
    .unwrap()
    .to_vec()
}

/// Node 0 with a bare connection that the test drives by hand.
fn bare() -> (Net, ConnId) {
    let mut net = Net::new(1);
    let conn = ConnId(999);
    net.input(
        0,
        Input::Connected {
            conn,
            expected: None,
        },
    );
    (net, conn)
}

#[test]
fn handshake_brings_both_sides_up() {
    let mut net = Net::new(2);
    net.link(0, 1);
    net.run_for(Duration::from_millis(100));
    assert_eq!(up(&mut net, 0), 1);
    assert_eq!(net.nodes[1].mesh.peers()[0].1, net.nodes[0].mesh.id());
    let ups = net.take_events(0, |e| matches!(e, Event::PeerUp { .. }).then_some(()));
    assert_eq!(ups.len(), 1);
}

#[test]
fn incompatible_version_is_refused_with_the_peers_versions() {
    let (mut net, conn) = bare();
    net.inject(
        0,
        conn,
        &hello(&NodeKey::from_secret([9; 32]), vec![99, 100]),
    );
    assert_eq!(
        refused(&mut net, 0),
        vec![RefuseReason::IncompatibleVersion {
            theirs: vec![99, 100]
        }]
    );
}

#[test]
fn a_node_other_than_the_one_dialed_is_refused() {
    let mut net = Net::new(1);
    let dialed = NodeKey::from_secret([8; 32]).id();
    let liar = NodeKey::from_secret([9; 32]);
    net.input(
        0,
        Input::Connected {
            conn: ConnId(5),
            expected: Some(dialed),
        },
    );
    net.inject(0, ConnId(5), &hello(&liar, vec![1]));
    assert_eq!(
        refused(&mut net, 0),
        vec![RefuseReason::UnexpectedNode {
            expected: dialed,
            found: liar.id()
        }]
    );
}

#[test]
fn a_bad_auth_signature_is_refused() {
    let (mut net, conn) = bare();
    net.inject(0, conn, &hello(&NodeKey::from_secret([9; 32]), vec![1]));
    let auth = Frame::Auth(quorate_mesh_proto::mesh::Auth { sig: [3; 64] })
        .encode()
        .unwrap();
    net.inject(0, conn, &auth);
    assert_eq!(refused(&mut net, 0), vec![RefuseReason::BadAuth]);
    assert_eq!(up(&mut net, 0), 0);
}

#[test]
fn frames_before_the_handshake_and_silence_are_refused() {
    let (mut net, conn) = bare();
    net.inject(0, conn, &Frame::Ping(1).encode().unwrap());
    assert!(matches!(
        refused(&mut net, 0)[..],
        [RefuseReason::BadHandshake(_)]
    ));

    let (mut net, _conn) = bare();
    net.run_for(Duration::from_secs(12));
    assert_eq!(refused(&mut net, 0), vec![RefuseReason::Timeout]);
}

#[test]
fn a_second_connection_to_the_same_node_is_refused() {
    let mut net = Net::new(2);
    net.link(0, 1);
    net.run_for(Duration::from_millis(50));
    net.link(0, 1);
    net.run_for(Duration::from_millis(50));
    assert_eq!(up(&mut net, 0), 1);
    assert!(
        refused(&mut net, 0).contains(&RefuseReason::Duplicate)
            || refused(&mut net, 1).contains(&RefuseReason::Duplicate)
    );
}

#[test]
fn simultaneous_dials_keep_one_and_the_same_connection_on_both_ends() {
    for (x, y) in [(0, 1), (1, 0)] {
        let mut net = Net::new(2);
        net.link(x, y);
        net.link(y, x);
        net.run_for(Duration::from_millis(100));
        let (p0, p1) = (net.nodes[0].mesh.peers(), net.nodes[1].mesh.peers());
        assert_eq!(
            (p0.len(), p1.len()),
            (1, 1),
            "one connection survives on each end"
        );
        let (c0, c1) = (p0[0].0, p1[0].0);
        assert_eq!(
            net.nodes[0].links.get(&c0).map(|l| l.1),
            Some(c1),
            "the same connection"
        );
    }
}

#[test]
fn a_wanted_block_is_fetched_verified_and_stored() {
    let mut net = Net::new(2);
    net.link(0, 1);
    net.run_for(Duration::from_millis(50));
    let b = text("wanted");
    net.nodes[0].store.insert(*b.cid(), b.clone());
    net.input(
        1,
        Input::Want {
            cid: *b.cid(),
            priority: 1,
        },
    );
    net.run_for(Duration::from_millis(50));
    let fetched = net.take_events(1, |e| match e {
        Event::Fetched { block, .. } => Some(block.clone()),
        _ => None,
    });
    assert_eq!(fetched, vec![b.clone()]);
    assert_eq!(net.nodes[1].store.get(b.cid()), Some(&b));
}

#[test]
fn a_missing_block_is_retried_on_a_new_peer() {
    let mut net = Net::new(3);
    net.link(0, 1);
    net.run_for(Duration::from_millis(50));
    let b = text("only node 2 has it");
    net.nodes[2].store.insert(*b.cid(), b.clone());
    net.input(
        1,
        Input::Want {
            cid: *b.cid(),
            priority: 1,
        },
    );
    net.run_for(Duration::from_secs(3));
    assert!(!net.nodes[1].store.contains_key(b.cid()));
    net.link(2, 1);
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.nodes[1].store.get(b.cid()), Some(&b));
}

#[test]
fn a_forged_block_is_never_stored_and_costs_the_sender() {
    let mut net = Net::new(3);
    let (_, c10) = net.link(0, 1); // c10: node 1's conn to node 0 (the forger)
    net.run_for(Duration::from_millis(50));
    let b = text("genuine");
    net.input(
        1,
        Input::Want {
            cid: *b.cid(),
            priority: 1,
        },
    );
    net.run_for(Duration::from_millis(50));
    let forged = Frame::Block(BlockFrame {
        cid: *b.cid(),
        data: b"forged".to_vec(),
    })
    .encode()
    .unwrap();
    net.inject(1, c10, &forged);
    assert_eq!(
        misbehaved(&mut net, 1),
        vec![Misbehaviour::ForgedBlock { cid: *b.cid() }]
    );
    assert!(!net.nodes[1].store.contains_key(b.cid()));
    assert!(net.nodes[1].mesh.peers()[0].2 < 0, "score fell");
    // An honest peer still serves it.
    net.nodes[2].store.insert(*b.cid(), b.clone());
    net.link(2, 1);
    net.run_for(Duration::from_secs(3));
    assert_eq!(net.nodes[1].store.get(b.cid()), Some(&b));
}

#[test]
fn an_unsolicited_block_is_a_violation() {
    let mut net = Net::new(2);
    let (_, c10) = net.link(0, 1);
    net.run_for(Duration::from_millis(50));
    let b = text("nobody asked");
    let frame = Frame::Block(BlockFrame {
        cid: *b.cid(),
        data: b.bytes().to_vec(),
    })
    .encode()
    .unwrap();
    net.inject(1, c10, &frame);
    assert_eq!(
        misbehaved(&mut net, 1),
        vec![Misbehaviour::UnsolicitedBlock { cid: *b.cid() }]
    );
    assert!(!net.nodes[1].store.contains_key(b.cid()));
}

#[test]
fn gossip_reaches_a_line_of_nodes_small_inline_and_large_by_want() {
    let mut net = Net::new(5);
    for i in 0..4 {
        net.link(i, i + 1);
    }
    let topic = Topic::new("group/test").unwrap();
    for i in 0..5 {
        net.input(i, Input::Subscribe(topic.clone()));
    }
    net.run_for(Duration::from_millis(100));
    let small = text("hello group");
    let large = Block::raw(vec![7u8; 100_000]).unwrap();
    net.input(
        0,
        Input::Publish {
            topic: topic.clone(),
            block: small.clone(),
        },
    );
    net.input(
        0,
        Input::Publish {
            topic: topic.clone(),
            block: large.clone(),
        },
    );
    net.run_for(Duration::from_secs(1));
    for i in 1..5 {
        let got = net.take_events(i, |e| match e {
            Event::Delivered { block, hops, .. } => Some((*block.cid(), *hops)),
            _ => None,
        });
        assert!(got.contains(&(*small.cid(), i as u8)), "node {i}: {got:?}");
        assert!(got.contains(&(*large.cid(), i as u8)), "node {i}: {got:?}");
        assert_eq!(net.nodes[i].store.get(large.cid()), Some(&large));
    }
}

#[test]
fn a_late_subscriber_catches_up_by_ihave_and_graft() {
    let mut net = Net::new(2);
    let topic = Topic::new("t").unwrap();
    net.input(0, Input::Subscribe(topic.clone()));
    let msgs: Vec<Block> = (0..20).map(|i| text(&format!("m{i}"))).collect();
    for m in &msgs {
        net.input(
            0,
            Input::Publish {
                topic: topic.clone(),
                block: m.clone(),
            },
        );
    }
    net.link(0, 1);
    net.input(1, Input::Subscribe(topic.clone()));
    net.run_for(Duration::from_secs(2));
    for m in &msgs {
        assert!(
            net.nodes[1].store.contains_key(m.cid()),
            "missing {:?}",
            m.cid()
        );
    }
}

#[test]
fn heads_propagate_and_only_newer_ones_are_reported() {
    let mut net = Net::new(2);
    net.link(0, 1);
    net.run_for(Duration::from_millis(50));
    let head = |seq| Head {
        name: "feed/alice".into(),
        seq,
        cid: *text(&format!("h{seq}")).cid(),
    };
    net.input(0, Input::SetHead(head(2)));
    net.run_for(Duration::from_millis(50));
    net.input(0, Input::SetHead(head(1)));
    net.run_for(Duration::from_secs(6));
    let seen = net.take_events(1, |e| match e {
        Event::HeadUpdated { head, .. } => Some(head.seq),
        _ => None,
    });
    assert_eq!(seen, vec![2]);
    assert_eq!(net.nodes[1].mesh.remote_head("feed/alice").unwrap().seq, 2);
}

#[test]
fn a_head_query_reports_every_answer_even_behind_a_higher_lie() {
    // Node 1 has the honest head (seq 3); node 2 lies with seq 1000. Node 0 queries both
    // and must see both answers, so the application can check each.
    let mut net = Net::new(3);
    net.link(0, 2);
    net.run_for(Duration::from_millis(50));
    let head = |seq, body: &str| Head {
        name: "feed/alice".into(),
        seq,
        cid: *text(body).cid(),
    };
    net.input(2, Input::SetHead(head(1000, "lie")));
    net.run_for(Duration::from_millis(50));
    net.input(1, Input::SetHead(head(3, "truth")));
    net.input(0, Input::QueryHeads(vec!["feed/alice".into()]));
    net.run_for(Duration::from_millis(50));
    // Node 1 connects after the query was made: it is asked too.
    net.link(0, 1);
    net.run_for(Duration::from_millis(200));
    let liar = net.nodes[2].mesh.id();
    let mut seen = net.take_events(0, |e| match e {
        Event::HeadUpdated { head, from } => Some((head.seq, *from)),
        _ => None,
    });
    seen.sort();
    seen.dedup();
    assert!(seen.contains(&(3, net.nodes[1].mesh.id())), "{seen:?}");
    assert!(seen.contains(&(1000, liar)), "{seen:?}");

    // The application finds the lie and reports it: the liar's score drops.
    net.input(
        0,
        Input::Penalize {
            node: liar,
            reason: "forged feed head".into(),
        },
    );
    let reports = net.take_events(0, |e| match e {
        Event::PeerMisbehaved { reason, node, .. } => Some((reason.clone(), *node)),
        _ => None,
    });
    assert_eq!(
        reports,
        vec![(
            Misbehaviour::InvalidContent("forged feed head".into()),
            Some(liar)
        )]
    );

    // A query over the name limit is the caller's mistake, not a panic.
    let mut m = Mesh::new(config(9), Instant::ZERO);
    assert_eq!(
        m.handle_input(Instant::ZERO, Input::QueryHeads(vec!["x".into(); 65])),
        Err(ApiMisuse::HeadQueryTooLarge(65))
    );
}

#[test]
fn signals_are_relayed_to_unconnected_nodes_and_forgeries_rejected() {
    let mut net = Net::new(3);
    net.link(0, 1);
    let (_, c21) = net.link(1, 2);
    net.run_for(Duration::from_millis(50));
    let to = net.nodes[2].mesh.id();
    net.input(
        0,
        Input::SendSignal {
            to,
            payload: b"offer sdp".to_vec(),
        },
    );
    net.run_for(Duration::from_millis(50));
    let got = net.take_events(2, |e| match e {
        Event::Signal { from, payload } => Some((*from, payload.clone())),
        _ => None,
    });
    assert_eq!(got, vec![(net.nodes[0].mesh.id(), b"offer sdp".to_vec())]);

    let forged = Frame::Signal(SignalFrame {
        from: net.nodes[0].mesh.id(),
        to,
        id: 77,
        ttl: 3,
        payload: b"evil".to_vec(),
        sig: [1; 64],
    })
    .encode()
    .unwrap();
    net.inject(2, c21, &forged);
    assert_eq!(misbehaved(&mut net, 2), vec![Misbehaviour::BadSignal]);
    assert!(
        net.take_events(2, |e| matches!(e, Event::Signal { .. }).then_some(()))
            .is_empty()
    );
}

#[test]
fn malformed_and_oversized_frames_are_dropped_and_repeat_offenders_cut_off() {
    let mut net = Net::new(2);
    let (_, c10) = net.link(0, 1);
    net.run_for(Duration::from_millis(50));
    net.inject(1, c10, &[0xff, 0x00, 0x13]);
    assert!(matches!(
        misbehaved(&mut net, 1)[..],
        [Misbehaviour::Malformed(_)]
    ));
    let huge = vec![0u8; quorate_mesh_proto::mesh::MAX_FRAME_SIZE + 1];
    net.inject(1, c10, &huge);
    assert!(matches!(
        misbehaved(&mut net, 1)[..],
        [Misbehaviour::Oversized { .. }]
    ));
    for _ in 0..20 {
        net.inject(1, c10, b"garbage");
    }
    let downs = net.take_events(1, |e| match e {
        Event::PeerDown { reason, .. } => Some(reason.clone()),
        _ => None,
    });
    assert_eq!(downs, vec![DownReason::ScoreTooLow]);
    assert_eq!(up(&mut net, 1), 0);
    // Banned: it cannot come straight back.
    net.link(0, 1);
    net.run_for(Duration::from_millis(50));
    assert_eq!(up(&mut net, 1), 0);
    assert!(refused(&mut net, 1).contains(&RefuseReason::Banned));
}

#[test]
fn a_flooder_is_rate_limited_and_cut_off_while_honest_traffic_flows() {
    let mut net = Net::new(3);
    let (_, c10) = net.link(0, 1); // node 0 floods node 1
    net.link(2, 1);
    let topic = Topic::new("t").unwrap();
    net.input(1, Input::Subscribe(topic.clone()));
    net.input(2, Input::Subscribe(topic.clone()));
    net.run_for(Duration::from_millis(50));
    let ping = Frame::Ping(1).encode().unwrap();
    // Well past the default 8,000 frames/s and its burst.
    for _ in 0..40_000 {
        net.inject(1, c10, &ping);
        if up(&mut net, 1) < 2 {
            break;
        }
    }
    let limited = misbehaved(&mut net, 1)
        .iter()
        .filter(|m| **m == Misbehaviour::RateLimited)
        .count();
    assert!(limited > 0);
    assert_eq!(
        net.nodes[1].mesh.peers().len(),
        1,
        "flooder cut off, honest peer kept"
    );
    let m = text("still flowing");
    net.input(
        2,
        Input::Publish {
            topic,
            block: m.clone(),
        },
    );
    net.run_for(Duration::from_millis(50));
    assert!(net.nodes[1].store.contains_key(m.cid()));
}
