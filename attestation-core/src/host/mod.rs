//! [`GovernanceHost`]: a node's group layer with governance — group-core's
//! [`GroupHost`] plus, per group, the [`Ballots`] (proposals, payloads, verified votes),
//! the attestations seen (verified under the group key of their epoch's committee), the
//! committee duty if this node holds the group key, and the execution engine.
//!
//! Governance blocks travel on the group's topic like everything else; the host takes
//! them out before the group machine sees them. Duties, run by [`GovernanceHost::pump`]:
//!
//! - **Committee** (the node holding `PK_G`'s key for the group's current epoch): every
//!   proposal of the current epoch whose held votes pass its rule is attested; the
//!   attestation and an [`Evidence`] block (the vote CIDs it counted) go on the topic, so
//!   members who missed votes fetch exactly those and reach the same evaluation.
//! - **Execution**: every verified attestation is offered to the engine; internal effects
//!   (a new epoch) are carried out here when the actor is an admin; an HTTP POST is
//!   handed to the runtime as [`GovOutput::Http`], which calls
//!   [`GovernanceHost::finished`] once it succeeded.
//!
//! Drive it like [`GroupHost`]: events in, `pump`, outputs out
//! ([`GovOutput::Host`] wraps the group host's outputs unchanged).

mod commands;
mod duties;
mod frost;
mod views;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use quorate_governance_core::{BallotLimits, Ballots, ProposalId, Taken, is_governance_block};
use quorate_group_core::host::{GroupHost, HostOutput, Keep};
use quorate_group_core::{GroupId, group_of_name};
use quorate_mesh_proto::mesh::{Event, Head, Input};
use quorate_mesh_proto::{Block, BlockPayload as _, Cid, Duration, Instant, PinClass};
use rand_core::CryptoRngCore;
use serde::{Deserialize, Serialize};

use crate::attestation::GroupAttestation;
use crate::committee::{Committee, SingleKeyCommittee};
use crate::execute::{ExecutionEngine, MarkerStore};
use crate::frost::sign::NonceStore;

pub use commands::GovError;
pub use frost::COORDINATOR_SLOT_MS;
pub use views::{AttestationView, ProposalView};

/// Evidence of an attestation: the votes the committee counted, so every member can
/// fetch the same ones.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// The group.
    pub group: GroupId,
    /// The proposal.
    pub proposal: ProposalId,
    /// The attestation block.
    pub attestation: Cid,
    /// The vote blocks counted, sorted.
    pub votes: Vec<Cid>,
}

impl quorate_mesh_proto::BlockPayload for Evidence {
    const TYPE: &'static str = "governance-evidence";
    const VERSION: u32 = 1;
    const PIN: quorate_mesh_proto::PinClass = quorate_mesh_proto::PinClass::Vote;
}

/// The committee's ledger of a group: the evidence blocks of every attestation it made,
/// oldest first (the last [`MAX_LEDGER`]). Announced as the head `group/<id>/ledger`, so
/// a member who was away fetches what it missed: ledger → evidence → attestation,
/// proposal, payload and the votes counted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ledger {
    /// The group.
    pub group: GroupId,
    /// Evidence block CIDs.
    pub evidence: Vec<Cid>,
}

impl quorate_mesh_proto::BlockPayload for Ledger {
    const TYPE: &'static str = "governance-ledger";
    const VERSION: u32 = 1;
    const PIN: quorate_mesh_proto::PinClass = quorate_mesh_proto::PinClass::Vote;
}

/// Blocks wanted, committee blocks, and attestation and evidence blocks per group, held
/// at most (all of them are named or sent by peers).
const MAX_HELD: usize = 16_384;
/// Attestations waiting to be verified, per group.
const MAX_UNVERIFIED: usize = 1024;
/// Entries a ledger keeps.
pub const MAX_LEDGER: usize = 4096;
/// Missing blocks asked for again per query round at most.
const MAX_REWANT: usize = 1024;
/// How often the host asks peers for the ledger heads of its groups (and again for the
/// blocks it still misses).
const LEDGER_QUERY: Duration = Duration::from_secs(5);

/// The head naming a group's ledger.
#[must_use]
pub fn ledger_head(group: &GroupId) -> String {
    format!("{}/ledger", group.topic().as_str())
}

/// Secret bytes (a key package): debug-printed as their length only, zeroed on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    /// Wraps secret bytes.
    #[must_use]
    pub fn new(bytes: Vec<u8>) -> SecretBytes {
        SecretBytes(bytes)
    }

    /// The bytes (to persist them).
    #[must_use]
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretBytes(<{} bytes>)", self.0.len())
    }
}

impl Drop for SecretBytes {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

/// What the runtime must do, or may want to know.
#[derive(Debug)]
#[non_exhaustive]
pub enum GovOutput {
    /// An output of the group host (mesh inputs, blocks to keep, invite outcomes).
    Host(HostOutput),
    /// POST `body` to `url` with `Idempotency-Key: key`, then call
    /// [`GovernanceHost::finished`] with `proposal` if it succeeded.
    Http {
        /// The group.
        group: GroupId,
        /// The proposal (the job).
        proposal: ProposalId,
        /// Where.
        url: String,
        /// The JSON body.
        body: Vec<u8>,
        /// The idempotency key (the proposal id).
        key: String,
        /// This resumes a run interrupted before it finished.
        resumed: bool,
    },
    /// This node's committee key attested a proposal.
    Attested {
        /// The group.
        group: GroupId,
        /// The attestation.
        attestation: GroupAttestation,
    },
    /// A job ran (or was found already in effect).
    Executed {
        /// The group.
        group: GroupId,
        /// The proposal.
        proposal: ProposalId,
        /// What happened, for people.
        what: String,
    },
    /// This node holds a new share of `PK_G` for the committee block `committee`:
    /// persist `key_package` (secret) and give it back with
    /// [`GovernanceHost::hold_frost_share`] after a restart.
    CommitteeShare {
        /// The group.
        group: GroupId,
        /// The committee block.
        committee: Cid,
        /// `frost-ed25519`'s key package serialisation.
        key_package: SecretBytes,
    },
    /// The committee `committee` stopped being current: erase its saved share.
    EraseShare {
        /// The group.
        group: GroupId,
        /// The committee block.
        committee: Cid,
    },
    /// A committee run (DKG, resharing) progressed, finished or failed.
    CommitteeRun {
        /// The group.
        group: GroupId,
        /// The call (or committee block).
        call: Cid,
        /// What happened, for people.
        what: String,
    },
    /// Evidence proved that committee members sent invalid signature shares.
    Culprits {
        /// The group.
        group: GroupId,
        /// Who.
        culprits: Vec<quorate_actor_core::ActorId>,
        /// The evidence block (signed by its reporter, re-checkable by anyone).
        evidence: Cid,
    },
    /// A job cannot run here, for a reason worth telling.
    NotExecuted {
        /// The group.
        group: GroupId,
        /// The proposal.
        proposal: ProposalId,
        /// Why.
        why: String,
    },
}

/// One group's governance state.
#[derive(Debug)]
struct Gov {
    ballots: Ballots,
    /// Verified attestations by proposal: (attestation, its block's CID).
    attestations: BTreeMap<ProposalId, (GroupAttestation, Cid)>,
    /// Attestations not verifiable yet (committee block or proposal missing).
    unverified: BTreeMap<Cid, GroupAttestation>,
    /// Jobs offered to the engine in this run (each once; a failed store retries).
    offered: BTreeSet<ProposalId>,
    /// Evidence blocks taken in.
    evidence: BTreeSet<Cid>,
    /// Attestation blocks taken in.
    attestation_blocks: BTreeSet<Cid>,
    /// The evidence this node attested, as the committee (its ledger).
    ledger: Vec<Cid>,
    /// The newest ledger block seen or made, and its length.
    ledger_block: Option<Cid>,
    ledger_seq: Option<u64>,
}

impl Gov {
    fn new(group: GroupId) -> Gov {
        Gov {
            ballots: Ballots::new(group, BallotLimits::default()),
            attestations: BTreeMap::new(),
            unverified: BTreeMap::new(),
            offered: BTreeSet::new(),
            evidence: BTreeSet::new(),
            attestation_blocks: BTreeSet::new(),
            ledger: Vec::new(),
            ledger_block: None,
            ledger_seq: None,
        }
    }
}

/// A node's groups with governance.
pub struct GovernanceHost<M: MarkerStore + NonceStore> {
    groups: GroupHost,
    gov: BTreeMap<GroupId, Gov>,
    committees: BTreeMap<Cid, Committee>,
    keys: BTreeMap<GroupId, SingleKeyCommittee>,
    frost: BTreeMap<GroupId, frost::FrostState>,
    engine: ExecutionEngine<M>,
    /// Blocks asked for by CID (ledger, evidence, attestations, proposals, votes,
    /// payloads, committee blocks).
    wanted: BTreeSet<Cid>,
    next_query: Option<Instant>,
    outputs: VecDeque<GovOutput>,
}

impl<M: MarkerStore + NonceStore> std::fmt::Debug for GovernanceHost<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GovernanceHost")
            .field("groups", &self.gov.len())
            .field("keys", &self.keys.len())
            .finish_non_exhaustive()
    }
}

/// Whether a block is one this layer handles (governance, attestation, evidence,
/// ledger, committee).
fn is_ours(block: &Block) -> bool {
    is_governance_block(block)
        || block.header().is_ok_and(|h| {
            [
                GroupAttestation::TYPE,
                Evidence::TYPE,
                Committee::TYPE,
                Ledger::TYPE,
            ]
            .contains(&h.kind.as_str())
                || frost::is_frost_kind(&h.kind)
        })
}

/// The group whose ledger head `name` is.
fn ledger_of(name: &str) -> Option<GroupId> {
    group_of_name(name).filter(|g| name == ledger_head(g))
}

impl<M: MarkerStore + NonceStore> GovernanceHost<M> {
    /// Governance over `groups`, executing with `engine`.
    pub fn new(groups: GroupHost, engine: ExecutionEngine<M>) -> Self {
        GovernanceHost {
            groups,
            gov: BTreeMap::new(),
            committees: BTreeMap::new(),
            keys: BTreeMap::new(),
            frost: BTreeMap::new(),
            engine,
            wanted: BTreeSet::new(),
            next_query: None,
            outputs: VecDeque::new(),
        }
    }

    /// The group host.
    pub fn groups(&self) -> &GroupHost {
        &self.groups
    }

    /// The group host, for its commands (create, invite, send…).
    pub fn groups_mut(&mut self) -> &mut GroupHost {
        &mut self.groups
    }

    /// The execution engine (its markers).
    pub fn engine(&self) -> &ExecutionEngine<M> {
        &self.engine
    }

    fn gov(&mut self, group: GroupId) -> &mut Gov {
        self.gov.entry(group).or_insert_with(|| Gov::new(group))
    }

    /// After a restart: follows the groups of the heads this node announced before and
    /// rebuilds them from the store — group heads through the group host, ledger heads
    /// here (ledger → evidence → attestations, proposals, votes, loaded or fetched).
    pub fn restore(&mut self, now: Instant, heads: impl IntoIterator<Item = Head>) {
        let heads: Vec<Head> = heads.into_iter().collect();
        for head in &heads {
            if let Some(group) = ledger_of(&head.name) {
                self.groups.follow(group, now);
                self.want(head.cid);
            }
        }
        self.groups.restore(now, heads);
    }

    /// A mesh event.
    pub fn on_event(&mut self, now: Instant, now_ms: u64, event: &Event) {
        match event {
            Event::Delivered { topic, block, .. } if is_ours(block) => {
                if let Some(group) = group_of_name(topic.as_str()) {
                    self.groups.follow(group, now);
                    self.take(group, block);
                }
                return;
            }
            // The group machine must not see ledger heads (it would take the ledger for
            // a group block and blame the announcer).
            Event::HeadUpdated { head, .. } if ledger_of(&head.name).is_some() => {
                if let Some(group) = ledger_of(&head.name) {
                    let known = self
                        .gov
                        .get(&group)
                        .is_some_and(|g| g.ledger_block == Some(head.cid));
                    if !known {
                        self.want(head.cid);
                    }
                }
                return;
            }
            Event::Fetched { block, .. } if self.wanted.remove(block.cid()) => {
                let groups: Vec<GroupId> = self.groups.machines().map(|(g, _)| *g).collect();
                for group in groups {
                    self.take(group, block);
                }
            }
            _ => {}
        }
        self.groups.on_event(now, now_ms, event);
    }

    /// Asks peers for a block (once until it arrives).
    fn want(&mut self, cid: Cid) {
        // Peers name what is wanted (evidence lists votes): bounded.
        if self.wanted.len() < MAX_HELD && self.wanted.insert(cid) {
            self.outputs
                .push_back(GovOutput::Host(HostOutput::Mesh(Input::Want {
                    cid,
                    priority: 64,
                })));
        }
    }

    /// A governance block of `group` (delivered, fetched, or made here).
    fn take(&mut self, group: GroupId, block: &Block) {
        let Ok(header) = block.header() else {
            return;
        };
        let cid = *block.cid();
        let mut missing: Vec<Cid> = Vec::new();
        match header.kind.as_str() {
            k if frost::is_frost_kind(k) => {
                // Handled at the next pump, with time and randomness at hand.
                let f = self.frost(group);
                if f.inbox.len() < MAX_HELD {
                    f.inbox.push_back(block.clone());
                }
            }
            k if k == Committee::TYPE => {
                if let Ok(c) = Committee::decode(block, &group)
                    && self.committees.len() < MAX_HELD
                {
                    self.committees.insert(cid, c);
                }
            }
            k if k == GroupAttestation::TYPE => {
                if let Ok(a) = GroupAttestation::decode(block)
                    && a.group == group
                {
                    let gov = self.gov(group);
                    if gov.unverified.len() < MAX_UNVERIFIED
                        && gov.attestation_blocks.len() < MAX_HELD
                        && gov.attestation_blocks.insert(cid)
                    {
                        gov.unverified.insert(cid, a);
                    }
                }
            }
            k if k == Ledger::TYPE => {
                if let Ok(l) = block.decode::<Ledger>()
                    && l.payload.group == group
                {
                    let gov = self.gov(group);
                    let seq = l.payload.evidence.len() as u64;
                    let newer = gov.ledger_seq.is_none_or(|s| seq > s);
                    if newer {
                        gov.ledger_block = Some(cid);
                        gov.ledger_seq = Some(seq);
                        // Every holder announces it, as members announce group heads, so
                        // a member back from away finds it from whoever it reaches.
                        let head = Head {
                            name: ledger_head(&group),
                            seq,
                            cid,
                        };
                        self.outputs
                            .push_back(GovOutput::Host(HostOutput::Mesh(Input::SetHead(head))));
                    }
                    let gov = self.gov(group);
                    missing.extend(
                        l.payload
                            .evidence
                            .iter()
                            .rev()
                            .take(MAX_LEDGER)
                            .filter(|c| !gov.evidence.contains(*c)),
                    );
                }
            }
            k if k == Evidence::TYPE => {
                if let Ok(e) = block.decode::<Evidence>()
                    && e.payload.group == group
                {
                    let e = e.payload;
                    let gov = self.gov(group);
                    if gov.evidence.len() >= MAX_HELD {
                        return;
                    }
                    gov.evidence.insert(cid);
                    if !gov.attestation_blocks.contains(&e.attestation) {
                        missing.push(e.attestation);
                    }
                    if gov.ballots.proposal(&e.proposal).is_none() {
                        missing.push(e.proposal);
                    }
                    missing.extend(
                        e.votes
                            .iter()
                            .take(20_000)
                            .filter(|v| !gov.ballots.has_vote(v)),
                    );
                }
            }
            _ => {
                let Ok(state) = self.groups.state(&group) else {
                    return;
                };
                let gov = self.gov.entry(group).or_insert_with(|| Gov::new(group));
                if let Taken::Proposal(id) = gov.ballots.insert(block, state)
                    && let Some(payload) = gov.ballots.proposal(&id).and_then(|p| p.action_payload)
                    && gov.ballots.payload(&payload).is_none()
                {
                    missing.push(payload);
                }
            }
        }
        for cid in missing {
            self.want(cid);
        }
        let member = self.groups.identity().is_some_and(|me| {
            self.groups
                .state(&group)
                .ok()
                .and_then(|s| s.current())
                .is_some_and(|e| e.members.contains(&me.id()))
        });
        if member {
            self.outputs.push_back(GovOutput::Host(HostOutput::Keep {
                block: block.clone(),
                keep: Keep::Pin(PinClass::Vote),
            }));
        }
    }

    /// Publishes a block this node made on `group`'s topic, and takes it in.
    fn publish(&mut self, group: GroupId, block: Block, now: Instant) {
        // Published first, then kept (a store keeps what the mesh published).
        self.groups.publish(group, [block.clone()], now);
        while let Some(o) = self.groups.poll_output() {
            self.outputs.push_back(GovOutput::Host(o));
        }
        self.take(group, &block);
    }

    /// Runs the group host, then the governance duties; returns how much happened.
    pub fn pump(
        &mut self,
        now: Instant,
        now_ms: u64,
        mut load: impl FnMut(&Cid) -> Option<Block>,
        rng: &mut impl CryptoRngCore,
    ) -> usize {
        if self.next_query.is_none_or(|t| t <= now) {
            self.next_query = Some(now + LEDGER_QUERY);
            let names: Vec<String> = self
                .groups
                .machines()
                .map(|(g, _)| ledger_head(g))
                .collect();
            if !names.is_empty() {
                self.outputs
                    .push_back(GovOutput::Host(HostOutput::Mesh(Input::QueryHeads(names))));
            }
            // Ask again for everything still missing (a mesh want gives up when no peer
            // has the block, or the node was away); what is here now is taken in.
            let missing: Vec<Cid> = self.wanted.iter().take(MAX_REWANT).copied().collect();
            for cid in missing {
                if let Some(block) = load(&cid) {
                    self.wanted.remove(&cid);
                    let groups: Vec<GroupId> = self.groups.machines().map(|(g, _)| *g).collect();
                    for group in groups {
                        self.take(group, &block);
                    }
                } else {
                    self.outputs
                        .push_back(GovOutput::Host(HostOutput::Mesh(Input::Want {
                            cid,
                            priority: 64,
                        })));
                }
            }
        }
        let mut work = self.groups.pump(now, now_ms, &mut load, rng);
        work += self.take_stored(&mut load);
        work += self.duties(now, now_ms, &mut load, rng);
        while let Some(o) = self.groups.poll_output() {
            self.outputs.push_back(GovOutput::Host(o));
        }
        work
    }

    /// Takes in the wanted blocks the store has (after a restart, most of them), until
    /// none is left.
    fn take_stored(&mut self, load: &mut impl FnMut(&Cid) -> Option<Block>) -> usize {
        let mut work = 0;
        for _ in 0..16 {
            let found: Vec<Block> = self
                .wanted
                .iter()
                .take(MAX_REWANT)
                .filter_map(&mut *load)
                .collect();
            if found.is_empty() {
                break;
            }
            for block in found {
                self.wanted.remove(block.cid());
                let groups: Vec<GroupId> = self.groups.machines().map(|(g, _)| *g).collect();
                for group in groups {
                    self.take(group, &block);
                }
                work += 1;
            }
        }
        work
    }

    /// The next output.
    pub fn poll_output(&mut self) -> Option<GovOutput> {
        self.outputs.pop_front()
    }

    /// The earliest timer.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.groups.poll_timeout(), self.next_query]
            .into_iter()
            .flatten()
            .min()
    }
}
