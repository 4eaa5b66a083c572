//! The per-member proposal rate limit, decided the same way by everyone: per proposer and
//! epoch, only the `per_member` proposals with the smallest `(createdAt, proposalId)`
//! count. The choice depends on the set of proposals, not on the order they arrived in.

use std::collections::{BTreeMap, BTreeSet};

use quorate_actor_core::ActorId;

use crate::proposal::{Proposal, ProposalId};

/// Proposals one member may have counted per epoch, by default.
pub const PROPOSALS_PER_MEMBER: usize = 16;

/// The proposals that count: at most `per_member` per (proposer, epoch), earliest first.
#[must_use]
pub fn admitted<'p>(
    proposals: impl IntoIterator<Item = (&'p ProposalId, &'p Proposal)>,
    per_member: usize,
) -> BTreeSet<ProposalId> {
    let mut by: BTreeMap<(ActorId, u64), BTreeSet<(u64, ProposalId)>> = BTreeMap::new();
    for (id, p) in proposals {
        by.entry((p.created_by, p.epoch))
            .or_default()
            .insert((p.created_at, *id));
    }
    by.into_values()
        .flat_map(|set| set.into_iter().take(per_member).map(|(_, id)| id))
        .collect()
}

/// Parses `ACTION=NUM/DEN` — fractional approval of the members, e.g. `TRIGGER_X=1/10` —
/// as a rule (what `quorate group create --approve` and the page accept).
///
/// # Errors
/// A message saying what the form is.
pub fn parse_approval_rule(text: &str) -> Result<quorate_group_core::Rule, String> {
    use quorate_group_core::{Eligible, Fraction, Rule, is_action_type};
    let bad = || format!("{text:?}: a rule is ACTION=NUM/DEN, e.g. TRIGGER_X=1/10");
    let (action, fraction) = text.split_once('=').ok_or_else(bad)?;
    let (num, den) = fraction.split_once('/').ok_or_else(bad)?;
    let num = num.trim().parse().map_err(|_| bad())?;
    let den = den.trim().parse().map_err(|_| bad())?;
    let threshold = Fraction::new(num, den);
    if !threshold.is_valid() || !is_action_type(action.trim()) {
        return Err(bad());
    }
    Ok(Rule::FractionalApproval {
        threshold,
        eligible: Eligible::Members,
        action_types: vec![action.trim().to_owned()],
    })
}
