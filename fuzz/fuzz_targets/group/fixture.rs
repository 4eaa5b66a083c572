//! One small, genuine group, built once per process and shared by the group targets.
//!
//! Person 1 creates it with persons 2, 3 and 4; 2, 3 and 1 post in epoch 0; 1 invites 5,
//! who accepts, and 4 asks to leave; 1 makes epoch 1 from `ops::admit` (5 in, 4 out) and
//! makes 2 a `MembersOnly` co-admin; 2 and 5 post in epoch 1; 2 invites 6, who accepts
//! (pending). Everything is seeded (ChaCha20, deterministic Ed25519), so the blocks are the
//! same on every run and `seeds/` can be written from [`Fixture::blocks`].

#![allow(
    dead_code,
    reason = "each group target uses a different part of the fixture"
)]

use std::sync::OnceLock;

use quorate_actor_core::{ActorId, ActorSecret, Identity};
use quorate_group_core::ops;
use quorate_group_core::{
    CoAdminCert, Epoch, GroupGenesis, GroupId, GroupState, Member, Permission, StateConfig,
};
use quorate_mesh_proto::{Block, Cid, Codec};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

const T0: u64 = 1_700_000_000_000;

/// Who a state is kept for: a blind cache, a member of both epochs, the member who left at
/// epoch 1, the member who joined at epoch 1.
pub const VIEWERS: [Option<u8>; 4] = [None, Some(2), Some(4), Some(5)];

/// What a state holds once it has every genuine block.
#[derive(Debug, PartialEq, Eq)]
pub struct Digest {
    pub current: Option<Cid>,
    pub epochs: Vec<Cid>,
    pub keys: Vec<Cid>,
    /// `(cid, lamport, plaintext, unreadable)` in display order.
    pub messages: Vec<(Cid, u64, Option<Vec<u8>>, bool)>,
    pub frontier: Vec<Cid>,
    pub invites: Vec<Cid>,
    pub pending_joins: Vec<Cid>,
    pub pending_leaves: Vec<ActorId>,
}

impl Digest {
    pub fn of(state: &GroupState) -> Digest {
        Digest {
            current: state.current().map(|e| e.cid),
            epochs: state.epochs().map(|e| e.cid).collect(),
            keys: state.keys().copied().collect(),
            messages: state
                .messages()
                .map(|m| {
                    (
                        m.cid,
                        m.lamport,
                        m.plaintext.clone(),
                        m.unreadable.is_some(),
                    )
                })
                .collect(),
            frontier: state.frontier().iter().copied().collect(),
            invites: state.invites().map(|(c, _)| *c).collect(),
            pending_joins: state.pending_joins().iter().map(|p| p.cid).collect(),
            pending_leaves: state.pending_leaves(),
        }
    }
}

pub struct Fixture {
    pub group: GroupId,
    pub genesis_cid: Cid,
    pub genesis: GroupGenesis,
    /// Every genuine block, in the order it was made (components before their state).
    pub blocks: Vec<Block>,
    /// `[epoch 0, epoch 1]` states.
    pub epoch_states: Vec<Cid>,
    /// The verified epochs, same order.
    pub epochs: Vec<Epoch>,
    /// `[members, policy, key index]` blocks of each epoch.
    pub parts: Vec<[Block; 3]>,
    pub messages: Vec<Cid>,
    /// Invites, join and leave requests.
    pub requests: Vec<Cid>,
    /// Persons 1..=6 and 9 (an outsider), by `person(n)`.
    people: Vec<(u8, Identity)>,
    /// The digest of each of [`VIEWERS`] fed every genuine block in order.
    pub reference: Vec<Digest>,
}

impl Fixture {
    pub fn person(&self, n: u8) -> &Identity {
        self.people
            .iter()
            .find(|(i, _)| *i == n)
            .map(|(_, p)| p)
            .expect("a fixture person")
    }

    pub fn viewer(&self, index: usize) -> Option<Identity> {
        VIEWERS
            .get(index % VIEWERS.len())
            .copied()
            .flatten()
            .map(|n| self.person(n).clone())
    }

    pub fn is_genuine(&self, cid: &Cid) -> bool {
        self.blocks.iter().any(|b| b.cid() == cid)
    }

    /// A state of `me` fed `blocks`, drained.
    pub fn state_of<'a>(
        &self,
        me: Option<&Identity>,
        blocks: impl IntoIterator<Item = &'a Block>,
    ) -> GroupState {
        feed(self.group, me, blocks)
    }
}

fn feed<'a>(
    group: GroupId,
    me: Option<&Identity>,
    blocks: impl IntoIterator<Item = &'a Block>,
) -> GroupState {
    let mut state = GroupState::new(group, me.cloned(), StateConfig::default());
    for b in blocks {
        state.insert(b.clone());
        while state.poll_change().is_some() {}
    }
    state
}

pub fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(build)
}

fn build() -> Fixture {
    let mut rng = ChaCha20Rng::seed_from_u64(0x9_0c0);
    let people: Vec<(u8, Identity)> = [1, 2, 3, 4, 5, 6, 9]
        .into_iter()
        .map(|n| (n, Identity::from_secret(ActorSecret::from_bytes([n; 32]))))
        .collect();
    let person = |n: u8| {
        people
            .iter()
            .find(|(i, _)| *i == n)
            .map(|(_, p)| p)
            .expect("a fixture person")
    };
    let members = [2, 3, 4]
        .into_iter()
        .map(|n| Member::of(person(n)))
        .collect();
    let g =
        ops::create_group(person(1), "fuzz", members, Vec::new(), T0, &mut rng).expect("creates");
    let mut blocks: Vec<Block> = g.blocks().cloned().collect();
    let mut messages = Vec::new();
    let mut requests = Vec::new();
    let mut post = |who: u8, text: &str, blocks: &mut Vec<Block>, rng: &mut ChaCha20Rng| {
        let state = feed(g.id, Some(person(who)), blocks.iter());
        let block = ops::compose(person(who), &state, text.as_bytes(), rng).expect("composes");
        messages.push(*block.cid());
        blocks.push(block);
    };
    post(2, "hello", &mut blocks, &mut rng);
    post(3, "hi 2", &mut blocks, &mut rng);
    post(1, "welcome", &mut blocks, &mut rng);

    // 1 invites 5, 5 accepts, 4 asks to leave; 1 admits (5 in, 4 out), granting 2.
    let view = feed(g.id, Some(person(1)), blocks.iter());
    let invite = ops::invite(person(1), &view, person(5).id(), T0 + 60_000).expect("invites");
    let join = ops::accept(person(5), g.id, *invite.cid(), T0 + 5).expect("accepts");
    let leave = ops::leave(person(4), &view, T0 + 5).expect("leaves");
    for b in [invite, join, leave] {
        requests.push(*b.cid());
        blocks.push(b);
    }
    let view = feed(g.id, Some(person(1)), blocks.iter());
    let mut change = ops::admit(person(1), &view, T0 + 10).expect("something to admit");
    assert_eq!(
        (change.add.len(), change.remove.as_slice()),
        (1, &[person(4).id()][..])
    );
    change.co_admins = Some(vec![
        CoAdminCert::grant(
            person(1),
            g.id,
            &person(2).verifying_key(),
            Permission::MembersOnly,
        )
        .expect("grants"),
    ]);
    let e1 = ops::next_epoch(person(1), &view, &change, T0 + 10, &mut rng).expect("next epoch");
    blocks.extend(e1.blocks().cloned());
    post(2, "after 4 left", &mut blocks, &mut rng);
    post(5, "hello from 5", &mut blocks, &mut rng);

    // The co-admin invites 6, who accepts: a pending join.
    let view = feed(g.id, Some(person(2)), blocks.iter());
    let invite =
        ops::invite(person(2), &view, person(6).id(), T0 + 60_000).expect("co-admin invites");
    let join = ops::accept(person(6), g.id, *invite.cid(), T0 + 20).expect("accepts");
    for b in [invite, join] {
        requests.push(*b.cid());
        blocks.push(b);
    }

    let full = feed(g.id, None, blocks.iter());
    let epoch_states = vec![*g.epoch.state.cid(), *e1.state.cid()];
    let epochs: Vec<Epoch> = epoch_states
        .iter()
        .map(|c| full.epoch(c).cloned().expect("a valid epoch"))
        .collect();
    let (genesis_cid, genesis) = full
        .genesis()
        .map(|(c, g)| (*c, g.clone()))
        .expect("genesis");
    assert_eq!(
        full.message_count(),
        messages.len(),
        "every fixture message is accepted"
    );
    assert_eq!(full.current().map(|e| e.cid), epoch_states.last().copied());
    assert!(full.rejected().is_empty(), "{:?}", full.rejected());
    let parts = [&g.epoch, &e1]
        .iter()
        .map(|e| [e.members.clone(), e.policy.clone(), e.keys.index.clone()])
        .collect();
    let mut fixture = Fixture {
        group: g.id,
        genesis_cid,
        genesis,
        blocks,
        epoch_states,
        epochs,
        parts,
        messages,
        requests,
        people,
        reference: Vec::new(),
    };
    fixture.reference = (0..VIEWERS.len())
        .map(|v| {
            let me = fixture.viewer(v);
            Digest::of(&fixture.state_of(me.as_ref(), fixture.blocks.iter()))
        })
        .collect();
    // The fixture is what it claims: 2 reads everything, 4 only epoch 0, 5 only epoch 1,
    // the cache nothing; 6 waits to be admitted.
    let readable = |v: usize| {
        fixture.reference[v]
            .messages
            .iter()
            .filter(|m| m.2.is_some())
            .count()
    };
    assert_eq!(
        [readable(0), readable(1), readable(2), readable(3)],
        [0, 5, 3, 2]
    );
    let reference = &fixture.reference[0];
    assert_eq!(
        (reference.invites.len(), reference.pending_joins.len()),
        (2, 1)
    );
    assert!(reference.pending_leaves.is_empty());
    fixture
}

/// The fuzz input, read front to back; past the end every byte is 0.
pub struct Input<'a>(pub &'a [u8]);

impl<'a> Input<'a> {
    /// The next byte.
    pub fn byte(&mut self) -> u8 {
        let (&b, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        b
    }

    /// The next `n` bytes (fewer at the end).
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (taken, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        taken
    }

    /// `len ‖ bytes`: a length byte, then that many bytes.
    pub fn slice(&mut self) -> &'a [u8] {
        let n = usize::from(self.byte());
        self.bytes(n)
    }
}

/// `bytes` as a block under its own CID.
pub fn as_block(codec: Codec, bytes: &[u8]) -> Block {
    Block::from_untrusted(&Cid::of(codec, bytes), bytes.to_vec()).expect("its own hash")
}
