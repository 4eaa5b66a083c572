//! Signing sessions: `t` of the committee sign an attestation under `PK_G`, sans-IO.
//!
//! Four kinds of [`SignMessage`] blocks, each signed by its sender's actor key and
//! published on the group topic:
//!
//! 1. **Request** (coordinator) — what to sign (a [`SignTarget`]: the attestation's
//!    fields) and who is asked. The session id hashes the group, the committee block, the
//!    target, the coordinator and the attempt number, so every attempt is a new session.
//! 2. **Commit** (each asked member whose own view of the group says the proposal passed)
//!    — its round-1 nonce commitments. Before a commitment leaves, the member durably
//!    records the session in its [`NonceStore`] and mixes a never-repeated counter from it
//!    into the nonce randomness: a restarted member (even one whose random source
//!    repeats) never commits to the same nonces twice, and never answers a session it
//!    committed to before the restart.
//! 3. **Package** (coordinator) — the `frost-ed25519` signing package over the first `t`
//!    commitments received.
//! 4. **Share** (each signer in the package) — its signature share and the SHA-256 of the
//!    package it signed. The member records the session as signed first and drops its
//!    nonces: one package per set of nonces, ever.
//!
//! The coordinator aggregates with `frost-ed25519`'s cheater detection. An invalid share
//! names its culprit: the coordinator publishes a signed [`CulpritEvidence`] block
//! (the package and every signer's signed share, which anyone can re-check with
//! [`verify_culprits`]) and retries without the culprit. A signer that does not answer
//! is left out of the next attempt; a coordinator that stops is replaced by the next one
//! in [`coordinators`] order, which starts its own session.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use frost::Identifier;
use frost::keys::{KeyPackage, PublicKeyPackage};
use frost::round1::{SigningCommitments, SigningNonces};
use frost::round2::SignatureShare;
use frost_ed25519 as frost;
use quorate_actor_core::{ActorId, Identity};
use quorate_governance_core::ProposalId;
use quorate_group_core::{GroupId, ObjectError};
use quorate_mesh_proto::{Block, BlockPayload, Cid, Codec, Envelope, PinClass};
use rand_chacha::ChaCha20Rng;
use rand_core::{CryptoRngCore, SeedableRng};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::dkg::{at_most_committee, identifier};
use crate::attestation::{GroupAttestation, attested_hash, signed_message};
use crate::committee::Committee;

/// How long a coordinator waits for commitments, then for shares, before a new attempt.
pub const ROUND_TIMEOUT_MS: u64 = 10_000;
/// Attempts a coordinator makes before it gives up.
pub const MAX_ATTEMPTS: u32 = 16;
/// Sessions a member keeps nonces for at once (the oldest are dropped: safe, they are
/// never used again).
pub const MAX_OPEN_NONCES: usize = 64;

/// What a session signs: the attestation's fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignTarget {
    /// The proposal.
    pub proposal: ProposalId,
    /// Its epoch.
    pub epoch: u64,
    /// The attestation's `issuedAt` (Unix ms, chosen by the coordinator).
    pub issued_at: u64,
}

impl SignTarget {
    /// The bytes the group key signs for this target in `group`.
    #[must_use]
    pub fn message(&self, group: &GroupId) -> Vec<u8> {
        signed_message(&attested_hash(
            group,
            self.epoch,
            &self.proposal,
            self.issued_at,
        ))
    }

    /// The attestation carrying `signature`.
    #[must_use]
    pub fn attestation(&self, group: GroupId, signature: [u8; 64]) -> GroupAttestation {
        GroupAttestation {
            group,
            epoch: self.epoch,
            proposal: self.proposal,
            signed_message_hash: attested_hash(&group, self.epoch, &self.proposal, self.issued_at),
            group_signature: signature,
            issued_at: self.issued_at,
        }
    }
}

/// What a signing message carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SignBody {
    /// The coordinator asks `asked` to commit for `target`.
    Request {
        /// The committee block the session uses.
        committee: Cid,
        /// What to sign.
        target: SignTarget,
        /// The coordinator's attempt number.
        attempt: u32,
        /// The members asked (sorted).
        asked: Vec<ActorId>,
    },
    /// A member's round-1 commitments (`frost-ed25519` serialisation).
    Commit {
        /// The commitments.
        #[serde(with = "serde_bytes")]
        commitments: Vec<u8>,
    },
    /// The coordinator's signing package (`frost-ed25519` serialisation).
    Package {
        /// The signers whose commitments it holds (sorted): the others need not parse it.
        signers: Vec<ActorId>,
        /// The package.
        #[serde(with = "serde_bytes")]
        package: Vec<u8>,
    },
    /// A signer's signature share over the package whose SHA-256 is `package_digest`.
    Share {
        /// SHA-256 of the package bytes signed.
        #[serde(with = "serde_bytes")]
        package_digest: [u8; 32],
        /// The share.
        #[serde(with = "serde_bytes")]
        share: Vec<u8>,
    },
}

/// A signing-session message: signed (object-level) by `from`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignMessage {
    /// The group.
    pub group: GroupId,
    /// The session (see [`session_id`]).
    #[serde(with = "serde_bytes")]
    pub session: [u8; 32],
    /// The sender.
    pub from: ActorId,
    /// What it says.
    pub body: SignBody,
}

impl BlockPayload for SignMessage {
    const TYPE: &'static str = "committee-sign";
    const VERSION: u32 = 1;
    const PIN: PinClass = PinClass::Vote;
}

impl SignMessage {
    /// Decodes a signing block and checks it is signed by its sender.
    ///
    /// # Errors
    /// [`ObjectError`].
    pub fn decode(block: &Block) -> Result<SignMessage, ObjectError> {
        let envelope = block.decode::<SignMessage>()?;
        let key = envelope.verify()?;
        if !envelope.payload.from.is_key_of(&key) {
            return Err(ObjectError::WrongSigner);
        }
        match &envelope.payload.body {
            SignBody::Request { asked, .. } => at_most_committee(asked.len(), "asked")?,
            SignBody::Package { signers, .. } => at_most_committee(signers.len(), "signers")?,
            _ => {}
        }
        Ok(envelope.payload)
    }
}

fn signed_block<T: BlockPayload + Serialize>(
    payload: T,
    me: &Identity,
) -> Result<Block, SignError> {
    Envelope::signed(payload, me.signing_key())
        .and_then(|e| e.to_block())
        .map_err(|e| SignError::Encode(e.to_string()))
}

/// The id of the session `coordinator` runs as its `attempt` for `target` with the
/// committee block `committee`.
#[must_use]
pub fn session_id(
    group: &GroupId,
    committee: &Cid,
    target: &SignTarget,
    coordinator: &ActorId,
    attempt: u32,
) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"quorate/frost-sign-session/v1\0");
    h.update(group.as_bytes());
    h.update(committee.to_bytes());
    h.update(target.proposal.to_bytes());
    h.update(target.epoch.to_be_bytes());
    h.update(target.issued_at.to_be_bytes());
    h.update(coordinator.as_bytes());
    h.update(attempt.to_be_bytes());
    h.finalize().into()
}

/// The order in which committee members coordinate the signing of `proposal`: the first
/// starts at once, the next one [`ROUND_TIMEOUT_MS`]·3 later if no attestation appeared,
/// and so on. A hash order, so the same member does not coordinate every proposal.
#[must_use]
pub fn coordinators(committee: &Committee, proposal: &ProposalId) -> Vec<ActorId> {
    let mut ranked: Vec<([u8; 32], ActorId)> = committee
        .members
        .iter()
        .map(|m| {
            let mut h = Sha256::new();
            h.update(b"quorate/frost-coordinator/v1\0");
            h.update(proposal.to_bytes());
            h.update(m.as_bytes());
            (h.finalize().into(), *m)
        })
        .collect();
    ranked.sort();
    ranked.into_iter().map(|(_, m)| m).collect()
}

/// Why a signing step did not happen.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// The committee is not a usable FROST committee, or this actor is not in it.
    #[error("bad committee: {0}")]
    Committee(String),
    /// The message is for another group or committee, or names a session that does not
    /// match its contents.
    #[error("not for this committee or session")]
    Mismatch,
    /// This member already committed in this session (before a restart, perhaps): it
    /// never commits twice to one session.
    #[error("already committed in this session")]
    AlreadyCommitted,
    /// This member holds no nonces for the session (never committed, already signed, or
    /// restarted since): it cannot sign this package.
    #[error("no nonces for this session (signed already, or restarted since committing)")]
    NoNonces,
    /// The package is not over the target this member agreed to, or lacks its
    /// commitment.
    #[error("the package does not match what this member committed to: {0}")]
    BadPackage(String),
    /// The nonce store failed: nothing was sent.
    #[error("nonce store: {0}")]
    Store(String),
    /// FROST refused.
    #[error("frost: {0}")]
    Frost(String),
    /// A block could not be encoded.
    #[error("encode: {0}")]
    Encode(String),
}

/// How far a member got in a session, as its [`NonceStore`] records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NonceUse {
    /// It published a commitment (its nonces live in memory only).
    Committed,
    /// It published a share: the nonces are gone.
    Signed,
}

/// Durable records of nonce use. `reserve` must be on disk before it returns.
pub trait NonceStore {
    /// The store's error.
    type Error: std::fmt::Display;
    /// Records that this member commits in `session` and returns a counter value never
    /// returned before; fails if `session` has a record already.
    ///
    /// # Errors
    /// The store's.
    fn reserve(&mut self, session: &[u8; 32]) -> Result<Option<u64>, Self::Error>;
    /// What is recorded for `session`.
    ///
    /// # Errors
    /// The store's.
    fn get(&self, session: &[u8; 32]) -> Result<Option<NonceUse>, Self::Error>;
    /// Records that this member signed in `session`.
    ///
    /// # Errors
    /// The store's.
    fn mark_signed(&mut self, session: &[u8; 32]) -> Result<(), Self::Error>;
}

/// A [`NonceStore`] in memory (tests, browser tabs whose key is in memory too).
#[derive(Clone, Debug, Default)]
pub struct MemoryNonces {
    counter: u64,
    sessions: BTreeMap<[u8; 32], NonceUse>,
}

impl NonceStore for MemoryNonces {
    type Error = std::convert::Infallible;
    fn reserve(&mut self, session: &[u8; 32]) -> Result<Option<u64>, Self::Error> {
        if self.sessions.contains_key(session) {
            return Ok(None);
        }
        self.sessions.insert(*session, NonceUse::Committed);
        self.counter += 1;
        Ok(Some(self.counter))
    }
    fn get(&self, session: &[u8; 32]) -> Result<Option<NonceUse>, Self::Error> {
        Ok(self.sessions.get(session).copied())
    }
    fn mark_signed(&mut self, session: &[u8; 32]) -> Result<(), Self::Error> {
        self.sessions.insert(*session, NonceUse::Signed);
        Ok(())
    }
}

/// A committee member's signing side: its key package and the nonces of the sessions it
/// committed to.
pub struct FrostSigner {
    me: Identity,
    group: GroupId,
    root: Cid,
    key: KeyPackage,
    /// Per session: the nonces, the commitments sent, the message agreed to.
    nonces: BTreeMap<[u8; 32], (SigningNonces, SigningCommitments, Vec<u8>)>,
    order: VecDeque<[u8; 32]>,
}

impl std::fmt::Debug for FrostSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrostSigner")
            .field("me", &self.me.id())
            .field("open", &self.nonces.len())
            .finish_non_exhaustive()
    }
}

impl FrostSigner {
    /// `me`'s signer in the committee whose block has CID `root`, with its key package.
    ///
    /// # Errors
    /// [`SignError::Committee`] if the key package is not `me`'s share of that committee.
    pub fn new(
        me: Identity,
        committee: &Committee,
        root: Cid,
        key: KeyPackage,
    ) -> Result<FrostSigner, SignError> {
        let public = committee.public_package().map_err(SignError::Committee)?;
        let id = identifier(&me.id()).map_err(SignError::Committee)?;
        let matches = *key.identifier() == id
            && key.verifying_key() == public.verifying_key()
            && public.verifying_shares().get(&id) == Some(key.verifying_share());
        if !matches {
            return Err(SignError::Committee(
                "the key package is not this actor's share of the committee".into(),
            ));
        }
        Ok(FrostSigner {
            me,
            group: committee.group,
            root,
            key,
            nonces: BTreeMap::new(),
            order: VecDeque::new(),
        })
    }

    /// The committee block this signer belongs to.
    #[must_use]
    pub fn committee(&self) -> &Cid {
        &self.root
    }

    /// Its key package (secret: a runtime persists it, encrypted where it can).
    #[must_use]
    pub fn key_package(&self) -> &KeyPackage {
        &self.key
    }

    /// Answers a request the caller has checked (its own view of the group says the
    /// target proposal passed): records the session, makes fresh nonces and returns the
    /// commitment block to publish.
    ///
    /// # Errors
    /// [`SignError`]: not for this committee, not asked, committed before, store failure.
    pub fn commit(
        &mut self,
        request: &SignMessage,
        store: &mut impl NonceStore,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Block, SignError> {
        let SignBody::Request {
            committee,
            target,
            attempt,
            asked,
        } = &request.body
        else {
            return Err(SignError::Mismatch);
        };
        let expected = session_id(&self.group, committee, target, &request.from, *attempt);
        if request.group != self.group
            || *committee != self.root
            || request.session != expected
            || !asked.contains(&self.me.id())
        {
            return Err(SignError::Mismatch);
        }
        let counter = store
            .reserve(&request.session)
            .map_err(|e| SignError::Store(e.to_string()))?
            .ok_or(SignError::AlreadyCommitted)?;
        // Fresh randomness, whatever the caller's source: a durable counter and the
        // session are mixed in, so a repeated random stream still yields new nonces.
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        let mut h = Sha256::new();
        h.update(b"quorate/frost-nonce-seed/v1\0");
        h.update(seed);
        h.update(counter.to_be_bytes());
        h.update(request.session);
        h.update(self.me.id().as_bytes());
        let mut nonce_rng = ChaCha20Rng::from_seed(h.finalize().into());
        let (nonces, commitments) = frost::round1::commit(self.key.signing_share(), &mut nonce_rng);
        let bytes = commitments
            .serialize()
            .map_err(|e| SignError::Frost(e.to_string()))?;
        let block = signed_block(
            SignMessage {
                group: self.group,
                session: request.session,
                from: self.me.id(),
                body: SignBody::Commit { commitments: bytes },
            },
            &self.me,
        )?;
        if self.order.len() >= MAX_OPEN_NONCES
            && let Some(old) = self.order.pop_front()
        {
            self.nonces.remove(&old);
        }
        self.order.push_back(request.session);
        self.nonces.insert(
            request.session,
            (nonces, commitments, target.message(&self.group)),
        );
        Ok(block)
    }

    /// Signs a package from the session's coordinator (`coordinator`, as named by the
    /// request this member answered): once per session, only over the message agreed to
    /// and with this member's own commitment. Returns the share block to publish.
    ///
    /// # Errors
    /// [`SignError`].
    pub fn sign(
        &mut self,
        package: &SignMessage,
        store: &mut impl NonceStore,
    ) -> Result<Block, SignError> {
        let SignBody::Package {
            signers,
            package: bytes,
        } = &package.body
        else {
            return Err(SignError::Mismatch);
        };
        if package.group != self.group {
            return Err(SignError::Mismatch);
        }
        let session = package.session;
        let Some((_, commitments, message)) = self.nonces.get(&session) else {
            return Err(SignError::NoNonces);
        };
        // Not among the signers: nothing to parse (every point in a package costs a
        // subgroup check).
        if !signers.contains(&self.me.id()) {
            return Err(SignError::BadPackage("not among its signers".into()));
        }
        let parsed = frost::SigningPackage::deserialize(bytes)
            .map_err(|e| SignError::BadPackage(e.to_string()))?;
        if parsed.message() != message {
            return Err(SignError::BadPackage("another message".into()));
        }
        if parsed.signing_commitments().get(self.key.identifier()) != Some(commitments) {
            return Err(SignError::BadPackage("not this member's commitment".into()));
        }
        if store
            .get(&session)
            .map_err(|e| SignError::Store(e.to_string()))?
            != Some(NonceUse::Committed)
        {
            self.nonces.remove(&session);
            return Err(SignError::NoNonces);
        }
        // Durably "signed" before the share exists; the nonces leave memory now.
        store
            .mark_signed(&session)
            .map_err(|e| SignError::Store(e.to_string()))?;
        let Some((nonces, _, _)) = self.nonces.remove(&session) else {
            return Err(SignError::NoNonces);
        };
        self.order.retain(|s| *s != session);
        let share = frost::round2::sign(&parsed, &nonces, &self.key)
            .map_err(|e| SignError::Frost(e.to_string()))?;
        signed_block(
            SignMessage {
                group: self.group,
                session,
                from: self.me.id(),
                body: SignBody::Share {
                    package_digest: Sha256::digest(bytes).into(),
                    share: share.serialize(),
                },
            },
            &self.me,
        )
    }
}

/// A coordinator's report that a signer's share was invalid: the package and every
/// signer's signed share block, so anyone holding the committee block can re-check it
/// ([`verify_culprits`]). Signed by the reporter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CulpritEvidence {
    /// The group.
    pub group: GroupId,
    /// The committee block.
    pub committee: Cid,
    /// Who reports it.
    pub reporter: ActorId,
    /// The members whose shares were invalid (sorted).
    pub culprits: Vec<ActorId>,
    /// The signing package (`frost-ed25519` serialisation).
    #[serde(with = "serde_bytes")]
    pub package: Vec<u8>,
    /// Every signer's share block (each signed by its signer), in signer order.
    pub shares: Vec<serde_bytes::ByteBuf>,
}

impl BlockPayload for CulpritEvidence {
    const TYPE: &'static str = "committee-culprit";
    const VERSION: u32 = 1;
    const PIN: PinClass = PinClass::Attestation;
}

impl CulpritEvidence {
    /// Decodes an evidence block and checks it is signed by its reporter.
    ///
    /// # Errors
    /// [`ObjectError`].
    pub fn decode(block: &Block) -> Result<CulpritEvidence, ObjectError> {
        let envelope = block.decode::<CulpritEvidence>()?;
        let key = envelope.verify()?;
        if !envelope.payload.reporter.is_key_of(&key) {
            return Err(ObjectError::WrongSigner);
        }
        at_most_committee(envelope.payload.culprits.len(), "culprits")?;
        at_most_committee(envelope.payload.shares.len(), "evidence shares")?;
        Ok(envelope.payload)
    }

    /// The share blocks it carries (each checked against the 2 MiB limit and hashed).
    ///
    /// # Errors
    /// A share that is not a block.
    pub fn share_blocks(&self) -> Result<Vec<Block>, String> {
        self.shares
            .iter()
            .map(|bytes| {
                let cid = Cid::of(Codec::DagCbor, bytes);
                Block::from_untrusted(&cid, bytes.to_vec()).map_err(|e| e.to_string())
            })
            .collect()
    }
}

/// Re-checks culprit evidence against the committee it names: every share block is
/// signed by a committee member and over this package, and `frost-ed25519`'s cheater
/// detection names exactly the claimed culprits. Returns them.
///
/// # Errors
/// Why the evidence does not hold (then it proves nothing against anyone).
pub fn verify_culprits(
    evidence: &CulpritEvidence,
    committee: &Committee,
) -> Result<Vec<ActorId>, String> {
    if evidence.group != committee.group || evidence.shares.len() > committee.members.len() {
        return Err("evidence for another group or too many shares".into());
    }
    let public = committee.public_package()?;
    let package =
        frost::SigningPackage::deserialize(&evidence.package).map_err(|e| e.to_string())?;
    let digest: [u8; 32] = Sha256::digest(&evidence.package).into();
    let mut shares = BTreeMap::new();
    let mut actors = BTreeMap::new();
    for block in evidence.share_blocks()? {
        let m = SignMessage::decode(&block).map_err(|e| e.to_string())?;
        let SignBody::Share {
            package_digest,
            share,
        } = m.body
        else {
            return Err("not a share".into());
        };
        if package_digest != digest || !committee.members.contains(&m.from) {
            return Err("a share over another package, or from outside the committee".into());
        }
        let id = identifier(&m.from)?;
        let share = SignatureShare::deserialize(&share).map_err(|e| e.to_string())?;
        shares.insert(id, share);
        actors.insert(id, m.from);
    }
    match frost::aggregate_custom(
        &package,
        &shares,
        &public,
        frost::CheaterDetection::AllCheaters,
    ) {
        Err(frost::Error::InvalidSignatureShare { culprits }) => {
            let mut named: Vec<ActorId> = culprits
                .iter()
                .filter_map(|c| actors.get(c).copied())
                .collect();
            named.sort();
            if named == evidence.culprits && !named.is_empty() {
                Ok(named)
            } else {
                Err("the shares name other culprits".into())
            }
        }
        Ok(_) => Err("the shares are valid".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// What a coordinator's session tells its driver.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum SessionOutput {
    /// Publish this block on the group topic.
    Send(Block),
    /// The attestation, signed under `PK_G` by `signers`.
    Signed {
        /// The attestation.
        attestation: GroupAttestation,
        /// Who signed.
        signers: Vec<ActorId>,
        /// Attempts it took (1 = the first).
        attempts: u32,
    },
    /// Invalid shares: the culprits and the evidence block (also sent).
    Culprits {
        /// Who.
        culprits: Vec<ActorId>,
        /// The signed evidence block.
        evidence: Block,
    },
    /// The session gave up (too few members answer).
    Failed(String),
}

/// One attempt's state.
#[derive(Debug, Default)]
struct Attempt {
    session: [u8; 32],
    asked: Vec<ActorId>,
    commitments: BTreeMap<ActorId, SigningCommitments>,
    package: Option<(frost::SigningPackage, Vec<u8>, [u8; 32])>,
    shares: BTreeMap<ActorId, (SignatureShare, Block)>,
    deadline: u64,
}

/// A coordinator's signing session for one target.
pub struct SignSession {
    me: Identity,
    committee: Committee,
    root: Cid,
    public: PublicKeyPackage,
    ids: BTreeMap<ActorId, Identifier>,
    target: SignTarget,
    attempt: u32,
    current: Attempt,
    /// Left out of the next attempts: culprits for good, silent members until too few
    /// remain.
    culprits: BTreeSet<ActorId>,
    silent: BTreeSet<ActorId>,
    finished: bool,
    outputs: VecDeque<SessionOutput>,
}

impl std::fmt::Debug for SignSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignSession")
            .field("target", &self.target)
            .field("attempt", &self.attempt)
            .field("commitments", &self.current.commitments.len())
            .field("shares", &self.current.shares.len())
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl SignSession {
    /// Starts coordinating the signing of `target` with the committee block `committee`
    /// (whose CID is `root`): sends the first request.
    ///
    /// # Errors
    /// [`SignError::Committee`] if it is not a usable FROST committee.
    pub fn start(
        me: Identity,
        committee: Committee,
        root: Cid,
        target: SignTarget,
        now_ms: u64,
    ) -> Result<SignSession, SignError> {
        SignSession::start_excluding(me, committee, root, target, now_ms, [])
    }

    /// [`SignSession::start`] leaving out `culprits` (members proven to send invalid
    /// shares before) from every attempt.
    ///
    /// # Errors
    /// [`SignError::Committee`] if it is not a usable FROST committee.
    pub fn start_excluding(
        me: Identity,
        committee: Committee,
        root: Cid,
        target: SignTarget,
        now_ms: u64,
        culprits: impl IntoIterator<Item = ActorId>,
    ) -> Result<SignSession, SignError> {
        let public = committee.public_package().map_err(SignError::Committee)?;
        let mut ids = BTreeMap::new();
        for m in &committee.members {
            ids.insert(*m, identifier(m).map_err(SignError::Committee)?);
        }
        let mut session = SignSession {
            me,
            committee,
            root,
            public,
            ids,
            target,
            attempt: 0,
            current: Attempt::default(),
            culprits: culprits.into_iter().collect(),
            silent: BTreeSet::new(),
            finished: false,
            outputs: VecDeque::new(),
        };
        session.request(now_ms);
        Ok(session)
    }

    /// The current attempt's session id.
    #[must_use]
    pub fn session(&self) -> [u8; 32] {
        self.current.session
    }

    /// What it signs.
    #[must_use]
    pub fn target(&self) -> &SignTarget {
        &self.target
    }

    /// Whether it ended (signed or gave up).
    #[must_use]
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    fn send(&mut self, body: SignBody) {
        let message = SignMessage {
            group: self.committee.group,
            session: self.current.session,
            from: self.me.id(),
            body,
        };
        match signed_block(message, &self.me) {
            Ok(block) => self.outputs.push_back(SessionOutput::Send(block)),
            Err(e) => self.fail(e.to_string()),
        }
    }

    fn fail(&mut self, why: String) {
        if !self.finished {
            self.finished = true;
            self.outputs.push_back(SessionOutput::Failed(why));
        }
    }

    /// A new attempt: asks every member not excluded.
    fn request(&mut self, now_ms: u64) {
        if self.attempt >= MAX_ATTEMPTS {
            return self.fail(format!("no signature after {MAX_ATTEMPTS} attempts"));
        }
        let t = usize::from(self.committee.threshold);
        let eligible: Vec<ActorId> = self
            .committee
            .members
            .iter()
            .filter(|m| !self.culprits.contains(*m))
            .copied()
            .collect();
        if eligible.len() < t {
            return self.fail(format!(
                "only {} members left after excluding culprits; {t} needed",
                eligible.len()
            ));
        }
        let mut asked: Vec<ActorId> = eligible
            .iter()
            .filter(|m| !self.silent.contains(*m))
            .copied()
            .collect();
        if asked.len() < t {
            // Too few answered last time: ask the silent ones again too.
            self.silent.clear();
            asked = eligible;
        }
        self.attempt += 1;
        let group = self.committee.group;
        self.current = Attempt {
            session: session_id(
                &group,
                &self.root,
                &self.target,
                &self.me.id(),
                self.attempt,
            ),
            asked: asked.clone(),
            deadline: now_ms.saturating_add(ROUND_TIMEOUT_MS),
            ..Attempt::default()
        };
        self.send(SignBody::Request {
            committee: self.root,
            target: self.target,
            attempt: self.attempt,
            asked,
        });
    }

    /// A signing message of the current session (commitments and shares; anything else
    /// is ignored). `block` is the message's block (kept as evidence).
    pub fn handle(&mut self, message: &SignMessage, block: &Block, now_ms: u64) {
        if self.finished
            || message.session != self.current.session
            || message.group != self.committee.group
            || !self.current.asked.contains(&message.from)
        {
            return;
        }
        match &message.body {
            SignBody::Commit { commitments } => {
                self.on_commit(message.from, commitments, now_ms);
            }
            SignBody::Share {
                package_digest,
                share,
            } => self.on_share(message.from, *package_digest, share, block, now_ms),
            SignBody::Request { .. } | SignBody::Package { .. } => {}
        }
    }

    fn on_commit(&mut self, from: ActorId, bytes: &[u8], now_ms: u64) {
        if self.current.package.is_some() || self.current.commitments.contains_key(&from) {
            return;
        }
        let Ok(c) = SigningCommitments::deserialize(bytes) else {
            // Unusable commitments: like silence.
            return;
        };
        self.current.commitments.insert(from, c);
        if self.current.commitments.len() < usize::from(self.committee.threshold) {
            return;
        }
        let commitments: BTreeMap<Identifier, SigningCommitments> = self
            .current
            .commitments
            .iter()
            .filter_map(|(a, c)| Some((*self.ids.get(a)?, *c)))
            .collect();
        let package =
            frost::SigningPackage::new(commitments, &self.target.message(&self.committee.group));
        match package.serialize() {
            Ok(bytes) => {
                let digest: [u8; 32] = Sha256::digest(&bytes).into();
                self.current.package = Some((package, bytes.clone(), digest));
                self.current.deadline = now_ms.saturating_add(ROUND_TIMEOUT_MS);
                let signers = self.current.commitments.keys().copied().collect();
                self.send(SignBody::Package {
                    signers,
                    package: bytes,
                });
            }
            Err(e) => self.fail(e.to_string()),
        }
    }

    fn on_share(
        &mut self,
        from: ActorId,
        digest: [u8; 32],
        bytes: &[u8],
        block: &Block,
        now_ms: u64,
    ) {
        let Some((_, _, expected)) = &self.current.package else {
            return;
        };
        if digest != *expected
            || !self.current.commitments.contains_key(&from)
            || self.current.shares.contains_key(&from)
        {
            return;
        }
        let share = match SignatureShare::deserialize(bytes) {
            Ok(s) => s,
            // Not even a scalar: left out like a culprit (no evidence block: there is
            // nothing for FROST to re-check).
            Err(_) => {
                self.culprits.insert(from);
                return self.request(now_ms);
            }
        };
        self.current.shares.insert(from, (share, block.clone()));
        if self.current.shares.len() == self.current.commitments.len() {
            self.aggregate(now_ms);
        }
    }

    fn aggregate(&mut self, now_ms: u64) {
        let Some((package, package_bytes, _)) = &self.current.package else {
            return;
        };
        let shares: BTreeMap<Identifier, SignatureShare> = self
            .current
            .shares
            .iter()
            .filter_map(|(a, (s, _))| Some((*self.ids.get(a)?, *s)))
            .collect();
        match frost::aggregate_custom(
            package,
            &shares,
            &self.public,
            frost::CheaterDetection::AllCheaters,
        ) {
            Ok(signature) => {
                let bytes = signature.serialize().ok();
                match bytes.and_then(|b| <[u8; 64]>::try_from(b.as_slice()).ok()) {
                    Some(sig) => {
                        self.finished = true;
                        self.outputs.push_back(SessionOutput::Signed {
                            attestation: self.target.attestation(self.committee.group, sig),
                            signers: self.current.shares.keys().copied().collect(),
                            attempts: self.attempt,
                        });
                    }
                    None => self.fail("the signature is not 64 bytes".into()),
                }
            }
            Err(frost::Error::InvalidSignatureShare { culprits }) => {
                let mut named: Vec<ActorId> = culprits
                    .iter()
                    .filter_map(|c| self.ids.iter().find(|(_, i)| *i == c).map(|(a, _)| *a))
                    .collect();
                named.sort();
                let evidence = CulpritEvidence {
                    group: self.committee.group,
                    committee: self.root,
                    reporter: self.me.id(),
                    culprits: named.clone(),
                    package: package_bytes.clone(),
                    shares: self
                        .current
                        .shares
                        .values()
                        .map(|(_, b)| serde_bytes::ByteBuf::from(b.bytes().to_vec()))
                        .collect(),
                };
                match signed_block(evidence, &self.me) {
                    Ok(block) => {
                        self.outputs.push_back(SessionOutput::Send(block.clone()));
                        self.outputs.push_back(SessionOutput::Culprits {
                            culprits: named.clone(),
                            evidence: block,
                        });
                    }
                    Err(e) => return self.fail(e.to_string()),
                }
                self.culprits.extend(named);
                self.request(now_ms);
            }
            Err(e) => self.fail(e.to_string()),
        }
    }

    /// The next deadline (for [`SignSession::handle_timeout`]).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<u64> {
        (!self.finished).then_some(self.current.deadline)
    }

    /// Time passed: a round that did not complete by its deadline becomes a new attempt
    /// without the members who did not answer.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        if self.finished || now_ms < self.current.deadline {
            return;
        }
        let answered: BTreeSet<ActorId> = match &self.current.package {
            Some(_) => self.current.shares.keys().copied().collect(),
            None => self.current.commitments.keys().copied().collect(),
        };
        let silent: Vec<ActorId> = match &self.current.package {
            Some(_) => self
                .current
                .commitments
                .keys()
                .filter(|a| !answered.contains(*a))
                .copied()
                .collect(),
            None => self
                .current
                .asked
                .iter()
                .filter(|a| !answered.contains(*a))
                .copied()
                .collect(),
        };
        self.silent.extend(silent);
        self.request(now_ms);
    }

    /// The next output.
    pub fn poll_output(&mut self) -> Option<SessionOutput> {
        self.outputs.pop_front()
    }
}
