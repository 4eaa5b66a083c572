//! What a [`GovernanceHost`](super::GovernanceHost) reports about proposals: plain values
//! (strings, hex), serialisable, for CLIs, control sockets and web pages.

use quorate_governance_core::{Outcome, Proposal, ProposalId};
use quorate_group_core::GroupId;
use serde::{Deserialize, Serialize};

use super::GovernanceHost;
use crate::attestation::GroupAttestation;
use crate::execute::MarkerStore;
use crate::frost::sign::NonceStore;

/// An attestation, in the JSON form `quorate verify` reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttestationView {
    /// Group id.
    pub group: String,
    /// Epoch.
    pub epoch: u64,
    /// Proposal id.
    pub proposal: String,
    /// Hex.
    pub signed_message_hash: String,
    /// Hex.
    pub group_signature: String,
    /// Unix ms.
    pub issued_at: u64,
}

impl AttestationView {
    /// The view of an attestation.
    #[must_use]
    pub fn of(a: &GroupAttestation) -> AttestationView {
        AttestationView {
            group: a.group.to_string(),
            epoch: a.epoch,
            proposal: a.proposal.to_string(),
            signed_message_hash: hex(&a.signed_message_hash),
            group_signature: hex(&a.group_signature),
            issued_at: a.issued_at,
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// One proposal and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalView {
    /// Its id.
    pub proposal: String,
    /// Action type.
    pub action: String,
    /// Proposer.
    pub by: String,
    /// Epoch.
    pub epoch: u64,
    /// Voting closes (Unix ms).
    pub expires_at: u64,
    /// Outcome now (`pending`, `passed`, `rejected`, `tied`, `expired`, `invalid: …`,
    /// `unknown epoch`).
    pub outcome: String,
    /// YES votes counted.
    pub yes: usize,
    /// NO votes counted.
    pub no: usize,
    /// Eligible voters.
    pub eligible: usize,
    /// YES votes still needed, if pending.
    pub needed: Option<usize>,
    /// The group's attestation, once issued.
    pub attestation: Option<AttestationView>,
}

fn outcome(o: Option<&Outcome>) -> String {
    match o {
        None => "unknown epoch".to_owned(),
        Some(Outcome::Pending) => "pending".to_owned(),
        Some(Outcome::Passed { .. }) => "passed".to_owned(),
        Some(Outcome::Rejected) => "rejected".to_owned(),
        Some(Outcome::Tied) => "tied".to_owned(),
        Some(Outcome::Expired) => "expired".to_owned(),
        Some(Outcome::Invalid(fault)) => format!("invalid: {fault}"),
        Some(other) => format!("{other:?}"),
    }
}

impl<M: MarkerStore + NonceStore> GovernanceHost<M> {
    /// Every proposal of `group` held here, newest deadline first, with its tally at
    /// `now_ms` and its attestation.
    #[must_use]
    pub fn proposal_views(&self, group: &GroupId, now_ms: u64) -> Vec<ProposalView> {
        let mut views: Vec<ProposalView> = self
            .proposals(group)
            .into_iter()
            .map(|(id, p)| self.view(group, &id, &p, now_ms))
            .collect();
        views.sort_by_key(|v| std::cmp::Reverse(v.expires_at));
        views
    }

    fn view(&self, group: &GroupId, id: &ProposalId, p: &Proposal, now_ms: u64) -> ProposalView {
        let tally = self.tally(group, id, now_ms);
        ProposalView {
            proposal: id.to_string(),
            action: p.action_type.clone(),
            by: p.created_by.to_string(),
            epoch: p.epoch,
            expires_at: p.expires_at,
            outcome: outcome(tally.as_ref().map(|t| &t.outcome)),
            yes: tally.as_ref().map_or(0, |t| t.yes),
            no: tally.as_ref().map_or(0, |t| t.no),
            eligible: tally.as_ref().map_or(0, |t| t.eligible),
            needed: tally.as_ref().and_then(|t| t.needed),
            attestation: self.attestation(group, id).map(AttestationView::of),
        }
    }
}
