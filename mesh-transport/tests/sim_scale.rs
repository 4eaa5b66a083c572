//! A thousand nodes gossip: nearly everyone delivers, in few hops, about one copy each.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stderr,
    clippy::cast_precision_loss,
    reason = "test code: a panic is a failed test, the report goes to stderr"
)]

mod common;

use common::{publish_random, topic};
use quorate_mesh_proto::Duration;
use quorate_mesh_transport::sim::{Sim, SimConfig, seed_from_env};

const NODES: usize = 1_000;

#[test]
fn a_thousand_nodes_deliver_gossip() {
    let seed = seed_from_env(1_000);
    let started = std::time::Instant::now();
    let mut sim = Sim::new(SimConfig::new(NODES, seed));
    sim.connect_random().unwrap();
    let t = topic();
    sim.subscribe_all(&t).unwrap();
    sim.run_for(Duration::from_secs(2)).unwrap();
    let up = (0..NODES)
        .filter(|i| sim.driver(*i).unwrap().mesh().peers().len() >= 6)
        .count();
    assert_eq!(
        up, NODES,
        "QUORATE_SIM_SEED={seed}: every node has its 6+ peers"
    );

    // Warm-up: the first messages prune the eager graph down to a tree.
    for k in 0..2 {
        publish_random(&mut sim, &t, &format!("warm-up {k}"));
        sim.run_for(Duration::from_millis(200)).unwrap();
    }
    sim.run_for(Duration::from_secs(1)).unwrap();

    let before = sim.stats();
    let mut cids = Vec::new();
    for k in 0..5 {
        cids.push(publish_random(&mut sim, &t, &format!("message {k}")).1);
        sim.run_for(Duration::from_millis(100)).unwrap();
    }
    sim.run_for(Duration::from_secs(2)).unwrap();
    sim.check_all_stores().unwrap();

    let report = sim.report(&cids);
    let copies = (sim.stats().gossip_copies - before.gossip_copies) as f64 / (NODES * 5) as f64;
    eprintln!(
        "seed {seed}: {NODES} nodes, {:?}; copies per node per message {copies:.2}; {} events, {:?} wall",
        report,
        sim.steps(),
        started.elapsed()
    );
    assert!(
        report.delivered_fraction >= 0.99,
        "QUORATE_SIM_SEED={seed}: delivered {} of {}",
        report.delivered,
        report.expected
    );
    assert_eq!(report.expected, 5 * (NODES as u64 - 1));
    assert!(
        report.hops_p50 >= 2 && report.hops_max <= 32,
        "QUORATE_SIM_SEED={seed}: hops {report:?}"
    );
    // A lossless network of honest nodes: nobody misbehaves (no duplicate floods from a
    // one-sided eager link, no rate limits hit by plain gossip).
    assert_eq!(
        sim.misbehaviour(),
        &[],
        "QUORATE_SIM_SEED={seed}: honest nodes blamed each other"
    );
    for cid in &cids {
        let record = sim.message(cid).unwrap();
        assert!(record.deliveries.len() >= (NODES - 1) * 99 / 100);
        assert!(!record.deliveries.contains_key(&record.publisher));
    }
}
