//! A group of `n` members whose policy has the rules under test, and helpers.
#![allow(dead_code, reason = "each test file uses a different subset")]

use quorate_actor_core::{ActorSecret, Identity};
use quorate_governance_core::{Proposal, Snapshot, Vote, VoteValue};
use quorate_group_core::{
    Eligible, Epoch, Fraction, GroupGenesis, GroupId, GroupState, Member, Rule, Silent,
    StateConfig, Tie, ops,
};
use quorate_mesh_proto::Block;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

pub(crate) const T0: u64 = 1_700_000_000_000;
pub(crate) const HOUR: u64 = 3600 * 1000;

pub(crate) fn person(i: usize) -> Identity {
    let mut secret = [0u8; 32];
    secret[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
    Identity::from_secret(ActorSecret::from_bytes(secret))
}

pub(crate) struct World {
    pub(crate) people: Vec<Identity>,
    pub(crate) group: GroupId,
    pub(crate) state: GroupState,
}

/// `n` members (person 0 creates); TRIGGER_X: 10% of members; REMOVE_MEMBER: quorum
/// (silent as `silent`, ties `tie`); CHANGE_POLICY: quorum of admins.
pub(crate) fn world(n: usize, silent: Silent, tie: Tie) -> World {
    let people: Vec<Identity> = (0..n).map(person).collect();
    let rules = vec![
        Rule::FractionalApproval {
            threshold: Fraction::new(1, 10),
            eligible: Eligible::Members,
            action_types: vec!["TRIGGER_X".into()],
        },
        Rule::Quorum {
            eligible: Eligible::Members,
            silent,
            tie,
            action_types: vec!["REMOVE_MEMBER".into(), "ADD_MEMBER".into()],
        },
        Rule::Quorum {
            eligible: Eligible::Admins,
            silent: Silent::No,
            tie: Tie::Reject,
            action_types: vec!["CHANGE_POLICY".into()],
        },
    ];
    let members = people.iter().skip(1).map(Member::of).collect();
    let mut rng = ChaCha20Rng::seed_from_u64(n as u64);
    let created =
        ops::create_group_with_rules(&people[0], "gov", members, vec![], rules, T0, &mut rng)
            .expect("group");
    let mut state = GroupState::new(created.id, None, StateConfig::default());
    for block in created.blocks() {
        state.insert(block.clone());
    }
    assert!(state.current().is_some(), "epoch 0 verifies");
    World {
        people,
        group: created.id,
        state,
    }
}

impl World {
    pub(crate) fn epoch(&self) -> &Epoch {
        self.state.current().expect("epoch")
    }

    pub(crate) fn genesis(&self) -> &GroupGenesis {
        self.state.genesis().expect("genesis").1
    }

    pub(crate) fn snapshot(&self) -> Snapshot<'_> {
        Snapshot::of(self.epoch(), self.genesis())
    }

    /// Person `by` proposes `action`, open for an hour from T0.
    pub(crate) fn propose(&self, by: usize, action: &str) -> (Block, Proposal) {
        let proposal = Proposal {
            group: self.group,
            epoch: self.epoch().state.epoch,
            epoch_state: self.epoch().cid,
            action_type: action.into(),
            action_payload: None,
            created_by: self.people[by].id(),
            created_at: T0,
            expires_at: T0 + HOUR,
        };
        let block = proposal.sign(&self.people[by]).expect("sign");
        (block, proposal)
    }

    pub(crate) fn vote(&self, by: usize, proposal: &Block, value: VoteValue) -> Vote {
        Vote::cast(
            &self.people[by],
            self.group,
            *proposal.cid(),
            self.epoch().state.epoch,
            value,
        )
    }
}
