//! FROST signing on untrusted bytes. The input, as a block, goes through every decoder of
//! the committee protocols — `SignMessage`, `CulpritEvidence` (then `verify_culprits`
//! against a real committee), `CommitteeCall`, `CommitteeResult`, `Committee` — and into
//! a running 2-of-3 signing session (coordinator and both signers) at a point the input
//! picks. Nothing may panic; evidence that verifies names only committee members; a
//! signature that comes out verifies under `PK_G`.

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

use libfuzzer_sys::fuzz_target;
use quorate_actor_core::Identity;
use quorate_attestation_core::frost::call::{CommitteeCall, CommitteeResult};
use quorate_attestation_core::frost::sign::{
    CulpritEvidence, FrostSigner, MemoryNonces, SessionOutput, SignBody, SignMessage,
    SignSession, SignTarget, verify_culprits,
};
use quorate_attestation_core::{Committee, verify_attestation};
use quorate_mesh_proto::{Block, Cid, Codec};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

struct Fixture {
    people: Vec<Identity>,
    committee: Committee,
    root: Cid,
    keys: Vec<frost_ed25519::keys::KeyPackage>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let f = frost_fixture::build(3, 3, 1);
        let root = *f.committee.to_block().expect("block").cid();
        Fixture {
            people: f.people,
            committee: f.committee,
            root,
            keys: f.keys,
        }
    })
}

fn decoders(block: &Block, f: &Fixture) {
    if let Ok(e) = CulpritEvidence::decode(block)
        && let Ok(named) = verify_culprits(&e, &f.committee)
    {
        assert!(named.iter().all(|c| f.committee.members.contains(c)));
    }
    let _ = CommitteeCall::decode(block);
    let _ = CommitteeResult::decode(block);
    if let Ok(c) = Committee::decode(block, &frost_fixture::GROUP) {
        let _ = c.public_package();
    }
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let (&first, rest) = data.split_first().unwrap_or((&0, &[]));
    let codec = if first & 1 == 0 { Codec::DagCbor } else { Codec::Raw };
    let fuzzed = Block::from_untrusted(&Cid::of(codec, rest), rest.to_vec()).ok();
    if let Some(block) = &fuzzed {
        decoders(block, f);
    }
    let target = SignTarget {
        proposal: Cid::of(Codec::DagCbor, b"proposal"),
        epoch: 1,
        issued_at: 1_700_000_000_000,
    };
    let Ok(mut session) = SignSession::start(
        f.people[2].clone(),
        f.committee.clone(),
        f.root,
        target,
        0,
    ) else {
        panic!("the session starts");
    };
    let mut signers: Vec<(FrostSigner, MemoryNonces)> = f
        .people
        .iter()
        .zip(&f.keys)
        .map(|(p, k)| {
            (
                FrostSigner::new(p.clone(), &f.committee, f.root, k.clone()).expect("signer"),
                MemoryNonces::default(),
            )
        })
        .collect();
    let mut rng = ChaCha20Rng::seed_from_u64(u64::from(first));
    let mut queue: Vec<Block> = Vec::new();
    for round in 0..8u8 {
        while let Some(o) = session.poll_output() {
            match o {
                SessionOutput::Send(b) => queue.push(b),
                SessionOutput::Signed { attestation, .. } => {
                    verify_attestation(&f.committee.group_key, &attestation)
                        .expect("a signature that comes out verifies");
                }
                _ => {}
            }
        }
        if round == (first >> 1) % 4
            && let Some(block) = &fuzzed
        {
            queue.insert(0, block.clone());
        }
        if queue.is_empty() {
            break;
        }
        if first & 8 != 0 {
            queue.reverse();
        }
        for block in std::mem::take(&mut queue) {
            let Ok(m) = SignMessage::decode(&block) else {
                continue;
            };
            session.handle(&m, &block, u64::from(round) * 1000);
            for (signer, nonces) in &mut signers {
                let answer = match m.body {
                    SignBody::Request { .. } => signer.commit(&m, nonces, &mut rng),
                    SignBody::Package { .. } => signer.sign(&m, nonces),
                    _ => continue,
                };
                if let Ok(b) = answer {
                    queue.push(b);
                }
            }
        }
        if first & 16 != 0 {
            session.handle_timeout(u64::from(round) * 20_000);
        }
    }
});
