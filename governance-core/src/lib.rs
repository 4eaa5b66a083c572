//! # quorate-governance-core
//!
//! Groups decide by voting (seed 000 §Proposals and Votes, §5; seed 001's quorum), as
//! pure functions over content-addressed blocks:
//!
//! - The rules live in the group's one [`Policy`](quorate_group_core::Policy) (group-core),
//!   next to the admin rule: [`Rule::FractionalApproval`](quorate_group_core::Rule) — "if
//!   ≥ 10% of the members approve, trigger X" — and [`Rule::Quorum`](quorate_group_core::Rule)
//!   — more than half YES among at least `⌈2n/3⌉` distinct eligible voters, unanimity when
//!   `n ≤ 2`, silent voters counted as YES or NO at expiry, a tie policy. The first rule
//!   listing a proposal's action type governs it.
//! - [`Proposal`] `{ proposalId, groupId, epoch, actionType, actionPayloadCid, createdBy,
//!   createdAt, expiresAt }`, signed by its proposer; `proposalId` is its block's CID.
//! - [`Vote`] `{ proposalId, groupId, epoch, voterActorId, voteValue, signature }`, the
//!   signature over `SHA-256(proposalId ‖ voteValue ‖ epoch)` under
//!   [`Domain::Vote`](quorate_mesh_proto::Domain) — a vote cannot be replayed on another
//!   proposal or epoch.
//! - [`evaluate`]: the membership snapshot of the proposal's epoch ([`Snapshot`]), member
//!   and eligibility checks, strict signature checks, a set of votes keyed by
//!   (proposal, voter) — duplicates are one vote, a voter's YES and NO are
//!   [`Equivocation`] evidence and count for neither — expiry, threshold. Any order and
//!   duplication of the same votes gives the same [`Evaluation`] (proptested over 10,000
//!   cases). Proposals from non-members are [`ProposalFault::NotAMember`]; the per-member
//!   rate limit is [`admitted`].
//! - [`Ballots`]: one group's proposals, payloads and votes as an order-independent set,
//!   evaluated against the group state ([`Ballots::tally`]).
//! - [`ActionPayload`]: the block `actionPayloadCid` names — who to add or remove, the new
//!   rules, or an external action's data.
//!
//! Time is an argument (Unix ms); nothing here reads a clock, does IO or draws randomness.
//!
//! # Driving
//! ```
//! use quorate_actor_core::{ActorSecret, Identity};
//! use quorate_governance_core::{Outcome, Proposal, Snapshot, Vote, VoteValue, evaluate};
//! use quorate_group_core::{Eligible, Fraction, GroupState, Member, Rule, StateConfig, ops};
//! use rand_core::OsRng;
//!
//! let people: Vec<Identity> =
//!     (1..=10).map(|i| Identity::from_secret(ActorSecret::from_bytes([i; 32]))).collect();
//! let rule = Rule::FractionalApproval {
//!     threshold: Fraction::new(1, 10), // 10%
//!     eligible: Eligible::Members,
//!     action_types: vec!["TRIGGER_X".into()],
//! };
//! let members = people[1..].iter().map(Member::of).collect();
//! let group = ops::create_group_with_rules(&people[0], "g", members, vec![], vec![rule], 0, &mut OsRng)?;
//! let mut state = GroupState::new(group.id, None, StateConfig::default());
//! group.blocks().for_each(|b| state.insert(b.clone()));
//! let (epoch, genesis) = (state.current().unwrap(), state.genesis().unwrap().1);
//!
//! let proposal = Proposal {
//!     group: group.id, epoch: 0, epoch_state: epoch.cid,
//!     action_type: "TRIGGER_X".into(), action_payload: None,
//!     created_by: people[3].id(), created_at: 1_000, expires_at: 60_000,
//! };
//! let block = proposal.sign(&people[3])?;
//! let yes = Vote::cast(&people[5], group.id, *block.cid(), 0, VoteValue::Yes);
//! let result = evaluate(&Snapshot::of(epoch, genesis), block.cid(), &proposal, [&yes], 2_000);
//! assert_eq!(result.outcome, Outcome::Passed { at_expiry: false }); // 1 of 10 = 10%
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Errors and panics
//! Decoding returns [`ObjectError`](quorate_group_core::ObjectError); evaluation never
//! fails — bad input becomes [`ProposalFault`] or counted [`VoteRejection`]s. Nothing
//! reachable from peer bytes unwraps, indexes or panics (workspace lints).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod action;
mod ballots;
mod evaluate;
mod limit;
mod proposal;
mod vote;

pub use action::{ActionPayload, MAX_ACTION_DATA};
pub use ballots::{BallotLimits, Ballots, Taken, is_governance_block};
pub use evaluate::{
    DECISION_WINDOW_MS, Equivocation, Evaluation, Outcome, ProposalFault, Snapshot, VoteRejection,
    evaluate,
};
pub use limit::{PROPOSALS_PER_MEMBER, admitted, parse_approval_rule};
pub use proposal::{MAX_VOTING_MS, Proposal, ProposalId};
pub use vote::{Vote, VoteValue, vote_digest};
