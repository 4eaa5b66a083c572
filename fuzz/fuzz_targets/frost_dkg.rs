//! The committee DKG on untrusted bytes: the input, as a block, goes through
//! `DkgMessage::decode` (a typed error or an exact round trip) and into a running DKG
//! member of a three-member committee, together with the genuine messages of the other
//! members in an order the input picks. Nothing may panic; a run that completes must yield
//! one group key for everyone who completes.

#![no_main]
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "fuzz target: a panic is a found bug"
)]

use libfuzzer_sys::fuzz_target;
use quorate_actor_core::{ActorSecret, Identity};
use quorate_attestation_core::frost::dkg::{Dkg, DkgConfig, DkgMessage, DkgOutput};
use quorate_group_core::{GroupId, Member};
use quorate_mesh_proto::{Block, Cid, Codec, Envelope};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

fuzz_target!(|data: &[u8]| {
    let (&first, rest) = data.split_first().unwrap_or((&0, &[]));
    let codec = if first & 1 == 0 { Codec::DagCbor } else { Codec::Raw };
    let fuzzed = Block::from_untrusted(&Cid::of(codec, rest), rest.to_vec()).ok();
    if let Some(block) = &fuzzed
        && let Ok(m) = DkgMessage::decode(block)
    {
        let again = Envelope::unsigned(m).to_block();
        assert!(again.is_ok(), "a decoded message re-encodes");
    }
    let mut people: Vec<Identity> = (1..=3u8)
        .map(|i| Identity::from_secret(ActorSecret::from_bytes([i; 32])))
        .collect();
    people.sort_by_key(Identity::id);
    let config = DkgConfig {
        group: GroupId::from_bytes([7; 32]),
        session: [1; 32],
        members: people.iter().map(Member::of).collect(),
        threshold: 2,
    };
    let mut rng = ChaCha20Rng::seed_from_u64(u64::from(first));
    let mut dkgs: Vec<Dkg> = people
        .iter()
        .map(|p| Dkg::start(config.clone(), p.clone(), &mut rng))
        .collect();
    let mut keys = Vec::new();
    for round in 0..8 {
        let mut sent: Vec<Block> = Vec::new();
        for dkg in &mut dkgs {
            while let Some(o) = dkg.poll_output() {
                match o {
                    DkgOutput::Send(b) => sent.push(b),
                    DkgOutput::Done { group_key, .. } => keys.push(group_key),
                    _ => {}
                }
            }
        }
        if round == usize::from(first >> 1) % 4
            && let Some(block) = &fuzzed
        {
            sent.insert(0, block.clone());
        }
        if sent.is_empty() {
            break;
        }
        if first & 2 != 0 {
            sent.reverse();
        }
        for block in &sent {
            for dkg in &mut dkgs {
                dkg.handle(block, &mut rng);
            }
        }
    }
    assert!(keys.windows(2).all(|w| w[0] == w[1]), "two group keys from one run");
});
