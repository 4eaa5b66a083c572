//! Resharing `PK_G` to a new committee — other members, another threshold — sans-IO.
//!
//! `frost-ed25519`'s refresh keeps `n` and `t`; rotating a committee by governance needs
//! more, so this protocol is ours (the redistribution of Desmedt–Jajodia and
//! Wong–Wang–Wing, with Feldman commitments), built from `frost-ed25519`'s own pieces:
//! `keys::split` deals a polynomial, `SecretShare::verify` is the Feldman check, and
//! `curve25519-dalek` (the curve frost-ed25519 runs on) does the Lagrange weighting.
//!
//! # The protocol
//!
//! The configuration names the old committee (its block: `PK_G`, every holder's
//! verifying share `Y_i = s_i·G`), a set `D` of exactly `t_old` old holders (the
//! *dealers*), the new members and `t_new`.
//!
//! 1. **Deal.** Each dealer `i ∈ D` picks a random polynomial `g_i` of degree `t_new − 1`
//!    with `g_i(0) = s_i` (its share), and publishes one signed block: the Feldman
//!    commitments `C_i = (g_i,k · G)_k` and, for every new member `j`, `g_i(j)` sealed to
//!    `j`'s X25519 key with HPKE (`aad` binds group, session, dealer and recipient).
//! 2. **Check.** New member `j` accepts a dealing only if `C_i` has `t_new` entries,
//!    `C_i,0 = Y_i` (the dealer's verifying share in the old committee block) and its own
//!    `g_i(j)` matches `C_i` (Feldman). With every dealing accepted, with `λ_i` the
//!    Lagrange coefficients of `D` at 0:
//!    `s'_j = Σ λ_i·g_i(j)` and `C = Σ λ_i·C_i`; then `C_0 = Σ λ_i·Y_i = PK_G`.
//! 3. **Confirm.** `j` publishes the digests of the dealings it used and the key it got;
//!    it finishes when all new members confirmed the same (consistent broadcast, as in the
//!    DKG's echo check).
//!
//! # Why it is safe
//!
//! - *Same key.* `C_0` is computed, not claimed: `Σ λ_i·Y_i` over `t_old` genuine verifying
//!   shares is `PK_G`, and each `C_i,0` is checked against `Y_i`, so no dealer can deal
//!   anything but its real share without every recipient seeing it. The run fails
//!   (naming the dealer) rather than produce another key.
//! - *Secrecy.* Each `g_i` is uniformly random apart from `g_i(0)`; fewer than `t_new`
//!   new members hold fewer than `t_new` points of every `g_i` and learn nothing about
//!   `s_i`, hence nothing about the group secret. The commitments reveal points only.
//! - *Verifiable shares.* Each new member checks its own share against the public `C`
//!   (`SecretShare::verify`), so it knows its share is on the polynomial whose constant
//!   term is the group secret.
//! - *Consistency.* Dealings are signed broadcasts; a dealer with two different signed
//!   dealings is named, and the confirm round finishes only when every new member used
//!   the same commitments. A confirmation that disagrees proves nothing by itself (the
//!   dealer may have equivocated, or the confirmer may lie): the run fails naming both,
//!   convicting neither ([`ReshareFailure::Inconsistent`]).
//!
//! Limits: the group secret does not change. Old holders must erase their shares when
//! the rotation completes; `t_old` old holders who kept theirs could still sign under
//! `PK_G` (true of every scheme that keeps the key). A removed member's old share is on
//! the old polynomial and useless with new shares. A new member who reports a bad share
//! from a dealer cannot prove it without revealing the share: the run fails naming the
//! dealer and the initiator retries with another dealer set (a false report costs a
//! retry, never the key).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::VartimeMultiscalarMul as _;
use frost::Identifier;
use frost::keys::{
    KeyPackage, PublicKeyPackage, SecretShare, SigningShare, VerifiableSecretSharingCommitment,
};
use frost_ed25519 as frost;
use quorate_actor_core::rendezvous::suite;
use quorate_actor_core::{ActorId, Identity};
use quorate_group_core::{GroupId, Member, ObjectError};
use quorate_mesh_proto::{Block, BlockPayload, Envelope, PinClass};
use rand_core::CryptoRngCore;
use serde::{Deserialize, Serialize};
use serde_bytes::ByteArray;
use sha2::{Digest, Sha256};

use super::dkg::{EchoEntry, MAX_COMMITTEE, SealedShare, at_most_committee, identifier};
use crate::committee::Committee;

/// HPKE `info` of a sealed reshared share.
const SHARE_INFO: &[u8] = b"quorate/frost-reshare-share/v1";

/// What a resharing message carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ReshareBody {
    /// A dealer's commitments and sealed shares.
    Deal {
        /// `C_i`: `t_new` compressed points.
        commitment: Vec<ByteArray<32>>,
        /// One per new member, sorted by recipient.
        shares: Vec<SealedShare>,
    },
    /// A new member used these dealings and got this key.
    Confirm {
        /// SHA-256 of each dealing block used, sorted by dealer.
        digests: Vec<EchoEntry>,
        /// The group key it derived (must be `PK_G`).
        #[serde(with = "serde_bytes")]
        group_key: [u8; 32],
    },
}

/// A resharing message: signed (object-level) by `from`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReshareMessage {
    /// The group.
    pub group: GroupId,
    /// The run.
    #[serde(with = "serde_bytes")]
    pub session: [u8; 32],
    /// The sender.
    pub from: ActorId,
    /// What it says.
    pub body: ReshareBody,
}

impl BlockPayload for ReshareMessage {
    const TYPE: &'static str = "committee-reshare";
    const VERSION: u32 = 1;
    const PIN: PinClass = PinClass::GroupEpoch;
}

impl ReshareMessage {
    /// Decodes a resharing block and checks it is signed by its sender.
    ///
    /// # Errors
    /// [`ObjectError`].
    pub fn decode(block: &Block) -> Result<ReshareMessage, ObjectError> {
        let envelope = block.decode::<ReshareMessage>()?;
        let key = envelope.verify()?;
        if !envelope.payload.from.is_key_of(&key) {
            return Err(ObjectError::WrongSigner);
        }
        match &envelope.payload.body {
            ReshareBody::Deal { commitment, shares } => {
                at_most_committee(commitment.len(), "commitment")?;
                at_most_committee(shares.len(), "dealt shares")?;
            }
            ReshareBody::Confirm { digests, .. } => {
                at_most_committee(digests.len(), "confirmed digests")?;
            }
        }
        Ok(envelope.payload)
    }
}

/// A resharing run's settings, the same at every participant.
#[derive(Clone, Debug)]
pub struct ReshareConfig {
    /// The run's id.
    pub session: [u8; 32],
    /// The old committee (its block).
    pub old: Committee,
    /// The dealers: exactly `old.threshold` old holders, sorted.
    pub dealers: Vec<ActorId>,
    /// The new committee with their keys, sorted by actor id.
    pub members: Vec<Member>,
    /// `t_new`.
    pub threshold: u16,
}

impl ReshareConfig {
    fn check(&self) -> Result<(), String> {
        let n = self.members.len();
        if !(2..=MAX_COMMITTEE).contains(&n)
            || self.threshold < 2
            || usize::from(self.threshold) > n
        {
            return Err(format!(
                "a new committee has 2 to {MAX_COMMITTEE} members and 2 <= t <= n"
            ));
        }
        if !self
            .members
            .windows(2)
            .all(|w| matches!(w, [a, b] if a.actor < b.actor))
        {
            return Err("new members not sorted".into());
        }
        let dealers: BTreeSet<&ActorId> = self.dealers.iter().collect();
        if dealers.len() != self.dealers.len()
            || self.dealers.len() != usize::from(self.old.threshold)
            || !self.dealers.iter().all(|d| self.old.members.contains(d))
        {
            return Err("the dealers must be exactly t_old distinct old holders".into());
        }
        Ok(())
    }

    fn aad(&self, dealer: &ActorId, to: &ActorId) -> Vec<u8> {
        [
            self.old.group.as_bytes().as_slice(),
            &self.session,
            dealer.as_bytes(),
            to.as_bytes(),
        ]
        .concat()
    }
}

/// Why a resharing run failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReshareFailure {
    /// A dealer signed two different dealings (this member holds both).
    #[error("{culprit} dealt inconsistently")]
    Equivocation {
        /// Who.
        culprit: ActorId,
    },
    /// `confirmer` used a different dealing from `about` than this member did (or got a
    /// different key): `about` dealt twice or `confirmer` lies. Neither is proven.
    #[error(
        "confirmations disagree about {about}'s dealing ({confirmer}'s differs): one of them cheated, unproven"
    )]
    Inconsistent {
        /// Whose confirmation differs.
        confirmer: ActorId,
        /// Whose dealing it differs about.
        about: ActorId,
    },
    /// A dealer's dealing or this member's share from it did not verify.
    #[error("{culprit} dealt an invalid share or commitment: {reason}")]
    Invalid {
        /// Who.
        culprit: ActorId,
        /// Why.
        reason: String,
    },
    /// The configuration is unusable.
    #[error("bad resharing configuration: {0}")]
    Config(String),
}

/// What the driver must do or learn.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum ReshareOutput {
    /// Publish this block on the group topic.
    Send(Block),
    /// This new member's share of `PK_G` and the new committee.
    Done {
        /// The key package (secret: keep it safe; the old one, if any, must be erased).
        key_package: Box<KeyPackage>,
        /// The new public key package.
        public: Box<PublicKeyPackage>,
        /// The new committee block's content (same `PK_G`).
        committee: Committee,
    },
    /// The run failed for this member.
    Failed(ReshareFailure),
}

/// Deals `dealer`'s share (its old `key`) to the new committee: the one block it sends.
///
/// # Errors
/// A bad configuration, a key package that is not `dealer`'s in the old committee.
pub fn deal(
    config: &ReshareConfig,
    dealer: &Identity,
    key: &KeyPackage,
    rng: &mut impl CryptoRngCore,
) -> Result<Block, ReshareFailure> {
    config.check().map_err(ReshareFailure::Config)?;
    if !config.dealers.contains(&dealer.id())
        || *key.identifier() != identifier(&dealer.id()).map_err(ReshareFailure::Config)?
    {
        return Err(ReshareFailure::Config("not a dealer of this run".into()));
    }
    let config_err = |e: frost::Error| ReshareFailure::Config(e.to_string());
    let secret =
        frost::SigningKey::deserialize(&key.signing_share().serialize()).map_err(config_err)?;
    let ids: Vec<Identifier> = config
        .members
        .iter()
        .map(|m| identifier(&m.actor))
        .collect::<Result<_, _>>()
        .map_err(ReshareFailure::Config)?;
    let n = u16::try_from(ids.len()).map_err(|_| ReshareFailure::Config("too many".into()))?;
    let (shares, _) = frost::keys::split(
        &secret,
        n,
        config.threshold,
        frost::keys::IdentifierList::Custom(&ids),
        &mut *rng,
    )
    .map_err(config_err)?;
    let mut commitment = Vec::new();
    let mut sealed = Vec::with_capacity(config.members.len());
    for (member, id) in config.members.iter().zip(&ids) {
        let share = shares
            .get(id)
            .ok_or_else(|| ReshareFailure::Config("a share is missing".into()))?;
        if commitment.is_empty() {
            for point in share.commitment().serialize().map_err(config_err)? {
                let point = <[u8; 32]>::try_from(point.as_slice())
                    .map_err(|_| ReshareFailure::Config("point length".into()))?;
                commitment.push(ByteArray::new(point));
            }
        }
        let aad = config.aad(&dealer.id(), &member.actor);
        let to = x25519_dalek::PublicKey::from(member.encryption_key);
        let bytes = share.signing_share().serialize();
        let s = suite::seal(&to, SHARE_INFO, &aad, &bytes, &mut *rng)
            .map_err(|e| ReshareFailure::Config(e.to_string()))?;
        sealed.push(SealedShare {
            to: member.actor,
            sealed: s,
        });
    }
    let message = ReshareMessage {
        group: config.old.group,
        session: config.session,
        from: dealer.id(),
        body: ReshareBody::Deal {
            commitment,
            shares: sealed,
        },
    };
    Envelope::signed(message, dealer.signing_key())
        .and_then(|e| e.to_block())
        .map_err(|e| ReshareFailure::Config(e.to_string()))
}

/// A new member's side of a resharing run.
pub struct Reshare {
    config: ReshareConfig,
    me: Identity,
    /// Per dealer: the commitment's digest, its points, this member's share.
    dealt: BTreeMap<ActorId, ([u8; 32], Vec<EdwardsPoint>, Scalar)>,
    confirms: BTreeMap<ActorId, (Vec<EchoEntry>, [u8; 32])>,
    mine: Option<(Vec<EchoEntry>, [u8; 32])>,
    result: Option<(KeyPackage, PublicKeyPackage, Committee)>,
    finished: bool,
    outputs: VecDeque<ReshareOutput>,
}

impl std::fmt::Debug for Reshare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reshare")
            .field("me", &self.me.id())
            .field("dealt", &self.dealt.len())
            .field("confirms", &self.confirms.len())
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

fn scalar_of(id: &Identifier) -> Option<Scalar> {
    let bytes = <[u8; 32]>::try_from(id.serialize().as_slice()).ok()?;
    Option::from(Scalar::from_canonical_bytes(bytes))
}

/// Lagrange coefficient at 0 of `x_i` in the set `xs`.
fn lagrange(xs: &[Scalar], x_i: &Scalar) -> Option<Scalar> {
    let mut num = Scalar::ONE;
    let mut den = Scalar::ONE;
    for x in xs.iter().filter(|x| *x != x_i) {
        num *= x;
        den *= x - x_i;
    }
    (den != Scalar::ZERO).then(|| num * den.invert())
}

impl Reshare {
    /// `me`'s run as a new member.
    pub fn new(config: ReshareConfig, me: Identity) -> Reshare {
        let mut r = Reshare {
            config,
            me,
            dealt: BTreeMap::new(),
            confirms: BTreeMap::new(),
            mine: None,
            result: None,
            finished: false,
            outputs: VecDeque::new(),
        };
        if let Err(e) = r.config.check() {
            r.fail(ReshareFailure::Config(e));
        } else if !r.config.members.iter().any(|m| m.actor == r.me.id()) {
            r.fail(ReshareFailure::Config(
                "this actor is not a new member".into(),
            ));
        }
        r
    }

    fn fail(&mut self, failure: ReshareFailure) {
        if !self.finished {
            self.finished = true;
            self.outputs.push_back(ReshareOutput::Failed(failure));
        }
    }

    /// A resharing block from the topic (other runs' are ignored).
    pub fn handle(&mut self, block: &Block) {
        if self.finished {
            return;
        }
        let Ok(m) = ReshareMessage::decode(block) else {
            return;
        };
        if m.group != self.config.old.group || m.session != self.config.session {
            return;
        }
        match m.body {
            ReshareBody::Deal { commitment, shares } if self.config.dealers.contains(&m.from) => {
                let digest = Sha256::digest(block.bytes()).into();
                if let Some((held, _, _)) = self.dealt.get(&m.from) {
                    if *held != digest {
                        self.fail(ReshareFailure::Equivocation { culprit: m.from });
                    }
                    return;
                }
                match self.check_dealing(&m.from, &commitment, &shares) {
                    Ok((points, share)) => {
                        self.dealt.insert(m.from, (digest, points, share));
                    }
                    Err(reason) => {
                        return self.fail(ReshareFailure::Invalid {
                            culprit: m.from,
                            reason,
                        });
                    }
                }
            }
            ReshareBody::Confirm { digests, group_key }
                if self.config.members.iter().any(|x| x.actor == m.from) =>
            {
                self.confirms.entry(m.from).or_insert((digests, group_key));
            }
            _ => return,
        }
        self.advance();
    }

    /// Checks a dealing: `t_new` points, the constant term is the dealer's verifying
    /// share, this member's share is on the committed polynomial.
    fn check_dealing(
        &self,
        dealer: &ActorId,
        commitment: &[ByteArray<32>],
        shares: &[SealedShare],
    ) -> Result<(Vec<EdwardsPoint>, Scalar), String> {
        if commitment.len() != usize::from(self.config.threshold) {
            return Err("a commitment of the wrong degree".into());
        }
        let position = self.config.old.members.iter().position(|m| m == dealer);
        let y_i = position.and_then(|p| self.config.old.verifying_shares.get(p));
        if commitment.first().map(|c| c.as_slice()) != y_i.map(|y| y.as_slice()) {
            return Err("the commitment's constant term is not the dealer's share".into());
        }
        let points: Vec<EdwardsPoint> = commitment
            .iter()
            .map(|c| CompressedEdwardsY(**c).decompress())
            .collect::<Option<_>>()
            .ok_or("a commitment that is not a point")?;
        let me = self.me.id();
        let sealed = shares
            .iter()
            .find(|s| s.to == me)
            .ok_or("no share for this member")?;
        let aad = self.config.aad(dealer, &me);
        let bytes = suite::open(
            self.me.encryption_secret(),
            SHARE_INFO,
            &aad,
            &sealed.sealed,
        )
        .map_err(|e| e.to_string())?;
        let share = SigningShare::deserialize(&bytes).map_err(|e| e.to_string())?;
        let vss =
            VerifiableSecretSharingCommitment::deserialize(commitment.iter().map(|c| c.to_vec()))
                .map_err(|e| e.to_string())?;
        let id = identifier(&me)?;
        SecretShare::new(id, share, vss)
            .verify()
            .map_err(|e| format!("the share does not match the commitment: {e}"))?;
        let bytes = <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| "share length")?;
        let scalar = Option::<Scalar>::from(Scalar::from_canonical_bytes(bytes))
            .ok_or("a share that is not a scalar")?;
        Ok((points, scalar))
    }

    fn advance(&mut self) {
        if self.finished {
            return;
        }
        if self.mine.is_none() && self.dealt.len() == self.config.dealers.len() {
            match self.combine() {
                Ok(result) => {
                    let digests: Vec<EchoEntry> = self
                        .dealt
                        .iter()
                        .map(|(a, (d, _, _))| EchoEntry {
                            actor: *a,
                            digest: *d,
                        })
                        .collect();
                    let key = result.2.group_key;
                    self.mine = Some((digests.clone(), key));
                    self.confirms.insert(self.me.id(), (digests.clone(), key));
                    self.result = Some(result);
                    let message = ReshareMessage {
                        group: self.config.old.group,
                        session: self.config.session,
                        from: self.me.id(),
                        body: ReshareBody::Confirm {
                            digests,
                            group_key: key,
                        },
                    };
                    match Envelope::signed(message, self.me.signing_key())
                        .and_then(|e| e.to_block())
                    {
                        Ok(b) => self.outputs.push_back(ReshareOutput::Send(b)),
                        Err(e) => return self.fail(ReshareFailure::Config(e.to_string())),
                    }
                }
                Err(e) => return self.fail(ReshareFailure::Config(e)),
            }
        }
        let Some(mine) = self.mine.clone() else {
            return;
        };
        if self.confirms.len() < self.config.members.len() {
            return;
        }
        let differing = self
            .confirms
            .iter()
            .find(|(_, (digests, key))| (digests, key) != (&mine.0, &mine.1));
        if let Some((confirmer, (digests, _))) = differing {
            let confirmer = *confirmer;
            let about = digests
                .iter()
                .zip(&mine.0)
                .find(|(a, b)| a != b)
                .map(|(a, _)| a.actor);
            return match about {
                Some(about) => self.fail(ReshareFailure::Inconsistent { confirmer, about }),
                None => self.fail(ReshareFailure::Config(format!(
                    "{confirmer} confirmed another group key"
                ))),
            };
        }
        if let Some((key_package, public, committee)) = self.result.take() {
            self.finished = true;
            self.outputs.push_back(ReshareOutput::Done {
                key_package: Box::new(key_package),
                public: Box::new(public),
                committee,
            });
        }
    }

    /// `s'_j = Σ λ_i·g_i(j)`, `C = Σ λ_i·C_i`; checks `C_0 = PK_G`.
    fn combine(&self) -> Result<(KeyPackage, PublicKeyPackage, Committee), String> {
        let xs: Vec<Scalar> = self
            .config
            .dealers
            .iter()
            .map(|d| identifier(d).ok().as_ref().and_then(scalar_of))
            .collect::<Option<_>>()
            .ok_or("a dealer identifier")?;
        let t = usize::from(self.config.threshold);
        let mut share = Scalar::ZERO;
        let mut weights = Vec::with_capacity(xs.len());
        let mut dealt = Vec::with_capacity(xs.len());
        for (dealer, x) in self.config.dealers.iter().zip(&xs) {
            let (_, points, s) = self.dealt.get(dealer).ok_or("a dealing is missing")?;
            let l = lagrange(&xs, x).ok_or("repeated dealer identifiers")?;
            share += l * s;
            weights.push(l);
            dealt.push(points);
        }
        // C_k = Σ λ_i·C_i,k: one multiscalar multiplication per coefficient (public
        // values, so variable time is fine).
        let mut sum: Vec<EdwardsPoint> = Vec::with_capacity(t);
        for k in 0..t {
            let points: Vec<&EdwardsPoint> = dealt.iter().filter_map(|p| p.get(k)).collect();
            // Exact lengths (the library asserts on them): each dealing has t points.
            if points.len() != weights.len() {
                return Err("a dealing of the wrong degree".into());
            }
            sum.push(EdwardsPoint::vartime_multiscalar_mul(&weights, points));
        }
        let vss = VerifiableSecretSharingCommitment::deserialize(
            sum.iter().map(|p| p.compress().to_bytes().to_vec()),
        )
        .map_err(|e| e.to_string())?;
        let me = identifier(&self.me.id())?;
        let secret = SecretShare::new(
            me,
            SigningShare::deserialize(&share.to_bytes()).map_err(|e| e.to_string())?,
            vss.clone(),
        );
        let key_package = KeyPackage::try_from(secret).map_err(|e| e.to_string())?;
        let ids: BTreeSet<Identifier> = self
            .config
            .members
            .iter()
            .map(|m| identifier(&m.actor))
            .collect::<Result<_, _>>()?;
        let public = PublicKeyPackage::from_commitment(&ids, &vss).map_err(|e| e.to_string())?;
        let actors: Vec<ActorId> = self.config.members.iter().map(|m| m.actor).collect();
        let committee = Committee::frost(self.config.old.group, &actors, &public)?;
        if committee.group_key != self.config.old.group_key {
            return Err("the reshared key is not PK_G".into());
        }
        Ok((key_package, public, committee))
    }

    /// The next output.
    pub fn poll_output(&mut self) -> Option<ReshareOutput> {
        self.outputs.pop_front()
    }
}
