//! `quorate demo --serve`: after the script, the nodes, the rendezvous server and the page
//! stay up until ctrl-c. A tab asks to join (the page POSTs its actor id to the demo's
//! `/join`); the group's admin invites it; the tab accepts and is admitted like any member.

use quorate_node::runtime::group_control::GroupCommand;

use super::Stage;
use super::listener::Event;
use super::transcript::Transcript;
use crate::Failure;

pub(crate) async fn run(s: &mut Stage, t: &Transcript) -> Result<(), Failure> {
    let group = s
        .group
        .clone()
        .ok_or_else(|| Failure::Failed("no group to serve".into()))?;
    match s.web {
        Some(addr) => t.say(&format!(
            "\nServing until ctrl-c. Open http://{addr}/ in a few tabs: create an actor, press \
             \"join the demo group\", accept the invitation, then chat, propose and vote with \
             the native members."
        )),
        None => t.say(
            "\nServing until ctrl-c (no browser page: build it with `scripts/build-web`); the \
             nodes keep the group alive.",
        ),
    }
    let pending = std::mem::take(&mut s.inbox.joins);
    for actor in pending {
        invite(s, t, &group, &actor).await;
    }
    let shutdown = crate::shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            event = s.inbox.events.recv() => match event {
                Some(Event::Join { actor }) => invite(s, t, &group, &actor).await,
                Some(Event::Trigger { key, body }) => {
                    t.say(&format!("TRIGGER_X fired: POST with Idempotency-Key {} body {body}", key.unwrap_or_default()));
                }
                None => break,
            },
        }
    }
    t.say("stopping the nodes");
    Ok(())
}

async fn invite(s: &Stage, t: &Transcript, group: &str, actor: &str) {
    let Some(admin) = s.members.first() else {
        return;
    };
    let short = actor.get(..8).unwrap_or(actor);
    let answer = admin
        .group(GroupCommand::Invite {
            group: group.to_owned(),
            actor: actor.to_owned(),
            note: "welcome to the demo council".to_owned(),
            timeout_ms: 20_000,
        })
        .await;
    match answer {
        Ok(_) => t.say(&format!(
            "{} invited the tab actor {short}…: it accepts in the page and is admitted",
            admin.name
        )),
        Err(Failure::Failed(m) | Failure::Usage(m)) => {
            t.say(&format!("could not invite {short}…: {m}"));
        }
    }
}
