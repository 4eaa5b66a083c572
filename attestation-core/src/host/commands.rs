//! Governance commands, as the host's actor: record a committee, propose, vote, and read
//! tallies and attestations.

use quorate_governance_core::{
    ActionPayload, Evaluation, MAX_VOTING_MS, Proposal, ProposalId, Vote, VoteValue,
};
use quorate_group_core::host::{EpochView, HostError};
use quorate_group_core::ops::EpochChange;
use quorate_group_core::{GroupId, ObjectError};
use quorate_mesh_proto::{Cid, Instant};
use rand_core::CryptoRngCore;

use super::GovernanceHost;
use crate::attestation::GroupAttestation;
use crate::committee::SingleKeyCommittee;
use crate::execute::MarkerStore;
use crate::frost::sign::NonceStore;

/// Why a governance command cannot be carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GovError {
    /// The group layer refused (no actor, group not followed, not an admin…).
    #[error(transparent)]
    Host(#[from] HostError),
    /// The group has no valid epoch yet.
    #[error("the group has no valid epoch yet")]
    NoEpoch,
    /// The actor is not a member of the current epoch.
    #[error("not a member of the group's current epoch")]
    NotAMember,
    /// No such proposal here.
    #[error("no proposal {0} in this group")]
    UnknownProposal(ProposalId),
    /// A block could not be made.
    #[error(transparent)]
    Object(#[from] ObjectError),
    /// A committee call is not possible (not a full admin, members not in the group, no
    /// FROST committee to reshare…).
    #[error("committee: {0}")]
    Committee(String),
}

impl<M: MarkerStore + NonceStore> GovernanceHost<M> {
    /// Records `committee` as the group's committee (`committeeRoot` of a new epoch, made
    /// by the actor, who must be a full admin) and keeps its key on this node.
    ///
    /// # Errors
    /// [`GovError`].
    pub fn set_committee(
        &mut self,
        group: GroupId,
        committee: SingleKeyCommittee,
        now: Instant,
        now_ms: u64,
        rng: &mut impl CryptoRngCore,
    ) -> Result<EpochView, GovError> {
        let block = committee.committee(group).to_block()?;
        let change = EpochChange {
            committee: Some(*block.cid()),
            ..EpochChange::default()
        };
        self.publish(group, block, now);
        let epoch = self.groups.change(group, &change, now, now_ms, rng)?;
        self.keys.insert(group, committee);
        Ok(epoch)
    }

    /// Keeps the committee key of `group` on this node (after a restart).
    pub fn hold_committee_key(&mut self, group: GroupId, committee: SingleKeyCommittee) {
        self.keys.insert(group, committee);
    }

    /// Proposes `action_type` (with `payload`) in the group's current epoch, open for
    /// `voting_ms`; publishes the payload and the proposal; returns the proposal id.
    ///
    /// # Errors
    /// [`GovError`].
    pub fn propose(
        &mut self,
        group: GroupId,
        action_type: &str,
        payload: Option<ActionPayload>,
        voting_ms: u64,
        now: Instant,
        now_ms: u64,
    ) -> Result<ProposalId, GovError> {
        let me = self.groups.identity().cloned().ok_or(HostError::NoActor)?;
        let state = self.groups.state(&group)?;
        let current = state.current().ok_or(GovError::NoEpoch)?;
        if !current.members.contains(&me.id()) {
            return Err(GovError::NotAMember);
        }
        let payload_block = payload.map(|p| p.to_block()).transpose()?;
        let proposal = Proposal {
            group,
            epoch: current.state.epoch,
            epoch_state: current.cid,
            action_type: action_type.to_owned(),
            action_payload: payload_block.as_ref().map(|b| *b.cid()),
            created_by: me.id(),
            created_at: now_ms,
            expires_at: now_ms.saturating_add(voting_ms.clamp(1, MAX_VOTING_MS)),
        };
        let block = proposal.sign(&me)?;
        let id = *block.cid();
        if let Some(p) = payload_block {
            self.publish(group, p, now);
        }
        self.publish(group, block, now);
        Ok(id)
    }

    /// Votes `value` on `proposal`; publishes the vote; returns its CID.
    ///
    /// # Errors
    /// [`GovError`].
    pub fn vote(
        &mut self,
        group: GroupId,
        proposal: &ProposalId,
        value: VoteValue,
        now: Instant,
    ) -> Result<Cid, GovError> {
        let me = self.groups.identity().cloned().ok_or(HostError::NoActor)?;
        let p = self
            .gov
            .get(&group)
            .and_then(|g| g.ballots.proposal(proposal))
            .ok_or(GovError::UnknownProposal(*proposal))?;
        let vote = Vote::cast(&me, group, *proposal, p.epoch, value);
        let block = vote.to_block()?;
        let cid = *block.cid();
        self.publish(group, block, now);
        Ok(cid)
    }

    /// The proposals of `group` held here.
    #[must_use]
    pub fn proposals(&self, group: &GroupId) -> Vec<(ProposalId, Proposal)> {
        self.gov
            .get(group)
            .map(|g| {
                g.ballots
                    .proposals()
                    .map(|(c, p)| (*c, p.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The evaluation of `proposal` with the votes held here, at `now_ms`.
    #[must_use]
    pub fn tally(&self, group: &GroupId, proposal: &ProposalId, now_ms: u64) -> Option<Evaluation> {
        let state = self.groups.state(group).ok()?;
        self.gov.get(group)?.ballots.tally(proposal, state, now_ms)
    }

    /// `PK_G` of the group's current epoch, if its committee block is known.
    #[must_use]
    pub fn group_key(&self, group: &GroupId) -> Option<[u8; 32]> {
        self.committee(group).map(|c| c.group_key)
    }

    /// The verified attestation of `proposal`, if one arrived.
    #[must_use]
    pub fn attestation(&self, group: &GroupId, proposal: &ProposalId) -> Option<&GroupAttestation> {
        self.gov
            .get(group)?
            .attestations
            .get(proposal)
            .map(|(a, _)| a)
    }
}
