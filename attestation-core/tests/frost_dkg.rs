//! The committee DKG over signed blocks: every member derives the same `PK_G`; `t` of the
//! key packages sign a message that plain Ed25519 (ed25519-dalek, strict) verifies under
//! it; a member who sends different round-1 packages to different members makes the echo
//! check fail everywhere, and is named wherever both signed packages arrive; a member who
//! echoes falsely about an honest sender fails the run without framing anyone.

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
use quorate_attestation_core::frost::dkg::{
    Dkg, DkgBody, DkgConfig, DkgFailure, DkgMessage, DkgOutput,
};
use quorate_group_core::{GroupId, Member};
use quorate_mesh_proto::Block;
use quorate_mesh_proto::Envelope;
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
    let mut results = run_partial(people, t, tamper);
    (0..people.len())
        .map(|i| results.remove(&i).expect("every member finished"))
        .collect()
}

/// [`run`], for runs where some members never finish: the outputs of those that did.
fn run_partial(
    people: &[Identity],
    t: u16,
    tamper: impl Fn(usize, &Block) -> Option<Block>,
) -> BTreeMap<usize, DkgOutput> {
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
    results
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
fn a_member_sending_different_round1_packages_fails_the_run_and_is_named_on_proof() {
    let people = people(4);
    let cheater = people[1].clone();
    // A second, different round-1 package from the cheater, delivered to member 3 only.
    let mut rng = ChaCha20Rng::seed_from_u64(1234);
    let mut second = Dkg::start(config(&people, 3), cheater.clone(), &mut rng);
    let Some(DkgOutput::Send(other_round1)) = second.poll_output() else {
        panic!("no round 1");
    };
    let is_cheaters_round1 = |block: &Block| {
        let m = DkgMessage::decode(block).unwrap();
        m.from == cheater.id() && matches!(m.body, DkgBody::Round1 { .. })
    };
    let outputs = run(&people, 3, |to, block| {
        (to == 3 && is_cheaters_round1(block)).then(|| other_round1.clone())
    });
    // Nobody finishes with a key; every failure is about the cheater, and nobody honest
    // is convicted.
    for (i, o) in outputs.iter().enumerate() {
        match o {
            DkgOutput::Failed(DkgFailure::Inconsistent { about, echoer }) => {
                assert_eq!(*about, cheater.id(), "member {i}");
                assert!(i == 3 || *echoer == people[3].id(), "member {i}: {echoer}");
            }
            other => panic!("member {i}: {other:?}"),
        }
    }
    // A member holding both signed packages (as every member does once the mesh forwards
    // them) names the cheater.
    let mut witness = Dkg::start(config(&people, 3), people[0].clone(), &mut rng);
    let mut first_rng = ChaCha20Rng::seed_from_u64(99);
    let mut first = Dkg::start(config(&people, 3), cheater.clone(), &mut first_rng);
    let Some(DkgOutput::Send(first_round1)) = first.poll_output() else {
        panic!("no round 1");
    };
    witness.handle(&first_round1, &mut rng);
    witness.handle(&other_round1, &mut rng);
    let mut named = None;
    while let Some(o) = witness.poll_output() {
        if let DkgOutput::Failed(f) = o {
            named = Some(f);
        }
    }
    assert_eq!(
        named,
        Some(DkgFailure::Equivocation {
            culprit: cheater.id()
        })
    );
}

#[test]
fn a_false_echo_about_an_honest_member_frames_nobody() {
    let people = people(4);
    let liar = people[2].clone();
    let honest = people[0].id();
    // The liar's echo claims another digest for member 0's package.
    let liar_index = people.iter().position(|p| p.id() == liar.id()).unwrap();
    let outputs = run_partial(&people, 3, |_, block| {
        let m = DkgMessage::decode(block).unwrap();
        let DkgBody::Echo { mut digests } = m.body else {
            return None;
        };
        if m.from != liar.id() {
            return None;
        }
        let entry = digests.iter_mut().find(|e| e.actor == honest).unwrap();
        entry.digest[0] ^= 1;
        let forged = DkgMessage {
            body: DkgBody::Echo { digests },
            ..m
        };
        Some(
            Envelope::signed(forged, liar.signing_key())
                .unwrap()
                .to_block()
                .unwrap(),
        )
    });
    // Every honest member fails, blaming no one; the liar (which kept its own genuine
    // echo) waits for round-2 shares that never come.
    assert_eq!(outputs.len(), 3, "{outputs:?}");
    assert!(!outputs.contains_key(&liar_index));
    for (i, o) in &outputs {
        match o {
            DkgOutput::Failed(DkgFailure::Inconsistent { echoer, about }) => {
                assert_eq!(*about, honest, "member {i}");
                assert_eq!(*echoer, liar.id(), "member {i}");
            }
            DkgOutput::Failed(DkgFailure::Equivocation { culprit }) => {
                panic!("member {i} convicted {culprit} on a false echo")
            }
            other => panic!("member {i}: {other:?}"),
        }
    }
}
