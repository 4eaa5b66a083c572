//! Committee selection by seed 004's rule: the group's members sorted by
//! `SHA-256(epoch ‖ member id ‖ group id)` (epoch as 8 bytes big-endian), the first `size`
//! of them, `size` kept within `[min, max]` — or every member when the group has no more
//! than `min`. Deterministic and checkable: any member recomputes it, and a proposal
//! naming another list can be rejected.

use quorate_actor_core::ActorId;
use quorate_group_core::GroupId;
use sha2::{Digest, Sha256};

/// The rank of `member` for a committee chosen in `epoch` of `group`.
#[must_use]
pub fn rank(epoch: u64, member: &ActorId, group: &GroupId) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(epoch.to_be_bytes());
    h.update(member.as_bytes());
    h.update(group.as_bytes());
    h.finalize().into()
}

/// The committee of `size` members (clamped to `[min, max]`, at least 1, at most all)
/// chosen in `epoch` from `members`, in rank order.
#[must_use]
pub fn select_committee(
    members: &[ActorId],
    group: &GroupId,
    epoch: u64,
    size: usize,
    (min, max): (usize, usize),
) -> Vec<ActorId> {
    let mut ranked: Vec<([u8; 32], ActorId)> = members
        .iter()
        .map(|m| (rank(epoch, m, group), *m))
        .collect();
    ranked.sort();
    ranked.dedup_by(|a, b| a.1 == b.1);
    let size = size
        .clamp(min.max(1), max.max(min).max(1))
        .min(ranked.len());
    ranked.into_iter().take(size).map(|(_, m)| m).collect()
}
