//! Membership sets: who is in a group at one epoch, with the keys to reach them.

use ed25519_dalek::VerifyingKey;
use quorate_actor_core::{ActorId, Identity};
use quorate_mesh_proto::{Block, BlockPayload, Envelope, PinClass};
use serde::{Deserialize, Serialize};

use crate::error::ObjectError;
use crate::id::GroupId;

/// Most members of a group. Each rekey seals one envelope per member, so the practical
/// size is far lower (see `BENCHMARKS.md`: Mehr calls ~100 the practical limit).
pub const MAX_MEMBERS: usize = 10_000;

/// One member: the actor and the two public keys a group needs — Ed25519 to check their
/// messages, X25519 to seal epoch keys to them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// `SHA-256(signing_key)`.
    pub actor: ActorId,
    /// Ed25519 public key.
    #[serde(with = "serde_bytes")]
    pub signing_key: [u8; 32],
    /// X25519 public key (HPKE recipient key).
    #[serde(with = "serde_bytes")]
    pub encryption_key: [u8; 32],
}

impl Member {
    /// The member record of an identity.
    #[must_use]
    pub fn of(identity: &Identity) -> Member {
        Member {
            actor: identity.id(),
            signing_key: identity.verifying_key().to_bytes(),
            encryption_key: identity.encryption_public().to_bytes(),
        }
    }

    /// The signing key, if the bytes are one (checked for every member of a valid set).
    ///
    /// # Errors
    /// [`ObjectError::BadKey`].
    pub fn verifying_key(&self) -> Result<VerifyingKey, ObjectError> {
        VerifyingKey::from_bytes(&self.signing_key).map_err(|_| ObjectError::BadKey)
    }
}

/// `membersRoot`: the members of one epoch, sorted by actor id, no duplicates.
///
/// Unsigned: the epoch state that names it by CID carries the signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberSet {
    /// The group.
    pub group: GroupId,
    /// The members, strictly increasing by `actor`.
    pub members: Vec<Member>,
}

impl BlockPayload for MemberSet {
    const TYPE: &'static str = "group-members";
    const VERSION: u32 = 1;
    const PIN: PinClass = PinClass::Membership;
}

impl MemberSet {
    /// A set from members in any order; duplicates (same actor) keep the first.
    #[must_use]
    pub fn new(group: GroupId, members: impl IntoIterator<Item = Member>) -> MemberSet {
        let mut members: Vec<Member> = members.into_iter().collect();
        members.sort_by_key(|m| m.actor);
        members.dedup_by_key(|m| m.actor);
        MemberSet { group, members }
    }

    /// Encodes as a block.
    ///
    /// # Errors
    /// [`ObjectError::Encode`] (too large).
    pub fn to_block(&self) -> Result<Block, ObjectError> {
        Ok(Envelope::unsigned(self.clone()).to_block()?)
    }

    /// Decodes and checks a set: canonical, at most [`MAX_MEMBERS`], strictly sorted, every
    /// id the hash of a valid signing key.
    ///
    /// # Errors
    /// [`ObjectError`] naming what is wrong.
    pub fn verify(block: &Block, group: &GroupId) -> Result<MemberSet, ObjectError> {
        Self::verify_after(block, group, None)
    }

    /// [`MemberSet::verify`], skipping the key check of members identical to their entry
    /// in `known` (the previous epoch's set, already checked): a rekey of N members then
    /// checks only the newcomers' keys.
    ///
    /// # Errors
    /// As [`MemberSet::verify`].
    pub fn verify_after(
        block: &Block,
        group: &GroupId,
        known: Option<&MemberSet>,
    ) -> Result<MemberSet, ObjectError> {
        let set = block.decode::<MemberSet>()?.payload;
        if set.group != *group {
            return Err(ObjectError::WrongGroup);
        }
        if set.members.len() > MAX_MEMBERS {
            return Err(ObjectError::TooLarge("member set"));
        }
        if set.members.windows(2).any(|w| match w {
            [a, b] => a.actor >= b.actor,
            _ => false,
        }) {
            return Err(ObjectError::NotSorted("members"));
        }
        for m in &set.members {
            if known.and_then(|k| k.get(&m.actor)) == Some(m) {
                continue;
            }
            if !m.actor.is_key_of(&m.verifying_key()?) {
                return Err(ObjectError::WrongSigner);
            }
        }
        Ok(set)
    }

    /// The member with this id.
    #[must_use]
    pub fn get(&self, actor: &ActorId) -> Option<&Member> {
        self.members
            .binary_search_by_key(actor, |m| m.actor)
            .ok()
            .and_then(|i| self.members.get(i))
    }

    /// True if `actor` is a member.
    #[must_use]
    pub fn contains(&self, actor: &ActorId) -> bool {
        self.get(actor).is_some()
    }

    /// Number of members.
    #[must_use]
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// True if nobody is a member.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}
