//! Governance in the tab: propose, vote, read tallies and attestations, and (for a tab
//! whose actor is a full admin) become the group's committee — alone (`setCommittee`, a
//! single key) or by calling a FROST DKG among the members (`callCommittee`). The tab runs
//! the same `GovernanceHost` as the native node; it executes internal actions when its
//! actor is an admin, never external ones. Committee keys and FROST shares held here live
//! in memory only: the tab stops signing when it closes (a native node keeps them on
//! disk). What the host reports besides its group outputs (committee runs, attestations,
//! executions, culprits) is kept in a short per-group log for the page.

use std::collections::{BTreeMap, VecDeque};

use js_sys::Array;
use quorate_actor_core::ActorId;
use quorate_attestation_core::host::{GovError, GovOutput, ProposalView};
use quorate_attestation_core::{MAX_COMMITTEE, Scheme, SingleKeyCommittee};
use quorate_governance_core::{ActionPayload, VoteValue};
use quorate_group_core::GroupId;
use quorate_mesh_proto::Cid;
use wasm_bindgen::{JsError, JsValue};

use super::State;
use super::actor::obj;
use super::groups::{Groups, num, parse_actor, parse_group};
use crate::browser;
use crate::node::actor::now_ms;

/// Log entries kept per group.
const MAX_LOG: usize = 32;
/// Groups with a log at most.
const MAX_LOGGED_GROUPS: usize = 64;
/// Execution outcomes kept.
const MAX_EXECUTIONS: usize = 256;
/// Longest voting time the page may ask for, in minutes (30 days).
const MAX_MINUTES: f64 = 30.0 * 24.0 * 60.0;
/// Shortest voting time, in milliseconds.
const MIN_VOTING_MS: f64 = 1000.0;

/// One thing the governance host reported: when (Unix ms), what kind, what for people.
#[derive(Debug, Clone)]
struct Note {
    at: u64,
    kind: &'static str,
    text: String,
}

/// What the governance host reported besides its group outputs.
#[derive(Debug, Default)]
pub(in crate::node) struct GovNotes {
    log: BTreeMap<GroupId, VecDeque<Note>>,
    /// Proposal → (ran here, what happened or why not).
    executions: BTreeMap<Cid, (bool, String)>,
}

fn short(id: &impl std::fmt::Display) -> String {
    let text = id.to_string();
    let cut: String = text.chars().take(12).collect();
    format!("{cut}…")
}

impl GovNotes {
    fn push(&mut self, group: GroupId, at: u64, kind: &'static str, text: String) {
        if !self.log.contains_key(&group) && self.log.len() >= MAX_LOGGED_GROUPS {
            self.log.pop_first();
        }
        let log = self.log.entry(group).or_default();
        if log.len() >= MAX_LOG {
            log.pop_front();
        }
        log.push_back(Note { at, kind, text });
    }

    fn executed(&mut self, proposal: Cid, ran: bool, what: String) {
        if let Some((true, _)) = self.executions.get(&proposal) {
            return;
        }
        if !self.executions.contains_key(&proposal) && self.executions.len() >= MAX_EXECUTIONS {
            self.executions.pop_first();
        }
        self.executions.insert(proposal, (ran, what));
    }

    /// Keeps what `output` says (a group output is not for this log).
    pub(super) fn record(&mut self, at: u64, output: GovOutput) {
        match output {
            GovOutput::CommitteeRun { group, what, .. } => {
                self.push(group, at, "committee", what);
            }
            GovOutput::CommitteeShare {
                group, committee, ..
            } => self.push(
                group,
                at,
                "share",
                format!(
                    "this tab holds a share of committee {} (in memory only)",
                    short(&committee)
                ),
            ),
            GovOutput::EraseShare { group, committee } => self.push(
                group,
                at,
                "share",
                format!(
                    "committee {} is no longer current: share dropped",
                    short(&committee)
                ),
            ),
            GovOutput::Attested { group, attestation } => self.push(
                group,
                at,
                "attested",
                format!(
                    "this tab signed the attestation of {}",
                    short(&attestation.proposal)
                ),
            ),
            GovOutput::Executed {
                group,
                proposal,
                what,
            } => {
                self.push(
                    group,
                    at,
                    "executed",
                    format!("{}: {what}", short(&proposal)),
                );
                self.executed(proposal, true, what);
            }
            GovOutput::NotExecuted {
                group,
                proposal,
                why,
            } => {
                self.push(
                    group,
                    at,
                    "not-executed",
                    format!("{}: {why}", short(&proposal)),
                );
                self.executed(proposal, false, why);
            }
            GovOutput::Culprits {
                group, culprits, ..
            } => {
                let who: Vec<String> = culprits.iter().map(short).collect();
                self.push(
                    group,
                    at,
                    "culprits",
                    format!("invalid signature shares proven against {}", who.join(", ")),
                );
            }
            _ => {}
        }
    }
}

fn gov_err(e: GovError) -> JsError {
    JsError::new(&e.to_string())
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn proposal_js(p: &ProposalView, execution: Option<&(bool, String)>) -> JsValue {
    let attestation = p.attestation.as_ref().map_or(JsValue::NULL, |a| {
        obj(&[
            ("group", a.group.as_str().into()),
            ("epoch", num(a.epoch)),
            ("proposal", a.proposal.as_str().into()),
            ("signedMessageHash", a.signed_message_hash.as_str().into()),
            ("groupSignature", a.group_signature.as_str().into()),
            ("issuedAt", num(a.issued_at)),
        ])
    });
    obj(&[
        ("proposal", p.proposal.as_str().into()),
        ("action", p.action.as_str().into()),
        ("by", p.by.as_str().into()),
        ("epoch", num(p.epoch)),
        ("expiresAt", num(p.expires_at)),
        ("outcome", p.outcome.as_str().into()),
        ("yes", num(p.yes)),
        ("no", num(p.no)),
        ("eligible", num(p.eligible)),
        ("needed", p.needed.map_or(JsValue::NULL, num)),
        ("attestation", attestation),
        (
            "execution",
            execution.map_or(JsValue::NULL, |(ran, what)| {
                obj(&[("ran", (*ran).into()), ("what", what.as_str().into())])
            }),
        ),
    ])
}

impl State {
    /// Makes this tab the committee of `group` (a fresh group key, recorded in a new
    /// epoch); returns `PK_G` in hex.
    pub(in crate::node) fn set_committee(&mut self, group: &str) -> Result<String, JsError> {
        let group = parse_group(group)?;
        let Groups { gov, rng, .. } = &mut self.groups;
        let me = gov
            .groups()
            .identity()
            .map(|i| i.id())
            .ok_or_else(|| JsError::new("no unlocked actor"))?;
        let committee = SingleKeyCommittee::generate(me, rng);
        let key = committee.group_key();
        gov.set_committee(group, committee, browser::now(), now_ms(), rng)
            .map_err(gov_err)?;
        Ok(hex(&key))
    }

    pub(in crate::node) fn propose(
        &mut self,
        group: &str,
        action: &str,
        text: Option<String>,
        remove: Option<String>,
        minutes: f64,
    ) -> Result<String, JsError> {
        let group = parse_group(group)?;
        if !minutes.is_finite() || minutes <= 0.0 || minutes > MAX_MINUTES {
            return Err(JsError::new(
                "a proposal is open for more than 0 and at most 43,200 minutes (30 days)",
            ));
        }
        let payload = match (text, remove) {
            (_, Some(actor)) => Some(ActionPayload::RemoveMember(parse_actor(&actor)?)),
            (Some(t), None) => Some(ActionPayload::Data(t)),
            (None, None) => None,
        };
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "checked above: a positive number of milliseconds below 2^32"
        )]
        let voting = (minutes * 60_000.0).max(MIN_VOTING_MS).round() as u64;
        let id = self
            .groups
            .gov
            .propose(
                group,
                action.trim(),
                payload,
                voting,
                browser::now(),
                now_ms(),
            )
            .map_err(gov_err)?;
        Ok(id.to_string())
    }

    pub(in crate::node) fn vote(
        &mut self,
        group: &str,
        proposal: &str,
        yes: bool,
    ) -> Result<String, JsError> {
        let group = parse_group(group)?;
        let proposal: Cid = proposal
            .parse()
            .map_err(|e| JsError::new(&format!("{proposal:?} is not a proposal id: {e}")))?;
        let value = if yes { VoteValue::Yes } else { VoteValue::No };
        let cid = self
            .groups
            .gov
            .vote(group, &proposal, value, browser::now())
            .map_err(gov_err)?;
        Ok(cid.to_string())
    }

    pub(in crate::node) fn proposals(&self, group: &str) -> Result<Array, JsError> {
        let group = parse_group(group)?;
        Ok(self
            .groups
            .gov
            .proposal_views(&group, now_ms())
            .iter()
            .map(|p| {
                let execution = p
                    .proposal
                    .parse::<Cid>()
                    .ok()
                    .and_then(|c| self.groups.notes.executions.get(&c));
                proposal_js(p, execution)
            })
            .collect())
    }

    /// Calls a FROST DKG among every member of the group's current epoch, `threshold` of
    /// them needed to sign; the actor must be a full admin. Once every member reported
    /// the same committee, this tab records it in a new epoch. Returns `{call, members,
    /// threshold}`.
    pub(in crate::node) fn call_committee(
        &mut self,
        group: &str,
        threshold: u32,
    ) -> Result<JsValue, JsError> {
        let group = parse_group(group)?;
        let state = self
            .groups
            .gov
            .groups()
            .state(&group)
            .map_err(|e| JsError::new(&e.to_string()))?;
        let current = state
            .current()
            .ok_or_else(|| JsError::new("the group has no epoch yet"))?;
        let members: Vec<ActorId> = current.members.members.iter().map(|m| m.actor).collect();
        let n = members.len();
        if !(2..=MAX_COMMITTEE).contains(&n) {
            return Err(JsError::new(&format!(
                "a FROST committee needs 2 to {MAX_COMMITTEE} members; the group has {n}"
            )));
        }
        let t = usize::try_from(threshold).unwrap_or(usize::MAX);
        let threshold = u16::try_from(threshold)
            .ok()
            .filter(|_| (2..=n).contains(&t))
            .ok_or_else(|| {
                JsError::new(&format!(
                    "the threshold must be 2 to {n} (the number of members)"
                ))
            })?;
        let call = self
            .groups
            .gov
            .call_committee(group, members.clone(), threshold, browser::now())
            .map_err(gov_err)?;
        let names: Array = members
            .iter()
            .map(|m| JsValue::from(m.to_string()))
            .collect();
        self.groups.notes.push(
            group,
            now_ms(),
            "committee",
            format!("called a {threshold}-of-{n} FROST DKG ({})", short(&call)),
        );
        Ok(obj(&[
            ("call", call.to_string().into()),
            ("members", names.into()),
            ("threshold", num(threshold)),
        ]))
    }

    /// The group's committee, for people: `frost T-of-N`, `single key`, or `null`.
    pub(super) fn committee_label(&self, group: &GroupId) -> JsValue {
        self.groups
            .gov
            .committee(group)
            .map_or(JsValue::NULL, |c| match c.scheme {
                Scheme::Frost => format!("frost {}-of-{}", c.threshold, c.members.len()).into(),
                _ => "single key".into(),
            })
    }

    /// The governance log of `group`, oldest first: `[{at, kind, text}]`.
    pub(in crate::node) fn governance_log(&self, group: &str) -> Result<Array, JsError> {
        let group = parse_group(group)?;
        Ok(self
            .groups
            .notes
            .log
            .get(&group)
            .map(|log| {
                log.iter()
                    .map(|n| {
                        obj(&[
                            ("at", num(n.at)),
                            ("kind", n.kind.into()),
                            ("text", n.text.as_str().into()),
                        ])
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    pub(in crate::node) fn group_key(&self, group: &str) -> Result<JsValue, JsError> {
        let group: GroupId = parse_group(group)?;
        Ok(self
            .groups
            .gov
            .group_key(&group)
            .map_or(JsValue::NULL, |k| hex(&k).into()))
    }
}
