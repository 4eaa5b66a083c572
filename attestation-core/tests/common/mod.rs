//! A 50-member group with a 10% rule for TRIGGER_X and REMOVE_MEMBER, whose epoch 1
//! records a single-key committee held by person 0.
#![allow(dead_code, reason = "each test file uses a different subset")]

pub(crate) mod frost;
pub(crate) mod openssl;
pub(crate) mod sim;

use quorate_actor_core::{ActorSecret, Identity};
use quorate_attestation_core::SingleKeyCommittee;
use quorate_governance_core::{ActionPayload, Proposal, Vote, VoteValue};
use quorate_group_core::ops::{self, EpochChange};
use quorate_group_core::{Eligible, Fraction, GroupState, Member, Rule, StateConfig};
use quorate_mesh_proto::Block;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

pub(crate) const T0: u64 = 1_700_000_000_000;

pub(crate) fn person(i: u8) -> Identity {
    Identity::from_secret(ActorSecret::from_bytes([i + 1; 32]))
}

pub(crate) struct Setup {
    pub(crate) people: Vec<Identity>,
    pub(crate) state: GroupState,
    /// Every block of the group so far.
    pub(crate) blocks: Vec<Block>,
    pub(crate) committee: SingleKeyCommittee,
}

/// 50 members, TRIGGER_X at 10%; epoch 1 records the committee (held by person 0).
pub(crate) fn setup() -> Setup {
    let mut rng = ChaCha20Rng::seed_from_u64(8);
    let people: Vec<Identity> = (0..50).map(person).collect();
    let rule = Rule::FractionalApproval {
        threshold: Fraction::new(1, 10),
        eligible: Eligible::Members,
        action_types: vec![
            "TRIGGER_X".into(),
            "REMOVE_MEMBER".into(),
            "ADD_MEMBER".into(),
            "ROTATE_KEY".into(),
            "CHANGE_POLICY".into(),
        ],
    };
    let members = people[1..].iter().map(Member::of).collect();
    let group =
        ops::create_group_with_rules(&people[0], "att", members, vec![], vec![rule], T0, &mut rng)
            .unwrap();
    let mut state = GroupState::new(group.id, None, StateConfig::default());
    let mut blocks: Vec<Block> = group.blocks().cloned().collect();
    blocks.iter().for_each(|b| state.insert(b.clone()));
    let committee = SingleKeyCommittee::generate(people[0].id(), &mut rng);
    let root = committee.committee(group.id).to_block().unwrap();
    let change = EpochChange {
        committee: Some(*root.cid()),
        ..EpochChange::default()
    };
    let epoch = ops::next_epoch(&people[0], &state, &change, T0 + 1, &mut rng).unwrap();
    epoch.blocks().for_each(|b| state.insert(b.clone()));
    blocks.extend(epoch.blocks().cloned());
    assert_eq!(state.current().unwrap().state.epoch, 1);
    Setup {
        people,
        state,
        blocks,
        committee,
    }
}

impl Setup {
    /// A copy of the group state (rebuilt from its blocks).
    pub(crate) fn state_clone(&self) -> GroupState {
        let mut state = GroupState::new(self.state.group(), None, StateConfig::default());
        self.blocks.iter().for_each(|b| state.insert(b.clone()));
        state
    }

    /// A copy of the group moved on to epoch 2 (a key rotation).
    pub(crate) fn rotated(&self) -> GroupState {
        let mut state = self.state_clone();
        let change = EpochChange::default();
        let e = ops::next_epoch(
            &self.people[0],
            &state,
            &change,
            T0 + 2,
            &mut ChaCha20Rng::seed_from_u64(5),
        )
        .unwrap();
        e.blocks().for_each(|b| state.insert(b.clone()));
        state
    }

    pub(crate) fn propose(&self, by: usize) -> (Block, Proposal) {
        self.propose_action(by, "TRIGGER_X", None)
    }

    /// A proposal of `action` with `payload` (whose block is returned too).
    pub(crate) fn propose_action(
        &self,
        by: usize,
        action: &str,
        payload: Option<&ActionPayload>,
    ) -> (Block, Proposal) {
        let current = self.state.current().unwrap();
        let payload = payload.map(|p| *p.to_block().unwrap().cid());
        let p = Proposal {
            group: self.state.group(),
            epoch: current.state.epoch,
            epoch_state: current.cid,
            action_type: action.into(),
            action_payload: payload,
            created_by: self.people[by].id(),
            created_at: T0 + 10,
            expires_at: T0 + 3_600_000,
        };
        (p.sign(&self.people[by]).unwrap(), p)
    }

    pub(crate) fn votes(&self, proposal: &Block, voters: std::ops::Range<usize>) -> Vec<Vote> {
        voters
            .map(|i| {
                let epoch = self.state.current().unwrap().state.epoch;
                Vote::cast(
                    &self.people[i],
                    self.state.group(),
                    *proposal.cid(),
                    epoch,
                    VoteValue::Yes,
                )
            })
            .collect()
    }
}
