//! The FROST committee (`quorate-attestation-core::frost`) against raw `frost-ed25519`
//! calls measured in the same run.
//!
//! - `sign/{raw,raw_wire,protocol}/T-of-N`: one attestation signed by `t` of `n`, all
//!   parties' CPU in one process. `raw`: `t` × `round1::commit`, the signing package, `t` ×
//!   `round2::sign`, `aggregate` (which verifies), everything in memory. `raw_wire`: the
//!   same with frost-ed25519's own serialisation between parties, as any deployment over a
//!   network has it (each commitment, the package at each signer, each share parsed once:
//!   every point parsed costs a subgroup check). `protocol`: our machines — the
//!   coordinator's request to all `n` (each decodes it and commits with a nonce record),
//!   the package to the `t` chosen, the shares back, cheater-detecting aggregation — with
//!   every message a signed block that its receiver decodes and verifies.
//! - `dkg/{raw,protocol}/N`: what ONE member spends in a DKG of `n` (threshold
//!   ⌊2n/3⌋+1): raw `part1` + `part2` + `part3`, against our machine taking the other
//!   members' signed round-1, echo and round-2 blocks (HPKE-sealed shares).
//! - `reshare/{deal,receive}/N`: resharing to `n` new holders (threshold ⌊2n/3⌋+1) from a
//!   committee of the same size: one dealer's dealing (a Feldman-committed split and `n`
//!   HPKE seals), and one new holder's work on `t_old` dealings (open, check, combine).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "benchmark harness"
)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use frost_ed25519 as frost;
use quorate_actor_core::{ActorId, Identity};
use quorate_attestation_core::Committee;
use quorate_attestation_core::frost::dkg::{Dkg, DkgConfig, DkgOutput, identifier};
use quorate_attestation_core::frost::reshare::{Reshare, ReshareConfig, ReshareOutput, deal};
use quorate_attestation_core::frost::sign::{
    FrostSigner, MemoryNonces, SessionOutput, SignBody, SignMessage, SignSession, SignTarget,
};
use quorate_group_core::{GroupId, Member};
use quorate_mesh_proto::{Block, Cid, Codec};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

const GROUP: GroupId = GroupId::from_bytes([9; 32]);

fn people(n: usize, seed: u64) -> Vec<Identity> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut p: Vec<Identity> = (0..n).map(|_| Identity::generate(&mut rng)).collect();
    p.sort_by_key(Identity::id);
    p
}

fn threshold(n: usize) -> u16 {
    u16::try_from(n * 2 / 3 + 1).unwrap()
}

/// A dealer-split committee of `people` with threshold `t`.
fn committee(people: &[Identity], t: u16) -> (Committee, Cid, Vec<frost::keys::KeyPackage>) {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let ids: Vec<frost::Identifier> = people
        .iter()
        .map(|p| identifier(&p.id()).unwrap())
        .collect();
    let (shares, public) = frost::keys::split(
        &frost::SigningKey::new(&mut rng),
        u16::try_from(people.len()).unwrap(),
        t,
        frost::keys::IdentifierList::Custom(&ids),
        &mut rng,
    )
    .unwrap();
    let keys = ids
        .iter()
        .map(|id| frost::keys::KeyPackage::try_from(shares[id].clone()).unwrap())
        .collect();
    let actors: Vec<ActorId> = people.iter().map(Identity::id).collect();
    let c = Committee::frost(GROUP, &actors, &public).unwrap();
    let root = *c.to_block().unwrap().cid();
    (c, root, keys)
}

fn target() -> SignTarget {
    SignTarget {
        proposal: Cid::of(Codec::DagCbor, b"proposal"),
        epoch: 1,
        issued_at: 1_700_000_000_000,
    }
}

/// The raw frost-ed25519 calls; with `wire`, every message crosses a wire in
/// frost-ed25519's serialisation (each party parses what it receives).
fn raw_sign(
    keys: &[frost::keys::KeyPackage],
    public: &frost::keys::PublicKeyPackage,
    t: usize,
    message: &[u8],
    wire: bool,
    rng: &mut ChaCha20Rng,
) -> frost::Signature {
    let mut nonces = BTreeMap::new();
    let mut commitments = BTreeMap::new();
    for k in &keys[..t] {
        let (n, mut c) = frost::round1::commit(k.signing_share(), rng);
        if wire {
            c = frost::round1::SigningCommitments::deserialize(&c.serialize().unwrap()).unwrap();
        }
        nonces.insert(*k.identifier(), n);
        commitments.insert(*k.identifier(), c);
    }
    let package = frost::SigningPackage::new(commitments, message);
    let bytes = wire.then(|| package.serialize().unwrap());
    // What a party holds of the package: the coordinator's, or its own parse of the bytes.
    let received = || match &bytes {
        Some(b) => std::borrow::Cow::Owned(frost::SigningPackage::deserialize(b).unwrap()),
        None => std::borrow::Cow::Borrowed(&package),
    };
    let mut shares = BTreeMap::new();
    for k in &keys[..t] {
        let mut share = frost::round2::sign(&received(), &nonces[k.identifier()], k).unwrap();
        if wire {
            share = frost::round2::SignatureShare::deserialize(&share.serialize()).unwrap();
        }
        shares.insert(*k.identifier(), share);
    }
    frost::aggregate(&package, &shares, public).unwrap()
}

/// One signing through the machines (signers made once per committee, as nodes do): every
/// block is decoded (and its signature checked) by each party that acts on it.
fn protocol_sign(
    coordinator: &Identity,
    c: &Committee,
    root: Cid,
    signers: &mut [(FrostSigner, MemoryNonces)],
    issued_at: u64,
    rng: &mut ChaCha20Rng,
) {
    let target = SignTarget {
        issued_at,
        ..target()
    };
    let mut session = SignSession::start(coordinator.clone(), c.clone(), root, target, 0).unwrap();
    let mut queue: Vec<Block> = Vec::new();
    let mut signed = false;
    while !signed {
        while let Some(o) = session.poll_output() {
            match o {
                SessionOutput::Send(b) => queue.push(b),
                SessionOutput::Signed { .. } => signed = true,
                other => panic!("{other:?}"),
            }
        }
        for block in std::mem::take(&mut queue) {
            // The coordinator's view of commitments and shares.
            let m = SignMessage::decode(&block).unwrap();
            match m.body {
                SignBody::Commit { .. } | SignBody::Share { .. } => {
                    session.handle(&m, &block, 0);
                }
                SignBody::Request { .. } => {
                    for (s, n) in signers.iter_mut() {
                        let m = SignMessage::decode(&block).unwrap();
                        queue.push(s.commit(&m, n, rng).unwrap());
                    }
                }
                SignBody::Package { .. } => {
                    for (s, n) in signers.iter_mut() {
                        let m = SignMessage::decode(&block).unwrap();
                        if let Ok(b) = s.sign(&m, n) {
                            queue.push(b);
                        }
                    }
                }
            }
        }
    }
}

fn bench_sign(c: &mut Criterion) {
    let mut g = c.benchmark_group("sign");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    for (t, n) in [(3usize, 5usize), (7, 10), (67, 100)] {
        let people = people(n, n as u64);
        let (committee, root, keys) = self::committee(&people, u16::try_from(t).unwrap());
        let public = committee.public_package().unwrap();
        let message = target().message(&GROUP);
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let label = format!("{t}-of-{n}");
        g.bench_with_input(BenchmarkId::new("raw", &label), &t, |b, &t| {
            b.iter(|| black_box(raw_sign(&keys, &public, t, &message, false, &mut rng)));
        });
        g.bench_with_input(BenchmarkId::new("raw_wire", &label), &t, |b, &t| {
            b.iter(|| black_box(raw_sign(&keys, &public, t, &message, true, &mut rng)));
        });
        let mut signers: Vec<(FrostSigner, MemoryNonces)> = people
            .iter()
            .zip(&keys)
            .map(|(p, k)| {
                (
                    FrostSigner::new(p.clone(), &committee, root, k.clone()).unwrap(),
                    MemoryNonces::default(),
                )
            })
            .collect();
        let mut issued_at = target().issued_at;
        g.bench_with_input(BenchmarkId::new("protocol", &label), &t, |b, _| {
            b.iter(|| {
                issued_at += 1;
                protocol_sign(
                    &people[0],
                    &committee,
                    root,
                    &mut signers,
                    issued_at,
                    &mut rng,
                );
            });
        });
    }
    g.finish();
}

/// Every member's blocks of a full DKG run (deterministic: member `i` starts with
/// `ChaCha20Rng::seed_from_u64(i)`), so one member's part can be replayed.
fn dkg_blocks(people: &[Identity], config: &DkgConfig) -> Vec<Block> {
    let mut dkgs: Vec<(Dkg, ChaCha20Rng)> = people
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut rng = ChaCha20Rng::seed_from_u64(i as u64);
            (Dkg::start(config.clone(), p.clone(), &mut rng), rng)
        })
        .collect();
    let mut all = Vec::new();
    loop {
        let mut sent = Vec::new();
        for (d, _) in &mut dkgs {
            while let Some(o) = d.poll_output() {
                if let DkgOutput::Send(b) = o {
                    sent.push(b);
                }
            }
        }
        if sent.is_empty() {
            return all;
        }
        for b in &sent {
            for (d, rng) in &mut dkgs {
                d.handle(b, rng);
            }
        }
        all.extend(sent);
    }
}

fn bench_dkg(c: &mut Criterion) {
    let mut g = c.benchmark_group("dkg");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    for n in [5usize, 10, 100] {
        let people = people(n, 100 + n as u64);
        let t = threshold(n);
        let config = DkgConfig {
            group: GROUP,
            session: [1; 32],
            members: people.iter().map(Member::of).collect(),
            threshold: t,
        };
        // Raw: the other members' packages, precomputed; member 0's three parts timed.
        let ids: Vec<frost::Identifier> = people
            .iter()
            .map(|p| identifier(&p.id()).unwrap())
            .collect();
        let nn = u16::try_from(n).unwrap();
        let mut secrets1 = BTreeMap::new();
        let mut round1 = BTreeMap::new();
        for (i, id) in ids.iter().enumerate() {
            let mut rng = ChaCha20Rng::seed_from_u64(i as u64);
            let (s, p) = frost::keys::dkg::part1(*id, nn, t, &mut rng).unwrap();
            secrets1.insert(*id, s);
            round1.insert(*id, p);
        }
        let me = ids[0];
        let mut to_me = BTreeMap::new();
        for id in &ids[1..] {
            let others: BTreeMap<_, _> = round1
                .iter()
                .filter(|(k, _)| *k != id)
                .map(|(k, v)| (*k, v.clone()))
                .collect();
            let (_, shares) = frost::keys::dkg::part2(secrets1[id].clone(), &others).unwrap();
            to_me.insert(*id, shares[&me].clone());
        }
        let others1: BTreeMap<_, _> = round1
            .iter()
            .filter(|(k, _)| **k != me)
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        g.bench_with_input(BenchmarkId::new("raw", n), &n, |b, _| {
            b.iter(|| {
                let mut rng = ChaCha20Rng::seed_from_u64(0);
                let (s1, _) = frost::keys::dkg::part1(me, nn, t, &mut rng).unwrap();
                let (s2, _) = frost::keys::dkg::part2(s1, &others1).unwrap();
                black_box(frost::keys::dkg::part3(&s2, &others1, &to_me).unwrap())
            });
        });
        // Protocol: member 0's machine fed the other members' blocks.
        let blocks = dkg_blocks(&people, &config);
        let theirs: Vec<Block> = blocks
            .into_iter()
            .filter(|b| {
                quorate_attestation_core::frost::dkg::DkgMessage::decode(b)
                    .is_ok_and(|m| m.from != people[0].id())
            })
            .collect();
        g.bench_with_input(BenchmarkId::new("protocol", n), &n, |b, _| {
            b.iter(|| {
                let mut rng = ChaCha20Rng::seed_from_u64(0);
                let mut d = Dkg::start(config.clone(), people[0].clone(), &mut rng);
                for block in &theirs {
                    d.handle(block, &mut rng);
                }
                let mut done = false;
                while let Some(o) = d.poll_output() {
                    done |= matches!(o, DkgOutput::Done { .. });
                }
                assert!(done);
            });
        });
    }
    g.finish();
}

fn bench_reshare(c: &mut Criterion) {
    let mut g = c.benchmark_group("reshare");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    for n in [5usize, 10, 100] {
        let t = threshold(n);
        let old_people = people(n, 200 + n as u64);
        let (old, _, keys) = committee(&old_people, t);
        let new_people = people(n, 300 + n as u64);
        let mut members: Vec<Member> = new_people.iter().map(Member::of).collect();
        members.sort_by_key(|m| m.actor);
        let dealers: Vec<ActorId> = old.members[..usize::from(t)].to_vec();
        let config = ReshareConfig {
            session: [2; 32],
            old: old.clone(),
            dealers: dealers.clone(),
            members,
            threshold: t,
        };
        let dealer_index = |a: &ActorId| old_people.iter().position(|p| p.id() == *a).unwrap();
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        g.bench_with_input(BenchmarkId::new("deal", n), &n, |b, _| {
            let i = dealer_index(&dealers[0]);
            b.iter(|| black_box(deal(&config, &old_people[i], &keys[i], &mut rng).unwrap()));
        });
        let dealings: Vec<Block> = dealers
            .iter()
            .map(|d| {
                let i = dealer_index(d);
                deal(&config, &old_people[i], &keys[i], &mut rng).unwrap()
            })
            .collect();
        g.bench_with_input(BenchmarkId::new("receive", n), &n, |b, _| {
            b.iter(|| {
                let mut r = Reshare::new(config.clone(), new_people[0].clone());
                for d in &dealings {
                    r.handle(d);
                }
                let sent = std::iter::from_fn(|| r.poll_output())
                    .filter(|o| matches!(o, ReshareOutput::Send(_)))
                    .count();
                assert_eq!(sent, 1, "combined and confirmed");
            });
        });
    }
    g.finish();
}

criterion_group!(benches, bench_sign, bench_dkg, bench_reshare);
criterion_main!(benches);
