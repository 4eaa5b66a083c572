//! Groups end to end on the reducer: create, talk, add, remove, co-admins, and every
//! rejection with its typed reason.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

mod common;

use common::*;
use quorate_group_core::ops::{self, EpochChange, OpError};
use quorate_group_core::{
    Change, CoAdminCert, EpochError, GroupMessage, KeyError, KeyPage, Member, MessageError,
    Permission, Rejection,
};
use quorate_mesh_proto::{Block, Envelope};

#[test]
fn members_talk_removed_member_is_locked_out_and_newcomer_cannot_read_history() {
    let mut r = rng(1);
    let g = group_of(3, &mut r);
    let mut blocks: Vec<Block> = g.blocks().cloned().collect();
    let hello = post(&person(2), &blocks, g.id, "hello", &mut r);
    blocks.push(hello);
    let reply = post(&person(3), &blocks, g.id, "hi 2", &mut r);
    blocks.push(reply);

    // Person 1 removes 3 and adds 4: a new key, sealed to 1, 2 and 4 only.
    let change = EpochChange {
        add: vec![Member::of(&person(4))],
        remove: vec![person(3).id()],
        co_admins: None,
        ..EpochChange::default()
    };
    let e1 = next(&person(1), &blocks, g.id, &change, &mut r);
    blocks.extend(e1.blocks().cloned());
    let after = post(&person(4), &blocks, g.id, "I am new", &mut r);
    blocks.push(after);

    let (two, _) = state_of(g.id, Some(&person(2)), &blocks);
    assert_eq!(two.current().unwrap().state.epoch, 1);
    assert_eq!(
        texts(&two),
        vec![
            Some("hello".into()),
            Some("hi 2".into()),
            Some("I am new".into())
        ]
    );
    // The removed member sees the new epoch but gets no key: nothing after removal opens.
    let (three, changes) = state_of(g.id, Some(&person(3)), &blocks);
    assert_eq!(three.current().unwrap().state.epoch, 1);
    assert!(three.key(&three.current().unwrap().cid).is_none());
    assert_eq!(
        texts(&three),
        vec![Some("hello".into()), Some("hi 2".into()), None]
    );
    assert!(
        !changes
            .iter()
            .any(|c| matches!(c, Change::KeyFailed { .. }))
    );
    // The newcomer reads from its epoch on, nothing earlier.
    let (four, _) = state_of(g.id, Some(&person(4)), &blocks);
    assert_eq!(texts(&four), vec![None, None, Some("I am new".into())]);
    // The removed member can no longer post in the current epoch.
    assert_eq!(
        ops::compose(&person(3), &three, b"still here?", &mut r).unwrap_err(),
        OpError::NotAMember
    );
    // A blind cache accepts everything and reads nothing.
    let (cache, _) = state_of(g.id, None, &blocks);
    assert_eq!(cache.message_count(), 3);
    assert_eq!(texts(&cache), vec![None, None, None]);
}

fn rejection(state_changes: &[Change], block: &Block) -> Rejection {
    state_changes
        .iter()
        .find_map(|c| match c {
            Change::Rejected { cid, reason } if cid == block.cid() => Some(reason.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{} not rejected: {state_changes:?}", block.cid()))
}

fn tamper(block: &Block, edit: impl FnOnce(&mut GroupMessage)) -> Block {
    let mut msg = block.decode::<GroupMessage>().unwrap().payload;
    edit(&mut msg);
    Envelope::unsigned(msg).to_block().unwrap()
}

#[test]
fn bad_messages_are_rejected_with_typed_reasons() {
    let mut r = rng(2);
    let g = group_of(3, &mut r);
    let base: Vec<Block> = g.blocks().cloned().collect();
    let good = post(&person(2), &base, g.id, "genuine", &mut r);

    let tampered = tamper(&good, |m| m.ciphertext[0] ^= 1);
    let wrong_aad = tamper(&good, |m| m.aad[0] ^= 1);
    let forged = tamper(&good, |m| m.author = person(3).id());
    let unknown_epoch = tamper(&good, |m| m.epoch = 7);
    // An outsider signs properly but is no member.
    let (outsider_view, _) = state_of(g.id, Some(&person(2)), &base);
    let by_outsider = {
        let mut m = ops::compose(&person(2), &outsider_view, b"x", &mut r)
            .unwrap()
            .decode::<GroupMessage>()
            .unwrap()
            .payload;
        m.author = person(9).id();
        Envelope::unsigned(m).to_block().unwrap()
    };
    // Signed by the author over garbage: authentic, but does not decrypt.
    let mut blocks = base.clone();
    blocks.extend([
        good.clone(),
        tampered.clone(),
        wrong_aad.clone(),
        forged.clone(),
        unknown_epoch.clone(),
        by_outsider.clone(),
    ]);
    let (state, changes) = state_of(g.id, Some(&person(3)), &blocks);
    assert_eq!(texts(&state), vec![Some("genuine".into())]);
    assert_eq!(
        rejection(&changes, &tampered),
        Rejection::Message(MessageError::BadSignature)
    );
    assert_eq!(
        rejection(&changes, &wrong_aad),
        Rejection::Message(MessageError::AadMismatch)
    );
    // Changing the author changes the aad it must carry: caught before the signature.
    assert_eq!(
        rejection(&changes, &forged),
        Rejection::Message(MessageError::AadMismatch)
    );
    assert_eq!(
        rejection(&changes, &unknown_epoch),
        Rejection::Message(MessageError::EpochMismatch {
            claimed: 7,
            actual: 0
        })
    );
    assert_eq!(
        rejection(&changes, &by_outsider),
        Rejection::Message(MessageError::NotAMember(person(9).id()))
    );
}

#[test]
fn a_message_for_an_unknown_epoch_waits_then_is_rejected_with_its_epoch() {
    let mut r = rng(3);
    let g = group_of(2, &mut r);
    let mut blocks: Vec<Block> = g.blocks().cloned().collect();
    // Person 2 (not an admin) makes an "epoch" anyway; a message under it.
    let (view, _) = state_of(g.id, Some(&person(2)), &blocks);
    assert_eq!(
        ops::next_epoch(&person(2), &view, &EpochChange::default(), T0, &mut r).unwrap_err(),
        OpError::NotAdmin
    );
    let mut rogue =
        ops::next_epoch(&person(1), &view, &EpochChange::default(), T0, &mut r).unwrap();
    let mut state = rogue
        .state
        .decode::<quorate_group_core::GroupEpochState>()
        .unwrap()
        .payload;
    state.signer = person(2).id();
    rogue.state = state.sign(&person(2)).unwrap();
    blocks.extend(rogue.blocks().cloned());
    let (mut member, _) = state_of(g.id, Some(&person(2)), &blocks);
    // The rogue epoch is rejected; a message naming it is too.
    member.add_key(*rogue.state.cid(), rogue.key.clone());
    let msg = GroupMessage::seal(
        &person(2),
        quorate_group_core::Draft {
            group: g.id,
            epoch: 1,
            epoch_state: *rogue.state.cid(),
            key: &rogue.key,
            lamport: 0,
            parents: vec![],
        },
        b"under a rogue epoch",
        &mut r,
    )
    .unwrap();
    let changes = feed(&mut member, [&msg]);
    assert_eq!(
        rejection(&changes, &msg),
        Rejection::Message(MessageError::UnknownEpoch)
    );
    assert_eq!(
        member.rejected().get(rogue.state.cid()),
        Some(&Rejection::Epoch(EpochError::NotAdmin(person(2).id())))
    );
    // A message naming an epoch nobody has waits (and asks for it) instead of failing.
    let mut fresh = quorate_group_core::GroupState::new(g.id, None, Default::default());
    let changes = feed(&mut fresh, [&msg]);
    assert!(changes.contains(&Change::Need(*rogue.state.cid())));
    assert!(fresh.rejected().is_empty());
}

#[test]
fn envelope_for_someone_else_does_not_open() {
    let mut r = rng(4);
    let g = group_of(3, &mut r);
    let page = g.epoch.keys.pages[0].decode::<KeyPage>().unwrap().payload;
    let for_two = page
        .envelopes
        .iter()
        .find(|e| e.recipient == person(2).id())
        .unwrap();
    let index = g
        .epoch
        .keys
        .index
        .decode::<quorate_group_core::KeyIndex>()
        .unwrap()
        .payload;
    assert_eq!(
        for_two
            .open(&person(3), &g.id, 0, &index.key_id)
            .unwrap_err(),
        KeyError::NotForMe
    );
    // Readdressed to 3: HPKE refuses (sealed to 2's key, aad names 2).
    let mut stolen = for_two.clone();
    stolen.recipient = person(3).id();
    assert_eq!(
        stolen
            .open(&person(3), &g.id, 0, &index.key_id)
            .unwrap_err(),
        KeyError::Open
    );
    assert_eq!(
        for_two
            .open(&person(2), &g.id, 1, &index.key_id)
            .unwrap_err(),
        KeyError::WrongEpoch
    );
    assert_eq!(
        for_two.open(&person(2), &g.id, 0, &[0; 32]).unwrap_err(),
        KeyError::Open
    );
    assert!(for_two.open(&person(2), &g.id, 0, &index.key_id).is_ok());
    assert_eq!(page.open(&person(9)).unwrap_err(), KeyError::Missing);
}

#[test]
fn co_admins_act_within_their_permission_and_concurrent_changes_resolve_by_rank() {
    let mut r = rng(5);
    let creator = person(1);
    let full = person(2);
    let rotate = person(3);
    // Certificates name the group, known only after genesis: grant them in epoch 1.
    let g = group_of(4, &mut r);
    let mut blocks: Vec<Block> = g.blocks().cloned().collect();
    let grant = EpochChange {
        co_admins: Some(vec![
            CoAdminCert::grant(&creator, g.id, &full.verifying_key(), Permission::Full).unwrap(),
            CoAdminCert::grant(
                &creator,
                g.id,
                &rotate.verifying_key(),
                Permission::RotationOnly,
            )
            .unwrap(),
        ]),
        ..EpochChange::default()
    };
    let e1 = next(&creator, &blocks, g.id, &grant, &mut r);
    blocks.extend(e1.blocks().cloned());

    // The rotation-only co-admin may rotate, not remove.
    let (view, _) = state_of(g.id, Some(&rotate), &blocks);
    let remove_4 = EpochChange {
        remove: vec![person(4).id()],
        ..EpochChange::default()
    };
    assert_eq!(
        ops::next_epoch(&rotate, &view, &remove_4, T0, &mut r).unwrap_err(),
        OpError::NotPermitted(Permission::RotationOnly)
    );
    let rotation = ops::next_epoch(&rotate, &view, &EpochChange::default(), T0, &mut r).unwrap();
    // Concurrently, the full co-admin removes person 4 from the same epoch 1.
    let removal = next(&full, &blocks, g.id, &remove_4, &mut r);
    // Both are valid epoch 2 states with the same admin sequence: the lower signer id wins.
    let winner = if full.id() < rotate.id() {
        &removal
    } else {
        &rotation
    };
    let mut with_both = blocks.clone();
    with_both.extend(rotation.blocks().cloned());
    with_both.extend(removal.blocks().cloned());
    let (state, _) = state_of(g.id, Some(&creator), &with_both);
    assert_eq!(state.epochs().count(), 4);
    assert_eq!(state.current().unwrap().cid, *winner.state.cid());

    // A forged permission: the rotation-only co-admin signs a removal by hand.
    let mut forged = rotation.clone();
    let mut s = forged
        .state
        .decode::<quorate_group_core::GroupEpochState>()
        .unwrap()
        .payload;
    s.members_root = *removal.members.cid();
    s.message_key_info = *removal.keys.index.cid();
    forged.state = s.sign(&rotate).unwrap();
    let mut blocks2 = blocks.clone();
    blocks2.extend(removal.blocks().cloned());
    blocks2.push(forged.state.clone());
    let (state, _) = state_of(g.id, Some(&creator), &blocks2);
    assert_eq!(
        state.rejected().get(forged.state.cid()),
        Some(&Rejection::Epoch(EpochError::NotPermitted {
            held: Permission::RotationOnly,
            change: "the members"
        }))
    );
}

#[test]
fn invite_accept_admit_leave_and_no_automatic_readmission() {
    let mut r = rng(6);
    let g = group_of(2, &mut r);
    let admin = person(1);
    let mut blocks: Vec<Block> = g.blocks().cloned().collect();
    let before = post(&person(2), &blocks, g.id, "before 5 joins", &mut r);
    blocks.push(before);

    let (view, _) = state_of(g.id, Some(&admin), &blocks);
    // A plain member cannot invite.
    assert_eq!(
        ops::invite(&person(2), &view, person(5).id(), T0 + 1000).unwrap_err(),
        OpError::NotAdmin
    );
    let invite = ops::invite(&admin, &view, person(5).id(), T0 + 1000).unwrap();
    blocks.push(invite.clone());
    // Someone else cannot use 5's invite; 5 can.
    let stolen = ops::accept(&person(6), g.id, *invite.cid(), T0).unwrap();
    let join = ops::accept(&person(5), g.id, *invite.cid(), T0).unwrap();
    blocks.extend([stolen.clone(), join]);
    let (view, changes) = state_of(g.id, Some(&admin), &blocks);
    assert!(matches!(rejection(&changes, &stolen), Rejection::Object(_)));
    assert_eq!(view.pending_joins().len(), 1);
    // Expired by the admin's clock: not admitted.
    assert!(ops::admit(&admin, &view, T0 + 1001).is_none());
    let change = ops::admit(&admin, &view, T0 + 10).unwrap();
    assert_eq!(change.add, vec![Member::of(&person(5))]);
    let e1 = ops::next_epoch(&admin, &view, &change, T0 + 10, &mut r).unwrap();
    blocks.extend(e1.blocks().cloned());
    let (five, _) = state_of(g.id, Some(&person(5)), &blocks);
    assert!(five.pending_joins().is_empty());
    assert_eq!(texts(&five), vec![None]);
    let hello = ops::compose(&person(5), &five, b"hello from 5", &mut r).unwrap();
    blocks.push(hello);

    // 5 leaves; the admin removes them; the old join does not bring them back.
    let (five, _) = state_of(g.id, Some(&person(5)), &blocks);
    blocks.push(ops::leave(&person(5), &five, T0 + 20).unwrap());
    let (view, _) = state_of(g.id, Some(&admin), &blocks);
    assert_eq!(view.pending_leaves(), vec![person(5).id()]);
    let change = ops::admit(&admin, &view, T0 + 20).unwrap();
    assert_eq!(change.remove, vec![person(5).id()]);
    assert!(change.add.is_empty());
    let e2 = ops::next_epoch(&admin, &view, &change, T0 + 20, &mut r).unwrap();
    blocks.extend(e2.blocks().cloned());
    let (view, _) = state_of(g.id, Some(&admin), &blocks);
    assert!(!view.current().unwrap().members.contains(&person(5).id()));
    assert!(view.pending_joins().is_empty() && view.pending_leaves().is_empty());
    assert!(ops::admit(&admin, &view, T0 + 30).is_none());
    assert_eq!(
        texts(&view),
        vec![Some("before 5 joins".into()), Some("hello from 5".into())]
    );
}

#[test]
fn a_member_whose_id_is_not_its_key_hash_is_rejected_even_next_to_known_members() {
    use quorate_group_core::{MemberSet, ObjectError};
    let mut r = rng(7);
    let g = group_of(3, &mut r);
    let known = MemberSet::verify(&g.epoch.members, &g.id).unwrap();
    let mut forged = Member::of(&person(5));
    forged.actor = person(6).id();
    let next = MemberSet::new(g.id, known.members.iter().cloned().chain([forged]));
    let block = next.to_block().unwrap();
    assert_eq!(
        MemberSet::verify_after(&block, &g.id, Some(&known)).unwrap_err(),
        ObjectError::WrongSigner
    );
    let honest = MemberSet::new(
        g.id,
        known
            .members
            .iter()
            .cloned()
            .chain([Member::of(&person(5))]),
    );
    assert!(MemberSet::verify_after(&honest.to_block().unwrap(), &g.id, Some(&known)).is_ok());
}

#[test]
fn junk_cannot_lock_the_state_and_full_is_not_remembered() {
    use quorate_group_core::{Draft, EpochKey, GroupState, StateConfig};
    let mut r = rng(8);
    let g = group_of(3, &mut r);
    let mut config = StateConfig::default();
    config.max_pending = 16;
    let mut state = GroupState::new(g.id, Some(person(2)), config);
    // 200 well-formed messages naming epoch states nobody has: parked, then dropped.
    let key = EpochKey::from_bytes([9; 32]);
    for i in 0..200u8 {
        let junk = GroupMessage::seal(
            &person(9),
            Draft {
                group: g.id,
                epoch: 0,
                epoch_state: quorate_mesh_proto::Cid::of(quorate_mesh_proto::Codec::Raw, &[i]),
                key: &key,
                lamport: 0,
                parents: vec![],
            },
            b"junk",
            &mut r,
        )
        .unwrap();
        state.insert(junk);
    }
    for block in g.blocks() {
        state.insert(block.clone());
    }
    assert!(state.current().is_some(), "the genuine group still loads");
    assert!(state.key(&state.current().unwrap().cid).is_some());
    assert!(!state.rejected().values().any(|r| *r == Rejection::Full));
}
