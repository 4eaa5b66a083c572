//! Flow control of the mesh machine: served blocks wait for outbox room instead of being
//! dropped, a fetcher keeps at most `want_window` requests at one peer, and a sender
//! paces itself under the rates its peer advertised.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::cast_possible_truncation,
    reason = "test code: a panic is a failed test"
)]

mod common;

use common::{Net, config};
use quorate_mesh_proto::mesh::{Event, Frame, Input, Misbehaviour, Output};
use quorate_mesh_proto::{Block, Cid, Duration};

/// `n` raw blocks of `size` bytes, distinct.
fn blocks(n: usize, size: usize) -> Vec<Block> {
    (0..n)
        .map(|i| {
            let mut bytes = vec![(i % 251) as u8; size];
            bytes[..8].copy_from_slice(&(i as u64).to_le_bytes());
            Block::raw(bytes).unwrap()
        })
        .collect()
}

fn want_all(net: &mut Net, i: usize, blocks: &[Block]) {
    for b in blocks {
        let cid = *b.cid();
        net.input(i, Input::Want { cid, priority: 1 });
    }
}

fn fetched(net: &mut Net, i: usize) -> Vec<Cid> {
    net.take_events(i, |e| match e {
        Event::Fetched { block, .. } => Some(*block.cid()),
        _ => None,
    })
}

fn rate_limited(net: &Net, i: usize) -> usize {
    net.nodes[i]
        .events
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::PeerMisbehaved {
                    reason: Misbehaviour::RateLimited,
                    ..
                }
            )
        })
        .count()
}

#[test]
fn served_blocks_wait_for_outbox_room_instead_of_being_dropped() {
    let mut server = config(0);
    server.outbox_max_bytes = 1024 * 1024;
    let mut net = Net::with_configs(vec![server, config(1)]);
    let (c01, _) = net.link(0, 1);
    net.run_for(Duration::from_millis(50));
    let wanted = blocks(24, 200 * 1024); // 4.7 MiB, over four times the outbox
    for b in &wanted {
        net.nodes[0].store.insert(*b.cid(), b.clone());
    }
    // The link is congested: the transport takes nothing for a while.
    let now = net.now;
    net.nodes[0]
        .mesh
        .handle_input(
            now,
            Input::Writable {
                conn: c01,
                writable: false,
            },
        )
        .unwrap();
    net.drain(0);
    want_all(&mut net, 1, &wanted);
    net.run_for(Duration::from_millis(200));
    assert!(fetched(&mut net, 1).is_empty(), "nothing can pass yet");
    let stats = net.nodes[0].mesh.stats();
    assert_eq!(stats.dropped_out, 0, "answers wait, none dropped");
    net.input(
        0,
        Input::Writable {
            conn: c01,
            writable: true,
        },
    );
    net.run_for(Duration::from_secs(1));
    let mut got = fetched(&mut net, 1);
    got.sort();
    let mut expected: Vec<Cid> = wanted.iter().map(|b| *b.cid()).collect();
    expected.sort();
    assert_eq!(got, expected, "every block arrives once the link drains");
    assert_eq!(net.nodes[0].mesh.stats().dropped_out, 0);
}

#[test]
fn wants_beyond_the_window_wait_for_answers() {
    let mut fetcher = config(1);
    fetcher.want_window = 8;
    let mut net = Net::with_configs(vec![config(0), fetcher]);
    let (_, c10) = net.link(0, 1);
    net.run_for(Duration::from_millis(50));
    let wanted = blocks(100, 512);
    for b in &wanted {
        net.nodes[0].store.insert(*b.cid(), b.clone());
    }
    // Ask for all 100 and look at what goes out before any answer.
    let now = net.now;
    for b in &wanted {
        let cid = *b.cid();
        net.nodes[1]
            .mesh
            .handle_input(now, Input::Want { cid, priority: 1 })
            .unwrap();
    }
    let mut asked = 0;
    let mut sent = Vec::new();
    while let Some(out) = net.nodes[1].mesh.poll_output() {
        if let Output::Send { conn, frame } = out {
            assert_eq!(conn, c10);
            if let Ok(Frame::Want(entries)) = Frame::decode(&frame, 1 << 20) {
                asked += entries.iter().filter(|e| !e.cancel).count();
            }
            sent.push(frame);
        }
    }
    assert_eq!(asked, 8, "one window's worth of requests, no more");
    // Deliver them by hand; the answers free slots and the rest follow.
    let c01 = *net.nodes[0].links.keys().next().unwrap();
    for frame in sent {
        net.inject(0, c01, &frame);
    }
    net.run_for(Duration::from_secs(1));
    assert_eq!(fetched(&mut net, 1).len(), 100);
}

#[test]
fn a_sender_paces_itself_under_the_receivers_advertised_rate() {
    let mut slow = config(1);
    slow.limits.bytes_per_sec = 100 * 1024;
    let mut net = Net::with_configs(vec![config(0), slow]);
    net.link(0, 1);
    net.run_for(Duration::from_millis(50));
    let wanted = blocks(10, 50 * 1024); // 500 KiB at 100 KiB/s
    for b in &wanted {
        net.nodes[0].store.insert(*b.cid(), b.clone());
    }
    let start = net.now;
    want_all(&mut net, 1, &wanted);
    let mut done_at = None;
    let mut got = 0;
    while net.now < start + Duration::from_secs(20) {
        net.run_for(Duration::from_millis(100));
        got += fetched(&mut net, 1).len();
        if got == wanted.len() {
            done_at = Some(net.now);
            break;
        }
    }
    let done_at = done_at.expect("every block arrives");
    let took = done_at.saturating_duration_since(start);
    // One second's burst, then ~94 KiB/s: at least 4 s for the remaining 400 KiB.
    assert!(took >= Duration::from_secs(4), "paced, took {took:?}");
    assert_eq!(rate_limited(&net, 1), 0, "the receiver never had to drop");
    assert_eq!(up(&net), 1, "and nobody was cut off");
}

fn up(net: &Net) -> usize {
    net.nodes[1].mesh.peers().len()
}
