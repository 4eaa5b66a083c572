//! Groups (`quorate-group-core`), each against raw crypto measured in the same run:
//!
//! - `group_message_send`: encrypt + sign + encode a 1 KiB group message
//!   (`GroupMessage::seal`, and `ops::compose`, which also picks parents from a state)
//!   against one raw Ed25519 signature over 1 KiB.
//! - `group_message_receive`: decode + authenticate + open (and the same after the CID
//!   check, and through `GroupState::insert`) against one raw strict Ed25519 verification.
//! - `group_rekey`: `ops::next_epoch` removing one member of N, so a fresh key is sealed to
//!   the N - 1 left, against N - 1 raw HPKE seals of 32 bytes (the envelopes' primitive).
//! - `group_rekey_apply`: a member taking in that epoch from the wire (CID check of every
//!   block, `GroupState::insert`: state signature, member set of N - 1, key pages, its own
//!   envelope) against the raw floor: SHA-256 of every block, one strict Ed25519
//!   verification, one HPKE open. `member_set_verify` is the member-set check alone.
//!
//! The bytes one rekey puts on the wire are printed to stderr while the groups are built.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::print_stderr,
    clippy::cast_possible_truncation,
    reason = "benchmark harness"
)]

use std::cell::OnceCell;
use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ed25519_dalek::{Signature, Signer};
use quorate_actor_core::Identity;
use quorate_actor_core::rendezvous::suite;
use quorate_group_core::ops::{self, EpochBlocks, EpochChange, NewGroup};
use quorate_group_core::{
    Draft, ENVELOPE_INFO, GroupMessage, GroupState, Member, MemberSet, StateConfig,
};
use quorate_mesh_proto::{Block, Cid};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use sha2::{Digest, Sha256};

const T0: u64 = 1_700_000_000_000;
const SIZES: [usize; 4] = [10, 100, 1_000, 10_000];

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// `n` identities; the first is the creator (admin).
fn people(n: usize, seed: u64) -> Vec<Identity> {
    let mut r = rng(seed);
    (0..n).map(|_| Identity::generate(&mut r)).collect()
}

fn create(people: &[Identity], r: &mut ChaCha20Rng) -> NewGroup {
    let members = people[1..].iter().map(Member::of).collect();
    ops::create_group(&people[0], "bench", members, Vec::new(), T0, r).unwrap()
}

/// A state for `me` fed with `blocks`, changes drained.
fn state_of<'a>(
    group: &NewGroup,
    me: &Identity,
    blocks: impl IntoIterator<Item = &'a Block>,
) -> GroupState {
    let mut state = GroupState::new(group.id, Some(me.clone()), StateConfig::default());
    for b in blocks {
        state.insert(b.clone());
        while state.poll_change().is_some() {}
    }
    state
}

/// A message benchmark's id: every message is 1 KiB.
fn id(function: &str) -> BenchmarkId {
    BenchmarkId::new(function, "1KiB")
}

fn plaintext() -> Vec<u8> {
    (0..1024u32).map(|i| (i % 251) as u8).collect()
}

fn message_send(c: &mut Criterion) {
    let mut g = c.benchmark_group("group_message_send");
    let people = people(10, 1);
    let author = &people[0];
    let mut r = rng(2);
    let group = create(&people, &mut r);
    let plain = plaintext();
    g.throughput(Throughput::Elements(1));
    g.bench_function(id("baseline_ed25519_sign"), |b| {
        b.iter(|| author.signing_key().sign(black_box(&plain)))
    });
    let draft = || Draft {
        group: group.id,
        epoch: 0,
        epoch_state: *group.epoch.state.cid(),
        key: &group.epoch.key,
        lamport: 0,
        parents: Vec::new(),
    };
    let sealed = GroupMessage::seal(author, draft(), &plain, &mut r).unwrap();
    eprintln!(
        "group message: 1 KiB plaintext -> {} bytes on the wire",
        sealed.len()
    );
    g.bench_function(id("seal"), |b| {
        b.iter(|| GroupMessage::seal(author, draft(), black_box(&plain), &mut r).unwrap())
    });
    // `compose` with a history: parents from the frontier and the latest messages. Built
    // on first use, so a filtered run skips it.
    for history in [100usize, 10_000] {
        let state = OnceCell::new();
        g.bench_function(id(&format!("compose_history_{history}")), |b| {
            let state = state.get_or_init(|| with_history(&group, author, history));
            b.iter(|| ops::compose(author, state, black_box(&plain), &mut r).unwrap())
        });
    }
    g.finish();
}

/// `author`'s view of `group` after it posted `history` messages.
fn with_history(group: &NewGroup, author: &Identity, history: usize) -> GroupState {
    let mut r = rng(history as u64);
    let mut state = state_of(group, author, group.blocks());
    for i in 0..history {
        let m = ops::compose(author, &state, format!("m{i}").as_bytes(), &mut r).unwrap();
        state.insert(m);
        while state.poll_change().is_some() {}
    }
    state
}

fn message_receive(c: &mut Criterion) {
    let mut g = c.benchmark_group("group_message_receive");
    let people = people(10, 1);
    let (author, reader) = (&people[0], &people[5]);
    let mut r = rng(3);
    let group = create(&people, &mut r);
    let plain = plaintext();
    let reader_state = state_of(&group, reader, group.blocks());
    let epoch = reader_state.current().unwrap().clone();
    let key = reader_state.key(&epoch.cid).unwrap().clone();
    let block = ops::compose(author, &reader_state, &plain, &mut r).unwrap();
    let (cid, bytes) = block.clone().into_parts();
    g.throughput(Throughput::Elements(1));
    let vk = author.verifying_key();
    let sig = author.signing_key().sign(&plain);
    g.bench_function(id("baseline_ed25519_verify_strict"), |b| {
        b.iter(|| vk.verify_strict(black_box(&plain), &sig).unwrap())
    });
    let read = |block: &Block| {
        let msg = GroupMessage::decode(block, &group.id).unwrap();
        msg.authenticate(epoch.state.epoch, &epoch.members).unwrap();
        msg.open(&key).unwrap()
    };
    assert_eq!(read(&block).as_slice(), plain.as_slice());
    g.bench_function(id("decode_authenticate_open"), |b| {
        b.iter(|| read(black_box(&block)))
    });
    g.bench_function(id("cid_check_decode_authenticate_open"), |b| {
        b.iter(|| read(&Block::from_untrusted(&cid, black_box(bytes.clone())).unwrap()))
    });
    g.bench_function(id("group_state_insert"), |b| {
        b.iter_batched(
            || state_of(&group, reader, group.blocks()),
            |mut state| {
                state.insert(Block::from_untrusted(&cid, bytes.clone()).unwrap());
                while state.poll_change().is_some() {}
                state
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

/// A group of `n` and the epoch removing its last member, with the views that need them.
struct Rekey {
    people: Vec<Identity>,
    group: NewGroup,
    /// The admin's view of epoch 0.
    admin: GroupState,
    change: EpochChange,
    /// Epoch 1 (the last member removed).
    next: EpochBlocks,
    /// The X25519 keys of epoch 1's members (the baseline seals to them).
    keys: Vec<x25519_dalek::PublicKey>,
    /// Epoch 1's blocks as they arrive: CID and bytes.
    wire: Vec<(Cid, Bytes)>,
}

fn rekey_setup(n: usize) -> Rekey {
    let people = people(n, n as u64);
    let mut r = rng(4);
    let group = create(&people, &mut r);
    let admin = state_of(&group, &people[0], group.blocks());
    let change = EpochChange {
        remove: vec![people[n - 1].id()],
        ..EpochChange::default()
    };
    let next = ops::next_epoch(&people[0], &admin, &change, T0 + 1, &mut r).unwrap();
    let members = next.members.len();
    let envelopes: usize =
        next.keys.index.len() + next.keys.pages.iter().map(Block::len).sum::<usize>();
    let total = next.wire_bytes();
    let recipients = n - 1;
    eprintln!(
        "rekey {n} members -> {recipients} envelopes: {total} bytes on the wire \
         ({} B/member): key index + {} pages {envelopes} B ({} B/envelope), \
         member set {members} B ({} B/member), policy {} B, state {} B",
        total / recipients,
        next.keys.pages.len(),
        envelopes / recipients,
        members / recipients,
        next.policy.len(),
        next.state.len(),
    );
    let keys = people[..n - 1]
        .iter()
        .map(Identity::encryption_public)
        .collect();
    let wire = next.blocks().map(|b| b.clone().into_parts()).collect();
    Rekey {
        people,
        group,
        admin,
        change,
        next,
        keys,
        wire,
    }
}

fn rekey_group(g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>, n: usize) {
    if n >= 1_000 {
        g.sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(3));
    } else {
        g.sample_size(30)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3));
    }
}

/// The groups of every size, each built on first use (so a filtered run skips them).
struct Setups([OnceCell<Rekey>; SIZES.len()]);

impl Setups {
    fn get(&self, i: usize) -> &Rekey {
        self.0[i].get_or_init(|| rekey_setup(SIZES[i]))
    }
}

fn rekey(c: &mut Criterion, setups: &Setups) {
    let mut g = c.benchmark_group("group_rekey");
    for (i, &n) in SIZES.iter().enumerate() {
        rekey_group(&mut g, n);
        g.throughput(Throughput::Elements((n - 1) as u64));
        let aad = [7u8; 32 + 8 + 32 + 32];
        let mut r = rng(5);
        g.bench_function(BenchmarkId::new("baseline_hpke_seal_32B", n), |b| {
            let s = setups.get(i);
            b.iter(|| {
                for pk in &s.keys {
                    black_box(suite::seal(pk, ENVELOPE_INFO, &aad, &[9; 32], &mut r).unwrap());
                }
            })
        });
        g.bench_function(BenchmarkId::new("next_epoch_remove_one", n), |b| {
            let s = setups.get(i);
            let admin = &s.people[0];
            b.iter(|| ops::next_epoch(admin, &s.admin, &s.change, T0 + 1, &mut r).unwrap())
        });
    }
    g.finish();
}

fn rekey_apply(c: &mut Criterion, setups: &Setups) {
    let mut g = c.benchmark_group("group_rekey_apply");
    // The floor: hash what arrived, check the state's signature, open one envelope.
    let aad = [7u8; 32 + 8 + 32 + 32];
    let floor = |s: &Rekey| {
        let me = &s.people[1];
        let state_bytes = s.next.state.bytes().to_vec();
        let sig: Signature = s.people[0].signing_key().sign(&state_bytes);
        let sealed = suite::seal(
            &me.encryption_public(),
            ENVELOPE_INFO,
            &aad,
            &[9; 32],
            &mut rng(6),
        )
        .unwrap();
        (state_bytes, sig, sealed)
    };
    for (i, &n) in SIZES.iter().enumerate() {
        rekey_group(&mut g, n);
        g.throughput(Throughput::Elements(1));
        g.bench_function(BenchmarkId::new("baseline_hash_verify_open", n), |b| {
            let s = setups.get(i);
            let (me, vk) = (&s.people[1], s.people[0].verifying_key());
            let (state_bytes, sig, sealed) = floor(s);
            b.iter(|| {
                for (_, bytes) in &s.wire {
                    black_box(Sha256::digest(bytes));
                }
                vk.verify_strict(&state_bytes, &sig).unwrap();
                suite::open(me.encryption_secret(), ENVELOPE_INFO, &aad, &sealed).unwrap()
            })
        });
        g.bench_function(BenchmarkId::new("apply_epoch", n), |b| {
            let s = setups.get(i);
            let me = &s.people[1];
            let epoch1 = s.next.state.cid();
            b.iter_batched(
                || state_of(&s.group, me, s.group.blocks()),
                |mut state| {
                    for (cid, bytes) in &s.wire {
                        state.insert(Block::from_untrusted(cid, bytes.clone()).unwrap());
                        while state.poll_change().is_some() {}
                    }
                    assert!(state.key(epoch1).is_some());
                    state
                },
                BatchSize::PerIteration,
            )
        });
        g.bench_function(BenchmarkId::new("member_set_verify", n), |b| {
            let s = setups.get(i);
            b.iter(|| MemberSet::verify(black_box(&s.next.members), &s.group.id).unwrap())
        });
    }
    g.finish();
}

fn rekeys(c: &mut Criterion) {
    let setups = Setups(Default::default());
    rekey(c, &setups);
    rekey_apply(c, &setups);
}

criterion_group!(benches, message_send, message_receive, rekeys);
criterion_main!(benches);
