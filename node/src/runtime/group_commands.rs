//! Carrying out `quorate group …` commands (see `group_control`) on the node's
//! [`GroupHost`](quorate_group_core::host::GroupHost).

use quorate_actor_core::{ActorId, ActorSecret, Identity};
use quorate_attestation_core::SingleKeyCommittee;
use quorate_governance_core::{ActionPayload, VoteValue, parse_approval_rule};
use quorate_group_core::GroupId;
use quorate_group_core::host::HostError;
use quorate_mesh_proto::Duration;
use quorate_mesh_proto::{Cid, Instant};
use rand_core::OsRng;
use tokio::sync::oneshot;

use super::control::Reply;
use super::group_control::{GroupCommand, GroupReply};
use super::groups::now_ms;
use super::groups::save_committee_key;
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
                    self.group_host()
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
        if let Some(reply) = self.governance_command(&command, now)? {
            return Ok(reply);
        }
        let host = self.group_host();
        Ok(match command {
            GroupCommand::Create { name, approve } => {
                let rules = approve
                    .iter()
                    .map(|r| parse_approval_rule(r))
                    .collect::<Result<Vec<_>, _>>()?;
                let group = host
                    .create_with_rules(&name, rules, now, now_ms(), &mut OsRng)
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
            GroupCommand::Invite { .. }
            | GroupCommand::Committee { .. }
            | GroupCommand::Rotate { .. }
            | GroupCommand::Propose { .. }
            | GroupCommand::Vote { .. }
            | GroupCommand::Proposals { .. } => {
                return Err("internal: handled elsewhere".into());
            }
        })
    }

    /// A committee's members: the ones named, or `auto` chosen by seed 004's rule, or
    /// every member of the current epoch.
    fn committee_members(
        &self,
        group: &GroupId,
        named: &[String],
        auto: Option<usize>,
    ) -> Result<Vec<ActorId>, String> {
        if !named.is_empty() {
            return named.iter().map(|a| parse_actor(a)).collect();
        }
        let state = self
            .groups
            .groups()
            .state(group)
            .map_err(|e| e.to_string())?;
        let current = state.current().ok_or("the group has no epoch yet")?;
        let all: Vec<ActorId> = current.members.members.iter().map(|m| m.actor).collect();
        Ok(match auto {
            Some(n) => quorate_attestation_core::frost::select::select_committee(
                &all,
                group,
                current.state.epoch,
                n,
                (2, quorate_attestation_core::MAX_COMMITTEE),
            ),
            None => all,
        })
    }

    /// Calls a FROST DKG (or, with `rotate`, a resharing of the current committee).
    fn call_committee(
        &mut self,
        group: &str,
        members: &[String],
        auto: Option<usize>,
        threshold: u16,
        rotate: bool,
        now: Instant,
    ) -> Result<GroupReply, String> {
        let group = parse_group(group)?;
        let members = self.committee_members(&group, members, auto)?;
        let call = if rotate {
            self.groups
                .call_rotation(group, members.clone(), threshold, None, now)
        } else {
            self.groups
                .call_committee(group, members.clone(), threshold, now)
        }
        .map_err(|e| e.to_string())?;
        Ok(GroupReply::CommitteeCalled {
            call: call.to_string(),
            members: members.iter().map(ToString::to_string).collect(),
            threshold,
        })
    }

    /// The governance commands; `None` for the others.
    fn governance_command(
        &mut self,
        command: &GroupCommand,
        now: Instant,
    ) -> Result<Option<GroupReply>, String> {
        let gov = |e: quorate_attestation_core::host::GovError| e.to_string();
        Ok(Some(match command {
            GroupCommand::Committee {
                group,
                threshold: Some(threshold),
                members,
                auto,
            } => self.call_committee(group, members, *auto, *threshold, false, now)?,
            GroupCommand::Rotate {
                group,
                threshold,
                members,
                auto,
            } => self.call_committee(group, members, *auto, *threshold, true, now)?,
            GroupCommand::Committee { group, .. } => {
                let group = parse_group(group)?;
                let me = self
                    .groups
                    .groups()
                    .identity()
                    .map(Identity::id)
                    .ok_or("no actor")?;
                let committee = SingleKeyCommittee::generate(me, &mut OsRng);
                let key = committee.group_key();
                save_committee_key(&self.config.data_dir, &group, &me, &committee)?;
                let epoch = self
                    .groups
                    .set_committee(group, committee, now, now_ms(), &mut OsRng)
                    .map_err(gov)?;
                GroupReply::Committee {
                    group_key: hex::encode(key),
                    epoch: epoch.epoch,
                }
            }
            GroupCommand::Propose {
                group,
                action,
                data,
                remove,
                committee,
                threshold,
                minutes,
            } => {
                let group = parse_group(group)?;
                let payload = match (data, remove, threshold) {
                    (_, _, Some(threshold)) => {
                        let mut members = committee
                            .iter()
                            .map(|a| parse_actor(a))
                            .collect::<Result<Vec<_>, _>>()?;
                        members.sort();
                        members.dedup();
                        Some(ActionPayload::Committee {
                            members,
                            threshold: *threshold,
                        })
                    }
                    (_, Some(actor), None) => {
                        Some(ActionPayload::RemoveMember(parse_actor(actor)?))
                    }
                    (Some(d), None, None) => Some(ActionPayload::Data(d.clone())),
                    (None, None, None) => None,
                };
                let voting = minutes.saturating_mul(60_000);
                let id = self
                    .groups
                    .propose(group, action, payload, voting, now, now_ms())
                    .map_err(gov)?;
                GroupReply::Proposed {
                    proposal: id.to_string(),
                }
            }
            GroupCommand::Vote {
                group,
                proposal,
                yes,
            } => {
                let group = parse_group(group)?;
                let proposal: Cid = proposal
                    .parse()
                    .map_err(|e| format!("{proposal:?} is not a proposal id: {e}"))?;
                let value = if *yes { VoteValue::Yes } else { VoteValue::No };
                let cid = self
                    .groups
                    .vote(group, &proposal, value, now)
                    .map_err(gov)?;
                GroupReply::Voted {
                    vote: cid.to_string(),
                }
            }
            GroupCommand::Proposals { group } => {
                let group = parse_group(group)?;
                GroupReply::Proposals {
                    group_key: self.groups.group_key(&group).map(hex::encode),
                    committee: self.groups.committee(&group).map(|c| match c.scheme {
                        quorate_attestation_core::Scheme::Frost => {
                            format!("frost {}-of-{}", c.threshold, c.members.len())
                        }
                        _ => "single key".to_owned(),
                    }),
                    proposals: self.groups.proposal_views(&group, now_ms()),
                }
            }
            _ => return Ok(None),
        }))
    }
}
