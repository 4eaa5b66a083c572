//! The committee: who holds the group key `PK_G`, recorded in the group's epoch state
//! (`committeeRoot` names a [`Committee`] block), and the MVP signer — one coordinator
//! holding an ordinary Ed25519 key, as seed 000 allows to unblock integration. A FROST
//! committee (threshold shares of the same kind of key) replaces the signer later without
//! changing [`GroupAttestation`].
//!
//! The signer checks the evidence itself before signing: the proposal is signed by a
//! member, names the group's *current* epoch, and its votes meet the policy now
//! ([`quorate_governance_core::evaluate`]: valid, eligible, deduplicated, not expired).

use ed25519_dalek::SigningKey;
use quorate_actor_core::ActorId;
use quorate_governance_core::{
    Evaluation, Outcome, Proposal, ProposalId, Snapshot, Vote, evaluate,
};
use quorate_group_core::{GroupId, GroupState, ObjectError};
use quorate_mesh_proto::{Block, BlockPayload, Cid, Envelope, PinClass};
use rand_core::CryptoRngCore;
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use crate::attestation::{GroupAttestation, attested_hash, signed_message};

/// Most committee members.
pub const MAX_COMMITTEE: usize = 256;

/// How the group key is held.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scheme {
    /// One member holds an ordinary Ed25519 key (the MVP).
    SingleKey,
    /// `threshold` of `members` hold FROST shares (RFC 9591).
    Frost,
}

/// `committeeRoot`: the group key and who holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Committee {
    /// The group.
    pub group: GroupId,
    /// `PK_G`: the Ed25519 key outsiders verify attestations with.
    #[serde(with = "serde_bytes")]
    pub group_key: [u8; 32],
    /// How it is held.
    pub scheme: Scheme,
    /// The holders, sorted.
    pub members: Vec<ActorId>,
    /// Signers needed (1 for a single key).
    pub threshold: u16,
    /// FROST: each holder's verifying share (its public key share), in `members` order —
    /// what a coordinator checks signature shares against. Empty for a single key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verifying_shares: Vec<serde_bytes::ByteArray<32>>,
}

impl BlockPayload for Committee {
    const TYPE: &'static str = "group-committee";
    const VERSION: u32 = 1;
    const PIN: PinClass = PinClass::GroupEpoch;
}

impl Committee {
    /// Encodes as a block (the epoch state naming it carries the signature).
    ///
    /// # Errors
    /// [`ObjectError::Encode`].
    pub fn to_block(&self) -> Result<Block, ObjectError> {
        Ok(Envelope::unsigned(self.clone()).to_block()?)
    }

    /// Decodes a committee block of `group` and checks its shape.
    ///
    /// # Errors
    /// [`ObjectError`].
    pub fn decode(block: &Block, group: &GroupId) -> Result<Committee, ObjectError> {
        let c = block.decode::<Committee>()?.payload;
        if c.group != *group {
            return Err(ObjectError::WrongGroup);
        }
        if c.members.is_empty() || c.members.len() > MAX_COMMITTEE {
            return Err(ObjectError::TooLarge("committee"));
        }
        if !c.members.windows(2).all(|w| matches!(w, [a, b] if a < b)) {
            return Err(ObjectError::NotSorted("committee members"));
        }
        let t = usize::from(c.threshold);
        let single_ok = c.scheme != Scheme::SingleKey || (c.members.len() == 1 && t == 1);
        if t == 0 || t > c.members.len() || !single_ok {
            return Err(ObjectError::Invalid("a threshold outside 1..=members"));
        }
        ed25519_dalek::VerifyingKey::from_bytes(&c.group_key).map_err(|_| ObjectError::BadKey)?;
        match c.scheme {
            Scheme::SingleKey if !c.verifying_shares.is_empty() => {
                return Err(ObjectError::Invalid("verifying shares for a single key"));
            }
            Scheme::Frost if c.threshold < 2 || c.verifying_shares.len() != c.members.len() => {
                return Err(ObjectError::Invalid(
                    "a FROST committee needs t >= 2 and one verifying share per member",
                ));
            }
            Scheme::Frost => {
                c.public_package().map_err(|_| ObjectError::BadKey)?;
            }
            Scheme::SingleKey => {}
        }
        Ok(c)
    }

    /// A FROST committee's public key package (`PK_G`, every holder's verifying share,
    /// `t`), identifiers derived from the actor ids.
    ///
    /// # Errors
    /// A key or share that is not a valid point, or a single-key committee.
    pub fn public_package(&self) -> Result<frost_ed25519::keys::PublicKeyPackage, String> {
        use frost_ed25519::keys::{PublicKeyPackage, VerifyingShare};
        if self.scheme != Scheme::Frost || self.verifying_shares.len() != self.members.len() {
            return Err("not a FROST committee".into());
        }
        let mut shares = std::collections::BTreeMap::new();
        for (actor, share) in self.members.iter().zip(&self.verifying_shares) {
            let share = VerifyingShare::deserialize(share.as_slice()).map_err(|e| e.to_string())?;
            shares.insert(crate::frost::dkg::identifier(actor)?, share);
        }
        let key =
            frost_ed25519::VerifyingKey::deserialize(&self.group_key).map_err(|e| e.to_string())?;
        Ok(PublicKeyPackage::new(shares, key, Some(self.threshold)))
    }

    /// The committee of a FROST public key package held by `members` (any order).
    ///
    /// # Errors
    /// A member without a verifying share in `public`, or a key that does not serialise.
    pub fn frost(
        group: GroupId,
        members: &[ActorId],
        public: &frost_ed25519::keys::PublicKeyPackage,
    ) -> Result<Committee, String> {
        let mut members = members.to_vec();
        members.sort();
        members.dedup();
        let mut verifying_shares = Vec::with_capacity(members.len());
        for actor in &members {
            let id = crate::frost::dkg::identifier(actor)?;
            let share = public
                .verifying_shares()
                .get(&id)
                .ok_or_else(|| format!("no verifying share for {actor}"))?
                .serialize()
                .map_err(|e| e.to_string())?;
            let share = <[u8; 32]>::try_from(share.as_slice()).map_err(|_| "share length")?;
            verifying_shares.push(serde_bytes::ByteArray::new(share));
        }
        let group_key = public
            .verifying_key()
            .serialize()
            .map_err(|e| e.to_string())?;
        let group_key = <[u8; 32]>::try_from(group_key.as_slice()).map_err(|_| "key length")?;
        let threshold = public.min_signers().ok_or("no threshold in the package")?;
        Ok(Committee {
            group,
            group_key,
            scheme: Scheme::Frost,
            members,
            threshold,
            verifying_shares,
        })
    }
}

/// Why the committee refuses to sign.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The committee's view of the group has no valid epoch.
    #[error("the group is not known (no valid epoch)")]
    NoGroup,
    /// The group's current epoch does not name this committee's key.
    #[error("this key is not the committee of the group's current epoch")]
    NotCommittee,
    /// The proposal block does not decode or is not signed by its proposer.
    #[error("bad proposal: {0}")]
    Proposal(ObjectError),
    /// The proposal names another epoch than the current one.
    #[error("the proposal is for epoch {proposal}, the group is at epoch {current}")]
    NotCurrentEpoch {
        /// The proposal's epoch.
        proposal: u64,
        /// The current one.
        current: u64,
    },
    /// The votes do not meet the policy (or the proposal expired, or is invalid).
    #[error("the proposal has not passed: {0:?}")]
    NotPassed(Box<Evaluation>),
    /// The attestation could not be encoded.
    #[error("cannot encode the attestation: {0}")]
    Encode(ObjectError),
}

/// A signed attestation and its block.
#[derive(Clone, Debug)]
pub struct Attested {
    /// The attestation.
    pub attestation: GroupAttestation,
    /// Its block (publish it on the group topic).
    pub block: Block,
    /// The evaluation the committee signed on.
    pub evaluation: Evaluation,
}

/// The MVP committee: one holder of an ordinary Ed25519 group key.
pub struct SingleKeyCommittee {
    key: SigningKey,
    holder: ActorId,
}

impl std::fmt::Debug for SingleKeyCommittee {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SingleKeyCommittee")
            .field("group_key", &self.key.verifying_key())
            .field("holder", &self.holder)
            .finish_non_exhaustive()
    }
}

impl SingleKeyCommittee {
    /// A fresh group key held by `holder`.
    pub fn generate(holder: ActorId, rng: &mut impl CryptoRngCore) -> Self {
        let mut secret = [0u8; 32];
        rng.fill_bytes(&mut secret);
        let committee = SingleKeyCommittee::from_secret(holder, &secret);
        secret.zeroize();
        committee
    }

    /// The committee holding the group key with this secret (kept by its holder).
    #[must_use]
    pub fn from_secret(holder: ActorId, secret: &[u8; 32]) -> Self {
        SingleKeyCommittee {
            key: SigningKey::from_bytes(secret),
            holder,
        }
    }

    /// The secret, to keep (encrypted) by the holder.
    #[must_use]
    pub fn secret(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// `PK_G`.
    #[must_use]
    pub fn group_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// The `committeeRoot` block to record in `group`'s epoch state.
    #[must_use]
    pub fn committee(&self, group: GroupId) -> Committee {
        Committee {
            group,
            group_key: self.group_key(),
            scheme: Scheme::SingleKey,
            members: vec![self.holder],
            threshold: 1,
            verifying_shares: Vec::new(),
        }
    }

    /// Checks the evidence against the committee's own view of the group (`state`) and
    /// signs: the proposal (`proposal_block`) is valid, for the current epoch, whose
    /// committee is this key, and `votes` meet the policy at `now_ms`.
    ///
    /// # Errors
    /// [`Refusal`].
    pub fn attest(
        &self,
        state: &GroupState,
        proposal_block: &Block,
        votes: &[Vote],
        now_ms: u64,
    ) -> Result<Attested, Refusal> {
        let proposal = Proposal::decode(proposal_block).map_err(Refusal::Proposal)?;
        self.attest_proposal(state, proposal_block.cid(), &proposal, votes, now_ms)
    }

    /// [`SingleKeyCommittee::attest`] for a proposal already decoded (and its signature
    /// checked) whose block's CID is `id`.
    ///
    /// # Errors
    /// [`Refusal`].
    pub fn attest_proposal(
        &self,
        state: &GroupState,
        id: &ProposalId,
        proposal: &Proposal,
        votes: &[Vote],
        now_ms: u64,
    ) -> Result<Attested, Refusal> {
        let (Some((_, genesis)), Some(current)) = (state.genesis(), state.current()) else {
            return Err(Refusal::NoGroup);
        };
        let group = state.group();
        let ours: Option<Cid> = self.committee(group).to_block().ok().map(|b| *b.cid());
        if current.state.committee_root.is_none() || current.state.committee_root != ours {
            return Err(Refusal::NotCommittee);
        }
        if proposal.epoch_state != current.cid {
            return Err(Refusal::NotCurrentEpoch {
                proposal: proposal.epoch,
                current: current.state.epoch,
            });
        }
        let evaluation = evaluate(&Snapshot::of(current, genesis), id, proposal, votes, now_ms);
        if !matches!(evaluation.outcome, Outcome::Passed { .. }) {
            return Err(Refusal::NotPassed(Box::new(evaluation)));
        }
        let hash = attested_hash(&group, proposal.epoch, id, now_ms);
        let signature = self.key.sign_message(&signed_message(&hash));
        let attestation = GroupAttestation {
            group,
            epoch: proposal.epoch,
            proposal: *id,
            signed_message_hash: hash,
            group_signature: signature,
            issued_at: now_ms,
        };
        let block = attestation.to_block().map_err(Refusal::Encode)?;
        Ok(Attested {
            attestation,
            block,
            evaluation,
        })
    }
}

/// Plain Ed25519 signing (RFC 8032), without a domain prefix: the message already carries
/// one.
trait SignMessage {
    fn sign_message(&self, message: &[u8]) -> [u8; 64];
}

impl SignMessage for SigningKey {
    fn sign_message(&self, message: &[u8]) -> [u8; 64] {
        use ed25519_dalek::Signer as _;
        self.sign(message).to_bytes()
    }
}
