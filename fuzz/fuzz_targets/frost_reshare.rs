//! Committee resharing on untrusted bytes: the input, as a block, goes through
//! `ReshareMessage::decode` and into a running resharing of a 2-of-3 committee to three
//! new holders with threshold 2, at a point the input picks. Nothing may panic; every new
//! holder that completes has the old `PK_G`, and all who complete agree.

#![no_main]
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "fuzz target: a panic is a found bug"
)]

#[path = "frost/fixture.rs"]
mod frost_fixture;

use std::sync::OnceLock;

use frost_fixture::Fixture;

use libfuzzer_sys::fuzz_target;
use quorate_actor_core::{ActorId, Identity};
use quorate_attestation_core::frost::reshare::{
    Reshare, ReshareConfig, ReshareMessage, ReshareOutput, deal,
};
use quorate_group_core::Member;
use quorate_mesh_proto::{Block, Cid, Codec, Envelope};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

/// Old holders: people 0, 1, 2; new: 1, 2, 3.
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| frost_fixture::build(4, 3, 2))
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let (&first, rest) = data.split_first().unwrap_or((&0, &[]));
    let codec = if first & 1 == 0 { Codec::DagCbor } else { Codec::Raw };
    let fuzzed = Block::from_untrusted(&Cid::of(codec, rest), rest.to_vec()).ok();
    if let Some(block) = &fuzzed
        && let Ok(m) = ReshareMessage::decode(block)
    {
        assert!(Envelope::unsigned(m).to_block().is_ok(), "re-encodes");
    }
    let mut members: Vec<Member> = f.people[1..].iter().map(Member::of).collect();
    members.sort_by_key(|m| m.actor);
    let mut dealers: Vec<ActorId> = f.people[..2].iter().map(Identity::id).collect();
    dealers.sort();
    let config = ReshareConfig {
        session: [3; 32],
        old: f.committee.clone(),
        dealers,
        members,
        threshold: 2,
    };
    let mut rng = ChaCha20Rng::seed_from_u64(u64::from(first));
    let mut queue: Vec<Block> = (0..2)
        .map(|i| deal(&config, &f.people[i], &f.keys[i], &mut rng).expect("deal"))
        .collect();
    let mut machines: Vec<Reshare> = f.people[1..]
        .iter()
        .map(|p| Reshare::new(config.clone(), p.clone()))
        .collect();
    let mut keys = Vec::new();
    for round in 0..6u8 {
        if round == (first >> 1) % 3
            && let Some(block) = &fuzzed
        {
            queue.insert(usize::from(first >> 3) % (queue.len() + 1), block.clone());
        }
        for block in std::mem::take(&mut queue) {
            for m in &mut machines {
                m.handle(&block);
            }
        }
        for m in &mut machines {
            while let Some(o) = m.poll_output() {
                match o {
                    ReshareOutput::Send(b) => queue.push(b),
                    ReshareOutput::Done { committee, .. } => keys.push(committee.group_key),
                    _ => {}
                }
            }
        }
    }
    assert!(keys.iter().all(|k| *k == f.committee.group_key), "PK_G changed");
});
