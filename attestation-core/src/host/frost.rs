//! The FROST committee inside [`GovernanceHost`]: committee runs (a DKG, or a resharing
//! that keeps `PK_G`) called by a full admin, the shares this node holds, and signing
//! sessions — as a signer answering requests its own view of the group agrees with, and
//! in turn as a coordinator.
//!
//! Blocks of these protocols arrive with the group's other governance blocks; the host
//! queues them and handles them in [`GovernanceHost::pump`], where time and randomness
//! are at hand.
//!
//! - **Runs.** A [`CommitteeCall`] signed by a full admin of the epoch it names starts a
//!   run at every member it names (and, for a resharing, at the dealers). A member that
//!   finishes keeps its share (the runtime persists it: [`GovOutput::CommitteeShare`]),
//!   publishes the committee block and a signed [`CommitteeResult`]. When every member
//!   named the same committee block, the calling admin's node records it as the next
//!   epoch's `committeeRoot`. A share of a committee that stopped being current is
//!   dropped ([`GovOutput::EraseShare`]).
//! - **Signing.** Every proposal of the current epoch that passes in this node's view gets
//!   a coordinator: committee members take turns in [`coordinators`] order, the `r`-th
//!   starting `r`·[`COORDINATOR_SLOT_MS`] after this node saw the proposal pass, unless an
//!   attestation arrived first. A request is answered only if the proposal passes here
//!   too (held up to a minute while votes arrive), for the current committee and epoch,
//!   with an `issuedAt` within five minutes of this node's clock.

use std::collections::{BTreeMap, VecDeque};

use frost_ed25519::keys::KeyPackage;
use quorate_actor_core::{ActorId, Identity};
use quorate_governance_core::{Outcome, ProposalId};
use quorate_group_core::ops::EpochChange;
use quorate_group_core::{GroupId, GroupState, Member, Permission};
use quorate_mesh_proto::{Block, BlockPayload as _, Cid, Envelope, Instant};
use rand_core::CryptoRngCore;

use super::{GovError, GovOutput, GovernanceHost};
use crate::attestation::verify_attestation;
use crate::committee::{Committee, Scheme};
use crate::execute::MarkerStore;
use crate::frost::call::{CommitteeCall, CommitteeResult, ReshareFrom};
use crate::frost::dkg::{Dkg, DkgConfig, DkgMessage, DkgOutput};
use crate::frost::reshare::{Reshare, ReshareConfig, ReshareMessage, ReshareOutput, deal};
use crate::frost::sign::{
    CulpritEvidence, FrostSigner, MAX_ATTEMPTS, NonceStore, ROUND_TIMEOUT_MS, SessionOutput,
    SignBody, SignMessage, SignSession, SignTarget, coordinators, verify_culprits,
};

/// How long after this node saw a proposal pass the next coordinator in line starts.
pub const COORDINATOR_SLOT_MS: u64 = 3 * ROUND_TIMEOUT_MS;
/// How long a request waits for this node's view to agree.
const REQUEST_TTL_MS: u64 = 60_000;
/// How far `issuedAt` may be from this node's clock.
const MAX_SKEW_MS: u64 = 5 * 60_000;
/// Requests held per group.
const MAX_REQUESTS: usize = 256;
/// Run blocks held before their call arrives, and queued blocks, per group.
const MAX_QUEUED: usize = 4096;
/// Coordinated sessions per group at once.
const MAX_SESSIONS: usize = 64;
/// Calls and results a calling node tracks.
const MAX_CALLS: usize = 8;

/// Whether a block type belongs to the FROST committee protocols.
pub(super) fn is_frost_kind(kind: &str) -> bool {
    [
        CommitteeCall::TYPE,
        CommitteeResult::TYPE,
        DkgMessage::TYPE,
        ReshareMessage::TYPE,
        SignMessage::TYPE,
        CulpritEvidence::TYPE,
    ]
    .contains(&kind)
}

/// One output of a run's machine.
enum Step {
    Send(Block),
    Done(Box<KeyPackage>, Box<frost_ed25519::keys::PublicKeyPackage>),
    Failed(String),
}

enum Run {
    Dkg(Box<Dkg>),
    Reshare(Box<Reshare>),
    /// This node only dealt.
    Dealt,
}

/// One group's FROST state.
#[derive(Default)]
pub(super) struct FrostState {
    /// This node's shares, by committee block.
    signers: BTreeMap<Cid, FrostSigner>,
    /// Shares restored before their committee block arrived.
    pending_keys: BTreeMap<Cid, KeyPackage>,
    /// The run in progress (one per group): its call's CID, the call, the machine.
    run: Option<(Cid, CommitteeCall, Run)>,
    /// Calls this node made: the results received per member.
    calls: BTreeMap<Cid, (CommitteeCall, BTreeMap<ActorId, Cid>)>,
    /// Run blocks whose call is not here yet.
    early: VecDeque<Block>,
    /// Blocks to handle at the next pump.
    pub(super) inbox: VecDeque<Block>,
    /// Requests waiting for this node's view to agree: (request, when it arrived).
    requests: BTreeMap<[u8; 32], (SignMessage, u64)>,
    /// Sessions answered per (coordinator, proposal): a coordinator gets at most
    /// [`MAX_ATTEMPTS`] commitments from this member for one proposal, so an insider
    /// cannot make it burn nonce records without end.
    answered: BTreeMap<(ActorId, ProposalId), u32>,
    /// Sessions this node coordinates.
    sessions: BTreeMap<ProposalId, SignSession>,
    /// When this node first saw each proposal pass.
    passed_at: BTreeMap<ProposalId, u64>,
    /// The committee block current at the last pump.
    last_root: Option<Cid>,
    /// Culprits proven by evidence seen: (culprits, evidence block).
    pub(super) culprits: Vec<(Vec<ActorId>, Cid)>,
}

impl std::fmt::Debug for FrostState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrostState")
            .field("signers", &self.signers.len())
            .field("sessions", &self.sessions.len())
            .finish_non_exhaustive()
    }
}

/// Checks a call against the group: a full admin of the epoch it names calls it, its
/// members are members there; a resharing names that epoch's committee, and dealers
/// from it, `t_old` of them.
fn check_call(
    state: &GroupState,
    call: &CommitteeCall,
    committees: &BTreeMap<Cid, Committee>,
) -> Result<(), String> {
    let (Some((_, genesis)), Some(epoch)) = (state.genesis(), state.epoch(&call.epoch_state))
    else {
        return Err("the call names an epoch not known here".into());
    };
    if epoch.admins(genesis).permission(&call.called_by) != Some(Permission::Full) {
        return Err("only a full admin calls a committee".into());
    }
    if !call.members.iter().all(|m| epoch.members.contains(m)) {
        return Err("every committee member must be a group member".into());
    }
    if let Some(r) = &call.reshare {
        if epoch.state.committee_root != Some(r.committee) {
            return Err("a resharing starts from the epoch's committee".into());
        }
        let old = committees
            .get(&r.committee)
            .ok_or("the old committee block is not here yet")?;
        if old.scheme != Scheme::Frost
            || r.dealers.len() != usize::from(old.threshold)
            || !r.dealers.iter().all(|d| old.members.contains(d))
        {
            return Err("a resharing needs t_old dealers of a FROST committee".into());
        }
    }
    Ok(())
}

fn members_of(state: &GroupState, call: &CommitteeCall) -> Option<Vec<Member>> {
    let epoch = state.epoch(&call.epoch_state)?;
    call.members
        .iter()
        .map(|a| epoch.members.get(a).cloned())
        .collect()
}

impl<M: MarkerStore + NonceStore> GovernanceHost<M> {
    pub(super) fn frost(&mut self, group: GroupId) -> &mut FrostState {
        self.frost.entry(group).or_default()
    }

    /// Calls a DKG among `members` (a new `PK_G`, threshold `threshold`); the actor must
    /// be a full admin. When every member reported the same committee, this node records
    /// it in a new epoch. Returns the call's CID.
    ///
    /// # Errors
    /// [`GovError`].
    pub fn call_committee(
        &mut self,
        group: GroupId,
        members: Vec<ActorId>,
        threshold: u16,
        now: Instant,
    ) -> Result<Cid, GovError> {
        self.call(group, members, threshold, None, now)
    }

    /// Calls a resharing of the current FROST committee's key to `members` with
    /// `threshold` (`PK_G` unchanged); `dealers` are `t_old` old holders (by default the
    /// first `t_old` in id order). Returns the call's CID.
    ///
    /// # Errors
    /// [`GovError`].
    pub fn call_rotation(
        &mut self,
        group: GroupId,
        members: Vec<ActorId>,
        threshold: u16,
        dealers: Option<Vec<ActorId>>,
        now: Instant,
    ) -> Result<Cid, GovError> {
        let state = self.groups.state(&group)?;
        let root = state
            .current()
            .ok_or(GovError::NoEpoch)?
            .state
            .committee_root
            .ok_or_else(|| GovError::Committee("the group has no committee yet".into()))?;
        let old = self
            .committees
            .get(&root)
            .ok_or_else(|| GovError::Committee("the committee block is not here yet".into()))?;
        let mut dealers = dealers.unwrap_or_else(|| {
            old.members
                .iter()
                .take(usize::from(old.threshold))
                .copied()
                .collect()
        });
        dealers.sort();
        dealers.dedup();
        let from = ReshareFrom {
            committee: root,
            dealers,
        };
        self.call(group, members, threshold, Some(from), now)
    }

    fn call(
        &mut self,
        group: GroupId,
        mut members: Vec<ActorId>,
        threshold: u16,
        reshare: Option<ReshareFrom>,
        now: Instant,
    ) -> Result<Cid, GovError> {
        let me = self
            .groups
            .identity()
            .cloned()
            .ok_or(quorate_group_core::host::HostError::NoActor)?;
        let state = self.groups.state(&group)?;
        let current = state.current().ok_or(GovError::NoEpoch)?;
        members.sort();
        members.dedup();
        let call = CommitteeCall {
            group,
            epoch_state: current.cid,
            called_by: me.id(),
            members,
            threshold,
            reshare,
        };
        let block = Envelope::signed(call.clone(), me.signing_key())
            .and_then(|e| e.to_block())
            .map_err(|e| GovError::Object(e.into()))?;
        CommitteeCall::decode(&block)?;
        check_call(state, &call, &self.committees).map_err(GovError::Committee)?;
        let cid = *block.cid();
        let f = self.frost(group);
        while f.calls.len() >= MAX_CALLS {
            f.calls.pop_first();
        }
        f.calls.insert(cid, (call, BTreeMap::new()));
        self.publish(group, block, now);
        Ok(cid)
    }

    /// Records a FROST committee whose shares were made elsewhere (a DKG outside the
    /// group topic, a key ceremony) as the group's committee, in a new epoch made by the
    /// actor, who must be a full admin. Holders give their shares to their hosts with
    /// [`GovernanceHost::hold_frost_share`].
    ///
    /// # Errors
    /// [`GovError`].
    pub fn record_frost_committee(
        &mut self,
        group: GroupId,
        committee: &Committee,
        now: Instant,
        now_ms: u64,
        rng: &mut impl CryptoRngCore,
    ) -> Result<quorate_group_core::host::EpochView, GovError> {
        let block = committee.to_block()?;
        Committee::decode(&block, &group)?;
        if committee.scheme != Scheme::Frost {
            return Err(GovError::Committee("not a FROST committee".into()));
        }
        let change = EpochChange {
            committee: Some(*block.cid()),
            ..EpochChange::default()
        };
        self.publish(group, block, now);
        Ok(self.groups.change(group, &change, now, now_ms, rng)?)
    }

    /// Keeps this node's share of the committee block `committee` (after a restart): the
    /// key package bytes the runtime saved from [`GovOutput::CommitteeShare`].
    ///
    /// # Errors
    /// [`GovError::Committee`] if the bytes are not a key package.
    pub fn hold_frost_share(
        &mut self,
        group: GroupId,
        committee: Cid,
        key_package: &[u8],
    ) -> Result<(), GovError> {
        let key = KeyPackage::deserialize(key_package)
            .map_err(|e| GovError::Committee(format!("not a key package: {e}")))?;
        self.groups.follow(group, Instant::ZERO);
        self.frost(group).pending_keys.insert(committee, key);
        self.want(committee);
        Ok(())
    }

    /// Culprits proven by evidence this node saw in `group`: who, and the evidence block.
    #[must_use]
    pub fn culprits(&self, group: &GroupId) -> Vec<(Vec<ActorId>, Cid)> {
        self.frost
            .get(group)
            .map(|f| f.culprits.clone())
            .unwrap_or_default()
    }

    /// The committee of `group`'s current epoch, if its block is here.
    #[must_use]
    pub fn committee(&self, group: &GroupId) -> Option<&Committee> {
        let root = self
            .groups
            .state(group)
            .ok()?
            .current()?
            .state
            .committee_root?;
        self.committees.get(&root)
    }

    /// Whether this node holds a share of `group`'s current committee.
    #[must_use]
    pub fn holds_share(&self, group: &GroupId) -> bool {
        let root = self
            .groups
            .state(group)
            .ok()
            .and_then(|s| s.current())
            .and_then(|e| e.state.committee_root);
        root.is_some_and(|r| {
            self.frost
                .get(group)
                .is_some_and(|f| f.signers.contains_key(&r))
        })
    }

    /// The FROST duty of one pump.
    pub(super) fn frost_duty(
        &mut self,
        group: GroupId,
        now: Instant,
        now_ms: u64,
        rng: &mut impl CryptoRngCore,
    ) -> usize {
        let Some(me) = self.groups.identity().cloned() else {
            return 0;
        };
        let mut work = 0;
        let inbox: Vec<Block> = self.frost(group).inbox.drain(..).collect();
        for block in inbox {
            work += 1;
            self.frost_block(group, &me, &block, now, now_ms, rng);
        }
        work += self.restore_signers(group, &me);
        work += self.finish_calls(group, now, now_ms, rng);
        self.erase_old_shares(group);
        work += self.coordinate(group, &me, now, now_ms);
        work += self.answer_requests(group, now, now_ms, rng);
        work
    }

    fn frost_block(
        &mut self,
        group: GroupId,
        me: &Identity,
        block: &Block,
        now: Instant,
        now_ms: u64,
        rng: &mut impl CryptoRngCore,
    ) {
        let Ok(header) = block.header() else {
            return;
        };
        match header.kind.as_str() {
            k if k == CommitteeCall::TYPE => self.on_call(group, me, block, now, now_ms, rng),
            k if k == CommitteeResult::TYPE => {
                if let Ok(r) = CommitteeResult::decode(block)
                    && r.group == group
                    && let Some((call, results)) = self.frost(group).calls.get_mut(&r.call)
                    && call.members.contains(&r.from)
                {
                    results.entry(r.from).or_insert(r.committee);
                    if !self.committees.contains_key(&r.committee) {
                        self.want(r.committee);
                    }
                }
            }
            k if k == DkgMessage::TYPE || k == ReshareMessage::TYPE => {
                self.on_run_block(group, block, now, rng);
            }
            k if k == SignMessage::TYPE => self.on_sign_block(group, block, now, now_ms),
            k if k == CulpritEvidence::TYPE => self.on_culprits(group, block),
            _ => {}
        }
    }

    fn on_call(
        &mut self,
        group: GroupId,
        me: &Identity,
        block: &Block,
        now: Instant,
        now_ms: u64,
        rng: &mut impl CryptoRngCore,
    ) {
        let Ok(call) = CommitteeCall::decode(block) else {
            return;
        };
        let Ok(state) = self.groups.state(&group) else {
            return;
        };
        if call.group != group {
            return;
        }
        if let Err(why) = check_call(state, &call, &self.committees) {
            // Perhaps the epoch or the old committee block is on its way: keep it.
            if state.epoch(&call.epoch_state).is_none() || why.contains("not here yet") {
                if let Some(r) = &call.reshare {
                    let c = r.committee;
                    self.want(c);
                }
                self.hold_early(group, block);
            }
            return;
        }
        let cid = *block.cid();
        if self
            .frost
            .get(&group)
            .and_then(|f| f.run.as_ref())
            .is_some_and(|(c, _, _)| *c == cid)
        {
            return;
        }
        let Some(members) = members_of(state, &call) else {
            return;
        };
        let session = CommitteeCall::session(&cid);
        let run = match &call.reshare {
            None if call.members.contains(&me.id()) => {
                let config = DkgConfig {
                    group,
                    session,
                    members,
                    threshold: call.threshold,
                };
                Some(Run::Dkg(Box::new(Dkg::start(config, me.clone(), rng))))
            }
            None => None,
            Some(from) => {
                let Some(old) = self.committees.get(&from.committee).cloned() else {
                    return;
                };
                let config = ReshareConfig {
                    session,
                    old,
                    dealers: from.dealers.clone(),
                    members,
                    threshold: call.threshold,
                };
                let dealt = self
                    .frost
                    .get(&group)
                    .and_then(|f| f.signers.get(&from.committee))
                    .filter(|_| from.dealers.contains(&me.id()))
                    .map(|s| deal(&config, me, s.key_package(), rng));
                match dealt {
                    Some(Ok(b)) => self.publish(group, b, now),
                    Some(Err(e)) => self.outputs.push_back(GovOutput::CommitteeRun {
                        group,
                        call: cid,
                        what: format!("cannot deal: {e}"),
                    }),
                    None => {}
                }
                if call.members.contains(&me.id()) {
                    Some(Run::Reshare(Box::new(Reshare::new(config, me.clone()))))
                } else {
                    Some(Run::Dealt)
                }
            }
        };
        let Some(run) = run else {
            return;
        };
        self.frost(group).run = Some((cid, call, run));
        self.drain_run(group, now);
        // Blocks of this run that came first.
        let f = self.frost(group);
        let early: Vec<Block> = f.early.drain(..).collect();
        for b in early {
            self.frost_block(group, me, &b, now, now_ms, rng);
        }
    }

    fn hold_early(&mut self, group: GroupId, block: &Block) {
        let f = self.frost(group);
        if f.early.len() >= MAX_QUEUED {
            f.early.pop_front();
        }
        f.early.push_back(block.clone());
    }

    fn on_run_block(
        &mut self,
        group: GroupId,
        block: &Block,
        now: Instant,
        rng: &mut impl CryptoRngCore,
    ) {
        let session = DkgMessage::decode(block)
            .map(|m| m.session)
            .or_else(|_| ReshareMessage::decode(block).map(|m| m.session));
        let Ok(session) = session else {
            return;
        };
        let f = self.frost(group);
        match &mut f.run {
            Some((cid, _, run)) if CommitteeCall::session(cid) == session => match run {
                Run::Dkg(dkg) => dkg.handle(block, rng),
                Run::Reshare(r) => r.handle(block),
                Run::Dealt => {}
            },
            _ => self.hold_early(group, block),
        }
        self.drain_run(group, now);
    }

    fn drain_run(&mut self, group: GroupId, now: Instant) {
        loop {
            let f = self.frost(group);
            let Some((cid, call, run)) = &mut f.run else {
                return;
            };
            let (cid, call) = (*cid, call.clone());
            let out = match run {
                Run::Dkg(d) => d.poll_output().map(|o| match o {
                    DkgOutput::Send(b) => Step::Send(b),
                    DkgOutput::Done {
                        key_package,
                        public,
                        ..
                    } => Step::Done(key_package, public),
                    DkgOutput::Failed(e) => Step::Failed(e.to_string()),
                }),
                Run::Reshare(r) => r.poll_output().map(|o| match o {
                    ReshareOutput::Send(b) => Step::Send(b),
                    ReshareOutput::Done {
                        key_package,
                        public,
                        ..
                    } => Step::Done(key_package, public),
                    ReshareOutput::Failed(e) => Step::Failed(e.to_string()),
                }),
                Run::Dealt => None,
            };
            match out {
                None => return,
                Some(Step::Send(block)) => self.publish(group, block, now),
                Some(Step::Done(key, public)) => {
                    self.frost(group).run = None;
                    self.finish_run(group, cid, &call, *key, &public, now);
                }
                Some(Step::Failed(why)) => {
                    self.frost(group).run = None;
                    self.outputs.push_back(GovOutput::CommitteeRun {
                        group,
                        call: cid,
                        what: format!("failed: {why}"),
                    });
                }
            }
        }
    }

    /// A run this node took part in completed: keep the share, publish the committee
    /// block and this member's result.
    fn finish_run(
        &mut self,
        group: GroupId,
        call_cid: Cid,
        call: &CommitteeCall,
        key: KeyPackage,
        public: &frost_ed25519::keys::PublicKeyPackage,
        now: Instant,
    ) {
        let Some(me) = self.groups.identity().cloned() else {
            return;
        };
        let made = Committee::frost(group, &call.members, public).and_then(|c| {
            let block = c.to_block().map_err(|e| e.to_string())?;
            let signer = FrostSigner::new(me.clone(), &c, *block.cid(), key.clone())
                .map_err(|e| e.to_string())?;
            let bytes = key.serialize().map_err(|e| e.to_string())?;
            let result = CommitteeResult {
                group,
                call: call_cid,
                from: me.id(),
                committee: *block.cid(),
            };
            let result = Envelope::signed(result, me.signing_key())
                .and_then(|e| e.to_block())
                .map_err(|e| e.to_string())?;
            Ok((c, block, signer, bytes, result))
        });
        match made {
            Ok((c, block, signer, bytes, result)) => {
                let root = *block.cid();
                self.frost(group).signers.insert(root, signer);
                self.publish(group, block, now);
                self.publish(group, result, now);
                self.outputs.push_back(GovOutput::CommitteeShare {
                    group,
                    committee: root,
                    key_package: super::SecretBytes::new(bytes),
                });
                self.outputs.push_back(GovOutput::CommitteeRun {
                    group,
                    call: call_cid,
                    what: format!(
                        "holding a share of {}-of-{} committee {root}",
                        c.threshold,
                        c.members.len()
                    ),
                });
            }
            Err(why) => self.outputs.push_back(GovOutput::CommitteeRun {
                group,
                call: call_cid,
                what: format!("failed: {why}"),
            }),
        }
    }

    /// Shares restored before their committee block arrived become signers.
    fn restore_signers(&mut self, group: GroupId, me: &Identity) -> usize {
        let ready: Vec<Cid> = self
            .frost
            .get(&group)
            .map(|f| {
                f.pending_keys
                    .keys()
                    .filter(|c| self.committees.contains_key(*c))
                    .copied()
                    .collect()
            })
            .unwrap_or_default();
        let mut work = 0;
        for root in ready {
            let Some(committee) = self.committees.get(&root).cloned() else {
                continue;
            };
            let f = self.frost(group);
            let Some(key) = f.pending_keys.remove(&root) else {
                continue;
            };
            match FrostSigner::new(me.clone(), &committee, root, key) {
                Ok(s) => {
                    f.signers.insert(root, s);
                    work += 1;
                }
                Err(e) => self.outputs.push_back(GovOutput::CommitteeRun {
                    group,
                    call: root,
                    what: format!("a saved share does not fit its committee: {e}"),
                }),
            }
        }
        work
    }

    /// As the calling admin: records the committee every member reported.
    fn finish_calls(
        &mut self,
        group: GroupId,
        now: Instant,
        now_ms: u64,
        rng: &mut impl CryptoRngCore,
    ) -> usize {
        let Some(f) = self.frost.get(&group) else {
            return 0;
        };
        let complete: Vec<(Cid, CommitteeCall, Vec<Cid>)> = f
            .calls
            .iter()
            .filter(|(_, (call, results))| results.len() == call.members.len())
            .map(|(cid, (call, results))| {
                let mut named: Vec<Cid> = results.values().copied().collect();
                named.sort();
                named.dedup();
                (*cid, call.clone(), named)
            })
            .collect();
        let mut work = 0;
        for (cid, call, named) in complete {
            let [root] = named.as_slice() else {
                self.frost(group).calls.remove(&cid);
                self.outputs.push_back(GovOutput::CommitteeRun {
                    group,
                    call: cid,
                    what: "members derived different committees: not recorded".into(),
                });
                continue;
            };
            let Some(committee) = self.committees.get(root) else {
                continue;
            };
            let old_key = call
                .reshare
                .as_ref()
                .and_then(|r| self.committees.get(&r.committee))
                .map(|c| c.group_key);
            let fits = committee.members == call.members
                && committee.threshold == call.threshold
                && committee.scheme == Scheme::Frost
                && old_key.is_none_or(|k| k == committee.group_key);
            let root = *root;
            self.frost(group).calls.remove(&cid);
            work += 1;
            if !fits {
                self.outputs.push_back(GovOutput::CommitteeRun {
                    group,
                    call: cid,
                    what: "the reported committee does not match the call".into(),
                });
                continue;
            }
            let change = EpochChange {
                committee: Some(root),
                ..EpochChange::default()
            };
            let what = match self.groups.change(group, &change, now, now_ms, rng) {
                Ok(e) => format!("committee {root} recorded in epoch {}", e.epoch),
                Err(e) => format!("cannot record the committee: {e}"),
            };
            self.outputs.push_back(GovOutput::CommitteeRun {
                group,
                call: cid,
                what,
            });
        }
        work
    }

    /// Drops the share of a committee that stopped being the current one.
    fn erase_old_shares(&mut self, group: GroupId) {
        let current = self
            .groups
            .state(&group)
            .ok()
            .and_then(|s| s.current())
            .and_then(|e| e.state.committee_root);
        let f = self.frost(group);
        let last = f.last_root;
        f.last_root = current;
        if let Some(old) = last
            && Some(old) != current
            && f.signers.remove(&old).is_some()
        {
            self.outputs.push_back(GovOutput::EraseShare {
                group,
                committee: old,
            });
        }
    }

    fn on_sign_block(&mut self, group: GroupId, block: &Block, now: Instant, now_ms: u64) {
        let Ok(m) = SignMessage::decode(block) else {
            return;
        };
        if m.group != group {
            return;
        }
        let mut store_error = None;
        let mut share = None;
        {
            let Some(f) = self.frost.get_mut(&group) else {
                return;
            };
            match &m.body {
                SignBody::Request { committee, .. } => {
                    let is_member = self
                        .committees
                        .get(committee)
                        .is_some_and(|c| c.members.contains(&m.from));
                    if is_member && f.signers.contains_key(committee) {
                        while f.requests.len() >= MAX_REQUESTS {
                            f.requests.pop_first();
                        }
                        f.requests.entry(m.session).or_insert((m, now_ms));
                    }
                }
                SignBody::Package { .. } => {
                    for signer in f.signers.values_mut() {
                        match signer.sign(&m, self.engine.markers_mut()) {
                            Ok(b) => {
                                share = Some(b);
                                break;
                            }
                            Err(crate::frost::sign::SignError::Store(e)) => store_error = Some(e),
                            Err(_) => {}
                        }
                    }
                }
                SignBody::Commit { .. } | SignBody::Share { .. } => {
                    for s in f.sessions.values_mut() {
                        if s.session() == m.session {
                            s.handle(&m, block, now_ms);
                        }
                    }
                }
            }
        }
        if let Some(e) = store_error {
            self.outputs.push_back(GovOutput::CommitteeRun {
                group,
                call: *block.cid(),
                what: format!("nonce store failed: {e}"),
            });
        }
        if let Some(b) = share {
            self.publish(group, b, now);
        }
        self.drain_sessions(group, now);
    }

    fn on_culprits(&mut self, group: GroupId, block: &Block) {
        let Ok(e) = CulpritEvidence::decode(block) else {
            return;
        };
        let Some(committee) = self.committees.get(&e.committee) else {
            self.want(e.committee);
            return;
        };
        if let Ok(culprits) = verify_culprits(&e, committee) {
            let f = self.frost(group);
            if f.culprits.iter().all(|(_, c)| c != block.cid()) && f.culprits.len() < MAX_QUEUED {
                f.culprits.push((culprits.clone(), *block.cid()));
                self.outputs.push_back(GovOutput::Culprits {
                    group,
                    culprits,
                    evidence: *block.cid(),
                });
            }
        }
    }

    /// The current committee, if it is FROST and this node holds a share of it.
    fn current_frost(&self, group: &GroupId) -> Option<(Cid, Committee, Cid, u64)> {
        let current = self.groups.state(group).ok()?.current()?;
        let root = current.state.committee_root?;
        let committee = self.committees.get(&root)?;
        if committee.scheme != Scheme::Frost || !self.frost.get(group)?.signers.contains_key(&root)
        {
            return None;
        }
        Some((root, committee.clone(), current.cid, current.state.epoch))
    }

    fn passes(&self, group: &GroupId, proposal: &ProposalId, now_ms: u64) -> bool {
        self.tally(group, proposal, now_ms)
            .is_some_and(|e| matches!(e.outcome, Outcome::Passed { .. }))
    }

    /// Starts a session for each passed, unattested proposal whose coordinator slot for
    /// this node has come.
    fn coordinate(&mut self, group: GroupId, me: &Identity, now: Instant, now_ms: u64) -> usize {
        let Some((root, committee, epoch_state, epoch)) = self.current_frost(&group) else {
            return 0;
        };
        let Some(gov) = self.gov.get(&group) else {
            return 0;
        };
        let candidates: Vec<ProposalId> = gov
            .ballots
            .proposals()
            .filter(|(id, p)| p.epoch_state == epoch_state && !gov.attestations.contains_key(*id))
            .map(|(id, _)| *id)
            .collect();
        let mut work = 0;
        for id in candidates {
            if !self.passes(&group, &id, now_ms) {
                continue;
            }
            let f = self.frost(group);
            if f.sessions.contains_key(&id) || f.sessions.len() >= MAX_SESSIONS {
                continue;
            }
            let seen = *f.passed_at.entry(id).or_insert(now_ms);
            let rank = coordinators(&committee, &id)
                .iter()
                .position(|m| *m == me.id())
                .unwrap_or(usize::MAX);
            let slot = u64::try_from(rank)
                .unwrap_or(u64::MAX)
                .saturating_mul(COORDINATOR_SLOT_MS);
            if now_ms < seen.saturating_add(slot) {
                continue;
            }
            let target = SignTarget {
                proposal: id,
                epoch,
                issued_at: now_ms,
            };
            let known: Vec<ActorId> = f.culprits.iter().flat_map(|(c, _)| c.clone()).collect();
            if let Ok(s) = SignSession::start_excluding(
                me.clone(),
                committee.clone(),
                root,
                target,
                now_ms,
                known,
            ) {
                self.frost(group).sessions.insert(id, s);
                work += 1;
            }
        }
        // Time passes for the running sessions.
        if let Some(f) = self.frost.get_mut(&group) {
            for s in f.sessions.values_mut() {
                s.handle_timeout(now_ms);
            }
        }
        self.drain_sessions(group, now);
        work
    }

    fn drain_sessions(&mut self, group: GroupId, now: Instant) {
        let mut outputs = Vec::new();
        if let Some(f) = self.frost.get_mut(&group) {
            for (id, s) in &mut f.sessions {
                while let Some(o) = s.poll_output() {
                    outputs.push((*id, o));
                }
            }
            f.sessions.retain(|_, s| !s.is_finished());
        }
        for (proposal, o) in outputs {
            match o {
                SessionOutput::Send(b) => self.publish(group, b, now),
                SessionOutput::Signed { attestation, .. } => {
                    let key = self.group_key(&group);
                    if key.is_some_and(|k| verify_attestation(&k, &attestation).is_ok()) {
                        self.publish_attestation(group, attestation, now);
                    }
                }
                SessionOutput::Culprits { culprits, evidence } => {
                    let f = self.frost(group);
                    if f.culprits.iter().all(|(_, c)| c != evidence.cid()) {
                        f.culprits.push((culprits.clone(), *evidence.cid()));
                        self.outputs.push_back(GovOutput::Culprits {
                            group,
                            culprits,
                            evidence: *evidence.cid(),
                        });
                    }
                }
                SessionOutput::Failed(why) => self.outputs.push_back(GovOutput::NotExecuted {
                    group,
                    proposal,
                    why: format!("the committee could not sign: {why}"),
                }),
            }
        }
    }

    /// Answers the requests this node's view agrees with.
    fn answer_requests(
        &mut self,
        group: GroupId,
        now: Instant,
        now_ms: u64,
        rng: &mut impl CryptoRngCore,
    ) -> usize {
        let Some((root, _, epoch_state, epoch)) = self.current_frost(&group) else {
            return 0;
        };
        let pending: Vec<([u8; 32], SignMessage, u64)> = self
            .frost
            .get(&group)
            .map(|f| {
                f.requests
                    .iter()
                    .map(|(s, (m, at))| (*s, m.clone(), *at))
                    .collect()
            })
            .unwrap_or_default();
        let mut work = 0;
        for (session, m, at) in pending {
            let SignBody::Request {
                committee, target, ..
            } = &m.body
            else {
                continue;
            };
            let proposal_epoch = self
                .gov
                .get(&group)
                .and_then(|g| g.ballots.proposal(&target.proposal))
                .map(|p| p.epoch_state);
            let agrees = *committee == root
                && target.epoch == epoch
                && proposal_epoch == Some(epoch_state)
                && target.issued_at.abs_diff(now_ms) <= MAX_SKEW_MS
                && self.passes(&group, &target.proposal, now_ms);
            let expired = now_ms.saturating_sub(at) > REQUEST_TTL_MS || *committee != root;
            if !agrees {
                if expired && let Some(f) = self.frost.get_mut(&group) {
                    f.requests.remove(&session);
                }
                continue;
            }
            let mut commit = None;
            if let Some(f) = self.frost.get_mut(&group) {
                f.requests.remove(&session);
                let key = (m.from, target.proposal);
                let answered = f.answered.get(&key).copied().unwrap_or(0);
                if answered < MAX_ATTEMPTS
                    && let Some(signer) = f.signers.get_mut(&root)
                {
                    while f.answered.len() >= MAX_QUEUED {
                        f.answered.pop_first();
                    }
                    f.answered.insert(key, answered.saturating_add(1));
                    commit = Some(signer.commit(&m, self.engine.markers_mut(), rng));
                }
            }
            match commit {
                Some(Ok(b)) => {
                    work += 1;
                    self.publish(group, b, now);
                }
                Some(Err(crate::frost::sign::SignError::Store(e))) => {
                    self.outputs.push_back(GovOutput::CommitteeRun {
                        group,
                        call: root,
                        what: format!("nonce store failed: {e}"),
                    });
                }
                _ => {}
            }
        }
        work
    }
}
