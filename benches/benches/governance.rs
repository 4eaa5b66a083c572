//! Governance (`quorate-governance-core`): evaluating N signed votes on one proposal
//! (`evaluate`: dedupe, member and eligibility checks, digest, key decompression, strict
//! Ed25519 verification, the rule) against raw ed25519-dalek on the same N (message,
//! signature, key) triples measured in the same run: `baseline_verify_strict` (one strict
//! verification each, keys already decompressed — the floor the evaluator can approach)
//! and `batch_verify` (`ed25519_dalek::verify_batch`, what batching could buy; not used by
//! the evaluator, whose verification must be the strict one every node agrees on).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "benchmark harness"
)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ed25519_dalek::{Signature, VerifyingKey};
use quorate_actor_core::Identity;
use quorate_governance_core::{
    Outcome, Proposal, Snapshot, Vote, VoteValue, evaluate, vote_digest,
};
use quorate_group_core::{Eligible, Fraction, GroupState, Member, Rule, StateConfig, ops};
use quorate_mesh_proto::{Block, Domain};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

const T0: u64 = 1_700_000_000_000;
const SIZES: [usize; 3] = [100, 1_000, 10_000];

struct Setup {
    state: GroupState,
    proposal: Proposal,
    block: Block,
    votes: Vec<Vote>,
    /// The raw triples: (message, signature, key).
    messages: Vec<Vec<u8>>,
    signatures: Vec<Signature>,
    keys: Vec<VerifyingKey>,
}

fn setup(n: usize) -> Setup {
    let mut rng = ChaCha20Rng::seed_from_u64(n as u64);
    let people: Vec<Identity> = (0..n).map(|_| Identity::generate(&mut rng)).collect();
    let rule = Rule::FractionalApproval {
        threshold: Fraction::new(1, 10),
        eligible: Eligible::Members,
        action_types: vec!["TRIGGER_X".into()],
    };
    let members = people[1..].iter().map(Member::of).collect();
    let g =
        ops::create_group_with_rules(&people[0], "b", members, vec![], vec![rule], T0, &mut rng)
            .unwrap();
    let mut state = GroupState::new(g.id, None, StateConfig::default());
    g.blocks().for_each(|b| state.insert(b.clone()));
    let current = state.current().unwrap();
    let proposal = Proposal {
        group: g.id,
        epoch: 0,
        epoch_state: current.cid,
        action_type: "TRIGGER_X".into(),
        action_payload: None,
        created_by: people[0].id(),
        created_at: T0,
        expires_at: T0 + 3_600_000,
    };
    let block = proposal.sign(&people[0]).unwrap();
    let votes: Vec<Vote> = people
        .iter()
        .map(|p| Vote::cast(p, g.id, *block.cid(), 0, VoteValue::Yes))
        .collect();
    let messages = votes
        .iter()
        .map(|v| Domain::Vote.message(&vote_digest(&v.proposal, v.value, v.epoch)))
        .collect();
    let signatures = votes
        .iter()
        .map(|v| Signature::from_bytes(&v.signature))
        .collect();
    let keys = people
        .iter()
        .map(|p| p.signing_key().verifying_key())
        .collect();
    Setup {
        state,
        proposal,
        block,
        votes,
        messages,
        signatures,
        keys,
    }
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("governance_evaluate");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    for n in SIZES {
        let s = setup(n);
        let epoch = s.state.current().unwrap();
        let genesis = s.state.genesis().unwrap().1;
        let snapshot = Snapshot::of(epoch, genesis);
        let check = evaluate(&snapshot, s.block.cid(), &s.proposal, &s.votes, T0 + 1);
        assert_eq!(
            (check.outcome, check.yes),
            (Outcome::Passed { at_expiry: false }, n)
        );
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(BenchmarkId::new("baseline_verify_strict", n), |b| {
            b.iter(|| {
                for ((m, sig), key) in s.messages.iter().zip(&s.signatures).zip(&s.keys) {
                    key.verify_strict(black_box(m), sig).unwrap();
                }
            });
        });
        group.bench_function(BenchmarkId::new("batch_verify", n), |b| {
            let refs: Vec<&[u8]> = s.messages.iter().map(Vec::as_slice).collect();
            b.iter(|| {
                ed25519_dalek::verify_batch(black_box(&refs), &s.signatures, &s.keys).unwrap()
            });
        });
        group.bench_function(BenchmarkId::new("evaluate", n), |b| {
            b.iter(|| {
                evaluate(
                    &snapshot,
                    s.block.cid(),
                    &s.proposal,
                    black_box(&s.votes),
                    T0 + 1,
                )
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
