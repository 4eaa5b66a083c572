//! The simulated network model: FIFO or reordering, backpressure, faults, partitions.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

mod common;

use common::{text, topic};
use quorate_mesh_proto::mesh::{Event, Misbehaviour};
use quorate_mesh_proto::{Block, Cid, Duration};
use quorate_mesh_transport::sim::{NetConfig, NetStats, Sim, SimConfig, seed_from_env};

/// Two linked nodes; node 0 publishes `n` messages at one instant; node 1's delivery
/// order, and the messages in publish order (and the network's counters).
fn burst(net: NetConfig, n: usize) -> (Vec<Cid>, Vec<Cid>, NetStats) {
    let seed = seed_from_env(9);
    let mut config = SimConfig::new(2, seed);
    config.net = net;
    config.record_events = true;
    let mut sim = Sim::new(config);
    sim.connect(0, 1).unwrap();
    let t = topic();
    sim.subscribe_all(&t).unwrap();
    sim.run_for(Duration::from_secs(1)).unwrap();
    let sent: Vec<Cid> = (0..n)
        .map(|k| sim.publish(0, &t, text(&format!("burst {k}"))).unwrap())
        .collect();
    sim.run_for(Duration::from_secs(2)).unwrap();
    let got = sim
        .events(1)
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Delivered { block, .. } => Some(*block.cid()),
            _ => None,
        })
        .collect();
    (sent, got, sim.net_stats())
}

#[test]
fn connections_are_fifo_unless_reordering_is_on() {
    let (sent, got, _) = burst(NetConfig::default(), 200);
    assert_eq!(got, sent, "jitter alone never reorders a connection");

    let reorder = NetConfig {
        reorder: true,
        ..NetConfig::default()
    };
    let (sent, mut got, _) = burst(reorder, 200);
    assert_ne!(got, sent, "with reorder on, jitter shuffles");
    got.sort();
    let mut sorted = sent.clone();
    sorted.sort();
    assert_eq!(got, sorted, "…but loses nothing");
}

#[test]
fn a_tiny_send_buffer_applies_backpressure_without_loss() {
    let tiny = NetConfig {
        send_buffer: 600,
        ..NetConfig::default()
    };
    let (sent, got, net) = burst(tiny, 100);
    assert!(net.writable > 0, "the buffer filled up: {net:?}");
    assert_eq!(
        got, sent,
        "every message, in order, through a 600-byte window"
    );
}

#[test]
fn loss_duplication_and_partitions_are_applied_and_repaired() {
    let seed = seed_from_env(10);
    let mut config = SimConfig::new(20, seed);
    config.net.loss = 0.1;
    config.net.duplicate = 0.1;
    config.degree = 4;
    let mut sim = Sim::new(config);
    sim.connect_random().unwrap();
    let t = topic();
    sim.subscribe_all(&t).unwrap();
    sim.run_for(Duration::from_secs(15)).unwrap(); // lost handshakes time out and redial
    sim.partition(|i| u32::from(i >= 10));
    let inside = sim.publish(0, &t, text("group 0 only")).unwrap();
    sim.run_for(Duration::from_secs(5)).unwrap();
    let reached = &sim.message(&inside).unwrap().deliveries;
    assert!(
        reached.keys().all(|i| *i < 10),
        "QUORATE_SIM_SEED={seed}: crossed the partition: {reached:?}"
    );
    sim.heal();
    sim.run_for(Duration::from_secs(20)).unwrap();
    let net = sim.net_stats();
    assert!(
        net.lost > 0 && net.duplicated > 0 && net.partitioned > 0,
        "{net:?}"
    );
    let report = sim.report(&[inside]);
    assert_eq!(
        report.delivered_fraction, 1.0,
        "QUORATE_SIM_SEED={seed}: repaired after the heal: {report:?}"
    );
}

#[test]
fn tampered_frames_are_caught_and_never_stored() {
    let seed = seed_from_env(11);
    let mut config = SimConfig::new(20, seed);
    config.net.tamper = 0.05;
    config.degree = 5;
    let mut sim = Sim::new(config);
    sim.connect_random().unwrap();
    let t = topic();
    sim.subscribe_all(&t).unwrap();
    sim.run_for(Duration::from_secs(12)).unwrap();
    for k in 0..10u8 {
        let block = Block::raw(vec![k; 2_000]).unwrap();
        let from = sim.random_online(true).unwrap();
        sim.publish(from, &t, block).unwrap();
        sim.run_for(Duration::from_millis(500)).unwrap();
    }
    sim.run_for(Duration::from_secs(10)).unwrap();
    // Every put and delivery was checked against its CID as it happened; re-check all.
    sim.check_all_stores().unwrap();
    assert!(sim.net_stats().tampered > 0);
    let caught = sim
        .misbehaviour()
        .iter()
        .filter(|r| {
            matches!(
                r.reason,
                Misbehaviour::ForgedBlock { .. } | Misbehaviour::Malformed(_)
            )
        })
        .count();
    assert!(
        caught > 0,
        "QUORATE_SIM_SEED={seed}: flipped bytes were noticed"
    );
}
