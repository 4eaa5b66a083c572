//! A FROST committee with only `quorate-attestation-core`: five actors run the DKG
//! (3-of-5) by passing signed blocks around, one goes offline, a coordinator gets an
//! attestation signed by three of the other four, and the result is a plain Ed25519
//! signature under `PK_G`.
//!
//! `cargo run --release -p quorate-examples --example frost_committee [-- --json]`
//!
//! With `--json` it prints `{ groupKey, message, signature }` in hex — what any Ed25519
//! verifier needs (the browser test checks it with WebCrypto).

#![allow(clippy::print_stdout, reason = "a command-line example")]

use std::collections::VecDeque;

use quorate_actor_core::Identity;
use quorate_attestation_core::frost::dkg::{Dkg, DkgConfig, DkgOutput};
use quorate_attestation_core::frost::sign::{
    FrostSigner, MemoryNonces, SessionOutput, SignBody, SignMessage, SignSession, SignTarget,
};
use quorate_attestation_core::{Committee, verify_attestation};
use quorate_group_core::{GroupId, Member};
use quorate_mesh_proto::{Block, Cid, Codec};
use rand_core::OsRng;

fn main() -> Result<(), String> {
    let json = std::env::args().any(|a| a == "--json");
    let group = GroupId::from_bytes([42; 32]);
    let mut people: Vec<Identity> = (0..5).map(|_| Identity::generate(&mut OsRng)).collect();
    people.sort_by_key(Identity::id);

    // 1. The DKG: every block goes to every member (a group topic would carry them).
    let config = DkgConfig {
        group,
        session: [1; 32],
        members: people.iter().map(Member::of).collect(),
        threshold: 3,
    };
    let mut dkgs: Vec<Dkg> = people
        .iter()
        .map(|p| Dkg::start(config.clone(), p.clone(), &mut OsRng))
        .collect();
    let mut keys = Vec::new();
    let mut public = None;
    let mut blocks = 0;
    loop {
        let mut sent: Vec<Block> = Vec::new();
        for dkg in &mut dkgs {
            while let Some(o) = dkg.poll_output() {
                match o {
                    DkgOutput::Send(b) => sent.push(b),
                    DkgOutput::Done {
                        key_package,
                        public: p,
                        ..
                    } => {
                        keys.push(*key_package);
                        public = Some(*p);
                    }
                    DkgOutput::Failed(e) => return Err(e.to_string()),
                    _ => {}
                }
            }
        }
        if sent.is_empty() {
            break;
        }
        blocks += sent.len();
        for b in &sent {
            for dkg in &mut dkgs {
                dkg.handle(b, &mut OsRng);
            }
        }
    }
    let public = public.ok_or("the DKG did not finish")?;
    let actors: Vec<_> = people.iter().map(Identity::id).collect();
    let committee = Committee::frost(group, &actors, &public)?;
    let root = *committee.to_block().map_err(|e| e.to_string())?.cid();
    if !json {
        println!(
            "DKG: 5 members, {blocks} blocks, PK_G {}",
            hex(&committee.group_key)
        );
    }

    // 2. A signing session; member 4 is offline.
    let target = SignTarget {
        proposal: Cid::of(Codec::DagCbor, b"an example proposal"),
        epoch: 1,
        issued_at: 1_700_000_000_000,
    };
    let coordinator = people.first().ok_or("no members")?.clone();
    let mut session = SignSession::start(coordinator, committee.clone(), root, target, 0)
        .map_err(|e| e.to_string())?;
    let mut signers = Vec::new();
    for (p, k) in people.iter().zip(keys) {
        let signer = FrostSigner::new(p.clone(), &committee, root, k).map_err(|e| e.to_string())?;
        signers.push((signer, MemoryNonces::default()));
    }
    let mut queue: VecDeque<Block> = VecDeque::new();
    let mut now = 0;
    let attestation = loop {
        let mut signed = None;
        while let Some(o) = session.poll_output() {
            match o {
                SessionOutput::Send(b) => queue.push_back(b),
                SessionOutput::Signed {
                    attestation,
                    signers,
                    attempts,
                } => {
                    if !json {
                        println!(
                            "signed by {} members in {attempts} attempt(s)",
                            signers.len()
                        );
                    }
                    signed = Some(attestation);
                }
                SessionOutput::Culprits { culprits, .. } => println!("culprits: {culprits:?}"),
                SessionOutput::Failed(why) => return Err(why),
                _ => {}
            }
        }
        if let Some(a) = signed {
            break a;
        }
        if queue.is_empty() {
            now += 10_000;
            session.handle_timeout(now);
            continue;
        }
        while let Some(block) = queue.pop_front() {
            let m = SignMessage::decode(&block).map_err(|e| e.to_string())?;
            session.handle(&m, &block, now);
            for (i, (signer, nonces)) in signers.iter_mut().enumerate() {
                if i == 4 {
                    continue; // offline
                }
                let answer = match m.body {
                    SignBody::Request { .. } => signer.commit(&m, nonces, &mut OsRng),
                    SignBody::Package { .. } => signer.sign(&m, nonces),
                    _ => continue,
                };
                if let Ok(b) = answer {
                    queue.push_back(b);
                }
            }
        }
    };

    // 3. What an outsider checks: PK_G and the attestation.
    verify_attestation(&committee.group_key, &attestation).map_err(|e| e.to_string())?;
    if json {
        println!(
            "{{\"groupKey\":\"{}\",\"message\":\"{}\",\"signature\":\"{}\"}}",
            hex(&committee.group_key),
            hex(&attestation.signed_message()),
            hex(&attestation.group_signature)
        );
    } else {
        println!(
            "attestation verifies as plain Ed25519 under PK_G: signature {}",
            hex(&attestation.group_signature)
        );
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
