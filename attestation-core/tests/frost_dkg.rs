//! The committee DKG over signed blocks: every member derives the same `PK_G`; `t` of the
//! key packages sign a message that plain Ed25519 (ed25519-dalek, strict) verifies under
//! it; a member who sends different round-1 packages to different members is caught by
//! the echo check and named by everyone.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

use std::collections::BTreeMap;

use frost_ed25519 as frost;
use quorate_actor_core::{ActorSecret, Identity};
use quorate_attestation_core::frost::dkg::{Dkg, DkgConfig, DkgFailure, DkgOutput};
use quorate_group_core::{GroupId, Member};
use quorate_mesh_proto::Block;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

fn people(n: usize) -> Vec<Identity> {
    let mut people: Vec<Identity> = (0..n)
        .map(|i| Identity::from_secret(ActorSecret::from_bytes([u8::try_from(i + 1).unwrap(); 32])))
        .collect();
    people.sort_by_key(Identity::id);
    people
}

fn config(people: &[Identity], t: u16) -> DkgConfig {
    DkgConfig {
        group: GroupId::from_bytes([7; 32]),
        session: [1; 32],
        members: people.iter().map(Member::of).collect(),
        threshold: t,
    }
}

/// Runs the DKG, delivering every sent block to everyone (`tamper` may replace a block
/// for one recipient). Returns each member's final output.
fn run(
    people: &[Identity],
    t: u16,
    tamper: impl Fn(usize, &Block) -> Option<Block>,
) -> Vec<DkgOutput> {
    let mut rng = ChaCha20Rng::seed_from_u64(t.into());
    let mut dkgs: Vec<Dkg> = people
        .iter()
        .map(|p| Dkg::start(config(people, t), p.clone(), &mut rng))
        .collect();
    let mut results: BTreeMap<usize, DkgOutput> = BTreeMap::new();
    for _ in 0..10 {
        let mut sent: Vec<Block> = Vec::new();
        for (i, dkg) in dkgs.iter_mut().enumerate() {
            while let Some(o) = dkg.poll_output() {
                match o {
                    DkgOutput::Send(b) => sent.push(b),
                    done => {
                        results.insert(i, done);
                    }
                }
            }
        }
        if sent.is_empty() {
            break;
        }
        for block in &sent {
            for (j, dkg) in dkgs.iter_mut().enumerate() {
                let delivered = tamper(j, block).unwrap_or_else(|| block.clone());
                dkg.handle(&delivered, &mut rng);
            }
        }
    }
    (0..people.len())
        .map(|i| results.remove(&i).expect("every member finished"))
        .collect()
}

#[test]
fn every_member_derives_the_same_group_key_and_t_of_them_sign_plain_ed25519() {
    for (t, n) in [(2u16, 3usize), (3, 5)] {
        let people = people(n);
        let outputs = run(&people, t, |_, _| None);
        let mut keys = Vec::new();
        let mut packages = BTreeMap::new();
        let mut public = None;
        for o in outputs {
            let DkgOutput::Done {
                key_package,
                public: p,
                group_key,
            } = o
            else {
                panic!("({t}, {n}): {o:?}");
            };
            keys.push(group_key);
            packages.insert(*key_package.identifier(), *key_package);
            public = Some(*p);
        }
        assert!(keys.windows(2).all(|w| w[0] == w[1]), "one PK_G");
        let public = public.unwrap();

        // t members sign with FROST; ed25519-dalek verifies strictly under PK_G.
        let mut rng = ChaCha20Rng::seed_from_u64(99);
        let message = b"quorate attestation test message";
        let signers: Vec<_> = packages.keys().take(usize::from(t)).copied().collect();
        let mut nonces = BTreeMap::new();
        let mut commitments = BTreeMap::new();
        for id in &signers {
            let (nonce, commitment) = frost::round1::commit(packages[id].signing_share(), &mut rng);
            nonces.insert(*id, nonce);
            commitments.insert(*id, commitment);
        }
        let signing = frost::SigningPackage::new(commitments, message);
        let shares: BTreeMap<_, _> = signers
            .iter()
            .map(|id| {
                (
                    *id,
                    frost::round2::sign(&signing, &nonces[id], &packages[id]).unwrap(),
                )
            })
            .collect();
        let signature = frost::aggregate(&signing, &shares, &public).unwrap();
        let pk = ed25519_dalek::VerifyingKey::from_bytes(&keys[0]).unwrap();
        let sig = ed25519_dalek::Signature::from_slice(&signature.serialize().unwrap()).unwrap();
        pk.verify_strict(message, &sig).unwrap();
        assert!(pk.verify_strict(b"another message", &sig).is_err());
    }
}

#[test]
fn a_member_sending_different_round1_packages_is_caught_by_the_echo_check() {
    let people = people(4);
    let cheater = people[1].clone();
    // A second, different round-1 package from the cheater, delivered to member 3 only.
    let mut rng = ChaCha20Rng::seed_from_u64(1234);
    let mut second = Dkg::start(config(&people, 3), cheater.clone(), &mut rng);
    let Some(DkgOutput::Send(other_round1)) = second.poll_output() else {
        panic!("no round 1");
    };
    let outputs = run(&people, 3, |to, block| {
        let m = quorate_attestation_core::frost::dkg::DkgMessage::decode(block).unwrap();
        let is_round1 = matches!(
            m.body,
            quorate_attestation_core::frost::dkg::DkgBody::Round1 { .. }
        );
        (to == 3 && m.from == cheater.id() && is_round1).then(|| other_round1.clone())
    });
    for (i, o) in outputs.iter().enumerate() {
        match o {
            DkgOutput::Failed(DkgFailure::Equivocation { culprit }) => {
                assert_eq!(*culprit, cheater.id(), "member {i} names the cheater");
            }
            other => panic!("member {i}: {other:?}"),
        }
    }
}
