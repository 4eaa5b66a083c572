//! The duties a pump runs: recheck waiting votes, verify attestations, attest as the
//! committee, offer attested jobs to the engine.

use quorate_governance_core::{Outcome, ProposalId};
use quorate_group_core::GroupId;
use quorate_group_core::host::HostOutput;
use quorate_mesh_proto::mesh::Input;
use quorate_mesh_proto::{Block, Cid, Instant};
use rand_core::CryptoRngCore;

use super::{Evidence, GovOutput, GovernanceHost};
use crate::attestation::{GroupAttestation, verify_attestation};
use crate::execute::{Effect, Job, MarkerStore, NotRun};
use crate::frost::sign::NonceStore;

impl<M: MarkerStore + NonceStore> GovernanceHost<M> {
    pub(super) fn duties(
        &mut self,
        now: Instant,
        now_ms: u64,
        load: &mut impl FnMut(&Cid) -> Option<Block>,
        rng: &mut impl CryptoRngCore,
    ) -> usize {
        let mut work = 0;
        let mut groups: Vec<GroupId> = self.gov.keys().copied().collect();
        groups.extend(self.frost.keys().filter(|g| !self.gov.contains_key(*g)));
        for group in groups {
            let Ok(state) = self.groups.state(&group) else {
                continue;
            };
            if let Some(gov) = self.gov.get_mut(&group) {
                gov.ballots.recheck(state);
            }
            work += self.verify_attestations(group, load);
            work += self.attest(group, now, now_ms);
            work += self.frost_duty(group, now, now_ms, rng);
            work += self.execute(group, now, now_ms, rng);
        }
        work
    }

    /// The group key of the committee named by the epoch state `epoch_state`; asks for
    /// the committee block if it is missing.
    fn key_for_epoch(
        &mut self,
        group: GroupId,
        epoch_state: &Cid,
        load: &mut impl FnMut(&Cid) -> Option<Block>,
    ) -> Option<[u8; 32]> {
        let root = self
            .groups
            .state(&group)
            .ok()?
            .epoch(epoch_state)?
            .state
            .committee_root?;
        if !self.committees.contains_key(&root) {
            if let Some(block) = load(&root) {
                self.take(group, &block);
            } else if self.wanted.insert(root) {
                self.outputs
                    .push_back(GovOutput::Host(HostOutput::Mesh(Input::Want {
                        cid: root,
                        priority: 64,
                    })));
            }
        }
        self.committees.get(&root).map(|c| c.group_key)
    }

    /// Moves attestations that verify under their epoch's committee key to the verified
    /// set; drops those that cannot ever verify.
    fn verify_attestations(
        &mut self,
        group: GroupId,
        load: &mut impl FnMut(&Cid) -> Option<Block>,
    ) -> usize {
        let pending: Vec<(Cid, GroupAttestation)> = self
            .gov
            .get(&group)
            .map(|g| g.unverified.iter().map(|(c, a)| (*c, a.clone())).collect())
            .unwrap_or_default();
        let mut work = 0;
        for (cid, a) in pending {
            let Some(proposal) = self
                .gov
                .get(&group)
                .and_then(|g| g.ballots.proposal(&a.proposal))
                .cloned()
            else {
                continue;
            };
            let Some(key) = self.key_for_epoch(group, &proposal.epoch_state, load) else {
                continue;
            };
            let Some(gov) = self.gov.get_mut(&group) else {
                continue;
            };
            gov.unverified.remove(&cid);
            if a.epoch == proposal.epoch && verify_attestation(&key, &a).is_ok() {
                gov.attestations.entry(a.proposal).or_insert((a, cid));
                work += 1;
            }
        }
        work
    }

    /// As the committee of the current epoch: attests every passed proposal not attested
    /// yet, with its evidence.
    fn attest(&mut self, group: GroupId, now: Instant, now_ms: u64) -> usize {
        let Some(committee) = self.keys.get(&group) else {
            return 0;
        };
        let Ok(state) = self.groups.state(&group) else {
            return 0;
        };
        let Some(current) = state.current() else {
            return 0;
        };
        let Some(gov) = self.gov.get(&group) else {
            return 0;
        };
        let candidates: Vec<ProposalId> = gov
            .ballots
            .proposals()
            .filter(|(id, p)| p.epoch_state == current.cid && !gov.attestations.contains_key(*id))
            .map(|(id, _)| *id)
            .collect();
        let mut made = Vec::new();
        for id in candidates {
            let passed = gov
                .ballots
                .tally(&id, state, now_ms)
                .is_some_and(|e| matches!(e.outcome, Outcome::Passed { .. }));
            if !passed {
                continue;
            }
            let (Some(proposal), votes) = (
                gov.ballots.proposal(&id),
                gov.ballots.votes(&id).cloned().collect::<Vec<_>>(),
            ) else {
                continue;
            };
            if let Ok(attested) = committee.attest_proposal(state, &id, proposal, &votes, now_ms) {
                made.push(attested.attestation);
            }
        }
        let n = made.len();
        for attestation in made {
            self.publish_attestation(group, attestation, now);
        }
        n
    }

    /// Publishes an attestation this node's committee key (or FROST session) made, with
    /// its evidence (the votes held for the proposal) and the ledger entry; records it.
    pub(super) fn publish_attestation(
        &mut self,
        group: GroupId,
        attestation: GroupAttestation,
        now: Instant,
    ) {
        let Ok(block) = attestation.to_block() else {
            return;
        };
        let cid = *block.cid();
        let votes = self
            .gov
            .get(&group)
            .map(|g| g.ballots.vote_cids(&attestation.proposal))
            .unwrap_or_default();
        let evidence = Evidence {
            group,
            proposal: attestation.proposal,
            attestation: cid,
            votes,
        };
        if let Some(gov) = self.gov.get_mut(&group) {
            gov.attestations
                .entry(attestation.proposal)
                .or_insert((attestation.clone(), cid));
        }
        self.publish(group, block, now);
        if let Ok(block) = quorate_mesh_proto::Envelope::unsigned(evidence).to_block() {
            let cid = *block.cid();
            self.publish(group, block, now);
            self.append_ledger(group, cid, now);
        }
        self.outputs
            .push_back(GovOutput::Attested { group, attestation });
    }

    /// Adds an evidence block to this committee's ledger; publishes and announces it.
    fn append_ledger(&mut self, group: GroupId, evidence: Cid, now: Instant) {
        let gov = self.gov(group);
        gov.ledger.push(evidence);
        let excess = gov.ledger.len().saturating_sub(super::MAX_LEDGER);
        gov.ledger.drain(..excess);
        let ledger = super::Ledger {
            group,
            evidence: gov.ledger.clone(),
        };
        let seq = gov.ledger.len() as u64;
        if let Ok(block) = quorate_mesh_proto::Envelope::unsigned(ledger).to_block() {
            let head = quorate_mesh_proto::mesh::Head {
                name: super::ledger_head(&group),
                seq,
                cid: *block.cid(),
            };
            // Taking its own ledger in announces it.
            let _ = head;
            self.publish(group, block, now);
        }
    }

    /// Offers every verified attestation not offered yet to the engine.
    fn execute(
        &mut self,
        group: GroupId,
        now: Instant,
        now_ms: u64,
        rng: &mut impl CryptoRngCore,
    ) -> usize {
        let Some(gov) = self.gov.get(&group) else {
            return 0;
        };
        let jobs: Vec<Job> = gov
            .attestations
            .iter()
            .filter(|(id, _)| !gov.offered.contains(*id))
            .filter_map(|(id, (a, _))| {
                let proposal = gov.ballots.proposal(id)?.clone();
                let payload = proposal
                    .action_payload
                    .and_then(|c| gov.ballots.payload(&c).cloned());
                Some(Job {
                    id: *id,
                    proposal,
                    attestation: a.clone(),
                    payload,
                })
            })
            .collect();
        let mut work = 0;
        for job in jobs {
            let Some(key) = self.committee_key_of(group, &job) else {
                continue;
            };
            let Ok(state) = self.groups.state(&group) else {
                continue;
            };
            let begun = self.engine.begin(&job, &key, state, now_ms);
            if let Some(gov) = self.gov.get_mut(&group) {
                // A store failure is retried next pump; everything else is final here.
                if !matches!(begun, Err(NotRun::Store(_))) {
                    gov.offered.insert(job.id);
                }
            }
            work += 1;
            match begun {
                Ok(b) => self.carry_out(group, &job, b.effect, b.resumed, now, now_ms, rng),
                Err(NotRun::AlreadyDone) => {}
                Err(e) => self.outputs.push_back(GovOutput::NotExecuted {
                    group,
                    proposal: job.id,
                    why: e.to_string(),
                }),
            }
        }
        work
    }

    fn committee_key_of(&self, group: GroupId, job: &Job) -> Option<[u8; 32]> {
        let root = self
            .groups
            .state(&group)
            .ok()?
            .epoch(&job.proposal.epoch_state)?
            .state
            .committee_root?;
        self.committees.get(&root).map(|c| c.group_key)
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "one call site; the parts of one job"
    )]
    fn carry_out(
        &mut self,
        group: GroupId,
        job: &Job,
        effect: Effect,
        resumed: bool,
        now: Instant,
        now_ms: u64,
        rng: &mut impl CryptoRngCore,
    ) {
        match effect {
            Effect::Epoch(change) => match self.groups.change(group, &change, now, now_ms, rng) {
                Ok(epoch) => {
                    self.finished(
                        group,
                        &job.id,
                        format!("{} → epoch {}", job.proposal.action_type, epoch.epoch),
                    );
                }
                // Not an admin here (or the group moved): another admin's node runs it.
                Err(e) => self.outputs.push_back(GovOutput::NotExecuted {
                    group,
                    proposal: job.id,
                    why: e.to_string(),
                }),
            },
            Effect::HttpPost { url, body, key } => self.outputs.push_back(GovOutput::Http {
                group,
                proposal: job.id,
                url,
                body,
                key,
                resumed,
            }),
            Effect::Committee { members, threshold } => {
                let current = self.committee(&group).cloned();
                if current.is_some_and(|c| c.members == members && c.threshold == threshold) {
                    return self.finished(group, &job.id, "already in effect".into());
                }
                match self.call_rotation(group, members, threshold, None, now) {
                    Ok(call) => self.finished(
                        group,
                        &job.id,
                        format!("{} → resharing called ({call})", job.proposal.action_type),
                    ),
                    // Not a full admin here: an admin's node calls it.
                    Err(e) => self.outputs.push_back(GovOutput::NotExecuted {
                        group,
                        proposal: job.id,
                        why: e.to_string(),
                    }),
                }
            }
            Effect::Nothing => self.finished(group, &job.id, "already in effect".into()),
        }
    }

    /// The runtime carried out a job's effect (an HTTP POST succeeded): records it done.
    pub fn finished(&mut self, group: GroupId, proposal: &ProposalId, what: String) {
        match self.engine.finish(proposal) {
            Ok(()) => self.outputs.push_back(GovOutput::Executed {
                group,
                proposal: *proposal,
                what,
            }),
            Err(e) => {
                // Stays Started: offered again on the next run.
                if let Some(gov) = self.gov.get_mut(&group) {
                    gov.offered.remove(proposal);
                }
                self.outputs.push_back(GovOutput::NotExecuted {
                    group,
                    proposal: *proposal,
                    why: e.to_string(),
                });
            }
        }
    }
}
