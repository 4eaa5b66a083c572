//! Codec properties of every committee block a peer can send: `CommitteeCall`,
//! `CommitteeResult` (`frost::call`), `DkgMessage` (`frost::dkg`), `SignMessage` and
//! `CulpritEvidence` (`frost::sign`), `ReshareMessage` (`frost::reshare`).
//!
//! - **Round trip.** A value with generated fields (ids, thresholds, attempts, committee
//!   lists, timestamps, byte payloads that are either real `frost-ed25519` serialisations
//!   or arbitrary bytes), signed by a generated actor, encodes to a block that decodes to
//!   the same value; the decoded envelope re-encodes to the identical bytes and CID;
//!   signing again gives the same block; the same bytes under a raw CID are `NotDagCbor`.
//! - **Malformed bytes.** Flipped, truncated, extended, spliced bytes are refused under
//!   the original CID before anything parses (`CidMismatch`); under their own CID, as a
//!   peer would present them, they decode to a typed error, never a panic. Every one of
//!   these types is signed, so "never the same value under another CID" is checked in
//!   its strongest form: nothing decodes at all.
//! - **Signatures.** A signed field changed under the old signature
//!   (`Envelope(Signature)`), a flipped signature or signer key, a missing signature
//!   (`Envelope(Unsigned)`) and a valid signature by another actor (`WrongSigner`) are
//!   all refused. Real culprit evidence convicts its culprit with `verify_culprits`, and
//!   stops convicting anyone once any of its fields changes, even re-signed by its
//!   reporter.
//! - **Limits.** `CommitteeCall`'s caps (2..=`MAX_COMMITTEE` strictly sorted members,
//!   2 <= t <= n, 1..=`MAX_COMMITTEE` strictly sorted dealers) give their typed errors and
//!   hold at the boundary. The other types have no list caps of their own: the 2 MiB block
//!   is their cap, so a payload that fills a block exactly round-trips, one more byte is
//!   `EncodeError::TooLarge`, and oversized untrusted bytes are `BlockError::TooLarge`
//!   before they are hashed. A block of one type is `WrongType` to every other decoder.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

use std::collections::BTreeMap;
use std::sync::OnceLock;

use frost_ed25519 as frost;
use proptest::collection::{btree_map, btree_set, vec};
use proptest::prelude::*;
use quorate_actor_core::{ActorId, ActorSecret, Identity};
use quorate_attestation_core::Committee;
use quorate_attestation_core::frost::call::{CommitteeCall, CommitteeResult, ReshareFrom};
use quorate_attestation_core::frost::dkg::{
    DkgBody, DkgMessage, EchoEntry, MAX_COMMITTEE, SealedShare, identifier,
};
use quorate_attestation_core::frost::reshare::{ReshareBody, ReshareMessage};
use quorate_attestation_core::frost::sign::{
    CulpritEvidence, SignBody, SignMessage, SignTarget, session_id, verify_culprits,
};
use quorate_group_core::{GroupId, ObjectError};
use quorate_mesh_proto::{
    Block, BlockError, BlockPayload, Cid, Codec, DecodeError, EncodeError, Envelope,
    MAX_BLOCK_SIZE, ObjectSig, VerifyError,
};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use serde_bytes::{ByteArray, ByteBuf};
use sha2::{Digest, Sha256};

mod common;

use common::frost::{GROUP, committee, people};

/// Cases per property: enough to reach every variant and field many times; the whole
/// file stays well under the time budget of a debug build.
const CASES: u32 = 256;

// ---------------------------------------------------------------------------------------
// The decoders under one name.

/// A committee block type: its decoder, and a way to change one of its signed fields.
trait Wire: BlockPayload + Clone + PartialEq + std::fmt::Debug {
    fn decode_block(block: &Block) -> Result<Self, ObjectError>;
    /// Changes signed field number `which` (modulo the field count): always a different
    /// value.
    fn tweak(&mut self, which: usize);
}

impl Wire for CommitteeCall {
    fn decode_block(block: &Block) -> Result<Self, ObjectError> {
        CommitteeCall::decode(block)
    }
    fn tweak(&mut self, which: usize) {
        let sub = which / 7;
        match which % 7 {
            0 => self.group = other_group(&self.group, sub),
            1 => self.epoch_state = other_cid(&self.epoch_state, sub),
            2 => self.called_by = other_actor(&self.called_by, sub),
            3 => change_actors(&mut self.members, sub),
            4 => self.threshold = self.threshold.wrapping_add(1),
            5 => match &mut self.reshare {
                Some(r) if sub.is_multiple_of(2) => change_actors(&mut r.dealers, sub / 2),
                Some(r) => r.committee = other_cid(&r.committee, sub / 2),
                None => {
                    self.reshare = Some(ReshareFrom {
                        committee: Cid::of(Codec::DagCbor, b"old"),
                        dealers: vec![ActorId::from_bytes([1; 32])],
                    });
                }
            },
            // A DKG becomes a resharing, a resharing a DKG.
            _ => {
                self.reshare = match self.reshare.take() {
                    Some(_) => None,
                    None => Some(ReshareFrom {
                        committee: Cid::of(Codec::DagCbor, b"old"),
                        dealers: Vec::new(),
                    }),
                };
            }
        }
    }
}

impl Wire for CommitteeResult {
    fn decode_block(block: &Block) -> Result<Self, ObjectError> {
        CommitteeResult::decode(block)
    }
    fn tweak(&mut self, which: usize) {
        let sub = which / 4;
        match which % 4 {
            0 => self.group = other_group(&self.group, sub),
            1 => self.call = other_cid(&self.call, sub),
            2 => self.from = other_actor(&self.from, sub),
            _ => self.committee = other_cid(&self.committee, sub),
        }
    }
}

impl Wire for DkgMessage {
    fn decode_block(block: &Block) -> Result<Self, ObjectError> {
        DkgMessage::decode(block)
    }
    fn tweak(&mut self, which: usize) {
        let sub = which / 5;
        match which % 5 {
            0 => self.group = other_group(&self.group, sub),
            1 => flip(&mut self.session, sub),
            2 => self.from = other_actor(&self.from, sub),
            // Another kind of message.
            3 => {
                self.body = match self.body {
                    DkgBody::Round1 { .. } => DkgBody::Echo {
                        digests: Vec::new(),
                    },
                    _ => DkgBody::Round1 {
                        package: Vec::new(),
                    },
                };
            }
            _ => match &mut self.body {
                DkgBody::Round1 { package } => change_bytes(package, sub),
                DkgBody::Echo { digests } => change_echo(digests, sub),
                DkgBody::Round2 { shares } => change_sealed(shares, sub),
            },
        }
    }
}

impl Wire for SignMessage {
    fn decode_block(block: &Block) -> Result<Self, ObjectError> {
        SignMessage::decode(block)
    }
    fn tweak(&mut self, which: usize) {
        let sub = which / 4;
        match which % 4 {
            0 => self.group = other_group(&self.group, sub),
            1 => flip(&mut self.session, sub),
            2 => self.from = other_actor(&self.from, sub),
            _ => change_sign_body(&mut self.body, sub),
        }
    }
}

impl Wire for CulpritEvidence {
    fn decode_block(block: &Block) -> Result<Self, ObjectError> {
        CulpritEvidence::decode(block)
    }
    fn tweak(&mut self, which: usize) {
        let sub = which / 6;
        match which % 6 {
            0 => self.group = other_group(&self.group, sub),
            1 => self.committee = other_cid(&self.committee, sub),
            2 => self.reporter = other_actor(&self.reporter, sub),
            3 => change_actors(&mut self.culprits, sub),
            4 => change_bytes(&mut self.package, sub),
            _ => change_bufs(&mut self.shares, sub),
        }
    }
}

impl Wire for ReshareMessage {
    fn decode_block(block: &Block) -> Result<Self, ObjectError> {
        ReshareMessage::decode(block)
    }
    fn tweak(&mut self, which: usize) {
        let sub = which / 4;
        match which % 4 {
            0 => self.group = other_group(&self.group, sub),
            1 => flip(&mut self.session, sub),
            2 => self.from = other_actor(&self.from, sub),
            _ => match &mut self.body {
                ReshareBody::Deal { commitment, shares } => {
                    if sub.is_multiple_of(2) {
                        change_points(commitment, sub / 2);
                    } else {
                        change_sealed(shares, sub / 2);
                    }
                }
                ReshareBody::Confirm { digests, group_key } => {
                    if sub.is_multiple_of(2) {
                        change_echo(digests, sub / 2);
                    } else {
                        flip(group_key, sub / 2);
                    }
                }
            },
        }
    }
}

fn change_sign_body(body: &mut SignBody, sub: usize) {
    let at = sub / 8;
    match body {
        SignBody::Request {
            committee,
            target,
            attempt,
            asked,
        } => match sub % 6 {
            0 => *committee = other_cid(committee, at),
            1 => target.proposal = other_cid(&target.proposal, at),
            2 => target.epoch = target.epoch.wrapping_add(1),
            3 => target.issued_at = target.issued_at.wrapping_add(1),
            4 => *attempt = attempt.wrapping_add(1),
            _ => change_actors(asked, at),
        },
        SignBody::Commit { commitments } => change_bytes(commitments, at),
        SignBody::Package { signers, package } => {
            if sub.is_multiple_of(2) {
                change_actors(signers, at);
            } else {
                change_bytes(package, at);
            }
        }
        SignBody::Share {
            package_digest,
            share,
        } => {
            if sub.is_multiple_of(2) {
                flip(package_digest, at);
            } else {
                change_bytes(share, at);
            }
        }
    }
}

// Small changes that always give a different value.

fn flip(bytes: &mut [u8], at: usize) {
    let len = bytes.len();
    if let Some(b) = bytes.get_mut(at % len.max(1)) {
        *b ^= 0x01;
    }
}

fn other_actor(a: &ActorId, at: usize) -> ActorId {
    let mut b = *a.as_bytes();
    flip(&mut b, at);
    ActorId::from_bytes(b)
}

fn other_group(g: &GroupId, at: usize) -> GroupId {
    let mut b = *g.as_bytes();
    flip(&mut b, at);
    GroupId::from_bytes(b)
}

fn other_cid(c: &Cid, at: usize) -> Cid {
    if at.is_multiple_of(5) {
        let codec = match c.codec() {
            Codec::Raw => Codec::DagCbor,
            _ => Codec::Raw,
        };
        return Cid::from_digest(codec, *c.digest());
    }
    let mut d = *c.digest();
    flip(&mut d, at);
    Cid::from_digest(c.codec(), d)
}

fn change_bytes(v: &mut Vec<u8>, at: usize) {
    if v.is_empty() || at.is_multiple_of(7) {
        v.push(0);
    } else {
        flip(v, at);
    }
}

fn change_actors(list: &mut Vec<ActorId>, at: usize) {
    let len = list.len();
    match list.get_mut(at % len.max(1)) {
        Some(a) if !at.is_multiple_of(3) => *a = other_actor(a, at),
        _ => list.push(ActorId::from_bytes([0xee; 32])),
    }
}

fn change_echo(list: &mut Vec<EchoEntry>, at: usize) {
    let len = list.len();
    match list.get_mut(at % len.max(1)) {
        Some(e) if at.is_multiple_of(2) => flip(&mut e.digest, at / 2),
        Some(e) => e.actor = other_actor(&e.actor, at / 2),
        None => list.push(EchoEntry {
            actor: ActorId::from_bytes([0xee; 32]),
            digest: [0; 32],
        }),
    }
}

fn change_sealed(list: &mut Vec<SealedShare>, at: usize) {
    let len = list.len();
    match list.get_mut(at % len.max(1)) {
        Some(s) if at.is_multiple_of(2) => change_bytes(&mut s.sealed, at / 2),
        Some(s) => s.to = other_actor(&s.to, at / 2),
        None => list.push(SealedShare {
            to: ActorId::from_bytes([0xee; 32]),
            sealed: Vec::new(),
        }),
    }
}

fn change_points(list: &mut Vec<ByteArray<32>>, at: usize) {
    let len = list.len();
    match list.get_mut(at % len.max(1)) {
        Some(p) => {
            let mut b = **p;
            flip(&mut b, at);
            *p = ByteArray::new(b);
        }
        None => list.push(ByteArray::new([0; 32])),
    }
}

fn change_bufs(list: &mut Vec<ByteBuf>, at: usize) {
    let len = list.len();
    match list.get_mut(at % len.max(1)) {
        Some(b) => {
            let mut v = b.to_vec();
            change_bytes(&mut v, at);
            *b = ByteBuf::from(v);
        }
        None => list.push(ByteBuf::new()),
    }
}

// ---------------------------------------------------------------------------------------
// Real FROST values, made once.

struct Real {
    /// A 2-of-3 committee (sorted people, their key packages).
    people: Vec<Identity>,
    committee: Committee,
    root: Cid,
    /// A DKG round-1 package.
    round1: Vec<u8>,
    /// A member's signing commitments.
    commitments: Vec<u8>,
    /// A signing package over two members' commitments.
    package: Vec<u8>,
    /// A valid signature share over `package`.
    share: Vec<u8>,
    /// A resharing dealer's Feldman commitment (2 points).
    points: Vec<ByteArray<32>>,
    /// Evidence, signed by `people[2]`, that `people[1]` sent an invalid share.
    evidence: CulpritEvidence,
}

fn real() -> &'static Real {
    static REAL: OnceLock<Real> = OnceLock::new();
    REAL.get_or_init(|| {
        let people = people(3);
        let (committee, root, keys) = committee(&people, 2, 7);
        let mut rng = ChaCha20Rng::seed_from_u64(11);

        let (_, round1) =
            frost::keys::dkg::part1(identifier(&people[0].id()).unwrap(), 3, 2, &mut rng).unwrap();

        let target = SignTarget {
            proposal: Cid::of(Codec::DagCbor, b"a proposal"),
            epoch: 1,
            issued_at: common::T0,
        };
        let (n0, c0) = frost::round1::commit(keys[0].signing_share(), &mut rng);
        let (n1, c1) = frost::round1::commit(keys[1].signing_share(), &mut rng);
        let signing = frost::SigningPackage::new(
            BTreeMap::from([(*keys[0].identifier(), c0), (*keys[1].identifier(), c1)]),
            &target.message(&GROUP),
        );
        let package = signing.serialize().unwrap();
        let s0 = frost::round2::sign(&signing, &n0, &keys[0])
            .unwrap()
            .serialize();
        let mut s1 = frost::round2::sign(&signing, &n1, &keys[1])
            .unwrap()
            .serialize();
        s1[0] ^= 1;
        let session = session_id(&GROUP, &root, &target, &people[2].id(), 1);
        let digest: [u8; 32] = Sha256::digest(&package).into();
        let share_block = |who: &Identity, share: &[u8]| {
            let m = SignMessage {
                group: GROUP,
                session,
                from: who.id(),
                body: SignBody::Share {
                    package_digest: digest,
                    share: share.to_vec(),
                },
            };
            ByteBuf::from(seal(&m, who).bytes().to_vec())
        };
        let evidence = CulpritEvidence {
            group: GROUP,
            committee: root,
            reporter: people[2].id(),
            culprits: vec![people[1].id()],
            package: package.clone(),
            shares: vec![share_block(&people[0], &s0), share_block(&people[1], &s1)],
        };
        assert_eq!(
            verify_culprits(&evidence, &committee),
            Ok(vec![people[1].id()])
        );

        let (shares, _) = frost::keys::split(
            &frost::SigningKey::new(&mut rng),
            3,
            2,
            frost::keys::IdentifierList::Default,
            &mut rng,
        )
        .unwrap();
        let points = shares
            .values()
            .next()
            .unwrap()
            .commitment()
            .serialize()
            .unwrap()
            .into_iter()
            .map(|p| ByteArray::new(<[u8; 32]>::try_from(p.as_slice()).unwrap()))
            .collect();

        Real {
            people,
            committee,
            root,
            round1: round1.serialize().unwrap(),
            commitments: c0.serialize().unwrap(),
            package,
            share: s0,
            points,
            evidence,
        }
    })
}

// ---------------------------------------------------------------------------------------
// Strategies: valid values of each type, with the actor who signs them.

fn seal<T: BlockPayload + Clone>(value: &T, by: &Identity) -> Block {
    Envelope::signed(value.clone(), by.signing_key())
        .unwrap()
        .to_block()
        .unwrap()
}

fn identity() -> impl Strategy<Value = Identity> {
    any::<[u8; 32]>().prop_map(|s| Identity::from_secret(ActorSecret::from_bytes(s)))
}

fn group() -> impl Strategy<Value = GroupId> {
    prop_oneof![Just(GROUP), any::<[u8; 32]>().prop_map(GroupId::from_bytes)]
}

fn cid() -> impl Strategy<Value = Cid> {
    (any::<bool>(), any::<[u8; 32]>())
        .prop_map(|(raw, d)| Cid::from_digest(if raw { Codec::Raw } else { Codec::DagCbor }, d))
}

/// Distinct actors, strictly sorted (as every list of actors is documented).
fn actors(len: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = Vec<ActorId>> {
    btree_set(any::<[u8; 32]>(), len).prop_map(|s| s.into_iter().map(ActorId::from_bytes).collect())
}

/// Either a real `frost-ed25519` serialisation or arbitrary bytes.
fn payload(real: &'static [u8]) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![Just(real.to_vec()), vec(any::<u8>(), 0..300)]
}

fn echo() -> impl Strategy<Value = Vec<EchoEntry>> {
    btree_map(any::<[u8; 32]>(), any::<[u8; 32]>(), 0..8).prop_map(|m| {
        m.into_iter()
            .map(|(a, digest)| EchoEntry {
                actor: ActorId::from_bytes(a),
                digest,
            })
            .collect()
    })
}

fn sealed() -> impl Strategy<Value = Vec<SealedShare>> {
    btree_map(any::<[u8; 32]>(), vec(any::<u8>(), 0..160), 0..6).prop_map(|m| {
        m.into_iter()
            .map(|(a, sealed)| SealedShare {
                to: ActorId::from_bytes(a),
                sealed,
            })
            .collect()
    })
}

fn call() -> impl Strategy<Value = (CommitteeCall, Identity)> {
    (
        identity(),
        group(),
        cid(),
        actors(2..=24),
        any::<u16>(),
        proptest::option::of((cid(), actors(1..=8))),
    )
        .prop_map(|(by, group, epoch_state, members, t, reshare)| {
            let n = u16::try_from(members.len()).unwrap();
            let call = CommitteeCall {
                group,
                epoch_state,
                called_by: by.id(),
                members,
                threshold: 2 + t % (n - 1),
                reshare: reshare.map(|(committee, dealers)| ReshareFrom { committee, dealers }),
            };
            (call, by)
        })
}

fn result() -> impl Strategy<Value = (CommitteeResult, Identity)> {
    (identity(), group(), cid(), cid()).prop_map(|(by, group, call, committee)| {
        let r = CommitteeResult {
            group,
            call,
            from: by.id(),
            committee,
        };
        (r, by)
    })
}

fn dkg() -> impl Strategy<Value = (DkgMessage, Identity)> {
    let body = prop_oneof![
        payload(&real().round1).prop_map(|package| DkgBody::Round1 { package }),
        echo().prop_map(|digests| DkgBody::Echo { digests }),
        sealed().prop_map(|shares| DkgBody::Round2 { shares }),
    ];
    (identity(), group(), any::<[u8; 32]>(), body).prop_map(|(by, group, session, body)| {
        let m = DkgMessage {
            group,
            session,
            from: by.id(),
            body,
        };
        (m, by)
    })
}

fn sign() -> impl Strategy<Value = (SignMessage, Identity)> {
    let r = real();
    let request = (
        prop_oneof![Just(r.root), cid()],
        cid(),
        any::<u64>(),
        any::<u64>(),
        any::<u32>(),
        actors(0..=12),
    )
        .prop_map(|(committee, proposal, epoch, issued_at, attempt, asked)| {
            SignBody::Request {
                committee,
                target: SignTarget {
                    proposal,
                    epoch,
                    issued_at,
                },
                attempt,
                asked,
            }
        });
    let body = prop_oneof![
        request,
        payload(&r.commitments).prop_map(|commitments| SignBody::Commit { commitments }),
        (actors(0..=12), payload(&r.package))
            .prop_map(|(signers, package)| SignBody::Package { signers, package }),
        (any::<[u8; 32]>(), payload(&r.share)).prop_map(|(package_digest, share)| {
            SignBody::Share {
                package_digest,
                share,
            }
        }),
    ];
    (identity(), group(), any::<[u8; 32]>(), body).prop_map(|(by, group, session, body)| {
        let m = SignMessage {
            group,
            session,
            from: by.id(),
            body,
        };
        (m, by)
    })
}

fn evidence() -> impl Strategy<Value = (CulpritEvidence, Identity)> {
    let r = real();
    let real_shares: Vec<Vec<u8>> = r.evidence.shares.iter().map(|b| b.to_vec()).collect();
    let share = prop_oneof![
        proptest::sample::select(real_shares),
        vec(any::<u8>(), 0..200)
    ];
    (
        identity(),
        group(),
        cid(),
        actors(0..=6),
        payload(&r.package),
        vec(share, 0..4),
    )
        .prop_map(|(by, group, committee, culprits, package, shares)| {
            let e = CulpritEvidence {
                group,
                committee,
                reporter: by.id(),
                culprits,
                package,
                shares: shares.into_iter().map(ByteBuf::from).collect(),
            };
            (e, by)
        })
}

fn reshare() -> impl Strategy<Value = (ReshareMessage, Identity)> {
    let r = real();
    let points = prop_oneof![
        Just(r.points.clone()),
        vec(any::<[u8; 32]>().prop_map(ByteArray::new), 0..6)
    ];
    let body = prop_oneof![
        (points, sealed())
            .prop_map(|(commitment, shares)| ReshareBody::Deal { commitment, shares }),
        (echo(), any::<[u8; 32]>())
            .prop_map(|(digests, group_key)| ReshareBody::Confirm { digests, group_key }),
    ];
    (identity(), group(), any::<[u8; 32]>(), body).prop_map(|(by, group, session, body)| {
        let m = ReshareMessage {
            group,
            session,
            from: by.id(),
            body,
        };
        (m, by)
    })
}

// ---------------------------------------------------------------------------------------
// The properties, for any type.

fn check_round_trip<T: Wire>(value: &T, by: &Identity) -> Result<(), TestCaseError> {
    let block = seal(value, by);
    prop_assert_eq!(T::decode_block(&block), Ok(value.clone()));
    // One value, one encoding: the decoded envelope re-encodes to the same bytes.
    let again = block.decode::<T>().unwrap().to_block().unwrap();
    prop_assert_eq!(again.bytes(), block.bytes());
    prop_assert_eq!(again.cid(), block.cid());
    // Signing is deterministic: the same value and signer, the same block.
    prop_assert_eq!(&seal(value, by), &block);
    // Through the door for untrusted bytes.
    let received = Block::from_untrusted(block.cid(), block.bytes().clone()).unwrap();
    prop_assert_eq!(T::decode_block(&received), Ok(value.clone()));
    // The same bytes named by a raw CID are not an envelope.
    let raw = Block::raw(block.bytes().clone()).unwrap();
    prop_assert_eq!(
        T::decode_block(&raw),
        Err(ObjectError::Decode(DecodeError::NotDagCbor))
    );
    Ok(())
}

#[derive(Clone, Debug)]
enum Mutation {
    Flip { at: usize, mask: u8 },
    Truncate { to: usize },
    Append(Vec<u8>),
    Insert { at: usize, bytes: Vec<u8> },
    Remove { at: usize, len: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), 1u8..).prop_map(|(at, mask)| Mutation::Flip { at, mask }),
        1 => any::<usize>().prop_map(|to| Mutation::Truncate { to }),
        1 => vec(any::<u8>(), 1..8).prop_map(Mutation::Append),
        1 => (any::<usize>(), vec(any::<u8>(), 1..8))
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        1 => (any::<usize>(), 1usize..8).prop_map(|(at, len)| Mutation::Remove { at, len }),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let len = bytes.len();
    let at = |i: usize| i % len.max(1);
    match m {
        Mutation::Flip { at: i, mask } => {
            if let Some(b) = bytes.get_mut(at(*i)) {
                *b ^= mask;
            }
        }
        Mutation::Truncate { to } => bytes.truncate(at(*to)),
        Mutation::Append(tail) => bytes.extend_from_slice(tail),
        Mutation::Insert { at: i, bytes: b } => {
            let i = at(*i);
            bytes.splice(i..i, b.iter().copied());
        }
        Mutation::Remove { at: i, len: n } => {
            let i = at(*i);
            bytes.drain(i..(i + n).min(len));
        }
    }
}

fn check_mutated<T: Wire>(
    value: &T,
    by: &Identity,
    mutations: &[Mutation],
) -> Result<(), TestCaseError> {
    let block = seal(value, by);
    let mut bytes = block.bytes().to_vec();
    for m in mutations {
        apply(&mut bytes, m);
    }
    prop_assume!(bytes != block.bytes().as_ref());
    // Under the CID that was asked for: refused before anything parses.
    prop_assert!(
        matches!(
            Block::from_untrusted(block.cid(), bytes.clone()),
            Err(BlockError::CidMismatch { .. })
        ),
        "other bytes under the original CID"
    );
    // Under their own CID, as a forging peer would present them: every byte of a signed
    // envelope is structure or signed content, so nothing decodes (a fortiori not the
    // original value under another CID). Any panic fails the test.
    let cid = Cid::of(Codec::DagCbor, &bytes);
    let forged = Block::from_untrusted(&cid, bytes.clone()).unwrap();
    let decoded = T::decode_block(&forged);
    prop_assert!(decoded.is_err(), "mutated bytes decoded to {:?}", decoded);
    // A raw CID over them: not an envelope, whatever the bytes.
    let raw = Block::from_untrusted(&Cid::of(Codec::Raw, &bytes), bytes).unwrap();
    prop_assert_eq!(
        T::decode_block(&raw),
        Err(ObjectError::Decode(DecodeError::NotDagCbor))
    );
    Ok(())
}

fn check_signature<T: Wire>(
    value: &T,
    by: &Identity,
    which: usize,
    other: &Identity,
) -> Result<(), TestCaseError> {
    let block = seal(value, by);
    let envelope = block.decode::<T>().unwrap();
    // A signed field changed, the signature kept.
    let mut changed = envelope.clone();
    changed.payload.tweak(which);
    prop_assert_ne!(&changed.payload, value);
    let decoded = T::decode_block(&changed.to_block().unwrap());
    prop_assert!(
        matches!(
            decoded,
            Err(ObjectError::Envelope(VerifyError::Signature(_)))
        ),
        "field {} changed: {:?}",
        which,
        decoded
    );
    // The signature or the signer's key altered.
    let with_sig = |change: &dyn Fn(&mut ObjectSig)| {
        let mut sig = envelope.sig.unwrap();
        change(&mut sig);
        let resealed = Envelope {
            payload: value.clone(),
            sig: Some(sig),
        };
        T::decode_block(&resealed.to_block().unwrap())
    };
    let decoded = with_sig(&|sig| flip(&mut sig.sig, which));
    prop_assert!(
        matches!(
            decoded,
            Err(ObjectError::Envelope(VerifyError::Signature(_)))
        ),
        "signature altered: {:?}",
        decoded
    );
    let decoded = with_sig(&|sig| flip(&mut sig.key, which));
    prop_assert!(
        matches!(
            decoded,
            Err(ObjectError::Envelope(
                VerifyError::Signature(_) | VerifyError::BadKey
            ))
        ),
        "signer key altered: {:?}",
        decoded
    );
    // No signature.
    prop_assert_eq!(
        T::decode_block(&Envelope::unsigned(value.clone()).to_block().unwrap()),
        Err(ObjectError::Envelope(VerifyError::Unsigned))
    );
    // A valid signature by someone else than the actor the value names.
    prop_assume!(other.id() != by.id());
    prop_assert_eq!(
        T::decode_block(&seal(value, other)),
        Err(ObjectError::WrongSigner)
    );
    Ok(())
}

/// `bytes` with the first `from` replaced by `to` (it must be there).
fn edit(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .expect("the pattern is in the block");
    [&bytes[..at], to, &bytes[at + from.len()..]].concat()
}

/// Another encoding of the same value (so the same signature) is refused as such: the
/// DAG-CBOR parser rejects non-minimal heads and unordered keys (`Malformed`), the
/// re-encoding check whatever else parses (`NonCanonical`).
fn check_other_encoding<T: Wire>(bytes: Vec<u8>, original: &Block) -> Result<(), TestCaseError> {
    prop_assert_ne!(&bytes[..], &original.bytes()[..]);
    let block = Block::from_untrusted(&Cid::of(Codec::DagCbor, &bytes), bytes).unwrap();
    let decoded = T::decode_block(&block);
    prop_assert!(
        matches!(
            decoded,
            Err(ObjectError::Decode(
                DecodeError::NonCanonical | DecodeError::Malformed(_)
            ))
        ),
        "another encoding of a {} decoded: {:?}",
        T::TYPE,
        decoded
    );
    Ok(())
}

/// The envelope's `version` as a non-minimal integer, and its last two entries
/// (`payload`, `version`: same key length, so bytewise order) swapped.
fn check_envelope_encodings<T: Wire>(value: &T, by: &Identity) -> Result<(), TestCaseError> {
    let block = seal(value, by);
    let bytes = block.bytes();
    let version: &[u8] = b"\x67version\x01";
    check_other_encoding::<T>(edit(bytes, version, b"\x67version\x18\x01"), &block)?;
    let v = bytes.len() - version.len();
    prop_assert_eq!(&bytes[v..], version);
    let p = bytes.windows(8).position(|w| w == b"\x67payload").unwrap();
    let swapped = [&bytes[..p], &bytes[v..], &bytes[p..v]].concat();
    check_other_encoding::<T>(swapped, &block)?;
    Ok(())
}

macro_rules! codec_properties {
    ($name:ident, $strategy:expr) => {
        mod $name {
            use super::*;

            proptest! {
                #![proptest_config(ProptestConfig::with_cases(CASES))]

                #[test]
                fn round_trips((value, by) in $strategy) {
                    check_round_trip(&value, &by)?;
                }

                #[test]
                fn mutated_bytes_are_refused(
                    (value, by) in $strategy,
                    mutations in vec(mutation(), 1..4),
                ) {
                    check_mutated(&value, &by, &mutations)?;
                }

                #[test]
                fn changed_signed_fields_fail_the_signature(
                    (value, by) in $strategy,
                    which in any::<usize>(),
                    other in identity(),
                ) {
                    check_signature(&value, &by, which, &other)?;
                }

                #[test]
                fn other_encodings_of_the_same_value_are_refused((value, by) in $strategy) {
                    check_envelope_encodings(&value, &by)?;
                }
            }
        }
    };
}

codec_properties!(committee_call, call());
codec_properties!(committee_result, result());
codec_properties!(dkg_message, dkg());
codec_properties!(sign_message, sign());
codec_properties!(culprit_evidence, evidence());
codec_properties!(reshare_message, reshare());

// ---------------------------------------------------------------------------------------
// Across types, real evidence, limits.

/// `T::decode_block` of every block but the one of type `T`'s is `WrongType`.
fn only_its_own<T: Wire>(blocks: &[Block]) -> Result<(), TestCaseError> {
    for b in blocks {
        let kind = b.header().unwrap().kind;
        let decoded = T::decode_block(b);
        if kind == T::TYPE {
            prop_assert!(decoded.is_ok());
        } else {
            prop_assert!(
                matches!(
                    &decoded,
                    Err(ObjectError::Decode(DecodeError::WrongType { expected, found }))
                        if *expected == T::TYPE && *found == kind
                ),
                "{} decoded as {}: {:?}",
                kind,
                T::TYPE,
                decoded
            );
        }
    }
    Ok(())
}

/// One evidence field changed (and re-signed by the reporter, so it decodes).
#[derive(Clone, Debug)]
enum Framing {
    /// Name someone else, or add an innocent, or name nobody.
    Culprits(usize),
    /// Another package.
    Package(usize, u8),
    /// A byte of a signed share block changed.
    Share(usize, usize, u8),
    /// A share block left out.
    Drop(usize),
    /// Another group.
    Group(usize),
}

fn framing() -> impl Strategy<Value = Framing> {
    prop_oneof![
        any::<usize>().prop_map(Framing::Culprits),
        (any::<usize>(), 1u8..).prop_map(|(at, m)| Framing::Package(at, m)),
        (any::<usize>(), any::<usize>(), 1u8..).prop_map(|(i, at, m)| Framing::Share(i, at, m)),
        any::<usize>().prop_map(Framing::Drop),
        any::<usize>().prop_map(Framing::Group),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn a_block_is_refused_by_every_other_decoder(
        (call, c) in call(),
        (result, r) in result(),
        (dkg, d) in dkg(),
        (sign, s) in sign(),
        (evidence, e) in evidence(),
        (reshare, x) in reshare(),
    ) {
        let blocks = [
            seal(&call, &c),
            seal(&result, &r),
            seal(&dkg, &d),
            seal(&sign, &s),
            seal(&evidence, &e),
            seal(&reshare, &x),
        ];
        only_its_own::<CommitteeCall>(&blocks)?;
        only_its_own::<CommitteeResult>(&blocks)?;
        only_its_own::<DkgMessage>(&blocks)?;
        only_its_own::<SignMessage>(&blocks)?;
        only_its_own::<CulpritEvidence>(&blocks)?;
        only_its_own::<ReshareMessage>(&blocks)?;
    }

    #[test]
    fn real_evidence_convicts_only_as_signed(framing in framing()) {
        let r = real();
        let reporter = &r.people[2];
        let block = seal(&r.evidence, reporter);
        let evidence = CulpritEvidence::decode(&block).unwrap();
        prop_assert_eq!(
            verify_culprits(&evidence, &r.committee),
            Ok(vec![r.people[1].id()])
        );
        let mut framed = evidence.clone();
        match framing {
            Framing::Culprits(i) => {
                framed.culprits = match i % 3 {
                    0 => vec![r.people[i / 3 % 2 * 2].id()],
                    1 => {
                        let mut all: Vec<ActorId> = r.people.iter().map(Identity::id).collect();
                        all.truncate(2 + i / 3 % 2);
                        all
                    }
                    _ => Vec::new(),
                };
            }
            Framing::Package(at, mask) => {
                let len = framed.package.len();
                framed.package[at % len] ^= mask;
            }
            Framing::Share(i, at, mask) => {
                let share = &mut framed.shares[i % 2];
                let len = share.len();
                share[at % len] ^= mask;
            }
            Framing::Drop(i) => {
                framed.shares.remove(i % 2);
            }
            Framing::Group(at) => framed.group = other_group(&framed.group, at),
        }
        prop_assert_ne!(&framed, &evidence);
        // Unchanged signature: refused at decoding.
        let forged = Envelope {
            payload: framed.clone(),
            sig: block.decode::<CulpritEvidence>().unwrap().sig,
        };
        prop_assert!(matches!(
            CulpritEvidence::decode(&forged.to_block().unwrap()),
            Err(ObjectError::Envelope(VerifyError::Signature(_)))
        ));
        // Re-signed by the reporter: decodes, and convicts nobody.
        let resigned = CulpritEvidence::decode(&seal(&framed, reporter)).unwrap();
        prop_assert_eq!(&resigned, &framed);
        let verdict = verify_culprits(&resigned, &r.committee);
        prop_assert!(verdict.is_err(), "{:?} convicts: {:?}", framing, verdict);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// Payload fields in another encoding of the same value: a non-minimal integer, an
    /// absent `Option` (serde reads it as `None`), a non-minimal byte-string length, two
    /// map entries out of canonical order.
    #[test]
    fn other_encodings_of_payload_fields_are_refused(
        (mut call, c) in call(),
        (result, r) in result(),
        (dkg, d) in dkg(),
        (sign, s) in sign(),
    ) {
        let block = seal(&call, &c);
        let t = u8::try_from(call.threshold).unwrap();
        let minimal: &[u8] = if t < 24 { &[t] } else { &[0x18, t] };
        let key: &[u8] = b"\x69threshold";
        let (from, to) = ([key, minimal].concat(), [key, &[0x19, 0, t]].concat());
        let two_bytes = edit(block.bytes(), &from, &to);
        check_other_encoding::<CommitteeCall>(two_bytes, &block)?;
        call.reshare = None;
        let block = seal(&call, &c);
        // Six payload fields, one left out. The parser takes it (as `None`): only the
        // re-encoding check tells it from the canonical block.
        let absent = edit(block.bytes(), b"\x67reshare\xf6", b"");
        let absent = edit(&absent, b"\x67payload\xa6", b"\x67payload\xa5");
        let forged = Block::from_untrusted(&Cid::of(Codec::DagCbor, &absent), absent).unwrap();
        prop_assert_eq!(
            CommitteeCall::decode(&forged),
            Err(ObjectError::Decode(DecodeError::NonCanonical))
        );
        let block = seal(&dkg, &d);
        check_other_encoding::<DkgMessage>(
            edit(block.bytes(), b"\x67session\x58\x20", b"\x67session\x59\x00\x20"),
            &block,
        )?;
        let block = seal(&sign, &s);
        check_other_encoding::<SignMessage>(
            edit(block.bytes(), b"\x67session\x58\x20", b"\x67session\x59\x00\x20"),
            &block,
        )?;
        // `call` (a 41-byte link) and `from` (a 34-byte string): both 4-letter keys, so
        // `call` first; here `from` first.
        let block = seal(&result, &r);
        let bytes = block.bytes();
        let at = bytes.windows(5).position(|w| w == b"\x64call").unwrap();
        prop_assert_eq!(&bytes[at + 46..at + 51], b"\x64from");
        let (call_entry, from_entry) = (&bytes[at..at + 46], &bytes[at + 46..at + 85]);
        let swapped = [&bytes[..at], from_entry, call_entry, &bytes[at + 85..]].concat();
        check_other_encoding::<CommitteeResult>(swapped, &block)?;
    }
}

/// How a valid call is broken, and the error expected.
#[derive(Clone, Debug)]
enum Break {
    /// Fewer than 2 members.
    TooFew(usize),
    /// More than `MAX_COMMITTEE` members.
    TooMany(Vec<ActorId>),
    /// Two neighbours swapped.
    Unsorted(usize),
    /// A member twice.
    Duplicate(usize),
    /// A threshold of 0 or 1.
    ThresholdLow(u16),
    /// A threshold above the member count.
    ThresholdHigh(u16),
    /// A resharing with no dealers.
    NoDealers,
    /// A resharing with more than `MAX_COMMITTEE` dealers.
    TooManyDealers(Vec<ActorId>),
    /// Dealers out of order or repeated.
    UnsortedDealers(usize),
}

fn breaks() -> impl Strategy<Value = Break> {
    prop_oneof![
        (0usize..2).prop_map(Break::TooFew),
        actors(MAX_COMMITTEE + 1..=MAX_COMMITTEE + 40).prop_map(Break::TooMany),
        any::<usize>().prop_map(Break::Unsorted),
        any::<usize>().prop_map(Break::Duplicate),
        (0u16..2).prop_map(Break::ThresholdLow),
        (1u16..1000).prop_map(Break::ThresholdHigh),
        Just(Break::NoDealers),
        actors(MAX_COMMITTEE + 1..=MAX_COMMITTEE + 40).prop_map(Break::TooManyDealers),
        any::<usize>().prop_map(Break::UnsortedDealers),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn a_call_outside_the_caps_is_refused_with_its_error(
        (mut call, by) in call(),
        broken in breaks(),
    ) {
        let n = call.members.len();
        let expected = match broken {
            Break::TooFew(k) => {
                call.members.truncate(k);
                ObjectError::TooLarge("committee")
            }
            Break::TooMany(members) => {
                call.members = members;
                ObjectError::TooLarge("committee")
            }
            Break::Unsorted(i) => {
                call.members.swap(i % (n - 1), i % (n - 1) + 1);
                ObjectError::NotSorted("committee members")
            }
            Break::Duplicate(i) => {
                call.members[i % (n - 1) + 1] = call.members[i % (n - 1)];
                ObjectError::NotSorted("committee members")
            }
            Break::ThresholdLow(t) => {
                call.threshold = t;
                ObjectError::Invalid("a threshold outside 2..=members")
            }
            Break::ThresholdHigh(extra) => {
                call.threshold = u16::try_from(n).unwrap() + extra;
                ObjectError::Invalid("a threshold outside 2..=members")
            }
            Break::NoDealers => {
                let dealers = Vec::new();
                call.reshare = Some(ReshareFrom { committee: call.epoch_state, dealers });
                ObjectError::TooLarge("dealers")
            }
            Break::TooManyDealers(dealers) => {
                call.reshare = Some(ReshareFrom { committee: call.epoch_state, dealers });
                ObjectError::TooLarge("dealers")
            }
            Break::UnsortedDealers(i) => {
                let mut dealers = call.members.clone();
                if i.is_multiple_of(2) {
                    dealers.reverse();
                } else {
                    dealers.insert(0, dealers[0]);
                }
                call.reshare = Some(ReshareFrom { committee: call.epoch_state, dealers });
                ObjectError::NotSorted("dealers")
            }
        };
        let decoded = CommitteeCall::decode(&seal(&call, &by));
        match expected {
            // The threshold's error is compared by kind, not by its wording.
            ObjectError::Invalid(_) => prop_assert!(
                matches!(decoded, Err(ObjectError::Invalid(_))),
                "{:?}",
                decoded
            ),
            expected => prop_assert_eq!(decoded, Err(expected)),
        }
    }

    #[test]
    fn a_call_at_the_caps_round_trips(
        (mut call, by) in call(),
        members in actors(MAX_COMMITTEE..=MAX_COMMITTEE),
        dealers in actors(MAX_COMMITTEE..=MAX_COMMITTEE),
        full in any::<bool>(),
    ) {
        call.threshold = if full { u16::try_from(MAX_COMMITTEE).unwrap() } else { 2 };
        call.members = members;
        call.reshare = Some(ReshareFrom { committee: call.epoch_state, dealers });
        check_round_trip(&call, &by)?;
    }
}

/// A value whose block grows by one byte per payload byte: one that fills a block
/// exactly decodes, one byte more cannot be encoded, and such bytes from a peer are
/// refused before they are hashed.
fn check_block_cap<T: Wire>(by: &Identity, make: impl Fn(usize) -> T) {
    // Byte strings of 64 KiB to 4 GiB have a 5-byte header: the rest is the overhead.
    let probe = 1 << 17;
    let overhead = seal(&make(probe), by).len() - probe;
    let fits = MAX_BLOCK_SIZE - overhead;
    let full = seal(&make(fits), by);
    assert_eq!(full.len(), MAX_BLOCK_SIZE, "{}", T::TYPE);
    assert_eq!(T::decode_block(&full), Ok(make(fits)), "{}", T::TYPE);
    let over = Envelope::signed(make(fits + 1), by.signing_key()).unwrap();
    assert_eq!(
        over.to_block().err(),
        Some(EncodeError::TooLarge {
            size: MAX_BLOCK_SIZE + 1,
            max: MAX_BLOCK_SIZE
        }),
        "{}",
        T::TYPE
    );
    let mut bytes = full.bytes().to_vec();
    bytes.push(0);
    let cid = Cid::of(Codec::DagCbor, &bytes);
    assert_eq!(
        Block::from_untrusted(&cid, bytes).err(),
        Some(BlockError::TooLarge {
            size: MAX_BLOCK_SIZE + 1,
            max: MAX_BLOCK_SIZE
        }),
        "{}",
        T::TYPE
    );
}

#[test]
fn every_payload_is_capped_by_the_block_size() {
    let by = &real().people[0];
    let dkg = |body| DkgMessage {
        group: GROUP,
        session: [1; 32],
        from: by.id(),
        body,
    };
    let sign = |body| SignMessage {
        group: GROUP,
        session: [2; 32],
        from: by.id(),
        body,
    };
    let sealed = |len| {
        vec![SealedShare {
            to: by.id(),
            sealed: vec![7; len],
        }]
    };
    check_block_cap(by, |len| {
        dkg(DkgBody::Round1 {
            package: vec![7; len],
        })
    });
    check_block_cap(by, |len| {
        dkg(DkgBody::Round2 {
            shares: sealed(len),
        })
    });
    check_block_cap(by, |len| {
        sign(SignBody::Commit {
            commitments: vec![7; len],
        })
    });
    check_block_cap(by, |len| {
        sign(SignBody::Package {
            signers: vec![by.id()],
            package: vec![7; len],
        })
    });
    check_block_cap(by, |len| {
        sign(SignBody::Share {
            package_digest: [3; 32],
            share: vec![7; len],
        })
    });
    let evidence = |package, share| CulpritEvidence {
        group: GROUP,
        committee: real().root,
        reporter: by.id(),
        culprits: vec![by.id()],
        package,
        shares: vec![ByteBuf::from(share)],
    };
    check_block_cap(by, |len| evidence(vec![7; len], Vec::new()));
    check_block_cap(by, |len| evidence(Vec::new(), vec![7; len]));
    check_block_cap(by, |len| ReshareMessage {
        group: GROUP,
        session: [4; 32],
        from: by.id(),
        body: ReshareBody::Deal {
            commitment: real().points.clone(),
            shares: sealed(len),
        },
    });
}

#[test]
fn lists_without_caps_of_their_own_are_capped_by_the_block_size() {
    let by = &real().people[0];
    // An actor id takes 34 bytes, an echo entry about 80: 70,000 are over 2 MiB either way.
    let entries: Vec<EchoEntry> = (0..70_000u32)
        .map(|i| {
            let mut actor = [0; 32];
            actor[..4].copy_from_slice(&i.to_be_bytes());
            EchoEntry {
                actor: ActorId::from_bytes(actor),
                digest: [9; 32],
            }
        })
        .collect();
    let actors: Vec<ActorId> = entries.iter().map(|e| e.actor).collect();
    let too_large = |r: Result<Block, EncodeError>| match r {
        Err(EncodeError::TooLarge { size, max }) => size > max && max == MAX_BLOCK_SIZE,
        _ => false,
    };
    let echo = DkgMessage {
        group: GROUP,
        session: [1; 32],
        from: by.id(),
        body: DkgBody::Echo {
            digests: entries.clone(),
        },
    };
    assert!(too_large(
        Envelope::signed(echo, by.signing_key()).unwrap().to_block()
    ));
    let confirm = ReshareMessage {
        group: GROUP,
        session: [4; 32],
        from: by.id(),
        body: ReshareBody::Confirm {
            digests: entries,
            group_key: [5; 32],
        },
    };
    assert!(too_large(
        Envelope::signed(confirm, by.signing_key())
            .unwrap()
            .to_block()
    ));
    let request = SignMessage {
        group: GROUP,
        session: [2; 32],
        from: by.id(),
        body: SignBody::Request {
            committee: real().root,
            target: SignTarget {
                proposal: real().root,
                epoch: 1,
                issued_at: common::T0,
            },
            attempt: 1,
            asked: actors.clone(),
        },
    };
    assert!(too_large(
        Envelope::signed(request, by.signing_key())
            .unwrap()
            .to_block()
    ));
    let evidence = CulpritEvidence {
        group: GROUP,
        committee: real().root,
        reporter: by.id(),
        culprits: actors,
        package: Vec::new(),
        shares: Vec::new(),
    };
    assert!(too_large(
        Envelope::signed(evidence, by.signing_key())
            .unwrap()
            .to_block()
    ));
}

/// Every list in a committee block has at most one entry per member: `MAX_COMMITTEE`
/// entries decode, one more is refused with `TooLarge` (long before the 2 MiB block
/// limit would stop it).
#[test]
fn every_list_is_capped_at_a_committee() {
    let by = &real().people[0];
    let entries = |n: usize| -> Vec<EchoEntry> {
        (0..n)
            .map(|i| {
                let mut actor = [0; 32];
                actor[..4].copy_from_slice(&u32::try_from(i).unwrap().to_be_bytes());
                EchoEntry {
                    actor: ActorId::from_bytes(actor),
                    digest: [9; 32],
                }
            })
            .collect()
    };
    let actors = |n: usize| entries(n).into_iter().map(|e| e.actor).collect::<Vec<_>>();
    let shares = |n: usize| {
        actors(n)
            .into_iter()
            .map(|to| SealedShare {
                to,
                sealed: vec![1; 4],
            })
            .collect::<Vec<_>>()
    };
    for n in [MAX_COMMITTEE, MAX_COMMITTEE + 1] {
        let over = n > MAX_COMMITTEE;
        let dkg = |body| DkgMessage {
            group: GROUP,
            session: [1; 32],
            from: by.id(),
            body,
        };
        let reshare = |body| ReshareMessage {
            group: GROUP,
            session: [4; 32],
            from: by.id(),
            body,
        };
        let sign = |body| SignMessage {
            group: GROUP,
            session: [2; 32],
            from: by.id(),
            body,
        };
        let results = [
            DkgMessage::decode(&seal(
                &dkg(DkgBody::Echo {
                    digests: entries(n),
                }),
                by,
            ))
            .map(drop),
            DkgMessage::decode(&seal(&dkg(DkgBody::Round2 { shares: shares(n) }), by)).map(drop),
            ReshareMessage::decode(&seal(
                &reshare(ReshareBody::Confirm {
                    digests: entries(n),
                    group_key: [5; 32],
                }),
                by,
            ))
            .map(drop),
            ReshareMessage::decode(&seal(
                &reshare(ReshareBody::Deal {
                    commitment: vec![ByteArray::new([3; 32]); n],
                    shares: shares(1),
                }),
                by,
            ))
            .map(drop),
            SignMessage::decode(&seal(
                &sign(SignBody::Request {
                    committee: real().root,
                    target: SignTarget {
                        proposal: real().root,
                        epoch: 1,
                        issued_at: common::T0,
                    },
                    attempt: 1,
                    asked: actors(n),
                }),
                by,
            ))
            .map(drop),
            SignMessage::decode(&seal(
                &sign(SignBody::Package {
                    signers: actors(n),
                    package: vec![1; 8],
                }),
                by,
            ))
            .map(drop),
            CulpritEvidence::decode(&seal(
                &CulpritEvidence {
                    group: GROUP,
                    committee: real().root,
                    reporter: by.id(),
                    culprits: actors(n),
                    package: Vec::new(),
                    shares: Vec::new(),
                },
                by,
            ))
            .map(drop),
        ];
        for (i, r) in results.into_iter().enumerate() {
            if over {
                assert!(
                    matches!(r, Err(ObjectError::TooLarge(_))),
                    "list {i}: {r:?}"
                );
            } else {
                assert!(r.is_ok(), "list {i}: {r:?}");
            }
        }
    }
}
