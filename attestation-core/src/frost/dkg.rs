//! Distributed key generation of a committee's group key `PK_G`, sans-IO.
//!
//! The FROST paper's Pedersen DKG with proofs of knowledge, as `frost-ed25519` implements
//! it (`part1`, `part2`, `part3`); around it, three kinds of [`DkgMessage`] blocks, each
//! signed by its sender's actor key and published on the group topic:
//!
//! 1. **Round 1** — each member's commitments and proof of knowledge, to everyone.
//! 2. **Echo** — once a member holds every round-1 package, it publishes the SHA-256 of
//!    each one it holds. Round 1 needs a *consistent* broadcast: a member who sent
//!    different packages to different peers would make them derive different keys. Each
//!    member proceeds only when every member's echo lists the same digests as its own;
//!    otherwise the DKG fails for everyone rather than yield inconsistent shares. An echo
//!    that disagrees proves nothing on its own — the sender may have sent two packages,
//!    or the echoer may lie about what it received — so the failure names both and
//!    convicts neither ([`DkgFailure::Inconsistent`]). Only a sender whose two different
//!    signed round-1 blocks a member holds is named as the culprit
//!    ([`DkgFailure::Equivocation`]); on a mesh both blocks reach every member, since each
//!    forwards what it receives.
//! 3. **Round 2** — each member's secret shares for the other members, each sealed to
//!    its recipient's X25519 key with HPKE (RFC 9180; `aad` binds group, session, sender
//!    and recipient), in one block per sender, so the topic carries them and only the
//!    recipient opens its own.
//!
//! The result: every member's `KeyPackage` (its secret share) and the common
//! `PublicKeyPackage`, whose verifying key is `PK_G` — an ordinary Ed25519 public key.

use std::collections::{BTreeMap, VecDeque};

use frost::Identifier;
use frost::keys::dkg::{round1, round2};
use frost::keys::{KeyPackage, PublicKeyPackage};
use frost_ed25519 as frost;
use quorate_actor_core::rendezvous::suite;
use quorate_actor_core::{ActorId, Identity};
use quorate_group_core::{GroupId, Member, ObjectError};
use quorate_mesh_proto::{Block, BlockPayload, Envelope, PinClass};
use rand_core::CryptoRngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// HPKE `info` of a sealed round-2 share.
const SHARE_INFO: &[u8] = b"quorate/frost-dkg-share/v1";
/// Largest committee.
pub const MAX_COMMITTEE: usize = 256;

/// One sender's round-1 digest, as an echo lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EchoEntry {
    /// The sender.
    pub actor: ActorId,
    /// SHA-256 of its round-1 package bytes.
    #[serde(with = "serde_bytes")]
    pub digest: [u8; 32],
}

/// One recipient's secret, sealed to it with HPKE.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealedShare {
    /// The recipient.
    pub to: ActorId,
    /// `enc ‖ ciphertext`.
    #[serde(with = "serde_bytes")]
    pub sealed: Vec<u8>,
}

/// What a DKG message carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum DkgBody {
    /// The sender's round-1 package (`frost-ed25519` serialisation).
    Round1 {
        /// The package.
        #[serde(with = "serde_bytes")]
        package: Vec<u8>,
    },
    /// The digests of every round-1 package the sender holds.
    Echo {
        /// Sorted by actor.
        digests: Vec<EchoEntry>,
    },
    /// The sender's round-2 packages, each HPKE-sealed to its recipient (one block for
    /// all: `n` blocks per run, not `n²`).
    Round2 {
        /// One per other member, sorted by recipient.
        shares: Vec<SealedShare>,
    },
}

/// A DKG message: signed (object-level) by `from`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DkgMessage {
    /// The group.
    pub group: GroupId,
    /// The DKG run (all messages of one run carry it).
    #[serde(with = "serde_bytes")]
    pub session: [u8; 32],
    /// The sender.
    pub from: ActorId,
    /// What it says.
    pub body: DkgBody,
}

impl BlockPayload for DkgMessage {
    const TYPE: &'static str = "committee-dkg";
    const VERSION: u32 = 1;
    const PIN: PinClass = PinClass::GroupEpoch;
}

impl DkgMessage {
    /// Decodes a DKG block and checks it is signed by its sender.
    ///
    /// # Errors
    /// [`ObjectError`].
    pub fn decode(block: &Block) -> Result<DkgMessage, ObjectError> {
        let envelope = block.decode::<DkgMessage>()?;
        let key = envelope.verify()?;
        if !envelope.payload.from.is_key_of(&key) {
            return Err(ObjectError::WrongSigner);
        }
        match &envelope.payload.body {
            DkgBody::Round1 { .. } => {}
            DkgBody::Echo { digests } => at_most_committee(digests.len(), "echo digests")?,
            DkgBody::Round2 { shares } => at_most_committee(shares.len(), "round-2 shares")?,
        }
        Ok(envelope.payload)
    }
}

/// Refuses a list from a peer longer than any committee (`what` names it): every list in a
/// committee block has at most one entry per member.
pub(crate) fn at_most_committee(len: usize, what: &'static str) -> Result<(), ObjectError> {
    if len > MAX_COMMITTEE {
        Err(ObjectError::TooLarge(what))
    } else {
        Ok(())
    }
}

/// A DKG run's settings, the same at every member.
#[derive(Clone, Debug)]
pub struct DkgConfig {
    /// The group.
    pub group: GroupId,
    /// This run's id (e.g. a hash of the epoch state that asked for it).
    pub session: [u8; 32],
    /// The committee, with their keys (sorted by actor id).
    pub members: Vec<Member>,
    /// Signers needed (`t`).
    pub threshold: u16,
}

/// Why a DKG run failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DkgFailure {
    /// A member signed two different round-1 packages (this member holds both).
    #[error("{culprit} sent inconsistent round-1 packages")]
    Equivocation {
        /// Who.
        culprit: ActorId,
    },
    /// `echoer`'s echo disagrees with this member's digest of `about`'s round-1 package:
    /// either `about` sent two packages or `echoer` echoed falsely. Neither is proven.
    #[error(
        "echoes disagree about {about}'s round-1 package ({echoer}'s echo differs): one of them cheated, unproven"
    )]
    Inconsistent {
        /// Whose echo differs.
        echoer: ActorId,
        /// Whose package it differs about.
        about: ActorId,
    },
    /// A member's share or package did not verify (FROST names it).
    #[error("member {culprit:?} sent an invalid share or package: {reason}")]
    Invalid {
        /// Who, if FROST could tell.
        culprit: Option<ActorId>,
        /// FROST's reason.
        reason: String,
    },
    /// The configuration is unusable (size, threshold, this actor not a member).
    #[error("bad DKG configuration: {0}")]
    Config(String),
}

/// What the driver must do or learn.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum DkgOutput {
    /// Publish this block on the group topic.
    Send(Block),
    /// The run completed: this member's secret share and the public key package.
    Done {
        /// This member's key package (secret: keep it encrypted).
        key_package: Box<KeyPackage>,
        /// The committee's public key package.
        public: Box<PublicKeyPackage>,
        /// `PK_G`.
        group_key: [u8; 32],
    },
    /// The run failed for everyone.
    Failed(DkgFailure),
}

/// The DKG state of one member.
pub struct Dkg {
    config: DkgConfig,
    me: Identity,
    ids: BTreeMap<ActorId, Identifier>,
    secret1: Option<round1::SecretPackage>,
    round1: BTreeMap<ActorId, (Vec<u8>, round1::Package)>,
    echoes: BTreeMap<ActorId, Vec<EchoEntry>>,
    echoed: bool,
    secret2: Option<round2::SecretPackage>,
    round2: BTreeMap<ActorId, round2::Package>,
    finished: bool,
    outputs: VecDeque<DkgOutput>,
}

impl std::fmt::Debug for Dkg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dkg")
            .field("me", &self.me.id())
            .field("round1", &self.round1.len())
            .field("echoes", &self.echoes.len())
            .field("round2", &self.round2.len())
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

/// The FROST identifier of an actor: derived from its id.
///
/// # Errors
/// FROST's (never for a 32-byte id).
pub fn identifier(actor: &ActorId) -> Result<Identifier, String> {
    Identifier::derive(actor.as_bytes()).map_err(|e| e.to_string())
}

impl Dkg {
    /// Starts a run as `me`: makes and sends this member's round-1 package.
    pub fn start(config: DkgConfig, me: Identity, rng: &mut impl CryptoRngCore) -> Dkg {
        let mut dkg = Dkg {
            config,
            me,
            ids: BTreeMap::new(),
            secret1: None,
            round1: BTreeMap::new(),
            echoes: BTreeMap::new(),
            echoed: false,
            secret2: None,
            round2: BTreeMap::new(),
            finished: false,
            outputs: VecDeque::new(),
        };
        if let Err(e) = dkg.begin(rng) {
            dkg.fail(DkgFailure::Config(e));
        }
        dkg
    }

    fn begin(&mut self, rng: &mut impl CryptoRngCore) -> Result<(), String> {
        let n = self.config.members.len();
        if !(2..=MAX_COMMITTEE).contains(&n) {
            return Err(format!("a committee has 2 to {MAX_COMMITTEE} members"));
        }
        for m in &self.config.members {
            self.ids.insert(m.actor, identifier(&m.actor)?);
        }
        let mine = *self
            .ids
            .get(&self.me.id())
            .ok_or("this actor is not in the committee")?;
        let max = u16::try_from(n).map_err(|_| "too many members")?;
        let (secret, package) =
            frost::keys::dkg::part1(mine, max, self.config.threshold, &mut *rng)
                .map_err(|e| e.to_string())?;
        let bytes = package.serialize().map_err(|e| e.to_string())?;
        self.secret1 = Some(secret);
        self.round1.insert(self.me.id(), (bytes.clone(), package));
        self.send(DkgBody::Round1 { package: bytes });
        Ok(())
    }

    fn send(&mut self, body: DkgBody) {
        let message = DkgMessage {
            group: self.config.group,
            session: self.config.session,
            from: self.me.id(),
            body,
        };
        match Envelope::signed(message, self.me.signing_key()).and_then(|e| e.to_block()) {
            Ok(block) => self.outputs.push_back(DkgOutput::Send(block)),
            Err(e) => self.fail(DkgFailure::Config(e.to_string())),
        }
    }

    fn fail(&mut self, failure: DkgFailure) {
        if !self.finished {
            self.finished = true;
            self.outputs.push_back(DkgOutput::Failed(failure));
        }
    }

    /// A DKG block from the topic (this run's or not; others are ignored).
    pub fn handle(&mut self, block: &Block, rng: &mut impl CryptoRngCore) {
        if self.finished {
            return;
        }
        let Ok(m) = DkgMessage::decode(block) else {
            return;
        };
        if m.group != self.config.group || m.session != self.config.session {
            return;
        }
        // Only committee members, signing with the key the member set names.
        let Some(member) = self.config.members.iter().find(|x| x.actor == m.from) else {
            return;
        };
        if member
            .verifying_key()
            .ok()
            .is_none_or(|k| !m.from.is_key_of(&k))
        {
            return;
        }
        match m.body {
            DkgBody::Round1 { package } => self.on_round1(m.from, package),
            DkgBody::Echo { digests } => {
                self.echoes.entry(m.from).or_insert(digests);
            }
            DkgBody::Round2 { shares } => {
                let me = self.me.id();
                match shares.iter().find(|s| s.to == me) {
                    Some(mine) => self.on_round2(m.from, &mine.sealed),
                    None if m.from != me => self.fail(DkgFailure::Invalid {
                        culprit: Some(m.from),
                        reason: "no round-2 share for this member".into(),
                    }),
                    None => {}
                }
            }
        }
        self.advance(rng);
    }

    fn on_round1(&mut self, from: ActorId, bytes: Vec<u8>) {
        if let Some((held, _)) = self.round1.get(&from) {
            if *held != bytes {
                self.fail(DkgFailure::Equivocation { culprit: from });
            }
            return;
        }
        match round1::Package::deserialize(&bytes) {
            Ok(p) => {
                self.round1.insert(from, (bytes, p));
            }
            Err(e) => self.fail(DkgFailure::Invalid {
                culprit: Some(from),
                reason: e.to_string(),
            }),
        }
    }

    fn aad(&self, from: &ActorId, to: &ActorId) -> Vec<u8> {
        [
            self.config.group.as_bytes().as_slice(),
            &self.config.session,
            from.as_bytes(),
            to.as_bytes(),
        ]
        .concat()
    }

    fn on_round2(&mut self, from: ActorId, sealed: &[u8]) {
        if self.round2.contains_key(&from) {
            return;
        }
        let aad = self.aad(&from, &self.me.id());
        let opened = suite::open(self.me.encryption_secret(), SHARE_INFO, &aad, sealed)
            .map_err(|e| e.to_string())
            .and_then(|b| round2::Package::deserialize(&b).map_err(|e| e.to_string()));
        match opened {
            Ok(p) => {
                self.round2.insert(from, p);
            }
            Err(reason) => self.fail(DkgFailure::Invalid {
                culprit: Some(from),
                reason,
            }),
        }
    }

    fn digests(&self) -> Vec<EchoEntry> {
        self.round1
            .iter()
            .map(|(actor, (bytes, _))| EchoEntry {
                actor: *actor,
                digest: Sha256::digest(bytes).into(),
            })
            .collect()
    }

    fn others<T: Clone>(&self, map: &BTreeMap<ActorId, T>) -> BTreeMap<Identifier, T> {
        map.iter()
            .filter(|(a, _)| **a != self.me.id())
            .filter_map(|(a, v)| Some((*self.ids.get(a)?, v.clone())))
            .collect()
    }

    fn culprit_of(&self, id: &Identifier) -> Option<ActorId> {
        self.ids.iter().find(|(_, i)| *i == id).map(|(a, _)| *a)
    }

    fn advance(&mut self, rng: &mut impl CryptoRngCore) {
        let n = self.config.members.len();
        if self.finished {
            return;
        }
        // Every round-1 package: echo what we hold.
        if !self.echoed && self.round1.len() == n {
            self.echoed = true;
            let digests = self.digests();
            self.echoes.insert(self.me.id(), digests.clone());
            self.send(DkgBody::Echo { digests });
        }
        // Every echo: all must agree with ours, then round 2.
        if self.secret2.is_none() && self.echoed && self.echoes.len() == n {
            let mine = self.digests();
            let differing = self.echoes.iter().find(|(_, echo)| **echo != mine);
            if let Some((echoer, echo)) = differing {
                let about = echo
                    .iter()
                    .zip(&mine)
                    .find(|(a, b)| a != b)
                    .map(|(a, _)| a.actor)
                    .or_else(|| mine.first().map(|e| e.actor));
                let failure = match about {
                    Some(about) => DkgFailure::Inconsistent {
                        echoer: *echoer,
                        about,
                    },
                    None => DkgFailure::Config("empty echo".into()),
                };
                self.fail(failure);
                return;
            }
            let packages = self.others(
                &self
                    .round1
                    .iter()
                    .map(|(a, (_, p))| (*a, p.clone()))
                    .collect(),
            );
            let Some(secret) = self.secret1.take() else {
                return;
            };
            match frost::keys::dkg::part2(secret, &packages) {
                Ok((secret2, shares)) => {
                    self.secret2 = Some(secret2);
                    let mut sealed_shares = Vec::with_capacity(shares.len());
                    for member in self.config.members.clone() {
                        let Some(share) = self.ids.get(&member.actor).and_then(|i| shares.get(i))
                        else {
                            continue;
                        };
                        let aad = self.aad(&self.me.id(), &member.actor);
                        let key = x25519_dalek::PublicKey::from(member.encryption_key);
                        let sealed = share.serialize().map_err(|e| e.to_string()).and_then(|b| {
                            suite::seal(&key, SHARE_INFO, &aad, &b, rng).map_err(|e| e.to_string())
                        });
                        match sealed {
                            Ok(sealed) => sealed_shares.push(SealedShare {
                                to: member.actor,
                                sealed,
                            }),
                            Err(e) => return self.fail(DkgFailure::Config(e)),
                        }
                    }
                    self.send(DkgBody::Round2 {
                        shares: sealed_shares,
                    });
                }
                Err(e) => {
                    let culprit = e.culprits().first().and_then(|c| self.culprit_of(c));
                    return self.fail(DkgFailure::Invalid {
                        culprit,
                        reason: e.to_string(),
                    });
                }
            }
        }
        // Every share for us: the key.
        if let Some(secret2) = &self.secret2
            && self.round2.len() == n - 1
        {
            let round1 = self.others(
                &self
                    .round1
                    .iter()
                    .map(|(a, (_, p))| (*a, p.clone()))
                    .collect(),
            );
            let round2 = self.others(&self.round2);
            match frost::keys::dkg::part3(secret2, &round1, &round2) {
                Ok((key_package, public)) => {
                    let group_key = public
                        .verifying_key()
                        .serialize()
                        .ok()
                        .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok());
                    match group_key {
                        Some(group_key) => {
                            self.finished = true;
                            self.outputs.push_back(DkgOutput::Done {
                                key_package: Box::new(key_package),
                                public: Box::new(public),
                                group_key,
                            });
                        }
                        None => {
                            self.fail(DkgFailure::Config("the group key is not 32 bytes".into()))
                        }
                    }
                }
                Err(e) => {
                    let culprit = e.culprits().first().and_then(|c| self.culprit_of(c));
                    self.fail(DkgFailure::Invalid {
                        culprit,
                        reason: e.to_string(),
                    });
                }
            }
        }
    }

    /// The next output.
    pub fn poll_output(&mut self) -> Option<DkgOutput> {
        self.outputs.pop_front()
    }
}
