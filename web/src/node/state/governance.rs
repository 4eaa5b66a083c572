//! Governance in the tab: propose, vote, read tallies and attestations, and (for a tab
//! whose actor is a full admin) become the group's committee. The tab runs the same
//! `GovernanceHost` as the native node; it executes internal actions when its actor is an
//! admin, never external ones. A committee key made here lives in memory only: the tab
//! stops attesting when it closes (a native node keeps its key on disk).

use js_sys::Array;
use quorate_attestation_core::SingleKeyCommittee;
use quorate_attestation_core::host::{GovError, ProposalView};
use quorate_governance_core::{ActionPayload, VoteValue};
use quorate_group_core::GroupId;
use quorate_mesh_proto::Cid;
use wasm_bindgen::{JsError, JsValue};

use super::State;
use super::actor::obj;
use super::groups::{Groups, num, parse_actor, parse_group};
use crate::browser;
use crate::node::actor::now_ms;

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

fn proposal_js(p: &ProposalView) -> JsValue {
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
        minutes: u32,
    ) -> Result<String, JsError> {
        let group = parse_group(group)?;
        let payload = match (text, remove) {
            (_, Some(actor)) => Some(ActionPayload::RemoveMember(parse_actor(&actor)?)),
            (Some(t), None) => Some(ActionPayload::Data(t)),
            (None, None) => None,
        };
        let voting = u64::from(minutes.max(1)) * 60_000;
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
            .map(proposal_js)
            .collect())
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
