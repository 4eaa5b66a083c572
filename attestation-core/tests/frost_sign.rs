//! FROST signing sessions over signed blocks, every block delivered to every member:
//! `t` of `n` produce an attestation that plain Ed25519 verifies under `PK_G` for
//! (2,3), (3,5), (7,10) and (67,100); an offline member, a member that commits and then
//! goes silent, a member sending an invalid share (named, with evidence anyone re-checks,
//! and left out) and a coordinator that stops (the next one completes) all still end in
//! a signature; nonces are never used twice, across restarts too.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use ed25519_dalek::{Signature, VerifyingKey};
use frost_ed25519 as frost;
use quorate_actor_core::{ActorId, Identity};
use quorate_attestation_core::frost::dkg::identifier;
use quorate_attestation_core::frost::sign::{
    CulpritEvidence, FrostSigner, MemoryNonces, ROUND_TIMEOUT_MS, SessionOutput, SignBody,
    SignError, SignMessage, SignSession, SignTarget, coordinators, verify_culprits,
};
use quorate_attestation_core::{Committee, GroupAttestation, verify_attestation};
use quorate_mesh_proto::{Block, Cid, Codec, Envelope};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

mod common;

use common::frost::{GROUP, committee, people};

const T0: u64 = 1_700_000_000_000;

fn target() -> SignTarget {
    SignTarget {
        proposal: Cid::of(Codec::DagCbor, b"a proposal"),
        epoch: 3,
        issued_at: T0,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    Honest,
    /// Never answers.
    Offline,
    /// Commits, then never sends its share.
    SilentAfterCommit,
    /// Sends a share that is not its real one.
    BadShare,
}

struct Node {
    who: Identity,
    signer: FrostSigner,
    nonces: MemoryNonces,
    behaviour: Behaviour,
    errors: Vec<SignError>,
}

struct Net {
    nodes: Vec<Node>,
    sessions: Vec<SignSession>,
    queue: VecDeque<Block>,
    outputs: Vec<SessionOutput>,
    sent: Vec<Block>,
    now: u64,
    rng: ChaCha20Rng,
}

impl Net {
    fn new(
        people: &[Identity],
        t: u16,
        behaviours: &[(usize, Behaviour)],
    ) -> (Net, Committee, Cid) {
        let (c, root, keys) = committee(people, t, u64::from(t));
        let nodes = people
            .iter()
            .zip(keys)
            .enumerate()
            .map(|(i, (p, k))| Node {
                who: p.clone(),
                signer: FrostSigner::new(p.clone(), &c, root, k).unwrap(),
                nonces: MemoryNonces::default(),
                behaviour: behaviours
                    .iter()
                    .find(|(j, _)| *j == i)
                    .map_or(Behaviour::Honest, |(_, b)| *b),
                errors: Vec::new(),
            })
            .collect();
        let net = Net {
            nodes,
            sessions: Vec::new(),
            queue: VecDeque::new(),
            outputs: Vec::new(),
            sent: Vec::new(),
            now: T0,
            rng: ChaCha20Rng::seed_from_u64(99),
        };
        (net, c, root)
    }

    fn coordinate(&mut self, who: &Identity, c: &Committee, root: Cid) {
        self.sessions
            .push(SignSession::start(who.clone(), c.clone(), root, target(), self.now).unwrap());
        self.drain_sessions();
    }

    fn drain_sessions(&mut self) {
        for s in &mut self.sessions {
            while let Some(o) = s.poll_output() {
                if let SessionOutput::Send(b) = &o {
                    self.queue.push_back(b.clone());
                }
                self.outputs.push(o);
            }
        }
    }

    /// Delivers until quiet, then lets time pass to the next deadline; `rounds` times.
    fn run(&mut self, rounds: usize) {
        for _ in 0..rounds {
            while let Some(block) = self.queue.pop_front() {
                self.sent.push(block.clone());
                // Evidence blocks travel too; the members do not act on them.
                let Ok(m) = SignMessage::decode(&block) else {
                    continue;
                };
                for s in &mut self.sessions {
                    s.handle(&m, &block, self.now);
                }
                for node in &mut self.nodes {
                    if let Some(b) = node.receive(&m, &mut self.rng) {
                        self.queue.push_back(b);
                    }
                }
                self.drain_sessions();
            }
            let Some(next) = self
                .sessions
                .iter()
                .filter_map(SignSession::poll_timeout)
                .min()
            else {
                return;
            };
            self.now = self.now.max(next);
            for s in &mut self.sessions {
                s.handle_timeout(self.now);
            }
            self.drain_sessions();
        }
    }

    fn signed(&self) -> Vec<(GroupAttestation, Vec<ActorId>, u32)> {
        self.outputs
            .iter()
            .filter_map(|o| match o {
                SessionOutput::Signed {
                    attestation,
                    signers,
                    attempts,
                } => Some((attestation.clone(), signers.clone(), *attempts)),
                _ => None,
            })
            .collect()
    }
}

impl Node {
    fn receive(&mut self, m: &SignMessage, rng: &mut ChaCha20Rng) -> Option<Block> {
        if self.behaviour == Behaviour::Offline {
            return None;
        }
        let result = match &m.body {
            SignBody::Request { asked, .. } if asked.contains(&self.who.id()) => {
                self.signer.commit(m, &mut self.nonces, rng)
            }
            SignBody::Package { .. } => {
                let r = self.signer.sign(m, &mut self.nonces);
                match (self.behaviour, r) {
                    (Behaviour::SilentAfterCommit, Ok(_)) => return None,
                    (Behaviour::BadShare, Ok(block)) => Ok(self.tampered(&block)),
                    (_, r) => r,
                }
            }
            _ => return None,
        };
        match result {
            Ok(b) => Some(b),
            // Packages that do not include this member's commitment are not for it.
            Err(SignError::BadPackage(_)) => None,
            Err(e) => {
                self.errors.push(e);
                None
            }
        }
    }

    /// Its share block with a different share, signed by it.
    fn tampered(&self, block: &Block) -> Block {
        let mut m = SignMessage::decode(block).unwrap();
        if let SignBody::Share { share, .. } = &mut m.body {
            share[0] ^= 1;
        }
        Envelope::signed(m, self.who.signing_key())
            .unwrap()
            .to_block()
            .unwrap()
    }
}

fn assert_plain_ed25519(c: &Committee, a: &GroupAttestation) {
    verify_attestation(&c.group_key, a).unwrap();
    let key = VerifyingKey::from_bytes(&c.group_key).unwrap();
    let sig = Signature::from_bytes(&a.group_signature);
    key.verify_strict(&a.signed_message(), &sig).unwrap();
    let mut other = a.signed_message();
    other[40] ^= 1;
    assert!(key.verify_strict(&other, &sig).is_err());
}

#[test]
fn t_of_n_sign_one_attestation_that_verifies_as_plain_ed25519() {
    for (t, n) in [(2u16, 3usize), (3, 5), (7, 10), (67, 100)] {
        let people = people(n);
        let (mut net, c, root) = Net::new(&people, t, &[]);
        let first = coordinators(&c, &target().proposal)[0];
        let coordinator = people.iter().find(|p| p.id() == first).unwrap().clone();
        net.coordinate(&coordinator, &c, root);
        net.run(3);
        let signed = net.signed();
        assert_eq!(signed.len(), 1, "({t},{n}) signed once");
        let (a, signers, attempts) = &signed[0];
        assert_eq!(signers.len(), usize::from(t), "exactly t signers");
        assert_eq!(*attempts, 1, "({t},{n}) on the first attempt");
        assert_eq!(a.proposal, target().proposal);
        assert_plain_ed25519(&c, a);
        assert!(net.nodes.iter().all(|n| n.errors.is_empty()));
    }
}

#[test]
fn an_offline_member_and_one_silent_after_committing_do_not_stop_the_signature() {
    let people = people(5);
    // The first three to commit are 0, 1, 2 (delivery order): 1 goes silent after
    // committing, 3 is offline all along.
    let (mut net, c, root) = Net::new(
        &people,
        3,
        &[(1, Behaviour::SilentAfterCommit), (3, Behaviour::Offline)],
    );
    net.coordinate(&people[4].clone(), &c, root);
    net.run(5);
    let signed = net.signed();
    assert_eq!(signed.len(), 1);
    let (a, signers, attempts) = &signed[0];
    assert_eq!(*attempts, 2, "a second attempt after the share deadline");
    assert!(!signers.contains(&people[1].id()) && !signers.contains(&people[3].id()));
    assert_plain_ed25519(&c, a);
    assert!(net.now >= T0 + ROUND_TIMEOUT_MS);
}

#[test]
fn an_invalid_share_names_its_culprit_with_evidence_and_the_retry_signs() {
    let people = people(5);
    let (mut net, c, root) = Net::new(&people, 3, &[(0, Behaviour::BadShare)]);
    net.coordinate(&people[4].clone(), &c, root);
    net.run(3);
    let culprits: Vec<(Vec<ActorId>, Block)> = net
        .outputs
        .iter()
        .filter_map(|o| match o {
            SessionOutput::Culprits { culprits, evidence } => {
                Some((culprits.clone(), evidence.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(culprits.len(), 1);
    assert_eq!(culprits[0].0, vec![people[0].id()]);
    // Anyone with the committee block re-checks the evidence.
    let evidence = CulpritEvidence::decode(&culprits[0].1).unwrap();
    assert_eq!(evidence.reporter, people[4].id());
    assert_eq!(
        verify_culprits(&evidence, &c).unwrap(),
        vec![people[0].id()]
    );
    // Evidence that blames an honest signer does not hold.
    let mut framed = evidence.clone();
    framed.culprits = vec![people[1].id()];
    assert!(verify_culprits(&framed, &c).is_err());
    // Nor does evidence with the culprit's share left out.
    let mut dropped = evidence.clone();
    let blocks = dropped.share_blocks().unwrap();
    dropped.shares = blocks
        .iter()
        .filter(|b| SignMessage::decode(b).unwrap().from != people[0].id())
        .map(|b| serde_bytes::ByteBuf::from(b.bytes().to_vec()))
        .collect();
    assert!(verify_culprits(&dropped, &c).is_err());
    // The retry leaves the culprit out and signs.
    let signed = net.signed();
    assert_eq!(signed.len(), 1);
    let (a, signers, attempts) = &signed[0];
    assert_eq!(*attempts, 2);
    assert!(!signers.contains(&people[0].id()));
    assert_plain_ed25519(&c, a);
}

#[test]
fn when_the_coordinator_stops_mid_session_the_next_one_completes() {
    let people = people(5);
    let (mut net, c, root) = Net::new(&people, 3, &[]);
    let order = coordinators(&c, &target().proposal);
    let first = people.iter().find(|p| p.id() == order[0]).unwrap().clone();
    let second = people.iter().find(|p| p.id() == order[1]).unwrap().clone();
    net.coordinate(&first, &c, root);
    // Deliver the request and the commitments; the coordinator crashes right after
    // sending the package (its session is gone; the package is on the topic).
    for _ in 0..12 {
        let Some(block) = net.queue.pop_front() else {
            break;
        };
        let m = SignMessage::decode(&block).unwrap();
        let is_package = matches!(m.body, SignBody::Package { .. });
        for s in &mut net.sessions {
            s.handle(&m, &block, net.now);
        }
        net.drain_sessions();
        if is_package {
            net.sessions.clear();
            // The signers still see the package and answer; nobody aggregates.
        }
        for node in &mut net.nodes {
            if let Some(b) = node.receive(&m, &mut net.rng) {
                net.queue.push_back(b);
            }
        }
        if is_package {
            break;
        }
    }
    net.run(1);
    assert!(net.signed().is_empty(), "the first coordinator is gone");
    // The next coordinator (after its slot) starts its own session and completes.
    net.now += 3 * ROUND_TIMEOUT_MS;
    net.coordinate(&second, &c, root);
    net.run(3);
    let signed = net.signed();
    assert_eq!(signed.len(), 1);
    assert_plain_ed25519(&c, &signed[0].0);
}

#[test]
fn a_restarted_member_never_reuses_nonces() {
    let people = people(3);
    let (c, root, keys) = committee(&people, 2, 5);
    let me = people[0].clone();
    let coordinator = people[2].clone();
    let mut session =
        SignSession::start(coordinator.clone(), c.clone(), root, target(), T0).unwrap();
    let Some(SessionOutput::Send(request)) = session.poll_output() else {
        panic!()
    };
    let request = SignMessage::decode(&request).unwrap();
    let mut store = MemoryNonces::default();

    // Commit, then "restart" (a new signer, the same durable store, the same random
    // stream).
    let mut signer = FrostSigner::new(me.clone(), &c, root, keys[0].clone()).unwrap();
    let first = signer
        .commit(&request, &mut store, &mut ChaCha20Rng::seed_from_u64(1))
        .unwrap();
    let mut restarted = FrostSigner::new(me.clone(), &c, root, keys[0].clone()).unwrap();
    // The same session again: refused (the marker is durable).
    assert_eq!(
        restarted
            .commit(&request, &mut store, &mut ChaCha20Rng::seed_from_u64(1))
            .unwrap_err(),
        SignError::AlreadyCommitted
    );
    // A package for the session committed before the restart: no nonces, no share.
    let mut second_signer = FrostSigner::new(people[1].clone(), &c, root, keys[1].clone()).unwrap();
    let other = second_signer
        .commit(
            &request,
            &mut MemoryNonces::default(),
            &mut ChaCha20Rng::seed_from_u64(2),
        )
        .unwrap();
    session.handle(&SignMessage::decode(&first).unwrap(), &first, T0);
    session.handle(&SignMessage::decode(&other).unwrap(), &other, T0);
    let package = loop {
        match session.poll_output() {
            Some(SessionOutput::Send(b)) => {
                let m = SignMessage::decode(&b).unwrap();
                if matches!(m.body, SignBody::Package { .. }) {
                    break m;
                }
            }
            Some(_) => {}
            None => panic!("no package"),
        }
    };
    assert_eq!(
        restarted.sign(&package, &mut store).unwrap_err(),
        SignError::NoNonces
    );
    // A new session with the same random stream: different commitments (the durable
    // counter is mixed in).
    let mut next = SignSession::start(
        coordinator,
        c.clone(),
        root,
        SignTarget {
            issued_at: T0 + 1,
            ..target()
        },
        T0,
    )
    .unwrap();
    let Some(SessionOutput::Send(request2)) = next.poll_output() else {
        panic!()
    };
    let again = restarted
        .commit(
            &SignMessage::decode(&request2).unwrap(),
            &mut store,
            &mut ChaCha20Rng::seed_from_u64(1),
        )
        .unwrap();
    let commitments = |b: &Block| match SignMessage::decode(b).unwrap().body {
        SignBody::Commit { commitments } => commitments,
        _ => panic!(),
    };
    assert_ne!(commitments(&first), commitments(&again));
    // The instance that never restarted signs once, and never twice.
    signer.sign(&package, &mut store).unwrap();
    assert_eq!(
        signer.sign(&package, &mut store).unwrap_err(),
        SignError::NoNonces
    );
}

#[test]
fn a_member_signs_only_the_target_it_was_asked_about_and_only_once() {
    let people = people(3);
    let (c, root, keys) = committee(&people, 2, 6);
    let mut session = SignSession::start(people[2].clone(), c.clone(), root, target(), T0).unwrap();
    let Some(SessionOutput::Send(request)) = session.poll_output() else {
        panic!()
    };
    let request = SignMessage::decode(&request).unwrap();
    let mut a = FrostSigner::new(people[0].clone(), &c, root, keys[0].clone()).unwrap();
    let mut b = FrostSigner::new(people[1].clone(), &c, root, keys[1].clone()).unwrap();
    let (mut sa, mut sb) = (MemoryNonces::default(), MemoryNonces::default());
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let ca = a.commit(&request, &mut sa, &mut rng).unwrap();
    let cb = b.commit(&request, &mut sb, &mut rng).unwrap();
    // A request whose session id does not match its contents is refused.
    let mut forged = request.clone();
    if let SignBody::Request { target, .. } = &mut forged.body {
        target.issued_at += 1;
    }
    assert_eq!(
        a.commit(&forged, &mut sa, &mut rng).unwrap_err(),
        SignError::Mismatch
    );
    // A package over another message with the same commitments is refused.
    let commitments: BTreeMap<frost::Identifier, frost::round1::SigningCommitments> =
        [(&people[0], &ca), (&people[1], &cb)]
            .into_iter()
            .map(|(p, blk)| {
                let SignBody::Commit { commitments } = SignMessage::decode(blk).unwrap().body
                else {
                    panic!()
                };
                (
                    identifier(&p.id()).unwrap(),
                    frost::round1::SigningCommitments::deserialize(&commitments).unwrap(),
                )
            })
            .collect();
    let evil = frost::SigningPackage::new(commitments, b"pay the attacker");
    let evil = SignMessage {
        group: GROUP,
        session: request.session,
        from: people[2].id(),
        body: SignBody::Package {
            signers: vec![people[0].id(), people[1].id()],
            package: evil.serialize().unwrap(),
        },
    };
    assert!(matches!(
        a.sign(&evil, &mut sa),
        Err(SignError::BadPackage(_))
    ));
    // The real package: signs once; the same package again: no nonces left.
    session.handle(&SignMessage::decode(&ca).unwrap(), &ca, T0);
    session.handle(&SignMessage::decode(&cb).unwrap(), &cb, T0);
    let package = std::iter::from_fn(|| session.poll_output())
        .find_map(|o| match o {
            SessionOutput::Send(b) => Some(SignMessage::decode(&b).unwrap())
                .filter(|m| matches!(m.body, SignBody::Package { .. })),
            _ => None,
        })
        .unwrap();
    let share = a.sign(&package, &mut sa).unwrap();
    assert_eq!(a.sign(&package, &mut sa).unwrap_err(), SignError::NoNonces);
    let share_b = b.sign(&package, &mut sb).unwrap();
    session.handle(&SignMessage::decode(&share).unwrap(), &share, T0);
    session.handle(&SignMessage::decode(&share_b).unwrap(), &share_b, T0);
    let signed: BTreeSet<bool> = std::iter::from_fn(|| session.poll_output())
        .map(|o| matches!(o, SessionOutput::Signed { .. }))
        .collect();
    assert!(signed.contains(&true));
}

/// Regenerates the seeds of the `frost_sign` fuzz target (every kind of signing block and
/// a culprit evidence block, from a run with a bad share):
/// `cargo test -p quorate-attestation-core --test frost_sign -- --ignored write_fuzz_seeds`.
#[test]
#[ignore = "writes fuzz/seeds/frost_sign"]
fn write_fuzz_seeds() {
    let people = people(3);
    let (mut net, c, root) = Net::new(&people, 2, &[(0, Behaviour::BadShare)]);
    net.coordinate(&people[2].clone(), &c, root);
    net.run(3);
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/seeds/frost_sign");
    std::fs::create_dir_all(dir).unwrap();
    let mut kinds = BTreeSet::new();
    let mut blocks: Vec<Block> = net.sent.clone();
    blocks.push(c.to_block().unwrap());
    for (i, b) in blocks.iter().enumerate() {
        let kind = b.header().unwrap().kind;
        let body = SignMessage::decode(b).map(|m| format!("{:?}", std::mem::discriminant(&m.body)));
        if kinds.insert((kind, body.ok())) {
            let mut bytes = vec![u8::try_from(i % 16).unwrap() << 1];
            bytes.extend_from_slice(b.bytes());
            std::fs::write(format!("{dir}/block{i}"), bytes).unwrap();
        }
    }
    assert!(kinds.len() >= 6, "{kinds:?}");
}
