//! `quorate group`: create, invite, invitations, accept, send, read, remove, leave, list.
//!
//! Each command opens the actor's keystore with the passphrase and hands the running node
//! the actor's secret over its control socket, so the node acts as the actor (decrypts,
//! admits joins) until it stops.

use std::path::Path;
use std::time::Duration;

use quorate_node::runtime::control::{self, ControlError, Reply, Request};
use quorate_node::runtime::group_control::{GroupCommand as Command, GroupReply};
use zeroize::Zeroizing;

use crate::Failure;
use crate::actor::{Source, open_identity};
use crate::cli::{GroupArgs, GroupCommand};

pub(crate) async fn run(args: GroupArgs) -> Result<(), Failure> {
    let dir = args
        .data
        .clone()
        .ok_or_else(|| Failure::Usage("--data DIR is required".into()))?;
    let (command, wait) = match args.command {
        GroupCommand::Create { name, approve } => (Command::Create { name, approve }, 10),
        GroupCommand::Committee {
            group,
            threshold,
            members,
            auto,
        } => (
            Command::Committee {
                group,
                threshold,
                members,
                auto,
            },
            10,
        ),
        GroupCommand::Rotate {
            group,
            threshold,
            members,
            auto,
        } => (
            Command::Rotate {
                group,
                threshold,
                members,
                auto,
            },
            10,
        ),
        GroupCommand::Propose {
            group,
            action,
            text,
            remove,
            committee,
            threshold,
            minutes,
        } => (
            Command::Propose {
                group,
                action,
                data: text,
                remove,
                committee,
                threshold,
                minutes,
            },
            10,
        ),
        GroupCommand::Vote {
            group,
            proposal,
            vote,
        } => (
            Command::Vote {
                group,
                proposal,
                yes: vote == "yes",
            },
            10,
        ),
        GroupCommand::Proposals { group } => (Command::Proposals { group }, 10),
        GroupCommand::Invite {
            group,
            actor,
            note,
            timeout,
        } => (
            Command::Invite {
                group,
                actor,
                note,
                timeout_ms: timeout.saturating_mul(1000),
            },
            timeout + 10,
        ),
        GroupCommand::Invitations => (Command::Invitations, 10),
        GroupCommand::Accept { group } => (Command::Accept { group }, 10),
        GroupCommand::Send { group, text } => (Command::Send { group, text }, 10),
        GroupCommand::Read { group, last } => (Command::Read { group, limit: last }, 10),
        GroupCommand::Remove { group, actor } => (Command::Remove { group, actor }, 10),
        GroupCommand::Leave { group } => (Command::Leave { group }, 10),
        GroupCommand::List => (Command::List, 10),
    };
    let source = Source {
        file: args.passphrase_file.clone(),
    };
    let identity = open_identity(&dir, &source)?;
    let secret = Zeroizing::new(hex::encode(identity.secret().expose()));
    let reply = send(&dir, &secret, command, wait).await?;
    print(&dir, &reply, args.json)
}

/// Sends one group command to the node running on `dir`, as the actor whose secret (hex)
/// it carries; waits up to `wait_secs` for the answer.
pub(crate) async fn send(
    dir: &Path,
    secret: &str,
    command: Command,
    wait_secs: u64,
) -> Result<GroupReply, Failure> {
    let request = Request::Group {
        secret: secret.to_owned(),
        command,
    };
    match control::call(dir, &request, Duration::from_secs(wait_secs)).await {
        Ok(Reply::Group(reply)) => Ok(*reply),
        Ok(Reply::Error { message }) => Err(Failure::Failed(message)),
        Ok(other) => Err(Failure::Failed(format!("unexpected reply {other:?}"))),
        Err(ControlError::NotRunning { .. }) => Err(Failure::Usage(format!(
            "groups need a running node: start `quorate node --data {}` first",
            dir.display()
        ))),
        Err(e) => Err(Failure::Failed(e.to_string())),
    }
}

fn print(_dir: &Path, reply: &GroupReply, json: bool) -> Result<(), Failure> {
    if json {
        let text = serde_json::to_string(reply).map_err(|e| Failure::Failed(e.to_string()))?;
        println!("{text}");
        return Ok(());
    }
    match reply {
        GroupReply::Created { group } => println!("group {group}"),
        GroupReply::Invited { invite } => println!("invite {invite}"),
        GroupReply::Invitations { invitations } => {
            for i in invitations {
                println!(
                    "group {} from {} invite {} note {:?}",
                    i.group, i.from, i.invite, i.note
                );
            }
        }
        GroupReply::Requested { request } => println!("request {request}"),
        GroupReply::Sent { cid } => println!("message {cid}"),
        GroupReply::Messages { messages } => {
            for m in messages {
                let text = m
                    .text
                    .as_deref()
                    .unwrap_or("[cannot decrypt: no key for this epoch]");
                println!(
                    "{} {}…: {text}",
                    m.epoch,
                    m.author.get(..8).unwrap_or(&m.author)
                );
            }
        }
        GroupReply::Epoch { epoch, cid, bytes } => {
            println!("epoch {epoch} state {cid} rekey_bytes {bytes}");
        }
        GroupReply::CommitteeCalled {
            call,
            members,
            threshold,
        } => {
            println!(
                "committee call {call}: {threshold}-of-{} FROST; recorded once every member derived PK_G",
                members.len()
            );
        }
        GroupReply::Committee { group_key, epoch } => {
            println!("group key {group_key} (epoch {epoch})");
        }
        GroupReply::Proposed { proposal } => println!("proposal {proposal}"),
        GroupReply::Voted { vote } => println!("vote {vote}"),
        GroupReply::Proposals {
            group_key,
            committee,
            proposals,
        } => {
            println!(
                "group key {}{}",
                group_key.as_deref().unwrap_or("(no committee yet)"),
                committee
                    .as_ref()
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_default()
            );
            for p in proposals {
                let needed = p
                    .needed
                    .map(|n| format!(", {n} more YES needed"))
                    .unwrap_or_default();
                let attested = if p.attestation.is_some() {
                    ", attested"
                } else {
                    ""
                };
                println!(
                    "{} {} by {}…: {} ({} yes / {} no of {}{needed}){attested}",
                    p.proposal,
                    p.action,
                    p.by.get(..8).unwrap_or(&p.by),
                    p.outcome,
                    p.yes,
                    p.no,
                    p.eligible
                );
            }
        }
        GroupReply::Groups { groups } => {
            for g in groups {
                let role = if g.member { "member" } else { "cache" };
                let epoch = g.epoch.map_or("?".to_owned(), |e| e.to_string());
                println!(
                    "{} {:?} {role} epoch {epoch} members {} messages {}",
                    g.group,
                    g.name,
                    g.members.len(),
                    g.messages
                );
            }
        }
    }
    Ok(())
}
