//! Carrying out `quorate group …` commands (see `group_control`).

use std::time::{Duration, Instant as StdInstant};

use quorate_actor_core::rendezvous::{Body, GlobalEnvelope, MAX_TTL_MS};
use quorate_actor_core::{ActorId, ActorSecret, Identity};
use quorate_group_core::ops::{self, EpochChange};
use quorate_group_core::{GroupId, GroupState, invitation_body};
use quorate_mesh_proto::mesh::{Input, Topic};
use rand_core::OsRng;
use tokio::sync::oneshot;

use super::control::Reply;
use super::group_control::{GroupCommand, GroupReply, GroupView, InvitationView, MessageView};
use super::groups::now_ms;
use super::node::Node;

/// How long an invite lets an admin admit its invitee.
const INVITE_VALIDITY_MS: u64 = 7 * 24 * 3600 * 1000;

/// An invite waiting for the invitee's profile (its encryption key).
#[derive(Debug)]
pub(crate) struct PendingInvite {
    group: GroupId,
    invitee: ActorId,
    note: String,
    reply: Option<oneshot::Sender<Reply>>,
    pub(crate) deadline: StdInstant,
}

type Answer = Option<(oneshot::Sender<Reply>, Reply)>;

fn done(reply: GroupReply) -> Result<Reply, String> {
    Ok(Reply::Group(Box::new(reply)))
}

fn parse_group(text: &str) -> Result<GroupId, String> {
    text.parse()
        .map_err(|_| format!("{text:?} is not a group id (64 hex characters)"))
}

fn parse_actor(text: &str) -> Result<ActorId, String> {
    text.parse()
        .map_err(|_| format!("{text:?} is not an actor id (64 hex characters)"))
}

impl Node {
    /// Runs a group command as the actor whose secret it carries. Returns the reply to
    /// send now, or `None` if it is parked (an invite waiting for a profile).
    pub(crate) fn on_group_command(
        &mut self,
        secret: &str,
        command: GroupCommand,
        reply: oneshot::Sender<Reply>,
    ) -> Answer {
        let mut bytes = [0u8; 32];
        if hex::decode_to_slice(secret, &mut bytes).is_err() {
            let message = "the actor secret is not 64 hex characters".to_owned();
            return Some((reply, Reply::Error { message }));
        }
        let identity = Identity::from_secret(ActorSecret::from_bytes(bytes));
        zeroize::Zeroize::zeroize(&mut bytes);
        let now = self.now();
        self.act_as(identity.clone(), now);
        let result = match command {
            GroupCommand::Invite {
                group,
                actor,
                note,
                timeout_ms,
            } => match (parse_group(&group), parse_actor(&actor)) {
                (Ok(group), Ok(invitee)) => {
                    self.invites.push(PendingInvite {
                        group,
                        invitee,
                        note,
                        reply: Some(reply),
                        deadline: StdInstant::now() + Duration::from_millis(timeout_ms),
                    });
                    self.follow_actor(invitee, now);
                    return None;
                }
                (Err(e), _) | (_, Err(e)) => Err(e),
            },
            other => self.group_command(&identity, other),
        };
        let answer = result.unwrap_or_else(|message| Reply::Error { message });
        Some((reply, answer))
    }

    fn state_of(&self, group: &GroupId) -> Result<&GroupState, String> {
        self.groups
            .machines
            .get(group)
            .map(|m| m.state())
            .ok_or_else(|| format!("this node does not follow group {group}"))
    }

    fn group_command(&mut self, me: &Identity, command: GroupCommand) -> Result<Reply, String> {
        match command {
            GroupCommand::Create { name } => {
                let created =
                    ops::create_group(me, &name, Vec::new(), Vec::new(), now_ms(), &mut OsRng)
                        .map_err(|e| e.to_string())?;
                let blocks: Vec<_> = created.blocks().cloned().collect();
                self.publish_group_blocks(created.id, &blocks);
                done(GroupReply::Created {
                    group: created.id.to_string(),
                })
            }
            GroupCommand::Invitations => {
                let invitations = self
                    .groups
                    .invitations
                    .iter()
                    .filter_map(|d| match &d.body {
                        Body::Invitation {
                            group: Some(g),
                            note,
                            payload: Some(invite),
                        } => Some(InvitationView {
                            from: d.from.to_string(),
                            group: GroupId::from_bytes(*g).to_string(),
                            note: note.clone(),
                            invite: invite.to_string(),
                        }),
                        _ => None,
                    })
                    .collect();
                done(GroupReply::Invitations { invitations })
            }
            GroupCommand::Accept { group } => {
                let group = parse_group(&group)?;
                let delivery = self
                    .invitation(&group)
                    .cloned()
                    .ok_or_else(|| format!("no invitation to group {group} has arrived"))?;
                let Body::Invitation {
                    payload: Some(invite),
                    ..
                } = delivery.body
                else {
                    return Err("the invitation names no invite block".into());
                };
                if let Some(inbox) = self.groups.inbox.as_mut() {
                    inbox.accept(delivery.from);
                }
                let request =
                    ops::accept(me, group, invite, now_ms()).map_err(|e| e.to_string())?;
                self.publish_group_blocks(group, [&request]);
                done(GroupReply::Requested {
                    request: request.cid().to_string(),
                })
            }
            GroupCommand::Send { group, text } => {
                let group = parse_group(&group)?;
                let state = self.state_of(&group)?;
                let block = ops::compose(me, state, text.as_bytes(), &mut OsRng)
                    .map_err(|e| e.to_string())?;
                self.publish_group_blocks(group, [&block]);
                done(GroupReply::Sent {
                    cid: block.cid().to_string(),
                })
            }
            GroupCommand::Read { group, limit } => {
                let group = parse_group(&group)?;
                let state = self.state_of(&group)?;
                let all: Vec<MessageView> = state
                    .messages()
                    .map(|m| MessageView {
                        cid: m.cid.to_string(),
                        author: m.author.to_string(),
                        epoch: m.epoch,
                        lamport: m.lamport,
                        text: m
                            .plaintext
                            .as_ref()
                            .map(|p| String::from_utf8_lossy(p).into_owned()),
                    })
                    .collect();
                let skip = all.len().saturating_sub(limit);
                done(GroupReply::Messages {
                    messages: all.into_iter().skip(skip).collect(),
                })
            }
            GroupCommand::Remove { group, actor } => {
                let group = parse_group(&group)?;
                let actor = parse_actor(&actor)?;
                let state = self.state_of(&group)?;
                if !state.current().is_some_and(|e| e.members.contains(&actor)) {
                    return Err(format!("{actor} is not a member of the current epoch"));
                }
                let change = EpochChange {
                    remove: vec![actor],
                    ..EpochChange::default()
                };
                let epoch = ops::next_epoch(me, state, &change, now_ms(), &mut OsRng)
                    .map_err(|e| e.to_string())?;
                let blocks: Vec<_> = epoch.blocks().cloned().collect();
                if let Some(m) = self.groups.machines.get_mut(&group) {
                    m.state_mut().add_key(*epoch.state.cid(), epoch.key.clone());
                }
                self.publish_group_blocks(group, &blocks);
                let number = self
                    .state_of(&group)?
                    .epoch(epoch.state.cid())
                    .map_or(0, |e| e.state.epoch);
                done(GroupReply::Epoch {
                    epoch: number,
                    cid: epoch.state.cid().to_string(),
                    bytes: epoch.wire_bytes(),
                })
            }
            GroupCommand::Leave { group } => {
                let group = parse_group(&group)?;
                let request =
                    ops::leave(me, self.state_of(&group)?, now_ms()).map_err(|e| e.to_string())?;
                self.publish_group_blocks(group, [&request]);
                done(GroupReply::Requested {
                    request: request.cid().to_string(),
                })
            }
            GroupCommand::List => {
                let groups = self
                    .groups
                    .machines
                    .iter()
                    .map(|(id, m)| {
                        let state = m.state();
                        let current = state.current();
                        GroupView {
                            group: id.to_string(),
                            name: state
                                .genesis()
                                .map(|(_, g)| g.name.clone())
                                .unwrap_or_default(),
                            epoch: current.map(|e| e.state.epoch),
                            members: current
                                .map(|e| {
                                    e.members
                                        .members
                                        .iter()
                                        .map(|m| m.actor.to_string())
                                        .collect()
                                })
                                .unwrap_or_default(),
                            member: current.is_some_and(|e| e.members.contains(&me.id())),
                            messages: state.message_count(),
                        }
                    })
                    .collect();
                done(GroupReply::Groups { groups })
            }
            GroupCommand::Invite { .. } => Err("internal: invite is parked".into()),
        }
    }

    /// Invites whose invitee's profile arrived (or whose time ran out).
    pub(crate) fn invites_pump(&mut self) -> usize {
        let mut work = 0;
        let mut invites = std::mem::take(&mut self.invites);
        for pending in &mut invites {
            let profile = self
                .actors
                .snapshot_of(&pending.invitee)
                .map(|s| s.profile.encryption_key);
            let result = match profile {
                Some(key) => self.send_invite(pending, key),
                None if pending.deadline <= StdInstant::now() => Err(format!(
                    "the profile of {} did not arrive in time: is a node of theirs online?",
                    pending.invitee
                )),
                None => continue,
            };
            work += 1;
            let answer = result.unwrap_or_else(|message| Reply::Error { message });
            if let Some(reply) = pending.reply.take() {
                drop(reply.send(answer));
            }
        }
        invites.retain(|p| p.reply.is_some());
        self.invites = invites;
        work
    }

    fn send_invite(&mut self, pending: &PendingInvite, key: [u8; 32]) -> Result<Reply, String> {
        let me = self.groups.identity.clone().ok_or("no actor unlocked")?;
        let group = pending.group;
        let state = self.state_of(&group)?;
        let invite = ops::invite(&me, state, pending.invitee, now_ms() + INVITE_VALIDITY_MS)
            .map_err(|e| e.to_string())?;
        let body = invitation_body(&group, *invite.cid(), &pending.note);
        let recipient = x25519_dalek::PublicKey::from(key);
        let envelope =
            GlobalEnvelope::seal(&me, &recipient, body, now_ms(), MAX_TTL_MS, &mut OsRng)
                .and_then(|e| e.to_block())
                .map_err(|e| e.to_string())?;
        self.publish_group_blocks(group, [&invite]);
        let now = self.now();
        let input = Input::Publish {
            topic: Topic::global(),
            block: envelope,
        };
        self.driver.handle(now, input).map_err(|e| e.to_string())?;
        done(GroupReply::Invited {
            invite: invite.cid().to_string(),
        })
    }
}
