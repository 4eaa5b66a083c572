//! Committee rotation keeping `PK_G`: 3-of-5 reshared to 4-of-7 (two members removed,
//! four added); the new committee signs under the same key; a removed member's old share
//! with fewer than the new `t` new shares yields neither the key nor a signature; a
//! dealer that deals anything but its own share, or deals twice, is named. And seed
//! 004's committee selection rule.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

use std::collections::BTreeMap;

use ed25519_dalek::{Signature, VerifyingKey};
use frost_ed25519 as frost;
use quorate_actor_core::{ActorId, Identity};
use quorate_attestation_core::Committee;
use quorate_attestation_core::frost::dkg::identifier;
use quorate_attestation_core::frost::reshare::{
    Reshare, ReshareConfig, ReshareFailure, ReshareOutput, deal,
};
use quorate_attestation_core::frost::select::{rank, select_committee};
use quorate_group_core::Member;
use quorate_mesh_proto::Block;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

mod common;

use common::frost::{GROUP, committee, people};

struct Rotation {
    people: Vec<Identity>,
    old: Committee,
    old_keys: Vec<frost::keys::KeyPackage>,
    config: ReshareConfig,
    /// Indexes into `people` of the new committee.
    new: Vec<usize>,
}

/// Old committee: people 0..5 (3-of-5). New: people 2..9 minus none of 2,3,4 — i.e.
/// 2, 3, 4, 5, 6, 7, 8 (4-of-7): 0 and 1 removed, 5..8 added. Dealers: 1, 2, 3.
fn rotation() -> Rotation {
    let people = people(9);
    let (old, _, old_keys) = committee(&people[..5], 3, 1);
    let new: Vec<usize> = (2..9).collect();
    let mut members: Vec<Member> = new.iter().map(|i| Member::of(&people[*i])).collect();
    members.sort_by_key(|m| m.actor);
    let mut dealers: Vec<ActorId> = [1, 2, 3].iter().map(|i| people[*i].id()).collect();
    dealers.sort();
    let config = ReshareConfig {
        session: [4; 32],
        old: old.clone(),
        dealers,
        members,
        threshold: 4,
    };
    Rotation {
        people,
        old,
        old_keys,
        config,
        new,
    }
}

/// Runs the new members' machines over `blocks` (and what they send) until quiet;
/// `deliver(j, block)` may hide or replace a block for new member `j`.
fn run(
    r: &Rotation,
    dealings: Vec<Block>,
    deliver: impl Fn(usize, &Block) -> Option<Block>,
) -> Vec<ReshareOutput> {
    let mut machines: Vec<Reshare> = r
        .new
        .iter()
        .map(|i| Reshare::new(r.config.clone(), r.people[*i].clone()))
        .collect();
    let mut queue = dealings;
    let mut results: BTreeMap<usize, ReshareOutput> = BTreeMap::new();
    for _ in 0..6 {
        for block in std::mem::take(&mut queue) {
            for (j, m) in machines.iter_mut().enumerate() {
                if let Some(b) = deliver(j, &block) {
                    m.handle(&b);
                }
            }
        }
        for (j, m) in machines.iter_mut().enumerate() {
            while let Some(o) = m.poll_output() {
                match o {
                    ReshareOutput::Send(b) => queue.push(b),
                    done => {
                        results.insert(j, done);
                    }
                }
            }
        }
    }
    (0..machines.len())
        .map(|j| results.remove(&j).expect("every new member finished"))
        .collect()
}

fn dealings(r: &Rotation, seed: u64) -> Vec<Block> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    [1, 2, 3]
        .iter()
        .map(|i| deal(&r.config, &r.people[*i], &r.old_keys[*i], &mut rng).unwrap())
        .collect()
}

/// FROST-signs `message` with `keys` (all of them) under `public`.
fn frost_sign(
    keys: &[&frost::keys::KeyPackage],
    public: &frost::keys::PublicKeyPackage,
    message: &[u8],
) -> Result<[u8; 64], frost::Error> {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let mut nonces = BTreeMap::new();
    let mut commitments = BTreeMap::new();
    for k in keys {
        let (n, c) = frost::round1::commit(k.signing_share(), &mut rng);
        nonces.insert(*k.identifier(), n);
        commitments.insert(*k.identifier(), c);
    }
    let package = frost::SigningPackage::new(commitments, message);
    let mut shares = BTreeMap::new();
    for k in keys {
        shares.insert(
            *k.identifier(),
            frost::round2::sign(&package, &nonces[k.identifier()], k)?,
        );
    }
    let sig = frost::aggregate(&package, &shares, public)?;
    Ok(sig.serialize()?.try_into().unwrap())
}

#[test]
fn three_of_five_reshared_to_four_of_seven_keeps_pk_g_and_the_new_committee_signs() {
    let r = rotation();
    let outputs = run(&r, dealings(&r, 2), |_, b| Some(b.clone()));
    let mut done = Vec::new();
    for o in outputs {
        let ReshareOutput::Done {
            key_package,
            public,
            committee,
        } = o
        else {
            panic!("{o:?}")
        };
        done.push((*key_package, *public, committee));
    }
    // One committee for all, same PK_G, new members and threshold.
    let new_committee = done[0].2.clone();
    assert!(done.iter().all(|(_, _, c)| *c == new_committee));
    assert_eq!(new_committee.group_key, r.old.group_key, "PK_G unchanged");
    assert_eq!(new_committee.threshold, 4);
    assert_eq!(new_committee.members.len(), 7);
    assert!(!new_committee.members.contains(&r.people[0].id()));
    assert!(!new_committee.members.contains(&r.people[1].id()));
    Committee::decode(&new_committee.to_block().unwrap(), &GROUP).unwrap();

    // Four new holders sign; plain Ed25519 verifies under the old PK_G.
    let public = &done[0].1;
    let keys: Vec<&frost::keys::KeyPackage> = done.iter().map(|(k, _, _)| k).collect();
    let message = b"rotated";
    let sig = frost_sign(&keys[1..5], public, message).unwrap();
    let pk = VerifyingKey::from_bytes(&r.old.group_key).unwrap();
    pk.verify_strict(message, &Signature::from_bytes(&sig))
        .unwrap();
    // Three do not.
    assert!(frost_sign(&keys[..3], public, message).is_err());

    // The key is the same secret: four new shares reconstruct PK_G's secret, three do
    // not, and a removed member's old share with three new ones does not either.
    let key_of = |packages: &[frost::keys::KeyPackage]| {
        let sk = frost::keys::reconstruct(packages).unwrap();
        frost::VerifyingKey::from(&sk).serialize().unwrap()
    };
    let new_keys: Vec<frost::keys::KeyPackage> = done.iter().map(|(k, _, _)| k.clone()).collect();
    assert_eq!(key_of(&new_keys[..4]), r.old.group_key.to_vec());
    let three: Vec<frost::keys::KeyPackage> = new_keys[..3]
        .iter()
        .map(|k| {
            frost::keys::KeyPackage::new(
                *k.identifier(),
                *k.signing_share(),
                *k.verifying_share(),
                *k.verifying_key(),
                3,
            )
        })
        .collect();
    assert_ne!(key_of(&three), r.old.group_key.to_vec());
    let mut mixed = vec![r.old_keys[0].clone()];
    mixed.extend(three.iter().cloned());
    assert_ne!(key_of(&mixed), r.old.group_key.to_vec());
    // Nor can the removed member take part in a signature with the new committee.
    let mut with_removed: Vec<&frost::keys::KeyPackage> = vec![&r.old_keys[0]];
    with_removed.extend(&keys[..3]);
    assert!(frost_sign(&with_removed, public, message).is_err());
}

#[test]
fn a_dealer_dealing_anything_but_its_own_share_is_named() {
    let r = rotation();
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let mut blocks = dealings(&r, 4);
    // Person 2 deals a made-up secret under its identifier.
    let liar = &r.people[2];
    let fake = frost::keys::KeyPackage::new(
        identifier(&liar.id()).unwrap(),
        frost::keys::SigningShare::deserialize(&[5u8; 32]).unwrap(),
        *r.old_keys[2].verifying_share(),
        *r.old_keys[2].verifying_key(),
        3,
    );
    blocks[1] = deal(&r.config, liar, &fake, &mut rng).unwrap();
    for o in run(&r, blocks, |_, b| Some(b.clone())) {
        assert!(
            matches!(&o, ReshareOutput::Failed(ReshareFailure::Invalid { culprit, .. }) if *culprit == liar.id()),
            "{o:?}"
        );
    }
}

#[test]
fn a_dealer_sending_different_dealings_to_different_members_fails_the_run_about_it() {
    let r = rotation();
    let honest = dealings(&r, 5);
    let other = deal(
        &r.config,
        &r.people[3],
        &r.old_keys[3],
        &mut ChaCha20Rng::seed_from_u64(6),
    )
    .unwrap();
    let culprit = r.people[3].id();
    let index = [1, 2, 3].iter().position(|i| *i == 3).unwrap();
    let first = honest[index].cid();
    // New member 0 gets the other dealing instead.
    let outputs = run(&r, honest.clone(), |j, b| {
        Some(if j == 0 && b.cid() == first {
            other.clone()
        } else {
            b.clone()
        })
    });
    // Member 0 used the other dealing: everyone's confirmations disagree about the dealer
    // (which of the dealer and the confirmer lied is not proven by a confirmation), and
    // nobody finishes.
    for o in outputs {
        assert!(
            matches!(&o, ReshareOutput::Failed(ReshareFailure::Inconsistent { about, .. }) if *about == culprit),
            "{o:?}"
        );
    }
}

#[test]
fn a_bad_configuration_is_refused() {
    let r = rotation();
    let mut too_few = r.config.clone();
    too_few.dealers.pop();
    assert!(matches!(
        deal(
            &too_few,
            &r.people[1],
            &r.old_keys[1],
            &mut ChaCha20Rng::seed_from_u64(1)
        ),
        Err(ReshareFailure::Config(_))
    ));
    let mut outsider = r.config.clone();
    outsider.dealers[0] = r.people[8].id();
    let mut m = Reshare::new(outsider, r.people[2].clone());
    assert!(matches!(
        m.poll_output(),
        Some(ReshareOutput::Failed(ReshareFailure::Config(_)))
    ));
    // Not a dealer of this run.
    assert!(
        deal(
            &r.config,
            &r.people[4],
            &r.old_keys[4],
            &mut ChaCha20Rng::seed_from_u64(1)
        )
        .is_err()
    );
}

#[test]
fn committee_selection_follows_seed_004s_rule() {
    let people: Vec<ActorId> = people(20).iter().map(Identity::id).collect();
    let chosen = select_committee(&people, &GROUP, 7, 5, (3, 9));
    assert_eq!(chosen.len(), 5);
    // Ascending SHA-256(epoch ‖ member ‖ group), first five.
    let mut by_rank = people.clone();
    by_rank.sort_by_key(|m| rank(7, m, &GROUP));
    assert_eq!(chosen, by_rank[..5]);
    // The size stays within [min, max]; a small group gives all its members.
    assert_eq!(select_committee(&people, &GROUP, 7, 50, (3, 9)).len(), 9);
    assert_eq!(select_committee(&people, &GROUP, 7, 1, (3, 9)).len(), 3);
    assert_eq!(
        select_committee(&people[..2], &GROUP, 7, 5, (3, 9)).len(),
        2
    );
    // Another epoch shuffles (with 20 members, the same first five is unlikely).
    assert_ne!(select_committee(&people, &GROUP, 8, 5, (3, 9)), chosen);
    // Input order does not matter.
    let mut reversed = people.clone();
    reversed.reverse();
    assert_eq!(select_committee(&reversed, &GROUP, 7, 5, (3, 9)), chosen);
}

/// Regenerates the seeds of the `frost_reshare` fuzz target (a dealing and a confirm):
/// `cargo test -p quorate-attestation-core --test frost_reshare -- --ignored write_fuzz_seeds`.
#[test]
#[ignore = "writes fuzz/seeds/frost_reshare"]
fn write_fuzz_seeds() {
    let r = rotation();
    let dealings = dealings(&r, 9);
    let mut confirm = None;
    let mut m = Reshare::new(r.config.clone(), r.people[2].clone());
    for b in &dealings {
        m.handle(b);
    }
    while let Some(o) = m.poll_output() {
        if let ReshareOutput::Send(b) = o {
            confirm = Some(b);
        }
    }
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/seeds/frost_reshare");
    std::fs::create_dir_all(dir).unwrap();
    for (i, b) in [dealings[0].clone(), confirm.unwrap()].iter().enumerate() {
        let mut bytes = vec![u8::try_from(i).unwrap() << 1];
        bytes.extend_from_slice(b.bytes());
        std::fs::write(format!("{dir}/block{i}"), bytes).unwrap();
    }
}
