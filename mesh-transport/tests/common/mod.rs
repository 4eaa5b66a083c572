//! Helpers shared by the simulator tests.

#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers shared by several test files"
)]

use std::collections::BTreeSet;

use quorate_mesh_proto::mesh::Topic;
use quorate_mesh_proto::payloads::Text;
use quorate_mesh_proto::{Block, Cid};
use quorate_mesh_transport::sim::Sim;

pub fn text(body: &str) -> Block {
    Block::encode(&Text { body: body.into() }).unwrap()
}

pub fn topic() -> Topic {
    Topic::new("sim/test").unwrap()
}

/// A random honest online node publishes a text message.
pub fn publish_random(sim: &mut Sim, topic: &Topic, label: &str) -> (usize, Cid) {
    let from = sim.random_online(true).expect("an honest node online");
    let cid = sim.publish(from, topic, text(label)).unwrap();
    (from, cid)
}

/// The published messages node `i` holds in its store.
pub fn stored_messages(sim: &Sim, i: usize) -> BTreeSet<Cid> {
    let published: BTreeSet<Cid> = sim.messages().map(|m| m.cid).collect();
    sim.store(i)
        .unwrap()
        .cids()
        .unwrap()
        .into_iter()
        .filter(|c| published.contains(c))
        .collect()
}
