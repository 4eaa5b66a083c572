//! Order independence and idempotence of the committee machines: whatever order the
//! blocks of a DKG or a resharing arrive in at each member, and however often each
//! arrives, every member ends with the same result — one `PK_G` (the DKG), or the old
//! `PK_G` and one committee (the resharing).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

use proptest::prelude::*;
use quorate_actor_core::{ActorId, Identity};
use quorate_attestation_core::frost::dkg::{Dkg, DkgConfig, DkgOutput};
use quorate_attestation_core::frost::reshare::{Reshare, ReshareConfig, ReshareOutput, deal};
use quorate_group_core::Member;
use quorate_mesh_proto::Block;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

mod common;

use common::frost::{GROUP, committee, people};

/// Each member gets the blocks sent so far in its own order (a permutation from
/// `order`), each block `dup` times.
fn shuffled(blocks: &[Block], order: &[u8], member: usize, dup: usize) -> Vec<Block> {
    let mut out: Vec<Block> = blocks
        .iter()
        .flat_map(|b| std::iter::repeat_n(b.clone(), dup))
        .collect();
    // A deterministic shuffle per member driven by the input bytes.
    for i in (1..out.len()).rev() {
        let k = usize::from(order[(i + member * 7) % order.len()]) % (i + 1);
        out.swap(i, k);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn the_dkg_ends_with_one_key_whatever_the_order(
        order in proptest::collection::vec(any::<u8>(), 1..64),
        dup in 1usize..3,
        seed in any::<u64>(),
    ) {
        let people = people(3);
        let config = DkgConfig {
            group: GROUP,
            session: [5; 32],
            members: people.iter().map(Member::of).collect(),
            threshold: 2,
        };
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let mut dkgs: Vec<Dkg> = people
            .iter()
            .map(|p| Dkg::start(config.clone(), p.clone(), &mut rng))
            .collect();
        let mut keys = [None; 3];
        let mut sent: Vec<Block> = Vec::new();
        for _ in 0..8 {
            for (i, d) in dkgs.iter_mut().enumerate() {
                while let Some(o) = d.poll_output() {
                    match o {
                        DkgOutput::Send(b) => sent.push(b),
                        DkgOutput::Done { group_key, .. } => keys[i] = Some(group_key),
                        DkgOutput::Failed(f) => panic!("{f}"),
                        _ => {}
                    }
                }
            }
            for (i, d) in dkgs.iter_mut().enumerate() {
                for b in shuffled(&sent, &order, i, dup) {
                    d.handle(&b, &mut rng);
                }
            }
        }
        prop_assert!(keys.iter().all(Option::is_some), "every member finished");
        prop_assert!(keys.windows(2).all(|w| w[0] == w[1]), "one PK_G");
    }

    #[test]
    fn a_resharing_ends_with_the_old_key_and_one_committee_whatever_the_order(
        order in proptest::collection::vec(any::<u8>(), 1..64),
        dup in 1usize..3,
        seed in any::<u64>(),
    ) {
        let people = people(5);
        let (old, _, keys) = committee(&people[..3], 2, 3);
        let mut members: Vec<Member> = people[1..].iter().map(Member::of).collect();
        members.sort_by_key(|m| m.actor);
        let mut dealers: Vec<ActorId> = people[..2].iter().map(Identity::id).collect();
        dealers.sort();
        let config = ReshareConfig {
            session: [6; 32],
            old: old.clone(),
            dealers: dealers.clone(),
            members,
            threshold: 3,
        };
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let index = |a: &ActorId| people.iter().position(|p| p.id() == *a).unwrap();
        let mut sent: Vec<Block> = dealers
            .iter()
            .map(|d| deal(&config, &people[index(d)], &keys[index(d)], &mut rng).unwrap())
            .collect();
        let mut machines: Vec<Reshare> = people[1..]
            .iter()
            .map(|p| Reshare::new(config.clone(), p.clone()))
            .collect();
        let mut committees = vec![None; machines.len()];
        for _ in 0..4 {
            for (i, m) in machines.iter_mut().enumerate() {
                for b in shuffled(&sent, &order, i, dup) {
                    m.handle(&b);
                }
            }
            for (i, m) in machines.iter_mut().enumerate() {
                while let Some(o) = m.poll_output() {
                    match o {
                        ReshareOutput::Send(b) => sent.push(b),
                        ReshareOutput::Done { committee, .. } => committees[i] = Some(committee),
                        ReshareOutput::Failed(f) => panic!("{f}"),
                        _ => {}
                    }
                }
            }
        }
        prop_assert!(committees.iter().all(Option::is_some), "every new holder finished");
        prop_assert!(committees.windows(2).all(|w| w[0] == w[1]), "one committee");
        prop_assert_eq!(committees[0].as_ref().unwrap().group_key, old.group_key);
    }
}
