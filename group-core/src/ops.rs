//! Making group blocks: create a group, make the next epoch (members in or out, key
//! rotation, co-admins), compose a message.
//!
//! Each function returns blocks; the caller inserts them in its own [`GroupState`] and
//! publishes them on the group topic (components before the state that names them, so
//! receivers rarely wait).

use quorate_actor_core::{ActorId, Identity};
use quorate_mesh_proto::Block;
use rand_core::CryptoRngCore;

use crate::epoch::GroupEpochState;
use crate::error::ObjectError;
use crate::genesis::GroupGenesis;
use crate::id::GroupId;
use crate::key::{Distribution, EpochKey};
use crate::member::{MAX_MEMBERS, Member, MemberSet};
use crate::message::{Draft, GroupMessage, MAX_PARENTS, MessageError};
use crate::policy::{CoAdminCert, Permission, Policy, Rule};
use crate::state::GroupState;

/// The blocks of one epoch and its key.
#[derive(Clone, Debug)]
pub struct EpochBlocks {
    /// The signed state.
    pub state: Block,
    /// The member set.
    pub members: Block,
    /// The policy.
    pub policy: Block,
    /// The key index and pages.
    pub keys: Distribution,
    /// The epoch key (the maker holds it without opening an envelope).
    pub key: EpochKey,
}

impl EpochBlocks {
    /// Every block, components first and the state last.
    pub fn blocks(&self) -> impl Iterator<Item = &Block> {
        [&self.members, &self.policy, &self.keys.index]
            .into_iter()
            .chain(self.keys.pages.iter())
            .chain(core::iter::once(&self.state))
    }

    /// Bytes of all blocks (what one rekey puts on the wire, once per link).
    #[must_use]
    pub fn wire_bytes(&self) -> usize {
        self.blocks().map(Block::len).sum()
    }
}

/// A new group: its id, genesis block and epoch 0.
#[derive(Clone, Debug)]
pub struct NewGroup {
    /// The id.
    pub id: GroupId,
    /// The genesis block.
    pub genesis: Block,
    /// Epoch 0.
    pub epoch: EpochBlocks,
}

impl NewGroup {
    /// Every block, genesis first.
    pub fn blocks(&self) -> impl Iterator<Item = &Block> {
        core::iter::once(&self.genesis).chain(self.epoch.blocks())
    }
}

/// Why a group operation cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpError {
    /// The group state has no genesis or no valid epoch yet.
    #[error("the group is not known yet (no valid epoch)")]
    NoGroup,
    /// The actor is not an admin of the current epoch.
    #[error("not an admin of this group")]
    NotAdmin,
    /// The actor's co-admin permission does not allow this change.
    #[error("co-admin permission {0:?} does not allow this change")]
    NotPermitted(Permission),
    /// The actor is not a member of the current epoch.
    #[error("not a member of the current epoch")]
    NotAMember,
    /// The actor has no key for the current epoch yet.
    #[error("no key for the current epoch yet")]
    NoKey,
    /// The change would leave the group empty or over [`MAX_MEMBERS`].
    #[error("a group has between 1 and {MAX_MEMBERS} members")]
    Size,
    /// A block could not be made.
    #[error(transparent)]
    Object(#[from] ObjectError),
    /// The message could not be made.
    #[error(transparent)]
    Message(#[from] MessageError),
}

/// Creates a group: genesis and epoch 0 with `creator` and `members`, the creator's
/// co-admin certificates, and a fresh key sealed to everyone.
///
/// # Errors
/// [`OpError`].
pub fn create_group(
    creator: &Identity,
    name: &str,
    members: Vec<Member>,
    co_admins: Vec<CoAdminCert>,
    now_ms: u64,
    rng: &mut impl CryptoRngCore,
) -> Result<NewGroup, OpError> {
    create_group_with_rules(creator, name, members, co_admins, Vec::new(), now_ms, rng)
}

/// [`create_group`] with voting rules in the policy besides the admin rule (governance's
/// [`Rule::FractionalApproval`], [`Rule::Quorum`]).
///
/// # Errors
/// [`OpError`]; [`OpError::Object`] if a rule is malformed.
pub fn create_group_with_rules(
    creator: &Identity,
    name: &str,
    members: Vec<Member>,
    co_admins: Vec<CoAdminCert>,
    rules: Vec<Rule>,
    now_ms: u64,
    rng: &mut impl CryptoRngCore,
) -> Result<NewGroup, OpError> {
    let (id, genesis) = GroupGenesis::create(creator, name, now_ms, rng)?;
    let members = MemberSet::new(id, core::iter::once(Member::of(creator)).chain(members));
    if members.len() > MAX_MEMBERS {
        return Err(OpError::Size);
    }
    let mut policy = Policy::admins(id, co_admins);
    policy.rules.extend(voting_rules(rules));
    check_policy(&policy, &creator.id())?;
    let epoch = make_epoch(
        creator,
        Template {
            group: id,
            epoch: 0,
            genesis: *genesis.cid(),
            prev: None,
            committee_root: None,
            admin_sequence: 0,
        },
        &members,
        &policy,
        now_ms,
        rng,
    )?;
    Ok(NewGroup { id, genesis, epoch })
}

/// What the next epoch changes. An empty change rotates the key only.
#[derive(Clone, Debug, Default)]
pub struct EpochChange {
    /// Members to add (already present: ignored).
    pub add: Vec<Member>,
    /// Members to remove.
    pub remove: Vec<ActorId>,
    /// The new co-admin list, if it changes.
    pub co_admins: Option<Vec<CoAdminCert>>,
    /// The new voting rules (every rule but the admin rule), if they change.
    pub rules: Option<Vec<Rule>>,
    /// The new committee (`committeeRoot`: the block naming the group key `PK_G`), if it
    /// changes.
    pub committee: Option<quorate_mesh_proto::Cid>,
}

/// The voting rules of `rules` (an admin rule among them is dropped: co-admins change
/// through [`EpochChange::co_admins`]).
fn voting_rules(rules: Vec<Rule>) -> impl Iterator<Item = Rule> {
    rules
        .into_iter()
        .filter(|r| !matches!(r, Rule::Admins { .. }))
}

/// Checks a policy made here as receivers will.
fn check_policy(policy: &Policy, creator: &ActorId) -> Result<(), OpError> {
    Policy::verify(&policy.to_block()?, &policy.group, creator)?;
    Ok(())
}

/// Makes the epoch after the current one, signed by `admin`, with a fresh key sealed to
/// the remaining members only: removed members never see it, added members never see
/// earlier keys.
///
/// # Errors
/// [`OpError`].
pub fn next_epoch(
    admin: &Identity,
    state: &GroupState,
    change: &EpochChange,
    now_ms: u64,
    rng: &mut impl CryptoRngCore,
) -> Result<EpochBlocks, OpError> {
    let (Some((genesis_cid, genesis)), Some(current)) = (state.genesis(), state.current()) else {
        return Err(OpError::NoGroup);
    };
    let group = state.group();
    let rule = current.admins(genesis);
    let held = rule.permission(&admin.id()).ok_or(OpError::NotAdmin)?;
    let changes_members = !change.add.is_empty() || !change.remove.is_empty();
    let changes_policy =
        change.co_admins.is_some() || change.rules.is_some() || change.committee.is_some();
    if (changes_policy && held != Permission::Full)
        || (changes_members && held == Permission::RotationOnly)
    {
        return Err(OpError::NotPermitted(held));
    }
    let kept = current
        .members
        .members
        .iter()
        .filter(|m| !change.remove.contains(&m.actor))
        .cloned();
    let members = MemberSet::new(group, kept.chain(change.add.iter().cloned()));
    if members.is_empty() || members.len() > MAX_MEMBERS {
        return Err(OpError::Size);
    }
    let mut policy = (*current.policy).clone();
    if let Some(certs) = &change.co_admins {
        let voting = voting_rules(policy.rules).collect::<Vec<_>>();
        policy = Policy::admins(group, certs.clone());
        policy.rules.extend(voting);
    }
    if let Some(rules) = &change.rules {
        policy.rules.retain(|r| matches!(r, Rule::Admins { .. }));
        policy.rules.extend(voting_rules(rules.clone()));
    }
    check_policy(&policy, &genesis.creator)?;
    make_epoch(
        admin,
        Template {
            group,
            epoch: current.state.epoch.saturating_add(1),
            genesis: *genesis_cid,
            prev: Some(current.cid),
            committee_root: change.committee.or(current.state.committee_root),
            admin_sequence: current.state.admin_sequence.saturating_add(1),
        },
        &members,
        &policy,
        now_ms,
        rng,
    )
}

struct Template {
    group: GroupId,
    epoch: u64,
    genesis: quorate_mesh_proto::Cid,
    prev: Option<quorate_mesh_proto::Cid>,
    committee_root: Option<quorate_mesh_proto::Cid>,
    admin_sequence: u64,
}

fn make_epoch(
    signer: &Identity,
    t: Template,
    members: &MemberSet,
    policy: &Policy,
    now_ms: u64,
    rng: &mut impl CryptoRngCore,
) -> Result<EpochBlocks, OpError> {
    let key = EpochKey::generate(rng);
    let keys = Distribution::seal(members, t.epoch, &key, rng)?;
    let members_block = members.to_block()?;
    let policy_block = policy.to_block()?;
    let state = GroupEpochState {
        group: t.group,
        epoch: t.epoch,
        genesis: t.genesis,
        prev: t.prev,
        members_root: *members_block.cid(),
        committee_root: t.committee_root,
        policy_root: *policy_block.cid(),
        message_key_info: *keys.index.cid(),
        admin_sequence: t.admin_sequence,
        signer: signer.id(),
        created_at: now_ms,
    }
    .sign(signer)?;
    Ok(EpochBlocks {
        state,
        members: members_block,
        policy: policy_block,
        keys,
        key,
    })
}

/// Composes a message in the current epoch: parents are the frontier (then the most
/// recent messages) up to [`MAX_PARENTS`], and the Lamport clock one past the latest.
///
/// # Errors
/// [`OpError::NoGroup`], [`OpError::NotAMember`], [`OpError::NoKey`], or a message error.
pub fn compose(
    author: &Identity,
    state: &GroupState,
    plaintext: &[u8],
    rng: &mut impl CryptoRngCore,
) -> Result<Block, OpError> {
    let current = state.current().ok_or(OpError::NoGroup)?;
    if !current.members.contains(&author.id()) {
        return Err(OpError::NotAMember);
    }
    let key = state.key(&current.cid).ok_or(OpError::NoKey)?;
    let mut parents: Vec<_> = state
        .frontier()
        .iter()
        .filter_map(|c| state.message(c))
        .map(|m| (m.lamport, m.cid))
        .collect();
    parents.sort_unstable_by(|a, b| b.cmp(a));
    parents.truncate(MAX_PARENTS);
    for m in state.messages().rev() {
        if parents.len() >= MAX_PARENTS {
            break;
        }
        if !parents.iter().any(|(_, c)| *c == m.cid) {
            parents.push((m.lamport, m.cid));
        }
    }
    let lamport = state.latest().map_or(0, |m| m.lamport.saturating_add(1));
    let draft = Draft {
        group: state.group(),
        epoch: current.state.epoch,
        epoch_state: current.cid,
        key,
        lamport,
        parents: parents.into_iter().map(|(_, c)| c).collect(),
    };
    Ok(GroupMessage::seal(author, draft, plaintext, rng)?)
}

/// An invite for `invitee`, signed by `admin` (who must be allowed to add members), valid
/// until `expires_at` (Unix ms). Publish it on the group topic and send the invitee
/// [`crate::invitation_body`] on the rendezvous topic.
///
/// # Errors
/// [`OpError::NoGroup`], [`OpError::NotAdmin`], [`OpError::NotPermitted`].
pub fn invite(
    admin: &Identity,
    state: &GroupState,
    invitee: ActorId,
    expires_at: u64,
) -> Result<Block, OpError> {
    let (Some((_, genesis)), Some(current)) = (state.genesis(), state.current()) else {
        return Err(OpError::NoGroup);
    };
    match current.admins(genesis).permission(&admin.id()) {
        None => return Err(OpError::NotAdmin),
        Some(Permission::RotationOnly) => {
            return Err(OpError::NotPermitted(Permission::RotationOnly));
        }
        Some(_) => {}
    }
    let invite = crate::request::GroupInvite {
        group: state.group(),
        invitee,
        inviter: admin.id(),
        epoch_state: current.cid,
        expires_at,
    };
    Ok(invite.sign(admin)?)
}

/// Accepts an invite: the join request to publish on the group topic.
///
/// # Errors
/// [`OpError::Object`].
pub fn accept(
    joiner: &Identity,
    group: GroupId,
    invite: quorate_mesh_proto::Cid,
    now_ms: u64,
) -> Result<Block, OpError> {
    Ok(crate::request::JoinRequest::sign(
        joiner, group, invite, now_ms,
    )?)
}

/// Asks to leave: the request to publish on the group topic (an admin removes the member
/// with the next epoch).
///
/// # Errors
/// [`OpError::NoGroup`], [`OpError::NotAMember`].
pub fn leave(member: &Identity, state: &GroupState, now_ms: u64) -> Result<Block, OpError> {
    let current = state.current().ok_or(OpError::NoGroup)?;
    if !current.members.contains(&member.id()) {
        return Err(OpError::NotAMember);
    }
    Ok(crate::request::LeaveRequest::sign(
        member,
        state.group(),
        current.cid,
        now_ms,
    )?)
}

/// The change an admin should make now for pending requests: admit joins whose invite has
/// not expired, remove members who asked to leave. `None` if there is nothing to do or the
/// admin may not change members.
#[must_use]
pub fn admit(admin: &Identity, state: &GroupState, now_ms: u64) -> Option<EpochChange> {
    let (_, genesis) = state.genesis()?;
    let current = state.current()?;
    if !matches!(
        current.admins(genesis).permission(&admin.id()),
        Some(Permission::Full | Permission::MembersOnly)
    ) {
        return None;
    }
    let add: Vec<Member> = state
        .pending_joins()
        .into_iter()
        .filter(|p| now_ms <= p.invite.expires_at)
        .map(|p| p.request.member)
        .collect();
    let remove = state.pending_leaves();
    (!add.is_empty() || !remove.is_empty()).then_some(EpochChange {
        add,
        remove,
        co_admins: None,
        ..EpochChange::default()
    })
}
