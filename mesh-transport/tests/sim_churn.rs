//! Fifty nodes under churn, loss and a partition that heals: once the network is quiet,
//! every online node holds the same published messages.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stderr,
    reason = "test code: a panic is a failed test, the summary goes to stderr"
)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{publish_random, stored_messages, topic};
use quorate_mesh_proto::mesh::Misbehaviour;
use quorate_mesh_proto::{Duration, Instant};
use quorate_mesh_transport::sim::{Sim, SimConfig, seed_from_env};

const NODES: usize = 50;
/// 30% of the nodes are offline at any time once churn starts.
const OFFLINE: usize = 15;
/// A node that published recently is not taken offline: a message that never left its
/// publisher cannot converge anywhere, and that is not what this test is about.
const PUBLISH_GRACE: Duration = Duration::from_secs(5);
/// Quiet time after the heal.
const QUIET: Duration = Duration::from_secs(30);

#[test]
fn churn_loss_and_a_healed_partition_converge() {
    let seed = seed_from_env(50);
    let mut config = SimConfig::new(NODES, seed);
    config.net.loss = 0.05;
    let mut sim = Sim::new(config);
    sim.connect_random().unwrap();
    let t = topic();
    sim.subscribe_all(&t).unwrap();
    sim.run_for(Duration::from_secs(3)).unwrap();

    let mut last_published: BTreeMap<usize, Instant> = BTreeMap::new();
    let (mut offline_events, mut online_events) = (0, 0);
    for second in 0..40u32 {
        if second == 20 {
            sim.partition(|i| u32::from(i % 2 == 0));
        }
        // Churn: keep 30% offline, one node swapped per second.
        let offline: Vec<usize> = (0..NODES).filter(|i| !sim.is_online(*i)).collect();
        if offline.len() >= OFFLINE {
            let back = offline[sim.random_index(offline.len())];
            sim.bring_online(back, 3).unwrap();
            online_events += 1;
        }
        for _ in 0..(OFFLINE.saturating_sub(offline.len())).max(1) {
            let now = sim.now();
            let candidates: Vec<usize> = (0..NODES)
                .filter(|i| sim.is_online(*i))
                .filter(|i| {
                    last_published
                        .get(i)
                        .is_none_or(|at| now.saturating_duration_since(*at) > PUBLISH_GRACE)
                })
                .collect();
            if let Some(&gone) = candidates.get(sim.random_index(candidates.len())) {
                sim.take_offline(gone).unwrap();
                offline_events += 1;
            }
        }
        let (from, _) = publish_random(&mut sim, &t, &format!("second {second}"));
        last_published.insert(from, sim.now());
        sim.run_for(Duration::from_secs(1)).unwrap();
    }

    // The partition (20 s, shorter than the idle timeout) heals; then quiet: no more churn
    // or publishing, and anti-entropy repairs what loss and the partition withheld.
    sim.heal();
    sim.run_for(QUIET).unwrap();
    sim.check_all_stores().unwrap();

    let published: BTreeSet<_> = sim.messages().map(|m| m.cid).collect();
    let online: Vec<usize> = (0..NODES).filter(|i| sim.is_online(*i)).collect();
    let net = sim.net_stats();
    eprintln!(
        "seed {seed}: {} published, {} online, {offline_events} offline / {online_events} online events, {net:?}",
        published.len(),
        online.len()
    );
    assert_eq!(published.len(), 40);
    assert_eq!(online.len(), NODES - OFFLINE, "30% offline at the end");
    assert!(
        offline_events >= 40 && online_events >= 25,
        "churn happened"
    );
    assert!(
        net.lost > 100 && net.partitioned > 100,
        "loss and partition bit"
    );
    // Converged: every message any online node holds, every online node holds. (A message
    // whose publisher was cut off by the partition and went offline before the heal is
    // held by no online node: it cannot and need not converge.)
    let held: BTreeSet<_> = online
        .iter()
        .flat_map(|i| stored_messages(&sim, *i))
        .collect();
    for &i in &online {
        let have = stored_messages(&sim, i);
        let missing: Vec<_> = held.difference(&have).collect();
        assert!(
            missing.is_empty(),
            "QUORATE_SIM_SEED={seed}: node {i} lacks {} of the {} messages held online: {missing:?}",
            missing.len(),
            held.len()
        );
    }
    assert!(
        held.len() * 10 >= published.len() * 9,
        "QUORATE_SIM_SEED={seed}: only {} of {} messages survived",
        held.len(),
        published.len()
    );
    // Loss and churn are not misbehaviour: nobody was blamed for forging, nobody cut off.
    assert!(
        !sim.misbehaviour()
            .iter()
            .any(|r| matches!(r.reason, Misbehaviour::ForgedBlock { .. }))
    );
    assert_eq!(sim.cutoffs(), &[], "QUORATE_SIM_SEED={seed}");
}
