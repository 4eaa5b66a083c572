//! The FROST committee in the simulator, end to end: an admin calls a DKG over the group
//! topic; every member ends with the same `PK_G` recorded as `committeeRoot`; a proposal
//! gets its votes; the committee signs in a session its members agree to from their own
//! view of the votes; every member holds an attestation that plain Ed25519 verifies under
//! `PK_G`; the configured node POSTs TRIGGER_X once. For (t, n) = (2,3), (3,5), (7,10) with
//! a DKG over the mesh and (67,100) with shares from a key ceremony; with a committee
//! member offline, one sending bad shares (named by evidence everyone re-checks, left
//! out), a coordinator that dies mid-session (the next one completes), and a rotation
//! 3-of-5 → 4-of-7 by resharing that keeps `PK_G`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

use std::cell::Cell;
use std::rc::Rc;

use ed25519_dalek::{Signature, VerifyingKey};
use frost_ed25519 as frost;
use quorate_actor_core::{ActorId, ActorSecret, Identity};
use quorate_attestation_core::execute::{ActionHandlerRegistry, Effect, Job, internal_handlers};
use quorate_attestation_core::frost::dkg::identifier;
use quorate_attestation_core::frost::sign::{
    MAX_ATTEMPTS, SignBody, SignMessage, SignTarget, session_id,
};
use quorate_attestation_core::host::{COORDINATOR_SLOT_MS, GovOutput};
use quorate_attestation_core::{Committee, verify_attestation};
use quorate_governance_core::{ActionPayload, ProposalId, VoteValue};
use quorate_group_core::{Eligible, Fraction, GroupId, GroupState, Member, Rule, ops};
use quorate_mesh_proto::{Block, Duration, Envelope};
use quorate_mesh_transport::sim::seed_from_env;

mod common;

use common::sim::{T0, World};

/// The node whose registry POSTs TRIGGER_X.
const TRIGGER_NODE: usize = 1;

fn person(i: usize) -> Identity {
    let mut secret = [0u8; 32];
    secret[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
    secret[31] = 0x5a;
    Identity::from_secret(ActorSecret::from_bytes(secret))
}

fn registry(i: usize) -> ActionHandlerRegistry {
    if i == 0 {
        // The admin's node carries out internal actions (ROTATE_COMMITTEE).
        return internal_handlers();
    }
    let mut r = ActionHandlerRegistry::new();
    if i == TRIGGER_NODE {
        r.register("TRIGGER_X", |job: &Job, _: &GroupState| {
            Ok(Effect::HttpPost {
                url: "http://127.0.0.1:9/trigger".into(),
                body: b"{}".to_vec(),
                key: job.id.to_string(),
            })
        });
    }
    r
}

/// `n` members (node `i` acts as `person(i)`), node 0 the admin, TRIGGER_X at 10%.
fn group(n: usize, seed: u64) -> (World, GroupId) {
    let mut w = World::new(n, n, seed, 0.01, person, registry);
    w.run(Duration::from_millis(500));
    let rules = vec![Rule::FractionalApproval {
        threshold: Fraction::new(1, 10),
        eligible: Eligible::Members,
        action_types: vec!["TRIGGER_X".into(), "ROTATE_COMMITTEE".into()],
    }];
    let members = (1..n).map(|i| Member::of(&person(i))).collect();
    let created =
        ops::create_group_with_rules(&person(0), "frost", members, vec![], rules, T0, &mut w.rng)
            .unwrap();
    let now = w.sim.now();
    w.host(0)
        .groups_mut()
        .publish(created.id, created.blocks().cloned(), now);
    let id = created.id;
    let ok = w.run_until(Duration::from_secs(20), |w| {
        (0..n).all(|i| {
            w.host(i)
                .groups()
                .state(&id)
                .is_ok_and(|s| s.current().is_some())
        })
    });
    assert!(ok, "every member follows the group");
    (w, id)
}

/// Node 0 calls a DKG among `committee` with threshold `t`; returns `PK_G` once every
/// node knows it and every committee member holds a share.
fn dkg(w: &mut World, group: GroupId, committee: &[usize], t: u16) -> [u8; 32] {
    let actors: Vec<ActorId> = committee.iter().map(|i| person(*i).id()).collect();
    let now = w.sim.now();
    w.host(0).call_committee(group, actors, t, now).unwrap();
    let n = w.hosts.len();
    let committee = committee.to_vec();
    let ok = w.run_until(Duration::from_secs(60), |w| {
        let key = w.host(0).group_key(&group);
        key.is_some()
            && (0..n).all(|i| w.host(i).group_key(&group) == key)
            && committee.iter().all(|i| w.host(*i).holds_share(&group))
    });
    assert!(ok, "the DKG completed: {:?}", w.reports);
    w.host(0).group_key(&group).unwrap()
}

/// Shares from a key ceremony (a dealer split): every committee member holds its share,
/// node 0 records the committee.
fn ceremony(w: &mut World, group: GroupId, committee: &[usize], t: u16) -> [u8; 32] {
    let ids: Vec<frost::Identifier> = committee
        .iter()
        .map(|i| identifier(&person(*i).id()).unwrap())
        .collect();
    let (shares, public) = frost::keys::split(
        &frost::SigningKey::new(&mut w.rng),
        u16::try_from(committee.len()).unwrap(),
        t,
        frost::keys::IdentifierList::Custom(&ids),
        &mut w.rng,
    )
    .unwrap();
    let actors: Vec<ActorId> = committee.iter().map(|i| person(*i).id()).collect();
    let c = Committee::frost(group, &actors, &public).unwrap();
    let root = *c.to_block().unwrap().cid();
    for (i, id) in committee.iter().zip(&ids) {
        let key = frost::keys::KeyPackage::try_from(shares[id].clone()).unwrap();
        w.host(*i)
            .hold_frost_share(group, root, &key.serialize().unwrap())
            .unwrap();
    }
    let (now, ms) = (w.sim.now(), w.ms());
    let mut rng = w.rng.clone();
    w.host(0)
        .record_frost_committee(group, &c, now, ms, &mut rng)
        .unwrap();
    let n = w.hosts.len();
    let committee = committee.to_vec();
    let ok = w.run_until(Duration::from_secs(30), |w| {
        (0..n).all(|i| w.host(i).group_key(&group) == Some(c.group_key))
            && committee.iter().all(|i| w.host(*i).holds_share(&group))
    });
    assert!(ok, "the committee is recorded everywhere");
    c.group_key
}

/// Node 2 proposes TRIGGER_X; `voters` vote YES.
fn propose_and_vote(w: &mut World, group: GroupId, voters: &[usize]) -> ProposalId {
    propose_action(
        w,
        group,
        "TRIGGER_X",
        ActionPayload::Data("go".into()),
        voters,
    )
}

/// Node 2 proposes `action` with `payload`; `voters` vote YES.
fn propose_action(
    w: &mut World,
    group: GroupId,
    action: &str,
    payload: ActionPayload,
    voters: &[usize],
) -> ProposalId {
    let (now, ms) = (w.sim.now(), w.ms());
    let p = w
        .host(2)
        .propose(group, action, Some(payload), 600_000, now, ms)
        .unwrap();
    let ok = w.run_until(Duration::from_secs(10), |w| {
        voters
            .iter()
            .all(|v| w.host(*v).proposals(&group).iter().any(|(id, _)| *id == p))
    });
    assert!(ok, "the proposal reached the voters");
    let now = w.sim.now();
    for v in voters {
        w.host(*v).vote(group, &p, VoteValue::Yes, now).unwrap();
    }
    p
}

/// Runs until every online member holds the attestation; checks it under `pk` with
/// ed25519-dalek (strict) and returns how long it took (simulated ms).
fn attested_everywhere(
    w: &mut World,
    group: GroupId,
    p: ProposalId,
    pk: [u8; 32],
    limit: Duration,
) -> u64 {
    let start = w.ms();
    let n = w.hosts.len();
    let ok = w.run_until(limit, |w| {
        (0..n)
            .filter(|i| w.sim.is_online(*i))
            .all(|i| w.hosts[&i].attestation(&group, &p).is_some())
    });
    assert!(
        ok,
        "every online member holds the attestation: {:?}",
        w.reports
    );
    let key = VerifyingKey::from_bytes(&pk).unwrap();
    let online: Vec<usize> = (0..n).filter(|i| w.sim.is_online(*i)).collect();
    for i in online {
        let a = w.host(i).attestation(&group, &p).unwrap().clone();
        verify_attestation(&pk, &a).unwrap();
        key.verify_strict(
            &a.signed_message(),
            &Signature::from_bytes(&a.group_signature),
        )
        .unwrap();
    }
    w.ms() - start
}

fn voters(n: usize) -> Vec<usize> {
    (0..n.div_ceil(10)).map(|i| i + 2).collect()
}

#[test]
fn dkg_over_the_mesh_then_votes_to_attestation_for_2_3_and_3_5_and_7_10() {
    let seed = seed_from_env(11);
    for (t, n) in [(2u16, 3usize), (3, 5), (7, 10)] {
        let (mut w, g) = group(n, seed);
        let all: Vec<usize> = (0..n).collect();
        let pk = dkg(&mut w, g, &all, t);
        let p = propose_and_vote(&mut w, g, &voters(n));
        attested_everywhere(&mut w, g, p, pk, Duration::from_secs(20));
        w.run(Duration::from_secs(1));
        assert_eq!(
            w.http,
            vec![(TRIGGER_NODE, p, p.to_string())],
            "({t},{n}): TRIGGER_X posted once"
        );
    }
}

#[test]
fn sixty_seven_of_a_hundred_sign_what_the_votes_decided() {
    let seed = seed_from_env(12);
    let (mut w, g) = group(100, seed);
    let all: Vec<usize> = (0..100).collect();
    let pk = ceremony(&mut w, g, &all, 67);
    let p = propose_and_vote(&mut w, g, &voters(100));
    attested_everywhere(&mut w, g, p, pk, Duration::from_secs(30));
    w.run(Duration::from_secs(1));
    assert_eq!(w.http, vec![(TRIGGER_NODE, p, p.to_string())]);
}

#[test]
fn an_offline_committee_member_does_not_stop_the_signature() {
    let (mut w, g) = group(5, seed_from_env(13));
    let all: Vec<usize> = (0..5).collect();
    let pk = dkg(&mut w, g, &all, 3);
    w.sim.take_offline(4).unwrap();
    let p = propose_and_vote(&mut w, g, &[2]);
    // If node 4 was first in line to coordinate, the next one starts after its slot.
    attested_everywhere(&mut w, g, p, pk, Duration::from_secs(60));
}

/// A tamper that, at the first signing package, picks one of its signers other than the
/// coordinator as the liar, and from then on flips a bit of every share the liar sends
/// (re-signed with its key: a malicious member, not a forger).
fn liar_in_first_package(n: usize, chosen: Rc<Cell<Option<usize>>>) -> common::sim::Tamper {
    Box::new(move |i, block: Block| {
        let Ok(mut m) = SignMessage::decode(&block) else {
            return Some(block);
        };
        Some(match &mut m.body {
            SignBody::Package { package, .. } if chosen.get().is_none() => {
                let package = frost::SigningPackage::deserialize(package).unwrap();
                let liar = (0..n).find(|j| {
                    *j != i
                        && package
                            .signing_commitments()
                            .contains_key(&identifier(&person(*j).id()).unwrap())
                });
                chosen.set(liar);
                block
            }
            SignBody::Share { share, .. } if chosen.get() == Some(i) => {
                share[0] ^= 1;
                Envelope::signed(m, person(i).signing_key())
                    .unwrap()
                    .to_block()
                    .unwrap()
            }
            _ => block,
        })
    })
}

#[test]
fn a_member_sending_a_bad_share_is_named_with_evidence_left_out_and_the_signature_made() {
    let (mut w, g) = group(5, seed_from_env(14));
    let all: Vec<usize> = (0..5).collect();
    let pk = dkg(&mut w, g, &all, 3);
    let chosen = Rc::new(Cell::new(None));
    w.tamper = Some(liar_in_first_package(5, chosen.clone()));
    let p = propose_and_vote(&mut w, g, &[2]);
    attested_everywhere(&mut w, g, p, pk, Duration::from_secs(40));
    let liar = chosen.get().expect("a liar was picked");
    // The coordinator named the liar; every member re-checked the evidence.
    let named: Vec<Vec<ActorId>> = w
        .reports
        .iter()
        .filter_map(|(_, o)| match o {
            GovOutput::Culprits { culprits, .. } => Some(culprits.clone()),
            _ => None,
        })
        .collect();
    assert!(!named.is_empty());
    assert!(named.iter().all(|c| *c == vec![person(liar).id()]));
    let ok = w.run_until(Duration::from_secs(10), |w| {
        (0..5).all(|i| !w.host(i).culprits(&g).is_empty())
    });
    assert!(ok, "every member holds the evidence");
    for i in 0..5 {
        assert_eq!(w.host(i).culprits(&g)[0].0, vec![person(liar).id()]);
    }
}

/// A committee of three that needs all three: one liar, and no signature can be made —
/// the liar is named and the coordinator gives up cleanly.
#[test]
fn a_bad_share_in_a_committee_that_needs_everyone_is_named_and_fails_cleanly() {
    let (mut w, g) = group(4, seed_from_env(15));
    dkg(&mut w, g, &[1, 2, 3], 3);
    let chosen = Rc::new(Cell::new(None));
    w.tamper = Some(liar_in_first_package(4, chosen.clone()));
    let p = propose_and_vote(&mut w, g, &[2]);
    let named = w.run_until(Duration::from_secs(20), |w| {
        (0..4).all(|i| !w.host(i).culprits(&g).is_empty())
    });
    assert!(named, "every member holds the evidence");
    let liar = chosen.get().unwrap();
    for i in 0..4 {
        assert_eq!(w.host(i).culprits(&g)[0].0, vec![person(liar).id()]);
        assert!(
            w.host(i).attestation(&g, &p).is_none(),
            "no signature without 3 honest"
        );
    }
    // The coordinator gave up for lack of honest members, and said so.
    assert!(w.reports.iter().any(
        |(_, o)| matches!(o, GovOutput::NotExecuted { why, .. } if why.contains("could not sign"))
    ));
}

#[test]
fn when_the_coordinator_dies_mid_session_the_next_one_completes() {
    let (mut w, g) = group(5, seed_from_env(16));
    let all: Vec<usize> = (0..5).collect();
    let pk = dkg(&mut w, g, &all, 3);
    // Find who coordinates first: it dies right after publishing its signing package.
    let packaged: Rc<Cell<Option<usize>>> = Rc::new(Cell::new(None));
    let seen = packaged.clone();
    w.tamper = Some(Box::new(move |i, block: Block| {
        if seen.get() == Some(i) {
            // Dead: nothing more leaves it.
            return None;
        }
        if let Ok(m) = SignMessage::decode(&block)
            && matches!(m.body, SignBody::Package { .. })
            && seen.get().is_none()
        {
            seen.set(Some(i));
        }
        Some(block)
    }));
    let p = propose_and_vote(&mut w, g, &[2]);
    let ok = w.run_until(Duration::from_secs(10), |_| packaged.get().is_some());
    assert!(ok, "a package was sent");
    let dead = packaged.get().unwrap();
    w.sim.take_offline(dead).unwrap();
    let took = attested_everywhere(&mut w, g, p, pk, Duration::from_secs(90));
    assert!(
        took >= COORDINATOR_SLOT_MS - 2_000,
        "the next coordinator waited for its slot ({took} ms)"
    );
}

#[test]
fn rotation_from_3_of_5_to_4_of_7_keeps_pk_g_and_the_new_committee_signs() {
    let (mut w, g) = group(9, seed_from_env(17));
    let old: Vec<usize> = (0..5).collect();
    let pk = dkg(&mut w, g, &old, 3);
    let new: Vec<usize> = (2..9).collect();
    let actors: Vec<ActorId> = new.iter().map(|i| person(*i).id()).collect();
    let before = w
        .host(0)
        .groups()
        .state(&g)
        .unwrap()
        .current()
        .unwrap()
        .state
        .committee_root;
    let now = w.sim.now();
    w.host(0)
        .call_rotation(g, actors.clone(), 4, None, now)
        .unwrap();
    let ok = w.run_until(Duration::from_secs(60), |w| {
        let root = |w: &mut World, i: usize| {
            w.host(i)
                .groups()
                .state(&g)
                .ok()
                .and_then(|s| s.current())
                .and_then(|e| e.state.committee_root)
        };
        (0..9).all(|i| root(w, i) != before && root(w, i).is_some())
            && new.iter().all(|i| w.host(*i).holds_share(&g))
    });
    assert!(ok, "the rotation completed: {:?}", w.reports);
    for i in 0..9 {
        assert_eq!(
            w.host(i).group_key(&g),
            Some(pk),
            "node {i}: PK_G unchanged"
        );
    }
    // Removed members dropped their shares.
    for i in [0, 1] {
        assert!(!w.host(i).holds_share(&g));
        assert!(
            w.reports
                .iter()
                .any(|(j, o)| *j == i && matches!(o, GovOutput::EraseShare { .. })),
            "node {i} erased its old share"
        );
    }
    // The new committee signs under the same key.
    let p = propose_and_vote(&mut w, g, &[2]);
    attested_everywhere(&mut w, g, p, pk, Duration::from_secs(30));
}

#[test]
fn a_vote_rotates_the_committee_by_resharing_and_pk_g_stays() {
    let (mut w, g) = group(7, seed_from_env(18));
    let pk = dkg(&mut w, g, &[0, 1, 2, 3, 4], 3);
    let before = w.host(0).committee(&g).cloned().unwrap();
    let mut members: Vec<ActorId> = (1..7).map(|i| person(i).id()).collect();
    members.sort();
    let payload = ActionPayload::Committee {
        members: members.clone(),
        threshold: 4,
    };
    let p = propose_action(&mut w, g, "ROTATE_COMMITTEE", payload, &[2]);
    attested_everywhere(&mut w, g, p, pk, Duration::from_secs(30));
    // The admin's node executes it: a resharing call; the new committee is recorded.
    let ok = w.run_until(Duration::from_secs(60), |w| {
        (0..7).all(|i| {
            w.host(i)
                .committee(&g)
                .is_some_and(|c| c.members == members && c.threshold == 4)
        }) && (1..7).all(|i| w.host(i).holds_share(&g))
    });
    assert!(ok, "the vote rotated the committee: {:?}", w.reports);
    for i in 0..7 {
        assert_eq!(w.host(i).group_key(&g), Some(pk), "PK_G unchanged");
    }
    assert_ne!(w.host(0).committee(&g), Some(&before));
    assert!(!w.host(0).holds_share(&g), "node 0 left the committee");
    // The new committee (4 of 1..7) signs.
    let q = propose_and_vote(&mut w, g, &[3]);
    attested_everywhere(&mut w, g, q, pk, Duration::from_secs(30));
}

#[test]
fn an_insider_coordinator_gets_at_most_max_attempts_commitments_per_proposal() {
    let (mut w, g) = group(3, seed_from_env(19));
    dkg(&mut w, g, &[0, 1, 2], 2);
    let p = propose_and_vote(&mut w, g, &[2]);
    let pk = w.host(0).group_key(&g).unwrap();
    attested_everywhere(&mut w, g, p, pk, Duration::from_secs(30));
    // Member 0 turns abusive: 3 × MAX_ATTEMPTS requests for the same proposal.
    let committee = w.host(0).committee(&g).cloned().unwrap();
    let root = *committee.to_block().unwrap().cid();
    let epoch = w
        .host(0)
        .groups()
        .state(&g)
        .unwrap()
        .current()
        .unwrap()
        .state
        .epoch;
    let target = SignTarget {
        proposal: p,
        epoch,
        issued_at: w.ms(),
    };
    let abuser = person(0);
    let mut sessions = std::collections::BTreeSet::new();
    for attempt in 1000..1000 + 3 * MAX_ATTEMPTS {
        let session = session_id(&g, &root, &target, &abuser.id(), attempt);
        sessions.insert(session);
        let request = SignMessage {
            group: g,
            session,
            from: abuser.id(),
            body: SignBody::Request {
                committee: root,
                target,
                attempt,
                asked: committee.members.clone(),
            },
        };
        let block = Envelope::signed(request, abuser.signing_key())
            .unwrap()
            .to_block()
            .unwrap();
        w.sim.publish(0, &g.topic(), block).unwrap();
    }
    w.run(Duration::from_secs(3));
    // What member 1 committed to in those sessions, as node 0 received it.
    let answers = w
        .sim
        .events(0)
        .iter()
        .filter_map(|(_, e)| match e {
            quorate_mesh_proto::mesh::Event::Delivered { block, .. } => {
                SignMessage::decode(block).ok()
            }
            _ => None,
        })
        .filter(|m| {
            m.from == person(1).id()
                && sessions.contains(&m.session)
                && matches!(m.body, SignBody::Commit { .. })
        })
        .count();
    assert!(answers > 0, "member 1 answers some requests");
    assert!(
        answers <= MAX_ATTEMPTS as usize,
        "member 1 answered {answers} requests of one coordinator for one proposal"
    );
}
