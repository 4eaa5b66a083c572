//! The evaluator: a pure function of a proposal, the membership and policy of its epoch,
//! a bag of votes and the time. Votes are a set keyed by (proposal, voter): duplicates are
//! one vote, a voter's conflicting votes are [`Equivocation`] evidence and count for
//! neither side. Any order and duplication of the same votes gives the same
//! [`Evaluation`] (proptested).

use std::collections::{BTreeMap, BTreeSet};

use quorate_actor_core::ActorId;
use quorate_group_core::{
    AdminRule, Eligible, Epoch, GroupGenesis, GroupId, MemberSet, Policy, Rule, Silent, Tie,
};
use quorate_mesh_proto::Cid;

use crate::proposal::{Proposal, ProposalId};
use crate::vote::{Vote, VoteValue};

/// How long after `expires_at` a decision taken at expiry (a quorum rule counting its
/// silent voters) may still be attested and acted on: 24 hours.
pub const DECISION_WINDOW_MS: u64 = 24 * 3600 * 1000;

/// The epoch a proposal names, as the evaluator needs it.
#[derive(Clone, Debug)]
pub struct Snapshot<'a> {
    /// The group.
    pub group: GroupId,
    /// The epoch number.
    pub epoch: u64,
    /// The epoch state's CID.
    pub epoch_state: Cid,
    /// Its members.
    pub members: &'a MemberSet,
    /// Its policy.
    pub policy: &'a Policy,
    /// Its admins (creator and co-admins).
    pub admins: AdminRule,
}

impl<'a> Snapshot<'a> {
    /// The snapshot of a verified epoch of the group `genesis` created.
    #[must_use]
    pub fn of(epoch: &'a Epoch, genesis: &GroupGenesis) -> Snapshot<'a> {
        Snapshot {
            group: epoch.state.group,
            epoch: epoch.state.epoch,
            epoch_state: epoch.cid,
            members: &epoch.members,
            policy: &epoch.policy,
            admins: epoch.admins(genesis),
        }
    }

    /// Whether `actor` votes under a rule with this eligibility.
    fn eligible(&self, eligible: Eligible, actor: &ActorId) -> bool {
        self.members.contains(actor)
            && match eligible {
                Eligible::Members => true,
                Eligible::Admins => self.admins.permission(actor).is_some(),
            }
    }
}

/// Why a proposal cannot be decided at all.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProposalFault {
    /// It is for another group.
    #[error("the proposal is for another group")]
    WrongGroup,
    /// It names another epoch than the snapshot.
    #[error("the proposal names another epoch")]
    WrongEpoch,
    /// Its proposer is not a member of its epoch (proposals from non-members are ignored).
    #[error("the proposer {0} is not a member of the proposal's epoch")]
    NotAMember(ActorId),
    /// No rule of the epoch's policy governs its action type.
    #[error("no rule of the policy governs action type {0}")]
    NoRule(String),
    /// Its rule has nobody eligible to vote.
    #[error("nobody is eligible to vote on it")]
    NoVoters,
    /// Its proposer made more proposals in this epoch than the per-member limit, and this
    /// one is not among the earliest ([`crate::admitted`]).
    #[error("over its proposer's proposal limit for the epoch")]
    RateLimited,
}

/// Why one vote does not count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum VoteRejection {
    /// It is for another group.
    #[error("for another group")]
    WrongGroup,
    /// It is for another proposal.
    #[error("for another proposal")]
    WrongProposal,
    /// It is for another epoch (a replay).
    #[error("for another epoch")]
    WrongEpoch,
    /// Its voter may not vote on this proposal (not a member, or not eligible).
    #[error("the voter is not eligible")]
    NotEligible,
    /// Its signature does not verify under the voter's key (forged or tampered).
    #[error("the signature does not verify")]
    BadSignature,
}

/// A voter who signed both YES and NO on one proposal: both votes, as evidence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Equivocation {
    /// The voter.
    pub voter: ActorId,
    /// Its YES vote.
    pub yes: Vote,
    /// Its NO vote.
    pub no: Vote,
}

/// Where a proposal stands.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Not decided yet.
    Pending,
    /// The rule is met: the committee may attest it.
    Passed {
        /// Decided at expiry (silent voters counted), not by the votes alone before it.
        at_expiry: bool,
    },
    /// The rule cannot be met any more, or the decision is NO.
    Rejected,
    /// A quorum rule's YES and NO were equal at expiry and its tie policy is
    /// [`Tie::Retry`]: propose again.
    Tied,
    /// Voting closed without a decision (or the decision window passed).
    Expired,
    /// The proposal cannot be decided.
    Invalid(ProposalFault),
}

/// The result of [`evaluate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evaluation {
    /// The outcome at the time given.
    pub outcome: Outcome,
    /// Eligible voters (`n`).
    pub eligible: usize,
    /// Distinct eligible voters who voted YES (equivocators excluded).
    pub yes: usize,
    /// … and NO.
    pub no: usize,
    /// YES votes needed to pass now (`None` when not a count: decided, or decided at
    /// expiry).
    pub needed: Option<usize>,
    /// Distinct votes that do not count, by reason.
    pub rejected: BTreeMap<VoteRejection, usize>,
    /// Voters who signed both YES and NO.
    pub equivocations: Vec<Equivocation>,
}

impl Evaluation {
    pub(crate) fn invalid(fault: ProposalFault) -> Evaluation {
        Evaluation {
            outcome: Outcome::Invalid(fault),
            eligible: 0,
            yes: 0,
            no: 0,
            needed: None,
            rejected: BTreeMap::new(),
            equivocations: Vec::new(),
        }
    }
}

/// Decides `proposal` (whose id is `id`) under the policy of `snapshot` with `votes` at
/// `now_ms`. Pure: no clock, no IO; every signature is checked strictly (the same
/// verification as everywhere else in Quorate, so all evaluators agree).
#[must_use]
pub fn evaluate<'v>(
    snapshot: &Snapshot<'_>,
    id: &ProposalId,
    proposal: &Proposal,
    votes: impl IntoIterator<Item = &'v Vote>,
    now_ms: u64,
) -> Evaluation {
    if proposal.group != snapshot.group {
        return Evaluation::invalid(ProposalFault::WrongGroup);
    }
    if proposal.epoch != snapshot.epoch || proposal.epoch_state != snapshot.epoch_state {
        return Evaluation::invalid(ProposalFault::WrongEpoch);
    }
    if !snapshot.members.contains(&proposal.created_by) {
        return Evaluation::invalid(ProposalFault::NotAMember(proposal.created_by));
    }
    let Some(rule) = snapshot.policy.rule_for(&proposal.action_type) else {
        return Evaluation::invalid(ProposalFault::NoRule(proposal.action_type.clone()));
    };
    let eligible = match rule {
        Rule::FractionalApproval { eligible, .. } | Rule::Quorum { eligible, .. } => *eligible,
        _ => return Evaluation::invalid(ProposalFault::NoRule(proposal.action_type.clone())),
    };
    let n = snapshot
        .members
        .members
        .iter()
        .filter(|m| snapshot.eligible(eligible, &m.actor))
        .count();
    if n == 0 {
        return Evaluation::invalid(ProposalFault::NoVoters);
    }
    let (ballots, rejected) = count(snapshot, eligible, id, proposal, votes);
    let mut equivocations = Vec::new();
    let (mut yes, mut no) = (0, 0);
    for (voter, cast) in ballots {
        match (cast.yes, cast.no) {
            (Some(y), Some(n)) => equivocations.push(Equivocation {
                voter,
                yes: y.clone(),
                no: n.clone(),
            }),
            (Some(_), None) => yes += 1,
            (None, Some(_)) => no += 1,
            (None, None) => {}
        }
    }
    let tally = Tally {
        n,
        yes,
        no,
        open: now_ms < proposal.expires_at,
        in_window: now_ms <= proposal.expires_at.saturating_add(DECISION_WINDOW_MS),
    };
    let (outcome, needed) = match rule {
        Rule::FractionalApproval { threshold, .. } => tally.fractional(*threshold),
        Rule::Quorum { silent, tie, .. } => tally.quorum(*silent, *tie),
        _ => (
            Outcome::Invalid(ProposalFault::NoRule(proposal.action_type.clone())),
            None,
        ),
    };
    Evaluation {
        outcome,
        eligible: n,
        yes,
        no,
        needed,
        rejected,
        equivocations,
    }
}

/// A voter's valid votes.
#[derive(Default)]
struct Cast<'v> {
    yes: Option<&'v Vote>,
    no: Option<&'v Vote>,
}

/// Every field of a vote: equal keys are the same vote.
type VoteKey = (ActorId, VoteValue, [u8; 64], Cid, u64, GroupId);

/// The valid votes by voter, and the distinct invalid ones by reason.
fn count<'v>(
    snapshot: &Snapshot<'_>,
    eligible: Eligible,
    id: &ProposalId,
    proposal: &Proposal,
    votes: impl IntoIterator<Item = &'v Vote>,
) -> (BTreeMap<ActorId, Cast<'v>>, BTreeMap<VoteRejection, usize>) {
    // Distinct votes: a duplicate is the same vote.
    let distinct: BTreeMap<VoteKey, &Vote> = votes
        .into_iter()
        .map(|v| {
            (
                (v.voter, v.value, v.signature, v.proposal, v.epoch, v.group),
                v,
            )
        })
        .collect();
    let mut ballots: BTreeMap<ActorId, Cast<'v>> = BTreeMap::new();
    let mut rejected: BTreeMap<VoteRejection, usize> = BTreeMap::new();
    let mut seen: BTreeSet<(ActorId, VoteValue)> = BTreeSet::new();
    for vote in distinct.into_values() {
        let verdict = check(snapshot, eligible, id, proposal, vote);
        match verdict {
            Err(reason) => *rejected.entry(reason).or_default() += 1,
            Ok(()) => {
                // Ed25519 is deterministic: one (voter, value) has one valid signature;
                // another would be a second vote with the same meaning.
                if !seen.insert((vote.voter, vote.value)) {
                    continue;
                }
                let cast = ballots.entry(vote.voter).or_default();
                match vote.value {
                    VoteValue::Yes => cast.yes = Some(vote),
                    VoteValue::No => cast.no = Some(vote),
                }
            }
        }
    }
    (ballots, rejected)
}

fn check(
    snapshot: &Snapshot<'_>,
    eligible: Eligible,
    id: &ProposalId,
    proposal: &Proposal,
    vote: &Vote,
) -> Result<(), VoteRejection> {
    if vote.group != proposal.group {
        return Err(VoteRejection::WrongGroup);
    }
    if vote.proposal != *id {
        return Err(VoteRejection::WrongProposal);
    }
    if vote.epoch != proposal.epoch {
        return Err(VoteRejection::WrongEpoch);
    }
    if !snapshot.eligible(eligible, &vote.voter) {
        return Err(VoteRejection::NotEligible);
    }
    let key = snapshot
        .members
        .get(&vote.voter)
        .and_then(|m| m.verifying_key().ok())
        .ok_or(VoteRejection::NotEligible)?;
    vote.verify(&key).map_err(|_| VoteRejection::BadSignature)
}

/// Counts to decide on.
struct Tally {
    n: usize,
    yes: usize,
    no: usize,
    /// Voting is open (`now < expires_at`).
    open: bool,
    /// Within the decision window after expiry.
    in_window: bool,
}

impl Tally {
    /// Fractional approval: passes as soon as YES reaches the threshold of `n` while open;
    /// rejected once it cannot (every remaining voter YES would not reach it); expired
    /// when voting closes without it.
    fn fractional(&self, threshold: quorate_group_core::Fraction) -> (Outcome, Option<usize>) {
        if !self.open {
            return (Outcome::Expired, None);
        }
        if threshold.reached(self.yes, self.n) {
            return (Outcome::Passed { at_expiry: false }, None);
        }
        if !threshold.reached(self.n.saturating_sub(self.no), self.n) {
            return (Outcome::Rejected, None);
        }
        let needed = (self.yes..=self.n)
            .find(|y| threshold.reached(*y, self.n))
            .unwrap_or(self.n);
        (Outcome::Pending, Some(needed - self.yes))
    }

    /// Seed 001's quorum: with `q = ⌈2n/3⌉` distinct voters, more than half YES (all YES
    /// when `n ≤ 2`). While open, only results later votes cannot change are final; at
    /// expiry the silent voters are counted as the rule says and a tie is resolved by its
    /// policy; without `q` voters at expiry, or after the decision window, it expired.
    fn quorum(&self, silent: Silent, tie: Tie) -> (Outcome, Option<usize>) {
        let n = self.n;
        let voters = self.yes + self.no;
        let quorum = (2 * n).div_ceil(3);
        if self.open {
            let outcome = if n <= 2 {
                if self.yes == n {
                    Outcome::Passed { at_expiry: false }
                } else if self.no > 0 {
                    Outcome::Rejected
                } else {
                    Outcome::Pending
                }
            } else if voters >= quorum && self.yes * 2 > n {
                Outcome::Passed { at_expiry: false }
            } else if voters >= quorum && self.no * 2 > n {
                Outcome::Rejected
            } else {
                Outcome::Pending
            };
            let needed = (outcome == Outcome::Pending).then(|| {
                let majority = if n <= 2 { n } else { n / 2 + 1 };
                majority.saturating_sub(self.yes)
            });
            return (outcome, needed);
        }
        if !self.in_window || voters < quorum {
            return (Outcome::Expired, None);
        }
        let (yes, no) = match silent {
            Silent::Yes => (n - self.no, self.no),
            Silent::No => (self.yes, n - self.yes),
        };
        let outcome = if n <= 2 {
            if yes == n {
                Outcome::Passed { at_expiry: true }
            } else {
                Outcome::Rejected
            }
        } else if yes > no {
            Outcome::Passed { at_expiry: true }
        } else if no > yes {
            Outcome::Rejected
        } else {
            match tie {
                Tie::Reject => Outcome::Rejected,
                Tie::Retry => Outcome::Tied,
            }
        };
        (outcome, None)
    }
}
