//! `GroupEpochState` and the rule for who may make the next one.

use std::sync::Arc;

use ed25519_dalek::VerifyingKey;
use quorate_actor_core::{ActorId, Identity};
use quorate_mesh_proto::{Block, BlockPayload, Cid, Envelope, PinClass};
use serde::{Deserialize, Serialize};

use crate::error::ObjectError;
use crate::genesis::GroupGenesis;
use crate::id::GroupId;
use crate::key::{KeyIndex, PAGE_SIZE};
use crate::member::MemberSet;
use crate::policy::{AdminRule, CoAdminCert, Permission, Policy};

/// `GroupEpochState { groupId, epoch, membersRoot, committeeRoot, policyRoot,
/// messageKeyInfo, signature }`, plus the links that make epochs a verifiable chain: the
/// genesis, the previous state, and the admin sequence of seed 002.
///
/// The signature is the block's object-level signature by `signer`, an admin under the
/// *previous* epoch's policy (the creator for epoch 0).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupEpochState {
    /// The group.
    pub group: GroupId,
    /// 0 at genesis, then previous + 1.
    pub epoch: u64,
    /// The genesis block.
    pub genesis: Cid,
    /// The state this one replaces (`None` exactly for epoch 0).
    pub prev: Option<Cid>,
    /// The [`MemberSet`].
    pub members_root: Cid,
    /// The committee (set by governance; `None` until then).
    pub committee_root: Option<Cid>,
    /// The [`Policy`].
    pub policy_root: Cid,
    /// The [`KeyIndex`] of this epoch's key.
    pub message_key_info: Cid,
    /// Strictly greater than the previous state's (seed 002's `admin_sequence`).
    pub admin_sequence: u64,
    /// The admin who signed it.
    pub signer: ActorId,
    /// Unix milliseconds (informational).
    pub created_at: u64,
}

impl BlockPayload for GroupEpochState {
    const TYPE: &'static str = "group-epoch";
    const VERSION: u32 = 1;
    const PIN: PinClass = PinClass::GroupEpoch;
}

/// Why an epoch state is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EpochError {
    /// The state block, or a block it names, is malformed.
    #[error("{what}: {error}")]
    Object {
        /// Which block.
        what: &'static str,
        /// What is wrong with it.
        error: ObjectError,
    },
    /// Epoch number, genesis, previous state or admin sequence do not follow on.
    #[error("does not follow its previous state: {0}")]
    BadLink(&'static str),
    /// Its previous state is invalid.
    #[error("its previous state is invalid")]
    PrevInvalid,
    /// The signer is not an admin under the previous epoch's policy.
    #[error("signer {0:?} is not an admin")]
    NotAdmin(ActorId),
    /// The signer is an admin, but not allowed to make this change.
    #[error("signer's permission {held:?} does not allow changing {change}")]
    NotPermitted {
        /// What the signer holds.
        held: Permission,
        /// What changed.
        change: &'static str,
    },
}

impl EpochError {
    fn object(what: &'static str) -> impl FnOnce(ObjectError) -> EpochError {
        move |error| EpochError::Object { what, error }
    }
}

/// A verified epoch: the state and the blocks it names, decoded.
#[derive(Clone, Debug)]
pub struct Epoch {
    /// The state's CID.
    pub cid: Cid,
    /// The state.
    pub state: GroupEpochState,
    /// Its members.
    pub members: Arc<MemberSet>,
    /// Its policy.
    pub policy: Arc<Policy>,
    /// Its key index.
    pub key_index: Arc<KeyIndex>,
}

impl Epoch {
    /// Total order of competing states, greatest wins: highest epoch; then highest admin
    /// sequence; then the lowest signer id (`SHA-256` of the admin key, seed 002); then
    /// the smallest CID (seed 000).
    #[must_use]
    pub fn rank(
        &self,
    ) -> (
        u64,
        u64,
        core::cmp::Reverse<ActorId>,
        core::cmp::Reverse<Cid>,
    ) {
        (
            self.state.epoch,
            self.state.admin_sequence,
            core::cmp::Reverse(self.state.signer),
            core::cmp::Reverse(self.cid),
        )
    }

    /// The admin rule in force for the *next* transition.
    #[must_use]
    pub fn admins(&self, genesis: &GroupGenesis) -> AdminRule {
        self.policy.admin_rule(genesis.creator)
    }
}

/// The blocks an epoch state names, once fetched.
#[derive(Debug, Clone, Copy)]
pub struct Parts<'a> {
    /// `members_root`.
    pub members: &'a Block,
    /// `policy_root`.
    pub policy: &'a Block,
    /// `message_key_info`.
    pub key_index: &'a Block,
}

impl GroupEpochState {
    /// Signs a state as `signer`.
    ///
    /// # Errors
    /// [`ObjectError::Encode`].
    pub fn sign(&self, signer: &Identity) -> Result<Block, ObjectError> {
        Ok(Envelope::signed(self.clone(), signer.signing_key())?.to_block()?)
    }

    /// Decodes a state block and returns it with the signing key (checked to be the
    /// `signer`'s); authorisation is [`verify_transition`]'s job.
    ///
    /// # Errors
    /// [`ObjectError`].
    pub fn decode(block: &Block) -> Result<(GroupEpochState, VerifyingKey), ObjectError> {
        let envelope = block.decode::<GroupEpochState>()?;
        let key = envelope.verify()?;
        if !envelope.payload.signer.is_key_of(&key) {
            return Err(ObjectError::WrongSigner);
        }
        Ok((envelope.payload, key))
    }
}

/// Checks the state in `block` as the successor of `prev` (`None`: epoch 0 under the
/// genesis) and returns the verified epoch.
///
/// Rules: the creator may change anything; a co-admin needs [`Permission::Full`] to change
/// the policy or committee and at least [`Permission::MembersOnly`] to change members; any
/// admin may rotate the key. New co-admin certificates must be signed by the creator or by a
/// `Full` co-admin of the previous policy. The key index must have one page per
/// [`PAGE_SIZE`] members, starting at the right members.
///
/// # Errors
/// [`EpochError`] naming the first rule broken.
pub fn verify_transition(
    group: &GroupId,
    genesis_cid: &Cid,
    genesis: &GroupGenesis,
    prev: Option<&Epoch>,
    cid: Cid,
    block: &Block,
    parts: &Parts<'_>,
) -> Result<Epoch, EpochError> {
    let (state, key) = GroupEpochState::decode(block).map_err(EpochError::object("epoch state"))?;
    if state.group != *group {
        return Err(EpochError::Object {
            what: "epoch state",
            error: ObjectError::WrongGroup,
        });
    }
    if state.genesis != *genesis_cid {
        return Err(EpochError::BadLink("genesis"));
    }
    let creator = genesis.creator;
    let known = prev.map(|p| p.members.as_ref());
    let members = MemberSet::verify_after(parts.members, group, known)
        .map_err(EpochError::object("member set"))?;
    let policy =
        Policy::verify(parts.policy, group, &creator).map_err(EpochError::object("policy"))?;
    let key_index = KeyIndex::verify(parts.key_index, group, state.epoch)
        .map_err(EpochError::object("key index"))?;
    check_pages(&members, &key_index)?;
    if members.is_empty() {
        return Err(EpochError::Object {
            what: "member set",
            error: ObjectError::Invalid("no members"),
        });
    }
    let granters: AdminRule = match prev {
        None => {
            if state.epoch != 0 || state.prev.is_some() {
                return Err(EpochError::BadLink("epoch 0 has no previous state"));
            }
            if state.signer != creator || key.as_bytes() != &genesis.creator_key {
                return Err(EpochError::NotAdmin(state.signer));
            }
            AdminRule {
                creator,
                co_admins: Vec::new(),
            }
        }
        Some(prev) => {
            if state.prev != Some(prev.cid) || Some(state.epoch) != prev.state.epoch.checked_add(1)
            {
                return Err(EpochError::BadLink("epoch number or previous state"));
            }
            if state.admin_sequence <= prev.state.admin_sequence {
                return Err(EpochError::BadLink("admin sequence must increase"));
            }
            let rule = prev.admins(genesis);
            let held = rule
                .permission(&state.signer)
                .ok_or(EpochError::NotAdmin(state.signer))?;
            let expected_key = if state.signer == creator {
                genesis.creator_key
            } else {
                rule.cert(&state.signer)
                    .map(|c| c.co_admin_key)
                    .ok_or(EpochError::NotAdmin(state.signer))?
            };
            if key.as_bytes() != &expected_key {
                return Err(EpochError::NotAdmin(state.signer));
            }
            let changes = [
                (
                    state.policy_root != prev.state.policy_root,
                    "the policy",
                    Permission::Full,
                ),
                (
                    state.committee_root != prev.state.committee_root,
                    "the committee",
                    Permission::Full,
                ),
                (
                    state.members_root != prev.state.members_root,
                    "the members",
                    Permission::MembersOnly,
                ),
            ];
            for (changed, change, needs) in changes {
                let allowed = held == Permission::Full || held == needs;
                if changed && !allowed {
                    return Err(EpochError::NotPermitted { held, change });
                }
            }
            rule
        }
    };
    check_certs(genesis, &granters, &policy)?;
    Ok(Epoch {
        cid,
        state,
        members: Arc::new(members),
        policy: Arc::new(policy),
        key_index: Arc::new(key_index),
    })
}

fn check_pages(members: &MemberSet, index: &KeyIndex) -> Result<(), EpochError> {
    let bad = || EpochError::Object {
        what: "key index",
        error: ObjectError::Invalid("pages do not match the member set"),
    };
    if index.pages.len() != members.len().div_ceil(PAGE_SIZE) {
        return Err(bad());
    }
    let starts = members.members.iter().step_by(PAGE_SIZE).map(|m| m.actor);
    if !index.pages.iter().map(|p| p.first).eq(starts) {
        return Err(bad());
    }
    Ok(())
}

/// Every certificate in `policy` is either carried over unchanged from the previous
/// policy or signed by someone allowed to grant.
fn check_certs(
    genesis: &GroupGenesis,
    granters: &AdminRule,
    policy: &Policy,
) -> Result<(), EpochError> {
    let rule = policy.admin_rule(genesis.creator);
    let creator_key = genesis
        .creator_key()
        .map_err(EpochError::object("genesis"))?;
    for cert in &rule.co_admins {
        if granters.co_admins.contains(cert) {
            continue;
        }
        let granter_key = granter_key(genesis, granters, &creator_key, cert)?;
        cert.verify(&granter_key)
            .map_err(EpochError::object("co-admin certificate"))?;
    }
    Ok(())
}

fn granter_key(
    genesis: &GroupGenesis,
    granters: &AdminRule,
    creator_key: &VerifyingKey,
    cert: &CoAdminCert,
) -> Result<VerifyingKey, EpochError> {
    if cert.granted_by == genesis.creator {
        return Ok(*creator_key);
    }
    match granters.cert(&cert.granted_by) {
        Some(granter) if granter.permission == Permission::Full => granter
            .key()
            .map_err(EpochError::object("co-admin certificate")),
        _ => Err(EpochError::NotAdmin(cert.granted_by)),
    }
}
