//! Same seed ⇒ the same run, event for event; another seed ⇒ another run.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

mod common;

use common::{publish_random, text, topic};
use quorate_mesh_proto::Duration;
use quorate_mesh_transport::sim::{Behaviour, Sim, SimConfig, TraceRecord, seed_from_env};

/// A run that draws on every source of randomness: keys, topology, latency, jitter with
/// reordering, loss, duplication, tampering, a partition, churn and a forger.
fn run(seed: u64) -> Sim {
    let mut config = SimConfig::new(40, seed);
    config.net.reorder = true;
    config.net.loss = 0.02;
    config.net.duplicate = 0.02;
    config.net.tamper = 0.005;
    config.record_trace = true;
    config.degree = 5;
    let mut sim = Sim::new(config);
    sim.set_behaviour(39, Behaviour::Forger).unwrap();
    sim.connect_random().unwrap();
    let t = topic();
    sim.subscribe_all(&t).unwrap();
    sim.run_for(Duration::from_secs(2)).unwrap();
    for k in 0..6 {
        publish_random(&mut sim, &t, &format!("m{k}"));
        sim.run_for(Duration::from_millis(300)).unwrap();
    }
    sim.partition(|i| u32::from(i % 3 == 0));
    let gone = sim.random_online(true).unwrap();
    sim.take_offline(gone).unwrap();
    let from = sim.random_online(true).unwrap();
    sim.publish(from, &t, text("during the partition")).unwrap();
    sim.run_for(Duration::from_secs(3)).unwrap();
    sim.heal();
    sim.bring_online(gone, 3).unwrap();
    sim.run_for(Duration::from_secs(5)).unwrap();
    sim
}

fn first_divergence(a: &[TraceRecord], b: &[TraceRecord]) -> Option<usize> {
    (0..a.len().max(b.len())).find(|&k| a.get(k) != b.get(k))
}

#[test]
fn same_seed_same_trace_other_seed_other_trace() {
    let seed = seed_from_env(20_260_401);
    let (a, b) = (run(seed), run(seed));
    assert!(
        a.trace_len() > 2_000,
        "a busy run: {} events",
        a.trace_len()
    );
    if let Some(k) = first_divergence(a.trace_records(), b.trace_records()) {
        panic!(
            "QUORATE_SIM_SEED={seed}: runs diverge at event {k}: {:?} vs {:?}",
            a.trace_records().get(k),
            b.trace_records().get(k)
        );
    }
    assert_eq!(a.trace_digest(), b.trace_digest());
    assert_eq!(a.net_stats(), b.net_stats());
    assert_eq!(a.stats(), b.stats());
    assert!(a.net_stats().lost > 0 && a.net_stats().duplicated > 0 && a.net_stats().tampered > 0);

    let c = run(seed.wrapping_add(1));
    assert_ne!(
        a.trace_digest(),
        c.trace_digest(),
        "seed {seed} vs {}",
        seed + 1
    );
}
