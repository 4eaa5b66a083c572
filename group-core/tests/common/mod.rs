//! Shared scaffolding: identities, a seeded RNG, and helpers that feed blocks to states.
#![allow(dead_code, reason = "each test file uses a different subset")]

use quorate_actor_core::{ActorSecret, Identity};
use quorate_group_core::ops::{self, EpochBlocks, EpochChange, NewGroup};
use quorate_group_core::{Change, GroupId, GroupState, Member, StateConfig};
use quorate_mesh_proto::Block;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

pub(crate) const T0: u64 = 1_700_000_000_000;

pub(crate) fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

pub(crate) fn person(n: u8) -> Identity {
    Identity::from_secret(ActorSecret::from_bytes([n; 32]))
}

/// A state for `me` fed with `blocks` (and drained of changes, which are returned).
pub(crate) fn state_of<'a>(
    group: GroupId,
    me: Option<&Identity>,
    blocks: impl IntoIterator<Item = &'a Block>,
) -> (GroupState, Vec<Change>) {
    let mut state = GroupState::new(group, me.cloned(), StateConfig::default());
    let changes = feed(&mut state, blocks);
    (state, changes)
}

pub(crate) fn feed<'a>(
    state: &mut GroupState,
    blocks: impl IntoIterator<Item = &'a Block>,
) -> Vec<Change> {
    let mut changes = Vec::new();
    for b in blocks {
        state.insert(b.clone());
        while let Some(c) = state.poll_change() {
            changes.push(c);
        }
    }
    changes
}

/// A group made by person 1 with persons 2..=n as members.
pub(crate) fn group_of(n: u8, rng: &mut ChaCha20Rng) -> NewGroup {
    let members = (2..=n).map(|i| Member::of(&person(i))).collect();
    ops::create_group(&person(1), "test", members, Vec::new(), T0, rng).unwrap()
}

/// An admin's view that has every block so far, to make the next epoch from.
pub(crate) fn next(
    admin: &Identity,
    blocks: &[Block],
    group: GroupId,
    change: &EpochChange,
    rng: &mut ChaCha20Rng,
) -> EpochBlocks {
    let (state, _) = state_of(group, Some(admin), blocks);
    ops::next_epoch(admin, &state, change, T0 + 1, rng).unwrap()
}

/// Composes a message as `author` from a view of `blocks`.
pub(crate) fn post(
    author: &Identity,
    blocks: &[Block],
    group: GroupId,
    text: &str,
    rng: &mut ChaCha20Rng,
) -> Block {
    let (state, _) = state_of(group, Some(author), blocks);
    ops::compose(author, &state, text.as_bytes(), rng).unwrap()
}

/// Plaintexts in display order (`None` for unreadable).
pub(crate) fn texts(state: &GroupState) -> Vec<Option<String>> {
    state
        .messages()
        .map(|m| {
            m.plaintext
                .as_ref()
                .map(|p| String::from_utf8_lossy(p).into_owned())
        })
        .collect()
}
