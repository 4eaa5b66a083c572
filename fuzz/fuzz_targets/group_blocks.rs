//! Arbitrary bytes against every group-core decoder: a typed error or an exact round trip,
//! and every check behind the decoder returns instead of panicking.
//!
//! The whole input is tried as a DAG-CBOR block (its own CID) with every group block type
//! (`GroupGenesis`, `MemberSet`, `Policy`, `KeyIndex`, `KeyPage`, `GroupEpochState`,
//! `GroupMessage`, `GroupInvite`, `JoinRequest`, `LeaveRequest`), then through each type's
//! checks: against the fixture group of
//! `group/fixture.rs` and against the group, epoch and key the block itself names (so the
//! checks after the group comparison see fuzzed values too). Key pages are opened as the
//! fixture's members and an outsider; messages are authenticated against the fixture's
//! member sets and decrypted with an unrelated key; epoch states go through
//! `verify_transition` with the fixture's genesis, epochs and parts. As UTF-8, the input is
//! also a `GroupId`, a topic/head name for `group_of_name` and an `invitation_body` note.

#![no_main]
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "fuzz target: a panic is a found bug"
)]

#[path = "group/fixture.rs"]
mod fixture;

use core::str::FromStr;

use fixture::fixture;
use libfuzzer_sys::fuzz_target;
use quorate_actor_core::ActorId;
use quorate_actor_core::rendezvous::Body;
use quorate_group_core::{
    EpochError, EpochKey, GroupEpochState, GroupGenesis, GroupId, GroupInvite, GroupMessage,
    JoinRequest, KeyError, KeyIndex, KeyPage, LeaveRequest, MAX_CO_ADMINS, MAX_MEMBERS, MAX_NAME,
    MAX_NOTE, MAX_PAGES, MAX_PARENTS, MemberSet, MessageError, NAME_PREFIX, PAGE_SIZE, Parts,
    Policy, group_of_name, invitation_body, verify_transition,
};
use quorate_mesh_proto::{Block, BlockPayload, Cid, Codec, MAX_BLOCK_SIZE};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = core::str::from_utf8(data) {
        names(text);
    }
    let cid = Cid::of(Codec::DagCbor, data);
    let block = match Block::from_untrusted(&cid, data.to_vec()) {
        Ok(block) => block,
        Err(e) => {
            assert!(data.len() > MAX_BLOCK_SIZE, "own hash refused: {e}");
            return;
        }
    };
    round_trips::<GroupGenesis>(&block);
    round_trips::<MemberSet>(&block);
    round_trips::<Policy>(&block);
    round_trips::<KeyIndex>(&block);
    round_trips::<KeyPage>(&block);
    round_trips::<GroupEpochState>(&block);
    round_trips::<GroupMessage>(&block);
    round_trips::<GroupInvite>(&block);
    round_trips::<JoinRequest>(&block);
    round_trips::<LeaveRequest>(&block);
    genesis(&block);
    members(&block);
    policy(&block);
    key_index(&block);
    key_page(&block);
    epoch_state(&block);
    message(&block);
    requests(&block);
    // The same bytes as a raw block are nothing to any decoder.
    if let Ok(raw) = Block::from_untrusted(&Cid::of(Codec::Raw, data), data.to_vec()) {
        assert!(raw.decode::<GroupGenesis>().is_err() && GroupEpochState::decode(&raw).is_err());
        assert!(GroupMessage::decode(&raw, &fixture().group).is_err());
    }
});

fn round_trips<T: BlockPayload + PartialEq + core::fmt::Debug>(block: &Block) {
    let Ok(envelope) = block.decode::<T>() else {
        return;
    };
    let again = envelope
        .to_block()
        .expect("a decoded envelope must re-encode");
    assert_eq!(again, *block, "accepted bytes are not canonical");
}

/// `GroupId::from_str` and `group_of_name` agree with `Display` and each other.
fn names(text: &str) {
    if let Ok(id) = GroupId::from_str(text) {
        assert_eq!(id.to_string(), text.to_ascii_lowercase());
        assert_eq!(group_of_name(&id.epoch_head()), Some(id));
        assert_eq!(group_of_name(id.topic().as_str()), Some(id));
    }
    if let Some(id) = group_of_name(text) {
        let rest = text
            .strip_prefix(NAME_PREFIX)
            .expect("a group name has the prefix");
        assert_eq!(rest.get(..64).map(GroupId::from_str), Some(Ok(id)));
        let tail = rest.get(64..).expect("64 ASCII bytes");
        assert!(tail.is_empty() || tail.starts_with('/'), "{text:?}");
    }
    if let Some(hex) = text.strip_prefix(NAME_PREFIX).and_then(|r| r.get(..64))
        && GroupId::from_str(hex).is_err()
    {
        assert_eq!(group_of_name(text), None);
    }
    let f = fixture();
    match invitation_body(&f.group, f.genesis_cid, text) {
        Body::Invitation {
            group,
            note,
            payload,
        } => {
            assert_eq!(
                (group, payload),
                (Some(*f.group.as_bytes()), Some(f.genesis_cid))
            );
            assert!(note.len() <= MAX_NOTE && text.starts_with(&note));
            assert!(
                note.len() == text.len() || note.len() + 4 > MAX_NOTE,
                "cut too short"
            );
        }
        other => panic!("not an invitation: {other:?}"),
    }
}

fn genesis(block: &Block) {
    let Ok((id, genesis)) = GroupGenesis::verify(block) else {
        return;
    };
    assert_eq!(id, GroupId::of_genesis_bytes(block.bytes()));
    assert!(genesis.name.len() <= MAX_NAME);
    let key = genesis
        .creator_key()
        .expect("a verified genesis has a valid key");
    assert!(genesis.creator.is_key_of(&key));
}

/// The group a block's payload names, if it decodes as `T` with a `group` field.
fn groups(own: Option<GroupId>) -> impl Iterator<Item = GroupId> {
    core::iter::once(fixture().group).chain(own.filter(|g| *g != fixture().group))
}

fn members(block: &Block) {
    let own = block.decode::<MemberSet>().ok().map(|e| e.payload.group);
    for group in groups(own) {
        let Ok(set) = MemberSet::verify(block, &group) else {
            continue;
        };
        assert_eq!(set.group, group);
        assert!(set.len() <= MAX_MEMBERS);
        assert!(set.members.windows(2).all(|w| w[0].actor < w[1].actor));
        for m in &set.members {
            let key = m.verifying_key().expect("a verified set holds valid keys");
            assert!(m.actor.is_key_of(&key));
            assert_eq!(set.get(&m.actor), Some(m));
        }
        assert_eq!(set.to_block().expect("re-encodes"), *block);
    }
}

fn policy(block: &Block) {
    let f = fixture();
    let own = block.decode::<Policy>().ok().map(|e| e.payload.group);
    for group in groups(own) {
        for creator in [f.genesis.creator, f.person(9).id()] {
            let Ok(policy) = Policy::verify(block, &group, &creator) else {
                continue;
            };
            assert_eq!(policy.to_block().expect("re-encodes"), *block);
            let rule = policy.admin_rule(creator);
            assert!(rule.co_admins.len() <= MAX_CO_ADMINS);
            assert_eq!(
                rule.permission(&creator),
                Some(quorate_group_core::Permission::Full)
            );
            let creator_key = f.person(1).verifying_key();
            for cert in &rule.co_admins {
                assert_ne!(cert.co_admin, creator);
                assert_eq!(rule.permission(&cert.co_admin), Some(cert.permission));
                let _ = cert.key();
                if cert.verify(&creator_key).is_ok() {
                    assert_eq!(cert.granted_by, f.genesis.creator);
                    assert!(cert.co_admin.is_key_of(&cert.key().expect("checked key")));
                }
            }
        }
    }
}

fn key_index(block: &Block) {
    let f = fixture();
    let own = block.decode::<KeyIndex>().ok().map(|e| e.payload);
    let mut tries = vec![(f.group, 0), (f.group, 1)];
    tries.extend(own.as_ref().map(|i| (i.group, i.epoch)));
    for (group, epoch) in tries {
        let Ok(index) = KeyIndex::verify(block, &group, epoch) else {
            continue;
        };
        assert_eq!((index.group, index.epoch), (group, epoch));
        assert!(index.pages.len() <= MAX_PAGES);
        assert!(index.pages.windows(2).all(|w| w[0].first < w[1].first));
        for actor in [
            f.person(2).id(),
            f.person(9).id(),
            ActorId::from_bytes([0; 32]),
        ] {
            match index.page_of(&actor) {
                Some(cid) => assert!(index.pages.iter().any(|p| p.cid == cid && p.first <= actor)),
                None => assert!(index.pages.first().is_none_or(|p| p.first > actor)),
            }
        }
    }
}

fn key_page(block: &Block) {
    let f = fixture();
    let Ok(decoded) = block.decode::<KeyPage>() else {
        return;
    };
    let page = decoded.payload;
    // The page's own index (nothing but group, epoch and key id are compared), and the
    // fixture's, which a fuzzed page matches only if it copies all three.
    let own = KeyIndex {
        group: page.group,
        epoch: page.epoch,
        key_id: page.key_id,
        pages: Vec::new(),
    };
    let mut indexes = vec![own];
    indexes.extend(f.epochs.iter().map(|e| (*e.key_index).clone()));
    for index in &indexes {
        let Ok(checked) = KeyPage::verify(block, index) else {
            continue;
        };
        assert!(checked.envelopes.len() <= PAGE_SIZE);
        assert!(
            checked
                .envelopes
                .windows(2)
                .all(|w| w[0].recipient < w[1].recipient)
        );
        for n in [1, 2, 4, 9] {
            let me = f.person(n);
            match checked.open(me) {
                Ok(key) => assert_eq!(key.id(), checked.key_id),
                Err(KeyError::Missing) => {
                    assert!(!checked.envelopes.iter().any(|e| e.recipient == me.id()));
                }
                Err(_) => assert!(checked.envelopes.iter().any(|e| e.recipient == me.id())),
            }
        }
    }
    // Every envelope (a few), opened as the fixture's persons, whatever its recipient.
    for envelope in page.envelopes.iter().take(4) {
        for n in [2, 9] {
            let me = f.person(n);
            match envelope.open(me, &page.group, page.epoch, &page.key_id) {
                Ok(key) => {
                    assert_eq!(envelope.recipient, me.id());
                    assert_eq!(key.id(), page.key_id);
                }
                Err(KeyError::NotForMe) => assert_ne!(envelope.recipient, me.id()),
                Err(_) => {}
            }
            let other = envelope.open(me, &f.group, page.epoch.wrapping_add(1), &page.key_id);
            assert!(other.is_err(), "opened for another group or epoch");
        }
    }
}

fn epoch_state(block: &Block) {
    let f = fixture();
    let Ok((state, key)) = GroupEpochState::decode(block) else {
        return;
    };
    assert!(state.signer.is_key_of(&key));
    // As the successor of nothing and of each fixture epoch, with each epoch's parts.
    let prevs = core::iter::once(None).chain(f.epochs.iter().map(Some));
    for prev in prevs {
        for [members, policy, key_index] in &f.parts {
            let parts = Parts {
                members,
                policy,
                key_index,
            };
            let result = verify_transition(
                &f.group,
                &f.genesis_cid,
                &f.genesis,
                prev,
                *block.cid(),
                block,
                &parts,
            );
            match result {
                Ok(epoch) => {
                    // Only a genuine state (from the seeds) passes: nobody else holds an
                    // admin key. It links to what it was checked against.
                    assert_eq!(epoch.state, state);
                    assert_eq!(epoch.state.prev, prev.map(|p| p.cid));
                    assert_eq!(epoch.state.group, f.group);
                    assert_eq!(epoch.cid, *block.cid());
                }
                Err(EpochError::Object { .. } | EpochError::BadLink(_)) => {}
                Err(EpochError::NotAdmin(_) | EpochError::NotPermitted { .. }) => {}
                Err(e) => panic!("unexpected epoch error {e:?}"),
            }
        }
    }
}

fn message(block: &Block) {
    let f = fixture();
    let own = block.decode::<GroupMessage>().ok().map(|e| e.payload.group);
    for group in groups(own) {
        let msg = match GroupMessage::decode(block, &group) {
            Ok(msg) => msg,
            Err(MessageError::Object(_) | MessageError::WrongGroup | MessageError::BadHistory) => {
                continue;
            }
            Err(e) => panic!("decode gave a later check's error: {e:?}"),
        };
        assert_eq!(msg.group, group);
        assert!(msg.parents.len() <= MAX_PARENTS);
        assert!(msg.parents.windows(2).all(|w| w[0] < w[1]));
        assert!(!msg.parents.contains(block.cid()));
        for epoch in &f.epochs {
            for number in [msg.epoch, epoch.state.epoch] {
                match msg.authenticate(number, &epoch.members) {
                    Ok(()) => {
                        assert_eq!(msg.epoch, number);
                        assert!(epoch.members.contains(&msg.author));
                        assert_eq!(msg.aad, msg.expected_aad());
                        // Nobody holds the epoch key here: a stranger's key never opens it.
                        let stranger = EpochKey::from_bytes([0x5a; 32]);
                        assert_eq!(msg.open(&stranger).err(), Some(MessageError::Decrypt));
                    }
                    Err(MessageError::EpochMismatch { claimed, actual }) => {
                        assert_eq!((claimed, actual), (msg.epoch, number));
                        assert_ne!(claimed, actual);
                    }
                    Err(MessageError::NotAMember(who)) => {
                        assert_eq!(who, msg.author);
                        assert!(!epoch.members.contains(&who));
                    }
                    Err(
                        MessageError::AadMismatch
                        | MessageError::BadSignature
                        | MessageError::Object(_),
                    ) => {}
                    Err(e) => panic!("unexpected authentication error {e:?}"),
                }
            }
        }
    }
}

/// Invites, join and leave requests: signed by whom they name, for the group asked about.
fn requests(block: &Block) {
    let own = [
        block.decode::<GroupInvite>().ok().map(|e| e.payload.group),
        block.decode::<JoinRequest>().ok().map(|e| e.payload.group),
        block.decode::<LeaveRequest>().ok().map(|e| e.payload.group),
    ];
    for group in groups(own.into_iter().flatten().next()) {
        if let Ok(invite) = GroupInvite::decode(block, &group) {
            assert_eq!(invite.group, group);
        }
        if let Ok(join) = JoinRequest::decode(block, &group) {
            assert_eq!(join.group, group);
            let key = join
                .member
                .verifying_key()
                .expect("a decoded join has a valid key");
            assert!(join.member.actor.is_key_of(&key));
        }
        if let Ok(leave) = LeaveRequest::decode(block, &group) {
            assert_eq!(leave.group, group);
        }
    }
}
