//! Carrying out `quorate group …` commands (see `group_control`) on the node's
//! [`GroupHost`](quorate_group_core::host::GroupHost).

use quorate_actor_core::{ActorId, ActorSecret, Identity};
use quorate_group_core::GroupId;
use quorate_group_core::host::HostError;
use quorate_mesh_proto::Duration;
use rand_core::OsRng;
use tokio::sync::oneshot;

use super::control::Reply;
use super::group_control::{GroupCommand, GroupReply};
use super::groups::now_ms;
use super::node::Node;

type Answer = Option<(oneshot::Sender<Reply>, Reply)>;

fn parse_group(text: &str) -> Result<GroupId, String> {
    text.parse()
        .map_err(|_| format!("{text:?} is not a group id (64 hex characters)"))
}

fn parse_actor(text: &str) -> Result<ActorId, String> {
    text.parse()
        .map_err(|_| format!("{text:?} is not an actor id (64 hex characters)"))
}

fn text(e: HostError) -> String {
    e.to_string()
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
        self.act_as(identity, now);
        let result = match command {
            GroupCommand::Invite {
                group,
                actor,
                note,
                timeout_ms,
            } => {
                let timeout = Duration::from_millis(timeout_ms);
                let ticket = parse_group(&group).and_then(|group| {
                    let invitee = parse_actor(&actor)?;
                    self.groups
                        .invite(group, invitee, &note, now, timeout)
                        .map_err(text)
                });
                match ticket {
                    Ok(ticket) => {
                        self.invite_replies.insert(ticket, reply);
                        return None;
                    }
                    Err(e) => Err(e),
                }
            }
            other => self.group_command(other),
        };
        let answer = result
            .map(|r| Reply::Group(Box::new(r)))
            .unwrap_or_else(|message| Reply::Error { message });
        Some((reply, answer))
    }

    fn group_command(&mut self, command: GroupCommand) -> Result<GroupReply, String> {
        let now = self.now();
        let host = &mut self.groups;
        Ok(match command {
            GroupCommand::Create { name } => {
                let group = host
                    .create(&name, now, now_ms(), &mut OsRng)
                    .map_err(text)?;
                GroupReply::Created {
                    group: group.to_string(),
                }
            }
            GroupCommand::Invitations => GroupReply::Invitations {
                invitations: host.invitations(),
            },
            GroupCommand::Accept { group } => {
                let cid = host
                    .accept(parse_group(&group)?, now, now_ms())
                    .map_err(text)?;
                GroupReply::Requested {
                    request: cid.to_string(),
                }
            }
            GroupCommand::Send { group, text: body } => {
                let cid = host
                    .send(parse_group(&group)?, &body, now, &mut OsRng)
                    .map_err(text)?;
                GroupReply::Sent {
                    cid: cid.to_string(),
                }
            }
            GroupCommand::Read { group, limit } => GroupReply::Messages {
                messages: host.messages(&parse_group(&group)?, limit).map_err(text)?,
            },
            GroupCommand::Remove { group, actor } => {
                let epoch = host
                    .remove(
                        parse_group(&group)?,
                        parse_actor(&actor)?,
                        now,
                        now_ms(),
                        &mut OsRng,
                    )
                    .map_err(text)?;
                GroupReply::Epoch {
                    epoch: epoch.epoch,
                    cid: epoch.cid,
                    bytes: epoch.bytes,
                }
            }
            GroupCommand::Leave { group } => {
                let cid = host
                    .leave(parse_group(&group)?, now, now_ms())
                    .map_err(text)?;
                GroupReply::Requested {
                    request: cid.to_string(),
                }
            }
            GroupCommand::List => GroupReply::Groups {
                groups: host.list(),
            },
            GroupCommand::Invite { .. } => return Err("internal: invite is parked".into()),
        })
    }
}
