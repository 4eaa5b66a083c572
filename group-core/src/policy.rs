//! `policyRoot`: who may change the group, and how the group decides. One [`Policy`]
//! holds every [`Rule`]: the admin rule — the creator plus up to three co-admins holding
//! signed certificates (seed 002) — and the voting rules governance evaluates
//! (`quorate-governance-core`): fractional approval ("if ≥ 10% approve, trigger X") and
//! seed 001's 2n/3 quorum. The policy of an epoch is the one its state names
//! (`policyRoot`), so `Policy { groupId, epoch, rules }` is the policy block plus the epoch
//! state that signs it.

use ed25519_dalek::{Signature, VerifyingKey};
use quorate_actor_core::{ActorId, Identity};
use quorate_mesh_proto::{Block, BlockPayload, Domain, Envelope, PinClass};
use serde::{Deserialize, Serialize};

use crate::error::ObjectError;
use crate::id::GroupId;

/// Most co-admins (seed 002).
pub const MAX_CO_ADMINS: usize = 3;

/// What a co-admin may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Everything the creator can: members, key rotation, co-admins.
    Full,
    /// Add and remove members (which rotates the key); no policy changes.
    MembersOnly,
    /// Rotate the epoch key only.
    RotationOnly,
}

/// A certificate making `co_admin` an admin of `group`, signed by `granted_by` (the
/// creator, or a co-admin with [`Permission::Full`] in the policy it replaces) over
/// [`Domain::CoAdmin`] of the other fields.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoAdminCert {
    /// The group.
    pub group: GroupId,
    /// The co-admin.
    pub co_admin: ActorId,
    /// The co-admin's Ed25519 public key.
    #[serde(with = "serde_bytes")]
    pub co_admin_key: [u8; 32],
    /// What they may do.
    pub permission: Permission,
    /// Who granted it.
    pub granted_by: ActorId,
    /// Ed25519 by the granter.
    #[serde(with = "serde_bytes")]
    pub signature: [u8; 64],
}

#[derive(Serialize)]
struct CertSigned<'a> {
    group: &'a GroupId,
    co_admin: &'a ActorId,
    #[serde(with = "serde_bytes")]
    co_admin_key: &'a [u8; 32],
    permission: Permission,
    granted_by: &'a ActorId,
}

impl CoAdminCert {
    /// `granter` certifies `co_admin` (an actor id and signing key) with `permission`.
    ///
    /// # Errors
    /// [`ObjectError::Encode`].
    pub fn grant(
        granter: &Identity,
        group: GroupId,
        co_admin: &VerifyingKey,
        permission: Permission,
    ) -> Result<CoAdminCert, ObjectError> {
        let mut cert = CoAdminCert {
            group,
            co_admin: ActorId::of(co_admin),
            co_admin_key: co_admin.to_bytes(),
            permission,
            granted_by: granter.id(),
            signature: [0; 64],
        };
        let bytes = cert.signed_bytes()?;
        cert.signature = Domain::CoAdmin
            .sign(granter.signing_key(), &bytes)
            .to_bytes();
        Ok(cert)
    }

    fn signed_bytes(&self) -> Result<Vec<u8>, ObjectError> {
        crate::encode::canonical(&CertSigned {
            group: &self.group,
            co_admin: &self.co_admin,
            co_admin_key: &self.co_admin_key,
            permission: self.permission,
            granted_by: &self.granted_by,
        })
    }

    /// Checks the certificate against the granter's key and the co-admin's id.
    ///
    /// # Errors
    /// [`ObjectError::WrongSigner`], [`ObjectError::BadKey`] or [`ObjectError::BadSignature`].
    pub fn verify(&self, granter_key: &VerifyingKey) -> Result<(), ObjectError> {
        if !self.granted_by.is_key_of(granter_key) {
            return Err(ObjectError::WrongSigner);
        }
        let key = VerifyingKey::from_bytes(&self.co_admin_key).map_err(|_| ObjectError::BadKey)?;
        if !self.co_admin.is_key_of(&key) {
            return Err(ObjectError::WrongSigner);
        }
        let bytes = self.signed_bytes()?;
        Domain::CoAdmin
            .verify(granter_key, &bytes, &Signature::from_bytes(&self.signature))
            .map_err(|_| ObjectError::BadSignature)
    }

    /// The co-admin's key (valid in every checked certificate).
    ///
    /// # Errors
    /// [`ObjectError::BadKey`].
    pub fn key(&self) -> Result<VerifyingKey, ObjectError> {
        VerifyingKey::from_bytes(&self.co_admin_key).map_err(|_| ObjectError::BadKey)
    }
}

/// Most rules in a policy.
pub const MAX_RULES: usize = 16;
/// Most action types one rule governs.
pub const MAX_ACTION_TYPES: usize = 16;
/// Longest action type, in bytes (`A`–`Z`, `0`–`9`, `_`).
pub const MAX_ACTION_TYPE: usize = 64;

/// A fraction `num / den` with `1 ≤ num ≤ den ≤ 1,000,000`: thresholds without floating
/// point, so every evaluator computes the same result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fraction {
    /// Numerator.
    pub num: u32,
    /// Denominator.
    pub den: u32,
}

impl Fraction {
    /// `num / den`.
    #[must_use]
    pub const fn new(num: u32, den: u32) -> Fraction {
        Fraction { num, den }
    }

    /// Whether `1 ≤ num ≤ den ≤ 1,000,000`.
    #[must_use]
    pub const fn is_valid(self) -> bool {
        self.num >= 1 && self.num <= self.den && self.den <= 1_000_000
    }

    /// Whether `part / whole ≥ num / den` (exact, in 128-bit arithmetic).
    #[must_use]
    pub fn reached(self, part: usize, whole: usize) -> bool {
        (part as u128) * u128::from(self.den) >= (whole as u128) * u128::from(self.num)
    }
}

/// Who votes under a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Eligible {
    /// Every member of the proposal's epoch.
    Members,
    /// The creator and co-admins of that epoch (who are members of it).
    Admins,
}

/// How a quorum rule counts eligible voters who stayed silent until the proposal expired
/// (seed 001's `liveness_criteria_yes`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Silent {
    /// As YES (seed 001's default: only explicit NO votes block).
    Yes,
    /// As NO.
    No,
}

/// What a quorum rule decides when YES and NO are equal at expiry (seed 001: the
/// application must choose).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tie {
    /// The proposal fails.
    Reject,
    /// The proposal fails as tied: propose again (a new proposal id).
    Retry,
}

/// One rule of a policy: a group has one policy object whatever decides its changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum Rule {
    /// The creator (implicit, from the genesis) and these co-admins may change the group;
    /// among concurrent changes the highest `admin_sequence` wins, ties go to the lowest
    /// signer id (`SHA-256` of the admin key), then the smallest CID.
    Admins {
        /// At most [`MAX_CO_ADMINS`], distinct, none of them the creator.
        co_admins: Vec<CoAdminCert>,
    },
    /// A proposal of one of `action_types` passes once the YES votes of `eligible` voters
    /// reach `threshold` of the eligible voters (of the proposal's epoch), before it
    /// expires: seed 000's `fractionalApproval` ("if ≥ 10% approve, trigger X").
    FractionalApproval {
        /// YES votes / eligible voters needed.
        threshold: Fraction,
        /// Who votes.
        eligible: Eligible,
        /// The action types it governs.
        action_types: Vec<String>,
    },
    /// Seed 001's quorum: with `n` eligible voters, more than half YES among at least
    /// `⌈2n/3⌉` distinct voters (unanimity when `n ≤ 2`); silent voters are counted as
    /// `silent` at expiry; equal YES and NO resolve by `tie`.
    Quorum {
        /// Who votes.
        eligible: Eligible,
        /// How silent voters count at expiry.
        silent: Silent,
        /// What a tie decides.
        tie: Tie,
        /// The action types it governs.
        action_types: Vec<String>,
    },
}

impl Rule {
    /// The action types a voting rule governs (none for the admin rule).
    #[must_use]
    pub fn action_types(&self) -> &[String] {
        match self {
            Rule::Admins { .. } => &[],
            Rule::FractionalApproval { action_types, .. } | Rule::Quorum { action_types, .. } => {
                action_types
            }
        }
    }
}

/// Whether `name` is a well-formed action type: 1 to [`MAX_ACTION_TYPE`] bytes of `A`–`Z`,
/// `0`–`9` and `_`.
#[must_use]
pub fn is_action_type(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_ACTION_TYPE
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// `Policy { groupId, rules }`: unsigned; the epoch state naming it carries the signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// The group.
    pub group: GroupId,
    /// The rules; at most one [`Rule::Admins`].
    pub rules: Vec<Rule>,
}

impl BlockPayload for Policy {
    const TYPE: &'static str = "group-policy";
    const VERSION: u32 = 1;
    const PIN: PinClass = PinClass::GroupEpoch;
}

/// The admin rule of a policy, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminRule {
    /// The creator.
    pub creator: ActorId,
    /// The co-admins' certificates.
    pub co_admins: Vec<CoAdminCert>,
}

impl AdminRule {
    /// The permission `actor` holds: `Full` for the creator.
    #[must_use]
    pub fn permission(&self, actor: &ActorId) -> Option<Permission> {
        if *actor == self.creator {
            return Some(Permission::Full);
        }
        self.co_admins
            .iter()
            .find(|c| c.co_admin == *actor)
            .map(|c| c.permission)
    }

    /// The co-admin certificate of `actor`.
    #[must_use]
    pub fn cert(&self, actor: &ActorId) -> Option<&CoAdminCert> {
        self.co_admins.iter().find(|c| c.co_admin == *actor)
    }
}

impl Policy {
    /// The policy with only the admin rule.
    #[must_use]
    pub fn admins(group: GroupId, co_admins: Vec<CoAdminCert>) -> Policy {
        Policy {
            group,
            rules: vec![Rule::Admins { co_admins }],
        }
    }

    /// Encodes as a block.
    ///
    /// # Errors
    /// [`ObjectError::Encode`].
    pub fn to_block(&self) -> Result<Block, ObjectError> {
        Ok(Envelope::unsigned(self.clone()).to_block()?)
    }

    /// Decodes a policy and checks its shape (group, one admin rule at most, co-admin
    /// limits). Certificates are checked against their granters by the epoch transition.
    ///
    /// # Errors
    /// [`ObjectError`] naming what is wrong.
    pub fn verify(
        block: &Block,
        group: &GroupId,
        creator: &ActorId,
    ) -> Result<Policy, ObjectError> {
        let policy = block.decode::<Policy>()?.payload;
        if policy.group != *group {
            return Err(ObjectError::WrongGroup);
        }
        let admin_rules = policy
            .rules
            .iter()
            .filter(|r| matches!(r, Rule::Admins { .. }))
            .count();
        if admin_rules > 1 {
            return Err(ObjectError::Invalid("more than one admin rule"));
        }
        if policy.rules.len() > MAX_RULES {
            return Err(ObjectError::TooLarge("rules"));
        }
        for rule in &policy.rules {
            if let Rule::FractionalApproval { threshold, .. } = rule
                && !threshold.is_valid()
            {
                return Err(ObjectError::Invalid("a threshold outside (0, 1]"));
            }
            let types = rule.action_types();
            if types.len() > MAX_ACTION_TYPES {
                return Err(ObjectError::TooLarge("action types"));
            }
            if !types.iter().all(|t| is_action_type(t)) {
                return Err(ObjectError::Invalid("a malformed action type"));
            }
        }
        let rule = policy.admin_rule(*creator);
        if rule.co_admins.len() > MAX_CO_ADMINS {
            return Err(ObjectError::TooLarge("co-admins"));
        }
        for (i, cert) in rule.co_admins.iter().enumerate() {
            if cert.group != *group {
                return Err(ObjectError::WrongGroup);
            }
            if cert.co_admin == *creator {
                return Err(ObjectError::Invalid("the creator as co-admin"));
            }
            if rule
                .co_admins
                .iter()
                .skip(i + 1)
                .any(|c| c.co_admin == cert.co_admin)
            {
                return Err(ObjectError::Invalid("a co-admin listed twice"));
            }
        }
        Ok(policy)
    }

    /// The admin rule (the creator alone if the policy has none).
    #[must_use]
    pub fn admin_rule(&self, creator: ActorId) -> AdminRule {
        let co_admins = self
            .rules
            .iter()
            .find_map(|r| match r {
                Rule::Admins { co_admins } => Some(co_admins.clone()),
                _ => None,
            })
            .unwrap_or_default();
        AdminRule { creator, co_admins }
    }

    /// The voting rule that governs `action_type`: the first that lists it.
    #[must_use]
    pub fn rule_for(&self, action_type: &str) -> Option<&Rule> {
        self.rules
            .iter()
            .find(|r| r.action_types().iter().any(|t| t == action_type))
    }

    /// This policy with `rule` added after the existing rules.
    #[must_use]
    pub fn with_rule(mut self, rule: Rule) -> Policy {
        self.rules.push(rule);
        self
    }
}
