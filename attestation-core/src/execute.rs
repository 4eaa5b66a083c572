//! The execution engine ("trigger X"): attested proposals become effects, each exactly
//! once per proposal id.
//!
//! An [`ActionHandlerRegistry`] maps action types to handlers. A handler does no IO: it
//! *plans* an [`Effect`] — a change of the group's epoch (internal actions: `ADD_MEMBER`,
//! `REMOVE_MEMBER`, `ROTATE_KEY`, `CHANGE_POLICY`, see [`internal`]) or an HTTP POST
//! (external actions such as `TRIGGER_X`) — which the runtime carries out.
//!
//! [`ExecutionEngine::begin`] runs only for a valid attestation under the group key, whose
//! epoch is the proposal's and the group's current one, within the proposal's validity
//! window (`createdAt` to `expiresAt` + [`DECISION_WINDOW_MS`]), for a registered action
//! type. It records a `Started` marker in the [`MarkerStore`] *before* returning the
//! effect; the runtime calls [`ExecutionEngine::finish`] once the effect is done, which
//! records `Done`. A proposal marked `Done` never runs again, across restarts (the runtime
//! persists markers, e.g. in redb). One marked `Started` but not `Done` — a crash while
//! its effect was under way — is resumed: its effect is planned again with the same
//! idempotency key (the proposal id), so effects must be idempotent by that key: internal
//! changes are (a member already removed is not removed twice), and the HTTP POST carries
//! it as `Idempotency-Key` for the receiver to deduplicate. That is the honest form of
//! "exactly once" with an external system: at-least-once delivery, exactly-once effect
//! for receivers that honour the key, and exactly one delivery whenever the crash happens
//! before the effect starts (the test kills the node there).

use std::collections::BTreeMap;

use quorate_governance_core::{ActionPayload, DECISION_WINDOW_MS, Proposal, ProposalId};
use quorate_group_core::ops::EpochChange;
use quorate_group_core::{GroupState, Rule};

use crate::attestation::{AttestationError, GroupAttestation, verify_attestation};

/// Internal action types.
pub mod internal {
    /// Add the member(s) named by the payload.
    pub const ADD_MEMBER: &str = "ADD_MEMBER";
    /// Remove the member named by the payload (a new epoch and key).
    pub const REMOVE_MEMBER: &str = "REMOVE_MEMBER";
    /// Rotate the epoch key.
    pub const ROTATE_KEY: &str = "ROTATE_KEY";
    /// Replace the voting rules.
    pub const CHANGE_POLICY: &str = "CHANGE_POLICY";
    /// Reshare the FROST committee's key to the holders and threshold the payload names
    /// (`PK_G` unchanged).
    pub const ROTATE_COMMITTEE: &str = "ROTATE_COMMITTEE";
}

/// The handlers of the internal actions, for the node of an admin (who signs the new
/// epoch). Each is idempotent: a change already in effect plans [`Effect::Nothing`].
#[must_use]
pub fn internal_handlers() -> ActionHandlerRegistry {
    let mut r = ActionHandlerRegistry::new();
    r.register(
        internal::REMOVE_MEMBER,
        |job: &Job, state: &GroupState| match payload(job)? {
            ActionPayload::RemoveMember(actor) if is_member(state, &actor) => {
                Ok(Effect::Epoch(EpochChange {
                    remove: vec![actor],
                    ..EpochChange::default()
                }))
            }
            ActionPayload::RemoveMember(_) => Ok(Effect::Nothing),
            _ => Err("REMOVE_MEMBER needs an actor to remove".to_owned()),
        },
    );
    r.register(
        internal::ADD_MEMBER,
        |job: &Job, state: &GroupState| match payload(job)? {
            ActionPayload::AddMember(m) if !is_member(state, &m.actor) => {
                Ok(Effect::Epoch(EpochChange {
                    add: vec![m],
                    ..EpochChange::default()
                }))
            }
            ActionPayload::AddMember(_) => Ok(Effect::Nothing),
            _ => Err("ADD_MEMBER needs a member record".to_owned()),
        },
    );
    r.register(internal::ROTATE_KEY, |job: &Job, state: &GroupState| {
        // Rotated already if the group moved past the proposal's epoch.
        let current = state.current().map(|e| e.state.epoch);
        Ok(if current == Some(job.proposal.epoch) {
            Effect::Epoch(EpochChange::default())
        } else {
            Effect::Nothing
        })
    });
    r.register(
        internal::ROTATE_COMMITTEE,
        |job: &Job, _: &GroupState| match payload(job)? {
            ActionPayload::Committee { members, threshold } => {
                Ok(Effect::Committee { members, threshold })
            }
            _ => Err("ROTATE_COMMITTEE needs the new holders and threshold".to_owned()),
        },
    );
    r.register(internal::CHANGE_POLICY, |job: &Job, state: &GroupState| {
        let ActionPayload::ChangePolicy(rules) = payload(job)? else {
            return Err("CHANGE_POLICY needs the new rules".to_owned());
        };
        let current: Vec<Rule> = state
            .current()
            .map(|e| {
                e.policy
                    .rules
                    .iter()
                    .filter(|r| !matches!(r, Rule::Admins { .. }))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        Ok(if current == rules {
            Effect::Nothing
        } else {
            Effect::Epoch(EpochChange {
                rules: Some(rules),
                ..EpochChange::default()
            })
        })
    });
    r
}

fn payload(job: &Job) -> Result<ActionPayload, String> {
    let block = job
        .payload
        .as_ref()
        .ok_or("the proposal's payload block is missing")?;
    if Some(*block.cid()) != job.proposal.action_payload {
        return Err("the payload block is not the one the proposal names".to_owned());
    }
    ActionPayload::decode(block).map_err(|e| format!("bad payload: {e}"))
}

fn is_member(state: &GroupState, actor: &quorate_actor_core::ActorId) -> bool {
    state.current().is_some_and(|e| e.members.contains(actor))
}

/// An attested proposal, ready to run.
#[derive(Clone, Debug)]
pub struct Job {
    /// The proposal's id.
    pub id: ProposalId,
    /// The proposal.
    pub proposal: Proposal,
    /// Its attestation.
    pub attestation: GroupAttestation,
    /// The action's payload block, decoded by the handler (if the proposal names one).
    pub payload: Option<quorate_mesh_proto::Block>,
}

/// What the runtime must do for a job.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Effect {
    /// Make the group's next epoch with this change (an admin's node signs it).
    Epoch(EpochChange),
    /// POST `body` to `url` with header `Idempotency-Key: key`.
    HttpPost {
        /// The URL (`http://127.0.0.1:PORT/…`).
        url: String,
        /// The request body (JSON).
        body: Vec<u8>,
        /// The proposal id, for the receiver to deduplicate.
        key: String,
    },
    /// Call a resharing of the group key to `members` with `threshold` (an admin's node
    /// calls it; the host skips it if the current committee already is that).
    Committee {
        /// The new holders, sorted.
        members: Vec<quorate_actor_core::ActorId>,
        /// Signers needed.
        threshold: u16,
    },
    /// Nothing left to do (the change is already in effect).
    Nothing,
}

/// A handler: plans the effect of a job against the group's current state.
pub trait ActionHandler {
    /// The effect of `job`, or why it cannot run.
    ///
    /// # Errors
    /// A reason, for people.
    fn plan(&self, job: &Job, state: &GroupState) -> Result<Effect, String>;
}

impl<F: Fn(&Job, &GroupState) -> Result<Effect, String>> ActionHandler for F {
    fn plan(&self, job: &Job, state: &GroupState) -> Result<Effect, String> {
        self(job, state)
    }
}

/// Action type → handler.
#[derive(Default)]
pub struct ActionHandlerRegistry {
    handlers: BTreeMap<String, Box<dyn ActionHandler>>,
}

impl std::fmt::Debug for ActionHandlerRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.handlers.keys()).finish()
    }
}

impl ActionHandlerRegistry {
    /// An empty registry.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `handler` for `action_type` (replacing any earlier one).
    pub fn register(&mut self, action_type: &str, handler: impl ActionHandler + 'static) {
        self.handlers
            .insert(action_type.to_owned(), Box::new(handler));
    }

    /// Whether `action_type` has a handler.
    #[must_use]
    pub fn handles(&self, action_type: &str) -> bool {
        self.handlers.contains_key(action_type)
    }

    fn get(&self, action_type: &str) -> Option<&dyn ActionHandler> {
        self.handlers.get(action_type).map(AsRef::as_ref)
    }
}

/// What is recorded per proposal id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Marker {
    /// The effect was handed out and may be under way.
    Started,
    /// The effect completed.
    Done,
}

/// Where markers are kept. The node keeps them in redb, durably, before acting.
pub trait MarkerStore {
    /// Why the store failed.
    type Error: std::fmt::Display;
    /// The marker of `id`.
    ///
    /// # Errors
    /// The store failed.
    fn get(&self, id: &ProposalId) -> Result<Option<Marker>, Self::Error>;
    /// Records `marker` for `id`, durably, before returning.
    ///
    /// # Errors
    /// The store failed (the engine then does not act).
    fn put(&mut self, id: &ProposalId, marker: Marker) -> Result<(), Self::Error>;
}

/// Markers in memory (tests, and nodes that accept re-running after a restart): the
/// execution markers and the FROST nonce-use records.
#[derive(Clone, Debug, Default)]
pub struct MemoryMarkers {
    /// Execution markers.
    pub markers: BTreeMap<ProposalId, Marker>,
    /// Nonce-use records.
    pub nonces: crate::frost::sign::MemoryNonces,
}

impl MarkerStore for MemoryMarkers {
    type Error = std::convert::Infallible;
    fn get(&self, id: &ProposalId) -> Result<Option<Marker>, Self::Error> {
        Ok(self.markers.get(id).copied())
    }
    fn put(&mut self, id: &ProposalId, marker: Marker) -> Result<(), Self::Error> {
        self.markers.insert(*id, marker);
        Ok(())
    }
}

impl crate::frost::sign::NonceStore for MemoryMarkers {
    type Error = std::convert::Infallible;
    fn reserve(&mut self, session: &[u8; 32]) -> Result<Option<u64>, Self::Error> {
        self.nonces.reserve(session)
    }
    fn get(&self, session: &[u8; 32]) -> Result<Option<crate::frost::sign::NonceUse>, Self::Error> {
        crate::frost::sign::NonceStore::get(&self.nonces, session)
    }
    fn mark_signed(&mut self, session: &[u8; 32]) -> Result<(), Self::Error> {
        self.nonces.mark_signed(session)
    }
}

/// Why a job does not run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotRun {
    /// It already ran (marker `Done`).
    #[error("already executed")]
    AlreadyDone,
    /// The attestation does not verify under the group key.
    #[error("the attestation does not verify: {0}")]
    BadAttestation(AttestationError),
    /// The attestation is for another proposal.
    #[error("the attestation is for another proposal")]
    WrongProposal,
    /// The attestation's, the proposal's and the group's current epoch differ.
    #[error("epoch mismatch: attestation {attestation}, proposal {proposal}, group {current}")]
    EpochMismatch {
        /// The attestation's epoch.
        attestation: u64,
        /// The proposal's.
        proposal: u64,
        /// The group's current one.
        current: u64,
    },
    /// Outside `createdAt ..= expiresAt + DECISION_WINDOW_MS`.
    #[error("outside the proposal's validity window")]
    OutsideWindow,
    /// No handler for the action type.
    #[error("no handler for action type {0}")]
    NoHandler(String),
    /// The handler refused.
    #[error("the handler refused: {0}")]
    Handler(String),
    /// The marker store failed (nothing was run).
    #[error("the marker store failed: {0}")]
    Store(String),
}

/// A job allowed to run: carry out `effect`, then call [`ExecutionEngine::finish`].
#[derive(Clone, Debug)]
pub struct Begun {
    /// The proposal id (the idempotency key).
    pub id: ProposalId,
    /// What to do.
    pub effect: Effect,
    /// True if this resumes a run that may have started before a crash.
    pub resumed: bool,
}

/// The engine: a registry and a marker store.
#[derive(Debug)]
pub struct ExecutionEngine<S: MarkerStore> {
    registry: ActionHandlerRegistry,
    markers: S,
}

impl<S: MarkerStore> ExecutionEngine<S> {
    /// An engine with these handlers and markers.
    pub fn new(registry: ActionHandlerRegistry, markers: S) -> Self {
        ExecutionEngine { registry, markers }
    }

    /// The marker store.
    pub fn markers(&self) -> &S {
        &self.markers
    }

    /// The marker store, to write other durable records next to the markers (the FROST
    /// nonce-use records).
    pub fn markers_mut(&mut self) -> &mut S {
        &mut self.markers
    }

    /// Checks `job` against the group key `group_key`, the group's current `state` and the
    /// time; records `Started` and returns the effect to carry out.
    ///
    /// # Errors
    /// [`NotRun`]: nothing was recorded and nothing must be done.
    pub fn begin(
        &mut self,
        job: &Job,
        group_key: &[u8; 32],
        state: &GroupState,
        now_ms: u64,
    ) -> Result<Begun, NotRun> {
        let store = |e: S::Error| NotRun::Store(e.to_string());
        let marker = self.markers.get(&job.id).map_err(store)?;
        if marker == Some(Marker::Done) {
            return Err(NotRun::AlreadyDone);
        }
        verify_attestation(group_key, &job.attestation).map_err(NotRun::BadAttestation)?;
        if job.attestation.proposal != job.id {
            return Err(NotRun::WrongProposal);
        }
        let current = state.current().map_or(u64::MAX, |e| e.state.epoch);
        // A resumed REMOVE_MEMBER may already have moved the group on: its epoch check is
        // against the epoch it started in.
        let epochs_match = job.attestation.epoch == job.proposal.epoch
            && (job.proposal.epoch == current || marker == Some(Marker::Started));
        if !epochs_match {
            return Err(NotRun::EpochMismatch {
                attestation: job.attestation.epoch,
                proposal: job.proposal.epoch,
                current,
            });
        }
        let end = job.proposal.expires_at.saturating_add(DECISION_WINDOW_MS);
        if now_ms < job.proposal.created_at || now_ms > end {
            return Err(NotRun::OutsideWindow);
        }
        let handler = self
            .registry
            .get(&job.proposal.action_type)
            .ok_or_else(|| NotRun::NoHandler(job.proposal.action_type.clone()))?;
        let effect = handler.plan(job, state).map_err(NotRun::Handler)?;
        if marker.is_none() {
            self.markers.put(&job.id, Marker::Started).map_err(store)?;
        }
        Ok(Begun {
            id: job.id,
            effect,
            resumed: marker == Some(Marker::Started),
        })
    }

    /// The effect of `id` completed: records `Done` (it never runs again).
    ///
    /// # Errors
    /// The marker store failed: the job stays `Started` and is resumed later.
    pub fn finish(&mut self, id: &ProposalId) -> Result<(), NotRun> {
        self.markers
            .put(id, Marker::Done)
            .map_err(|e| NotRun::Store(e.to_string()))
    }
}
