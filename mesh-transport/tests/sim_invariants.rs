//! The simulator's invariants catch what they claim to, and a failure names its seed.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

mod common;

use common::{text, topic};
use quorate_mesh_proto::Duration;
use quorate_mesh_proto::mesh::Input;
use quorate_mesh_transport::sim::{Sim, SimConfig, SimError};

#[test]
fn a_block_nobody_published_breaks_an_invariant_and_the_error_names_the_seed() {
    let seed = 4_242;
    let mut config = SimConfig::new(5, seed);
    config.degree = 2;
    let mut sim = Sim::new(config);
    sim.connect_random().unwrap();
    let t = topic();
    sim.subscribe_all(&t).unwrap();
    sim.run_for(Duration::from_secs(1)).unwrap();
    // Behind the simulator's back: the machine stores and gossips a block the simulation
    // never saw published, which is exactly what a forged delivery would look like.
    let sneaky = Input::Publish {
        topic: t,
        block: text("unregistered"),
    };
    let err = sim.command(0, sneaky).unwrap_err();
    let SimError::Invariant(violation) = &err else {
        panic!("{err:?}");
    };
    assert_eq!(violation.seed, seed);
    assert_eq!(violation.node, Some(0));
    // `unwrap()` prints `Debug`: it carries the replay line.
    let shown = format!("{err:?}");
    assert!(shown.contains("QUORATE_SIM_SEED=4242"), "{shown}");
    assert!(
        shown.contains("nobody published") || shown.contains("not a block"),
        "{shown}"
    );
    // Sticky: the run stays failed.
    assert_eq!(sim.run_for(Duration::from_secs(1)).unwrap_err(), err);
}
