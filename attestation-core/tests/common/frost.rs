//! FROST committees for the tests: people with distinct keys, key packages split by a
//! dealer (the DKG has its own tests; 100-member DKGs are benched, not run in debug).

use frost_ed25519 as frost;
use quorate_actor_core::{ActorId, ActorSecret, Identity};
use quorate_attestation_core::Committee;
use quorate_attestation_core::frost::dkg::identifier;
use quorate_group_core::GroupId;
use quorate_mesh_proto::Cid;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

pub(crate) const GROUP: GroupId = GroupId::from_bytes([9; 32]);

pub(crate) fn people(n: usize) -> Vec<Identity> {
    let mut people: Vec<Identity> = (0..n)
        .map(|i| {
            let mut secret = [0u8; 32];
            secret[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
            Identity::from_secret(ActorSecret::from_bytes(secret))
        })
        .collect();
    people.sort_by_key(Identity::id);
    people
}

/// A committee of `people` with threshold `t`.
pub(crate) fn committee(
    people: &[Identity],
    t: u16,
    seed: u64,
) -> (Committee, Cid, Vec<frost::keys::KeyPackage>) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let ids: Vec<frost::Identifier> = people
        .iter()
        .map(|p| identifier(&p.id()).unwrap())
        .collect();
    let n = u16::try_from(people.len()).unwrap();
    let (shares, public) = frost::keys::split(
        &frost::SigningKey::new(&mut rng),
        n,
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
