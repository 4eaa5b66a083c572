//! Byzantine nodes: a flooder is rate-limited and cut off, a forger's junk never lands.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stderr,
    reason = "test code: a panic is a failed test, the summary goes to stderr"
)]

mod common;

use common::{publish_random, topic};
use quorate_mesh_proto::mesh::{Event, Misbehaviour};
use quorate_mesh_proto::{Block, Cid, Duration};
use quorate_mesh_transport::sim::{Behaviour, Sim, SimConfig, seed_from_env};

const NODES: usize = 30;

fn honest(sim: &Sim) -> Vec<usize> {
    (0..NODES)
        .filter(|i| sim.behaviour(*i) == Some(Behaviour::Honest))
        .collect()
}

#[test]
fn a_flooder_is_rate_limited_and_cut_off_while_honest_traffic_flows() {
    let seed = seed_from_env(66);
    let flooder = 0;
    let mut sim = Sim::new(SimConfig::new(NODES, seed));
    sim.set_behaviour(
        flooder,
        Behaviour::Flooder {
            frames_per_sec: 20_000,
        },
    )
    .unwrap();
    sim.connect_random().unwrap();
    let t = topic();
    sim.subscribe_all(&t).unwrap();
    let flooder_id = sim.id(flooder).unwrap();

    let mut cids = Vec::new();
    for k in 0..20 {
        sim.run_for(Duration::from_millis(500)).unwrap();
        cids.push(publish_random(&mut sim, &t, &format!("honest {k}")).1);
    }
    sim.run_for(Duration::from_secs(3)).unwrap();

    let against: Vec<_> = sim
        .misbehaviour()
        .iter()
        .filter(|r| r.culprit == Some(flooder))
        .collect();
    let limited = against
        .iter()
        .filter(|r| r.reason == Misbehaviour::RateLimited)
        .count();
    let cutters: std::collections::BTreeSet<usize> = sim
        .cutoffs()
        .iter()
        .filter(|c| c.culprit == Some(flooder))
        .map(|c| c.by)
        .collect();
    let report = sim.report(&cids);
    eprintln!(
        "seed {seed}: {} reports against the flooder ({limited} rate-limited), cut off by {cutters:?}; \
         {} junk frames; honest delivery {report:?}",
        against.len(),
        sim.net_stats().byzantine
    );
    assert!(limited > 0, "QUORATE_SIM_SEED={seed}: rate limits hit");
    // Its score fell report by report until it was cut off.
    let first_score = against.first().unwrap().score;
    let last_score = against.iter().map(|r| r.score).min().unwrap();
    assert!(
        first_score > last_score && last_score <= -200,
        "{first_score} → {last_score}"
    );
    // Every honest node that had it as a peer cut it off, and nobody talks to it now.
    assert!(
        cutters.len() >= 6,
        "QUORATE_SIM_SEED={seed}: cut off by {cutters:?}"
    );
    for i in honest(&sim) {
        assert_eq!(
            sim.driver(i).unwrap().mesh().conn_of(&flooder_id),
            None,
            "node {i}"
        );
    }
    assert!(sim.driver(flooder).unwrap().mesh().peers().is_empty());
    // Honest traffic still flowed, and no honest node was cut off.
    assert_eq!(
        report.delivered_fraction, 1.0,
        "QUORATE_SIM_SEED={seed}: {report:?}"
    );
    assert!(
        sim.cutoffs()
            .iter()
            .all(|c| c.culprit.is_none_or(|x| x == flooder)),
        "QUORATE_SIM_SEED={seed}: honest nodes cut off: {:?}",
        sim.cutoffs()
    );
}

#[test]
fn forged_blocks_are_never_stored_delivered_or_forwarded() {
    let seed = seed_from_env(77);
    let forgers = [3, 17];
    let mut config = SimConfig::new(NODES, seed);
    config.record_events = true;
    let mut sim = Sim::new(config);
    for f in forgers {
        sim.set_behaviour(f, Behaviour::Forger).unwrap();
    }
    sim.connect_random().unwrap();
    let t = topic();
    sim.subscribe_all(&t).unwrap();
    // A plain want for a block only node 29 has. Wants go to direct peers only, so node 5
    // is linked to node 29, and to both forgers, which answer with junk instead of
    // "don't have".
    let rare = Block::raw(b"only node 29 has this".to_vec()).unwrap();
    sim.seed_block(29, &rare).unwrap();
    for peer in [forgers[0], forgers[1], 29] {
        sim.connect(5, peer).unwrap();
    }
    sim.run_for(Duration::from_secs(1)).unwrap();
    sim.want(5, *rare.cid()).unwrap();

    // Small messages travel inline; large ones (over the 16 KiB inline limit) are
    // announced and fetched by want, so the forger also serves junk blocks.
    let mut cids = Vec::new();
    for k in 0..12u8 {
        if k % 3 == 0 {
            let from = sim.random_online(true).unwrap();
            let large = Block::raw(vec![k; 40_000]).unwrap();
            cids.push(sim.publish(from, &t, large).unwrap());
        } else {
            cids.push(publish_random(&mut sim, &t, &format!("small {k}")).1);
        }
        sim.run_for(Duration::from_millis(300)).unwrap();
    }
    sim.run_for(Duration::from_secs(10)).unwrap();
    sim.check_all_stores().unwrap();

    let forged: Vec<_> = sim
        .misbehaviour()
        .iter()
        .filter(|r| matches!(r.reason, Misbehaviour::ForgedBlock { .. }))
        .collect();
    eprintln!(
        "seed {seed}: {} ForgedBlock reports, {} byzantine frames, cut-offs {:?}",
        forged.len(),
        sim.net_stats().byzantine,
        sim.cutoffs()
    );
    assert!(
        !forged.is_empty(),
        "QUORATE_SIM_SEED={seed}: forgers were active"
    );
    assert!(
        forged
            .iter()
            .all(|r| r.culprit.is_some_and(|c| forgers.contains(&c))),
        "QUORATE_SIM_SEED={seed}: only forgers are blamed (no honest node forwarded junk)"
    );
    let cut: Vec<usize> = sim.cutoffs().iter().filter_map(|c| c.culprit).collect();
    assert!(
        forgers.iter().all(|f| cut.contains(f)),
        "QUORATE_SIM_SEED={seed}: both forgers cut off: {cut:?}"
    );
    for i in honest(&sim) {
        // Stores: only genuine blocks. `check_all_stores` above re-hashed every one, and
        // the simulator checks each put as it happens.
        for cid in sim.store(i).unwrap().cids().unwrap() {
            assert!(
                sim.message(&cid).is_some() || cid == *rare.cid(),
                "node {i}: {cid}"
            );
        }
        // Deliveries: every message exactly as published.
        for (_, event) in sim.events(i) {
            if let Event::Delivered { block, .. } = event {
                assert_eq!(Cid::of(block.cid().codec(), block.bytes()), *block.cid());
                assert!(sim.message(block.cid()).is_some());
            }
        }
    }
    let report = sim.report(&cids);
    assert_eq!(
        report.delivered_fraction, 1.0,
        "QUORATE_SIM_SEED={seed}: every honest node got every genuine message: {report:?}"
    );
    let fetched = sim
        .events(5)
        .iter()
        .any(|(_, e)| matches!(e, Event::Fetched { block, .. } if block.cid() == rare.cid()));
    assert!(
        fetched,
        "QUORATE_SIM_SEED={seed}: the rare block was fetched despite junk answers"
    );
}
