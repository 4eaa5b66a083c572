//! `policyRoot`: who may change the group. Until governance exists the one rule is the
//! admin rule — the creator plus up to three co-admins holding signed certificates (seed
//! 002). Governance adds its rule types to the same [`Policy`].

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

/// One rule of a policy. Governance (a later layer) adds its rule types here, so a group
/// has one policy object whatever decides its changes.
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
            .map(|r| match r {
                Rule::Admins { co_admins } => co_admins.clone(),
            })
            .next()
            .unwrap_or_default();
        AdminRule { creator, co_admins }
    }
}
