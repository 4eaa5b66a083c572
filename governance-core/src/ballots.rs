//! [`Ballots`]: one group's proposals, action payloads and votes, as a set that any order
//! and duplication of the same blocks builds identically. Blocks are checked on their own
//! (decoding, the proposer's signature, the group); a vote is kept only once its
//! signature verifies under the voter's key in the proposal's epoch — until the proposal
//! and that epoch are known it waits in a bounded pool ([`Ballots::recheck`] after the
//! group state changes). So a forged vote can never displace a genuine one. The
//! per-member proposal limit applies in [`Ballots::tally`]: beyond
//! [`PROPOSALS_PER_MEMBER`] per proposer and epoch, only the earliest count.

use std::collections::BTreeMap;

use quorate_actor_core::ActorId;
use quorate_group_core::{GroupId, GroupState, ObjectError};
use quorate_mesh_proto::{Block, BlockPayload as _, Cid};

use crate::action::ActionPayload;
use crate::evaluate::{Evaluation, ProposalFault, Snapshot, evaluate};
use crate::limit::{PROPOSALS_PER_MEMBER, admitted};
use crate::proposal::{Proposal, ProposalId};
use crate::vote::{Vote, VoteValue};

/// Limits of a [`Ballots`].
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct BallotLimits {
    /// Proposals kept.
    pub proposals: usize,
    /// Votes kept per proposal (distinct voter and value).
    pub votes_per_proposal: usize,
    /// Votes waiting for their proposal or its epoch.
    pub pending_votes: usize,
    /// Action payload blocks kept.
    pub payloads: usize,
}

impl Default for BallotLimits {
    fn default() -> Self {
        BallotLimits {
            proposals: 1024,
            votes_per_proposal: 20_000,
            pending_votes: 4096,
            payloads: 1024,
        }
    }
}

/// What [`Ballots::insert`] did with a block.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Taken {
    /// A new proposal.
    Proposal(ProposalId),
    /// A new vote on this proposal, verified.
    Vote(ProposalId),
    /// A vote waiting for its proposal or its epoch.
    Waiting,
    /// A new action payload.
    Payload(Cid),
    /// Already held.
    Duplicate,
    /// Not a governance block (the caller hands it to the group state).
    NotGovernance,
    /// A governance block that is not acceptable.
    Rejected(ObjectError),
    /// Over a limit (kept nothing).
    Full,
}

/// One proposal's verified votes: (voter, value) → (block CID, vote).
type VoteSet = BTreeMap<(ActorId, VoteValue), (Cid, Vote)>;

/// One group's proposals, payloads and votes.
#[derive(Clone, Debug)]
pub struct Ballots {
    group: GroupId,
    limits: BallotLimits,
    proposals: BTreeMap<ProposalId, Proposal>,
    payloads: BTreeMap<Cid, Block>,
    /// Verified votes.
    votes: BTreeMap<ProposalId, VoteSet>,
    /// Votes not checkable yet.
    pending: BTreeMap<Cid, Vote>,
}

/// Whether `block` is one of the governance block types (proposal, vote, action payload).
#[must_use]
pub fn is_governance_block(block: &Block) -> bool {
    block.header().is_ok_and(|h| {
        h.kind == Proposal::TYPE || h.kind == Vote::TYPE || h.kind == ActionPayload::TYPE
    })
}

impl Ballots {
    /// Empty ballots for `group`.
    #[must_use]
    pub fn new(group: GroupId, limits: BallotLimits) -> Ballots {
        Ballots {
            group,
            limits,
            proposals: BTreeMap::new(),
            payloads: BTreeMap::new(),
            votes: BTreeMap::new(),
            pending: BTreeMap::new(),
        }
    }

    /// Takes in one block of the group's topic; `state` is the group (for the members of
    /// a vote's epoch).
    pub fn insert(&mut self, block: &Block, state: &GroupState) -> Taken {
        let Ok(header) = block.header() else {
            return Taken::NotGovernance;
        };
        let cid = *block.cid();
        match header.kind.as_str() {
            Proposal::TYPE => {
                if self.proposals.contains_key(&cid) {
                    return Taken::Duplicate;
                }
                let proposal = match Proposal::decode(block) {
                    Ok(p) if p.group == self.group => p,
                    Ok(_) => return Taken::Rejected(ObjectError::WrongGroup),
                    Err(e) => return Taken::Rejected(e),
                };
                if self.proposals.len() >= self.limits.proposals {
                    return Taken::Full;
                }
                self.proposals.insert(cid, proposal);
                self.recheck(state);
                Taken::Proposal(cid)
            }
            Vote::TYPE => {
                let vote = match Vote::decode(block) {
                    Ok(v) if v.group == self.group => v,
                    Ok(_) => return Taken::Rejected(ObjectError::WrongGroup),
                    Err(e) => return Taken::Rejected(e),
                };
                self.take_vote(cid, vote, state)
            }
            ActionPayload::TYPE => {
                if self.payloads.contains_key(&cid) {
                    return Taken::Duplicate;
                }
                if let Err(e) = ActionPayload::decode(block) {
                    return Taken::Rejected(e);
                }
                if self.payloads.len() >= self.limits.payloads {
                    return Taken::Full;
                }
                self.payloads.insert(cid, block.clone());
                Taken::Payload(cid)
            }
            _ => Taken::NotGovernance,
        }
    }

    /// A vote, checked if its proposal and epoch are known, else held back.
    fn take_vote(&mut self, cid: Cid, vote: Vote, state: &GroupState) -> Taken {
        let key = (vote.voter, vote.value);
        if self
            .votes
            .get(&vote.proposal)
            .is_some_and(|m| m.contains_key(&key))
            || self.pending.contains_key(&cid)
        {
            return Taken::Duplicate;
        }
        let Some(proposal) = self.proposals.get(&vote.proposal) else {
            return self.hold(cid, vote);
        };
        let Some(epoch) = state.epoch(&proposal.epoch_state) else {
            return self.hold(cid, vote);
        };
        if vote.epoch != proposal.epoch {
            return Taken::Rejected(ObjectError::WrongEpoch);
        }
        let key_of = epoch.members.get(&vote.voter).map(|m| m.verifying_key());
        match key_of {
            Some(Ok(k)) => {
                if let Err(e) = vote.verify(&k) {
                    return Taken::Rejected(e);
                }
            }
            Some(Err(e)) => return Taken::Rejected(e),
            None => return Taken::Rejected(ObjectError::WrongSigner),
        }
        let set = self.votes.entry(vote.proposal).or_default();
        if set.len() >= self.limits.votes_per_proposal {
            return Taken::Full;
        }
        let proposal = vote.proposal;
        set.insert(key, (cid, vote));
        Taken::Vote(proposal)
    }

    fn hold(&mut self, cid: Cid, vote: Vote) -> Taken {
        if self.pending.len() >= self.limits.pending_votes {
            return Taken::Full;
        }
        self.pending.insert(cid, vote);
        Taken::Waiting
    }

    /// Checks the waiting votes again (after a proposal or an epoch arrived); returns the
    /// proposals that gained votes.
    pub fn recheck(&mut self, state: &GroupState) -> Vec<ProposalId> {
        let ready: Vec<Cid> = self
            .pending
            .iter()
            .filter(|(_, v)| {
                self.proposals
                    .get(&v.proposal)
                    .is_some_and(|p| state.epoch(&p.epoch_state).is_some())
            })
            .map(|(c, _)| *c)
            .collect();
        let mut gained = Vec::new();
        for cid in ready {
            if let Some(vote) = self.pending.remove(&cid)
                && let Taken::Vote(p) = self.take_vote(cid, vote, state)
            {
                gained.push(p);
            }
        }
        gained.sort_unstable();
        gained.dedup();
        gained
    }

    /// Every proposal held.
    pub fn proposals(&self) -> impl Iterator<Item = (&ProposalId, &Proposal)> {
        self.proposals.iter()
    }

    /// A proposal.
    #[must_use]
    pub fn proposal(&self, id: &ProposalId) -> Option<&Proposal> {
        self.proposals.get(id)
    }

    /// An action payload block.
    #[must_use]
    pub fn payload(&self, cid: &Cid) -> Option<&Block> {
        self.payloads.get(cid)
    }

    /// The votes held on a proposal.
    pub fn votes(&self, id: &ProposalId) -> impl Iterator<Item = &Vote> {
        self.votes
            .get(id)
            .into_iter()
            .flat_map(|m| m.values().map(|(_, v)| v))
    }

    /// The CIDs of the votes held on a proposal, sorted.
    #[must_use]
    pub fn vote_cids(&self, id: &ProposalId) -> Vec<Cid> {
        let mut cids: Vec<Cid> = self
            .votes
            .get(id)
            .into_iter()
            .flat_map(|m| m.values().map(|(c, _)| *c))
            .collect();
        cids.sort_unstable();
        cids
    }

    /// Whether a vote block is held (verified or waiting).
    #[must_use]
    pub fn has_vote(&self, cid: &Cid) -> bool {
        self.pending.contains_key(cid)
            || self
                .votes
                .values()
                .any(|m| m.values().any(|(c, _)| c == cid))
    }

    /// Evaluates a proposal with the votes held, against the epoch it names in `state`;
    /// `None` if the proposal or its epoch is not known yet.
    #[must_use]
    pub fn tally(&self, id: &ProposalId, state: &GroupState, now_ms: u64) -> Option<Evaluation> {
        let proposal = self.proposals.get(id)?;
        let same: Vec<(&ProposalId, &Proposal)> = self
            .proposals
            .iter()
            .filter(|(_, p)| p.created_by == proposal.created_by && p.epoch == proposal.epoch)
            .collect();
        if same.len() > PROPOSALS_PER_MEMBER && !admitted(same, PROPOSALS_PER_MEMBER).contains(id) {
            return Some(Evaluation::invalid(ProposalFault::RateLimited));
        }
        let epoch = state.epoch(&proposal.epoch_state)?;
        let (_, genesis) = state.genesis()?;
        let snapshot = Snapshot::of(epoch, genesis);
        Some(evaluate(&snapshot, id, proposal, self.votes(id), now_ms))
    }
}
