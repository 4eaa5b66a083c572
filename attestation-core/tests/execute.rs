//! The execution engine: a handler runs only with a valid attestation, in the matching
//! epoch and validity window, once per proposal id; a run interrupted after `Started` is
//! resumed with the same idempotency key; internal actions are idempotent.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

mod common;

use common::{Setup, T0, setup};
use quorate_attestation_core::execute::{
    ActionHandlerRegistry, Effect, ExecutionEngine, Job, Marker, MarkerStore as _, MemoryMarkers,
    NotRun, internal, internal_handlers,
};
use quorate_governance_core::{ActionPayload, DECISION_WINDOW_MS};
use quorate_group_core::ops;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

const NOW: u64 = T0 + 1000;

/// An attested job for `action` with `payload`.
fn job(s: &Setup, action: &str, payload: Option<&ActionPayload>) -> Job {
    let (block, proposal) = s.propose_action(3, action, payload);
    let votes = s.votes(&block, 10..15);
    let attested = s.committee.attest(&s.state, &block, &votes, NOW).unwrap();
    Job {
        id: *block.cid(),
        proposal,
        attestation: attested.attestation,
        payload: payload.map(|p| p.to_block().unwrap()),
    }
}

fn trigger_registry() -> ActionHandlerRegistry {
    let mut r = ActionHandlerRegistry::new();
    r.register(
        "TRIGGER_X",
        |job: &Job, _: &quorate_group_core::GroupState| {
            Ok(Effect::HttpPost {
                url: "http://127.0.0.1:9/x".into(),
                body: b"{}".to_vec(),
                key: job.id.to_string(),
            })
        },
    );
    r
}

#[test]
fn a_job_runs_once_and_a_started_one_resumes_with_the_same_key() {
    let s = setup();
    let pk = s.committee.group_key();
    let j = job(&s, "TRIGGER_X", None);
    let mut engine = ExecutionEngine::new(trigger_registry(), MemoryMarkers::default());
    let first = engine.begin(&j, &pk, &s.state, NOW).unwrap();
    assert!(!first.resumed);
    assert!(matches!(&first.effect, Effect::HttpPost { key, .. } if *key == j.id.to_string()));
    assert_eq!(engine.markers().get(&j.id).unwrap(), Some(Marker::Started));
    // A crash before `finish`: the next offer resumes it, same key.
    let again = engine.begin(&j, &pk, &s.state, NOW + 5).unwrap();
    assert!(again.resumed);
    engine.finish(&j.id).unwrap();
    assert_eq!(
        engine.begin(&j, &pk, &s.state, NOW + 6).unwrap_err(),
        NotRun::AlreadyDone
    );
    // The markers survive "a restart" (a new engine over the same store).
    let markers = engine.markers().clone();
    let mut restarted = ExecutionEngine::new(trigger_registry(), markers);
    assert_eq!(
        restarted.begin(&j, &pk, &s.state, NOW + 7).unwrap_err(),
        NotRun::AlreadyDone
    );
}

#[test]
fn invalid_jobs_do_not_run_and_record_nothing() {
    let s = setup();
    let pk = s.committee.group_key();
    let j = job(&s, "TRIGGER_X", None);
    let mut engine = ExecutionEngine::new(trigger_registry(), MemoryMarkers::default());
    let mut forged = j.clone();
    forged.attestation.group_signature[0] ^= 1;
    assert!(matches!(
        engine.begin(&forged, &pk, &s.state, NOW),
        Err(NotRun::BadAttestation(_))
    ));
    let (other, other_proposal) = s.propose_action(4, "TRIGGER_X", None);
    let mut swapped = j.clone();
    swapped.id = *other.cid();
    swapped.proposal = other_proposal;
    assert_eq!(
        engine.begin(&swapped, &pk, &s.state, NOW).unwrap_err(),
        NotRun::WrongProposal
    );
    assert_eq!(
        engine.begin(&j, &pk, &s.state, T0).unwrap_err(),
        NotRun::OutsideWindow
    );
    let late = j.proposal.expires_at + DECISION_WINDOW_MS + 1;
    assert_eq!(
        engine.begin(&j, &pk, &s.state, late).unwrap_err(),
        NotRun::OutsideWindow
    );
    let mut bare = ExecutionEngine::new(ActionHandlerRegistry::new(), MemoryMarkers::default());
    assert_eq!(
        bare.begin(&j, &pk, &s.state, NOW).unwrap_err(),
        NotRun::NoHandler("TRIGGER_X".into())
    );
    // The group moved to another epoch: the attestation's epoch no longer matches.
    assert!(matches!(
        engine.begin(&j, &pk, &s.rotated(), NOW),
        Err(NotRun::EpochMismatch {
            attestation: 1,
            proposal: 1,
            current: 2
        })
    ));
    assert!(engine.markers().markers.is_empty(), "nothing recorded");
}

#[test]
fn remove_member_plans_a_new_epoch_once_and_nothing_when_already_done() {
    let s = setup();
    let pk = s.committee.group_key();
    let target = s.people[7].id();
    let payload = ActionPayload::RemoveMember(target);
    let j = job(&s, internal::REMOVE_MEMBER, Some(&payload));
    let mut engine = ExecutionEngine::new(internal_handlers(), MemoryMarkers::default());
    let begun = engine.begin(&j, &pk, &s.state, NOW).unwrap();
    let Effect::Epoch(change) = begun.effect else {
        panic!("{:?}", begun.effect)
    };
    assert_eq!(change.remove, vec![target]);
    // The admin's node makes the epoch; then the node crashes before `finish`.
    let mut state = s.state_clone();
    let epoch = ops::next_epoch(
        &s.people[0],
        &state,
        &change,
        NOW,
        &mut ChaCha20Rng::seed_from_u64(2),
    )
    .unwrap();
    epoch.blocks().for_each(|b| state.insert(b.clone()));
    assert!(!state.current().unwrap().members.contains(&target));
    // Resumed in the new epoch: the change is in effect, nothing more to do.
    let resumed = engine.begin(&j, &pk, &state, NOW + 1).unwrap();
    assert!(resumed.resumed && matches!(resumed.effect, Effect::Nothing));
    engine.finish(&j.id).unwrap();

    // A payload block that is not the proposal's is refused.
    let mut wrong = job(
        &s,
        internal::REMOVE_MEMBER,
        Some(&ActionPayload::RemoveMember(s.people[8].id())),
    );
    wrong.payload = Some(
        ActionPayload::RemoveMember(s.people[9].id())
            .to_block()
            .unwrap(),
    );
    assert!(matches!(
        engine.begin(&wrong, &pk, &s.state, NOW),
        Err(NotRun::Handler(_))
    ));
}

#[test]
fn add_member_rotate_key_and_change_policy_plan_their_epochs_once() {
    use quorate_group_core::{Eligible, Fraction, Member, Rule};
    let s = setup();
    let pk = s.committee.group_key();
    let mut engine = ExecutionEngine::new(internal_handlers(), MemoryMarkers::default());
    let newcomer = common::person(77);

    // ADD_MEMBER: an epoch adding them; nothing if they are in already.
    let add = ActionPayload::AddMember(Member::of(&newcomer));
    let j = job(&s, internal::ADD_MEMBER, Some(&add));
    match engine.begin(&j, &pk, &s.state, NOW).unwrap().effect {
        Effect::Epoch(change) => assert_eq!(change.add, vec![Member::of(&newcomer)]),
        other => panic!("{other:?}"),
    }
    let present = ActionPayload::AddMember(Member::of(&s.people[4]));
    let j = job(&s, internal::ADD_MEMBER, Some(&present));
    assert!(matches!(
        engine.begin(&j, &pk, &s.state, NOW).unwrap().effect,
        Effect::Nothing
    ));

    // ROTATE_KEY: an empty change (a fresh key) in the proposal's epoch.
    let j = job(&s, internal::ROTATE_KEY, None);
    match engine.begin(&j, &pk, &s.state, NOW).unwrap().effect {
        Effect::Epoch(change) => assert!(change.add.is_empty() && change.remove.is_empty()),
        other => panic!("{other:?}"),
    }

    // CHANGE_POLICY: the new voting rules; nothing if they are the current ones.
    let rules = vec![Rule::FractionalApproval {
        threshold: Fraction::new(1, 2),
        eligible: Eligible::Members,
        action_types: vec!["TRIGGER_X".into()],
    }];
    let j = job(
        &s,
        internal::CHANGE_POLICY,
        Some(&ActionPayload::ChangePolicy(rules.clone())),
    );
    match engine.begin(&j, &pk, &s.state, NOW).unwrap().effect {
        Effect::Epoch(change) => assert_eq!(change.rules, Some(rules)),
        other => panic!("{other:?}"),
    }
    let current: Vec<Rule> = s
        .state
        .current()
        .unwrap()
        .policy
        .rules
        .iter()
        .filter(|r| !matches!(r, Rule::Admins { .. }))
        .cloned()
        .collect();
    let j = job(
        &s,
        internal::CHANGE_POLICY,
        Some(&ActionPayload::ChangePolicy(current)),
    );
    assert!(matches!(
        engine.begin(&j, &pk, &s.state, NOW).unwrap().effect,
        Effect::Nothing
    ));
}
