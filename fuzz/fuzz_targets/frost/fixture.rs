//! A FROST committee for the FROST targets: `n` people (sorted by id) and a 2-of-`k`
//! dealer split among the first `k`, deterministic.

use frost_ed25519 as frost;
use quorate_actor_core::{ActorId, ActorSecret, Identity};
use quorate_attestation_core::Committee;
use quorate_attestation_core::frost::dkg::identifier;
use quorate_group_core::GroupId;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

pub const GROUP: GroupId = GroupId::from_bytes([9; 32]);

pub struct Fixture {
    pub people: Vec<Identity>,
    pub committee: Committee,
    pub keys: Vec<frost::keys::KeyPackage>,
}

/// People `1..=n` (secrets `[i; 32]`), the first `k` holding a 2-of-`k` split.
pub fn build(n: u8, k: usize, seed: u64) -> Fixture {
    let mut people: Vec<Identity> = (1..=n)
        .map(|i| Identity::from_secret(ActorSecret::from_bytes([i; 32])))
        .collect();
    people.sort_by_key(Identity::id);
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let ids: Vec<frost::Identifier> = people[..k]
        .iter()
        .map(|p| identifier(&p.id()).expect("id"))
        .collect();
    let (shares, public) = frost::keys::split(
        &frost::SigningKey::new(&mut rng),
        u16::try_from(k).expect("k"),
        2,
        frost::keys::IdentifierList::Custom(&ids),
        &mut rng,
    )
    .expect("split");
    let keys = ids
        .iter()
        .map(|id| frost::keys::KeyPackage::try_from(shares[id].clone()).expect("key"))
        .collect();
    let actors: Vec<ActorId> = people[..k].iter().map(Identity::id).collect();
    let committee = Committee::frost(GROUP, &actors, &public).expect("committee");
    Fixture {
        people,
        committee,
        keys,
    }
}
