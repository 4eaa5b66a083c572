//! The scripted steps after the mesh is up: group, invitations, messages, the FROST
//! committee, a vote, the attestation checked as an outsider, the action, a removal by vote.

use std::path::Path;
use std::time::{Duration, Instant};

use quorate_attestation_core::verify_attestation;
use quorate_node::runtime::group_control::{GroupCommand as Cmd, GroupReply, ProposalView};
use serde_json::{Value, json};

use super::cluster::Member;
use super::listener::Event;
use super::transcript::Transcript;
use super::{Inbox, Stage};
use crate::Failure;
use crate::verify::{self, AttestationJson};

/// The voting rules the group is created with (fractions of the members).
const TRIGGER_RULE: (usize, usize) = (2, 5);
const REMOVE_RULE: (usize, usize) = (3, 5);

fn fail(message: impl Into<String>) -> Failure {
    Failure::Failed(message.into())
}

fn member(members: &[Member], i: usize) -> Result<&Member, Failure> {
    members.get(i).ok_or_else(|| fail(format!("no member {i}")))
}

fn groups(reply: &GroupReply) -> Option<&[quorate_node::runtime::group_control::GroupView]> {
    match reply {
        GroupReply::Groups { groups } => Some(groups),
        _ => None,
    }
}

fn proposal<'a>(reply: &'a GroupReply, id: &str) -> Option<&'a ProposalView> {
    match reply {
        GroupReply::Proposals { proposals, .. } => proposals.iter().find(|p| p.proposal == id),
        _ => None,
    }
}

/// `[███░░] 3/5` against the votes the rule needs.
fn bar(yes: usize, needed_total: usize) -> String {
    let filled = "█".repeat(yes.min(needed_total));
    let empty = "░".repeat(needed_total.saturating_sub(yes));
    format!("[{filled}{empty}] {yes}/{needed_total} YES")
}

pub(crate) async fn run(s: &mut Stage, t: &mut Transcript) -> Result<Value, Failure> {
    let n = s.members.len();
    let admin = member(&s.members, 0)?;

    // Group.
    t.begin(
        "group",
        format!("{} creates a group with voting rules", admin.name),
    );
    let rules = vec![
        format!("TRIGGER_X={}/{}", TRIGGER_RULE.0, TRIGGER_RULE.1),
        format!("REMOVE_MEMBER={}/{}", REMOVE_RULE.0, REMOVE_RULE.1),
    ];
    let reply = admin
        .group(Cmd::Create {
            name: "demo council".to_owned(),
            approve: rules.clone(),
        })
        .await?;
    let GroupReply::Created { group } = reply else {
        return Err(fail(format!("unexpected answer to create: {reply:?}")));
    };
    t.detail(&format!("group {group} \"demo council\""));
    t.detail(&format!(
        "rules: {} (fractions of the members' YES votes)",
        rules.join(", ")
    ));
    s.group = Some(group.clone());
    t.done(json!({ "group": group, "rules": rules }));

    // Invitations.
    t.begin(
        "invite",
        format!("{} invites {} others; each accepts", admin.name, n - 1),
    );
    for m in s.members.iter().skip(1) {
        admin
            .group(Cmd::Invite {
                group: group.clone(),
                actor: m.id.clone(),
                note: format!("welcome, {}", m.name),
                timeout_ms: 20_000,
            })
            .await?;
        m.until(
            &Cmd::Invitations,
            "the invitation",
            s.timeout,
            |r| match r {
                GroupReply::Invitations { invitations } => {
                    invitations.iter().any(|i| i.group == group).then_some(())
                }
                _ => None,
            },
        )
        .await?;
        m.group(Cmd::Accept {
            group: group.clone(),
        })
        .await?;
        t.detail(&format!(
            "{} invited {} ({}); sealed invitation received; join requested",
            admin.name,
            m.name,
            m.short()
        ));
    }
    let mut epoch = 0;
    for m in &s.members {
        epoch = m
            .until(&Cmd::List, "admission of every member", s.timeout, |r| {
                groups(r)?
                    .iter()
                    .find(|g| g.group == group && g.members.len() == n && g.member)
                    .and_then(|g| g.epoch)
            })
            .await?;
    }
    t.detail(&format!(
        "all {n} are members (epoch {epoch}: each admission sealed the epoch key to the newcomer)"
    ));
    t.done(json!({ "members": n, "epoch": epoch }));

    // Messages.
    t.begin(
        "messages",
        "everyone sends an end-to-end encrypted message; everyone reads all",
    );
    for m in &s.members {
        m.group(Cmd::Send {
            group: group.clone(),
            text: format!("hello from {}", m.name),
        })
        .await?;
    }
    for m in &s.members {
        let texts = m
            .until(
                &Cmd::Read {
                    group: group.clone(),
                    limit: 100,
                },
                "reading every message",
                s.timeout,
                |r| match r {
                    GroupReply::Messages { messages } => {
                        let texts: Vec<String> =
                            messages.iter().filter_map(|x| x.text.clone()).collect();
                        (texts.len() >= n).then_some(texts)
                    }
                    _ => None,
                },
            )
            .await?;
        t.detail(&format!("{:<4} reads: {}", m.name, texts.join(" · ")));
    }
    t.done(json!({ "messages": n }));

    // FROST committee.
    let threshold = u16::try_from(n / 2 + 1).map_err(|_| fail("too many nodes"))?;
    t.begin(
        "committee",
        format!("FROST DKG over the group topic: a {threshold}-of-{n} committee, one key PK_G"),
    );
    admin
        .group(Cmd::Committee {
            group: group.clone(),
            threshold: Some(threshold),
            members: Vec::new(),
            auto: None,
        })
        .await?;
    let want = format!("frost {threshold}-of-{n}");
    let mut group_key = String::new();
    for m in &s.members {
        let key = committee_key(m, &group, &want, s.timeout).await?;
        if !group_key.is_empty() && group_key != key {
            return Err(fail(format!("{} derived another PK_G: {key}", m.name)));
        }
        group_key = key;
        let shares = share_files(&m.dir);
        t.detail(&format!(
            "{:<4} holds a share on disk ({} file, 0600) and derived the same PK_G",
            m.name, shares
        ));
    }
    t.detail(&format!("PK_G = {group_key}"));
    t.done(json!({ "threshold": threshold, "members": n, "group_key": group_key }));

    // TRIGGER_X: propose, vote.
    let proposer = member(&s.members, 1)?;
    t.begin(
        "propose",
        format!(
            "{} proposes TRIGGER_X; members vote until the rule is met",
            proposer.name
        ),
    );
    let trigger = propose(proposer, &group, "TRIGGER_X", Some("open the doors"), None).await?;
    t.detail(&format!(
        "proposal {trigger}: TRIGGER_X \"open the doors\", 10 minutes to vote"
    ));
    let voters: Vec<usize> = (2..n).chain(0..2).collect();
    let tally = vote_until_passed(s, t, &group, &trigger, &voters).await?;
    t.done(tally);

    // The committee signs.
    t.begin(
        "attest",
        format!("the committee signs: any {threshold} of {n} shares, one Ed25519 signature"),
    );
    let attestation = attestation_everywhere(s, t, &group, &trigger).await?;
    let file = s.dir.join("attestation.json");
    let text = serde_json::to_string_pretty(&attestation).map_err(|e| fail(e.to_string()))?;
    write(&file, &text)?;
    write(&s.dir.join("group-key.txt"), &format!("{group_key}\n"))?;
    t.detail(&format!("attestation written to {}", file.display()));
    t.done(json!({ "attestation": attestation, "file": file }));

    // The outsider.
    t.begin(
        "verify",
        "an outsider verifies with PK_G and the attestation alone",
    );
    let outsider = outsider_check(&s.dir, &group_key, &file)?;
    for line in &outsider.lines {
        t.detail(line);
    }
    t.done(outsider.facts);

    // The action.
    t.begin(
        "action",
        "the executing node fires TRIGGER_X: an HTTP POST, exactly once",
    );
    let (key, body) = wait_trigger(&mut s.inbox, &admin.log(), s.timeout, &trigger).await?;
    t.detail(&format!(
        "POST {} with Idempotency-Key {key}",
        s.trigger_url
    ));
    t.detail(&format!("body: {body}"));
    t.done(json!({ "idempotency_key": key, "body": body }));

    // Removal by vote.
    let removed_index = n - 1;
    let removed = member(&s.members, removed_index)?;
    t.begin(
        "remove",
        format!(
            "{} proposes REMOVE_MEMBER {}; the vote passes; a new epoch rekeys",
            admin.name, removed.name
        ),
    );
    let removal = propose(admin, &group, "REMOVE_MEMBER", None, Some(&removed.id)).await?;
    t.detail(&format!(
        "proposal {removal}: REMOVE_MEMBER {}",
        removed.short()
    ));
    let voters: Vec<usize> = (0..removed_index).collect();
    vote_until_passed(s, t, &group, &removal, &voters).await?;
    attestation_everywhere(s, t, &group, &removal).await?;
    let new_epoch = admin
        .until(&Cmd::List, "the removal's new epoch", s.timeout, |r| {
            groups(r)?
                .iter()
                .find(|g| g.group == group && g.members.len() == n - 1)
                .and_then(|g| g.epoch)
        })
        .await?;
    t.detail(&format!(
        "{}'s node executed it: epoch {new_epoch}, {} members, a fresh key sealed to each of them",
        admin.name,
        n - 1
    ));
    let secret_text = format!("{} cannot read this", removed.name);
    let reply = admin
        .group(Cmd::Send {
            group: group.clone(),
            text: secret_text.clone(),
        })
        .await?;
    let GroupReply::Sent { cid } = reply else {
        return Err(fail(format!("unexpected answer to send: {reply:?}")));
    };
    let reader = member(&s.members, 1)?;
    let (_, text) = read_one(reader, &group, &cid, "the post-removal message", s.timeout).await?;
    if text.as_deref() != Some(secret_text.as_str()) {
        return Err(fail(format!("{} cannot read the new epoch", reader.name)));
    }
    t.detail(&format!("{} reads \"{secret_text}\"", reader.name));
    let (e, text) = read_one(
        removed,
        &group,
        &cid,
        "the post-removal ciphertext reaching the removed node",
        s.timeout,
    )
    .await?;
    if text.is_some() {
        return Err(fail(format!(
            "{} read a message after removal",
            removed.name
        )));
    }
    t.detail(&format!(
        "{}'s node holds that message too, as ciphertext: no key for epoch {e}",
        removed.name
    ));
    match removed
        .group(Cmd::Send {
            group: group.clone(),
            text: "am I still in?".to_owned(),
        })
        .await
    {
        Err(Failure::Failed(m) | Failure::Usage(m)) => {
            t.detail(&format!("{} tries to send: refused ({m})", removed.name));
        }
        Ok(reply) => {
            return Err(fail(format!(
                "{} could still send after removal: {reply:?}",
                removed.name
            )));
        }
    }
    t.done(json!({ "proposal": removal, "removed": removed.id, "epoch": new_epoch }));

    let rotated = rotate(s, t, &group, &group_key, removed_index).await?;

    let triggers = count_triggers(&mut s.inbox, &trigger).await;
    if triggers != 1 {
        return Err(fail(format!(
            "TRIGGER_X was POSTed {triggers} times, not once"
        )));
    }
    t.summary();
    t.say(&format!(
        "\nAll steps passed. The attestation is in {} — check it yourself:\n  quorate verify --group-key {group_key} --attestation {}",
        file.display(),
        file.display()
    ));
    let result = json!({
        "data_dir": s.dir,
        "rendezvous": s.rendezvous,
        "join_url": s.trigger_url.replace("/trigger", "/join"),
        "group": group,
        "group_key": group_key,
        "committee": { "threshold": threshold, "members": n },
        "trigger_proposal": trigger,
        "trigger_posts": triggers,
        "attestation_file": file,
        "removed": removed.id,
        "rotated": rotated,
        "web": s.web.map(|a| format!("http://{a}/")),
    });
    Ok(result)
}

/// Votes YES as `voters` (indexes) in turn until the proposal passes; narrates the tally.
async fn vote_until_passed(
    s: &Stage,
    t: &Transcript,
    group: &str,
    proposal_id: &str,
    voters: &[usize],
) -> Result<Value, Failure> {
    let mut votes = 0;
    for &i in voters {
        let v = member(&s.members, i)?;
        v.until(
            &Cmd::Proposals {
                group: group.to_owned(),
            },
            "the proposal reaching this node",
            s.timeout,
            |r| proposal(r, proposal_id).map(|_| ()),
        )
        .await?;
        v.group(Cmd::Vote {
            group: group.to_owned(),
            proposal: proposal_id.to_owned(),
            yes: true,
        })
        .await?;
        votes += 1;
        // This voter's node has its own vote at once and every earlier one once gossip
        // brought it: the tally is read there when it counts them all.
        let p = v
            .until(
                &Cmd::Proposals {
                    group: group.to_owned(),
                },
                "the earlier votes reaching this node",
                s.timeout,
                |r| proposal(r, proposal_id).filter(|p| p.yes >= votes).cloned(),
            )
            .await?;
        let total = p.yes + p.needed.unwrap_or(0);
        t.detail(&format!(
            "{:<4} votes YES  {}  of {} eligible — {}",
            v.name,
            bar(p.yes, total),
            p.eligible,
            p.outcome
        ));
        if p.outcome == "passed" {
            return Ok(
                json!({ "proposal": proposal_id, "yes": p.yes, "eligible": p.eligible, "outcome": p.outcome }),
            );
        }
    }
    Err(fail(format!(
        "{proposal_id} did not pass after {votes} YES votes"
    )))
}

/// Waits until every member's node holds the attestation; returns it in JSON form.
async fn attestation_everywhere(
    s: &Stage,
    t: &Transcript,
    group: &str,
    proposal_id: &str,
) -> Result<AttestationJson, Failure> {
    let started = Instant::now();
    let mut found = None;
    for m in &s.members {
        let a = m
            .until(
                &Cmd::Proposals {
                    group: group.to_owned(),
                },
                "the attestation",
                s.timeout,
                |r| proposal(r, proposal_id)?.attestation.clone(),
            )
            .await?;
        found.get_or_insert(a);
    }
    let a = found.ok_or_else(|| fail("no members"))?;
    t.detail(&format!(
        "attestation of epoch {} held by all {} nodes after {:.2} s; signature {}…",
        a.epoch,
        s.members.len(),
        started.elapsed().as_secs_f64(),
        a.group_signature.get(..16).unwrap_or_default()
    ));
    Ok(AttestationJson::of_view(&a))
}

struct Outsider {
    lines: Vec<String>,
    facts: Value,
}

/// What an outsider does: reads the file, checks the Ed25519 signature under `PK_G`
/// (strict RFC 8032), shows that a one-bit change fails, and asks OpenSSL if installed.
fn outsider_check(dir: &Path, group_key: &str, file: &Path) -> Result<Outsider, Failure> {
    let key = verify::group_key(group_key)?;
    let attestation = verify::read(file)?;
    verify_attestation(&key, &attestation)
        .map_err(|e| fail(format!("the attestation does not verify: {e}")))?;
    let mut lines = vec![format!(
        "`quorate verify --group-key PK_G --attestation {}`: valid (Ed25519, RFC 8032 strict)",
        file.display()
    )];
    let mut tampered = attestation.clone();
    tampered.issued_at ^= 1;
    let rejected = verify_attestation(&key, &tampered).is_err();
    if !rejected {
        return Err(fail("a tampered attestation verified"));
    }
    lines.push("the same attestation with issuedAt changed by 1 ms: rejected".to_owned());
    let openssl_dir = dir.join("openssl");
    let command = verify::write_openssl(&openssl_dir, &key, &attestation)?;
    let openssl = std::process::Command::new("openssl")
        .args(["pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey"])
        .arg(openssl_dir.join("pk.der"))
        .arg("-rawin")
        .arg("-in")
        .arg(openssl_dir.join("message.bin"))
        .arg("-sigfile")
        .arg(openssl_dir.join("signature.bin"))
        .output();
    let openssl = match openssl {
        Ok(out) if out.status.success() => {
            lines.push(format!("OpenSSL agrees: {command}"));
            "valid"
        }
        Ok(out) => {
            return Err(fail(format!(
                "OpenSSL rejects the signature: {}",
                String::from_utf8_lossy(&out.stdout)
            )));
        }
        Err(_) => {
            lines.push("(OpenSSL not installed: skipped the second verifier)".to_owned());
            "not installed"
        }
    };
    Ok(Outsider {
        lines,
        facts: json!({ "valid": true, "tampered_rejected": rejected, "openssl": openssl }),
    })
}

/// The removed member still holds a share of `PK_G`: the admin reshares the key to the
/// remaining members (same `PK_G`, new threshold), the removed node erases its share, and
/// the new committee signs a fresh proposal that verifies under the unchanged key.
async fn rotate(
    s: &Stage,
    t: &mut Transcript,
    group: &str,
    group_key: &str,
    removed_index: usize,
) -> Result<Value, Failure> {
    let remaining: Vec<usize> = (0..s.members.len())
        .filter(|i| *i != removed_index)
        .collect();
    let n = remaining.len();
    let threshold = u16::try_from(n / 2 + 1).map_err(|_| fail("too many nodes"))?;
    let admin = member(&s.members, 0)?;
    let removed = member(&s.members, removed_index)?;
    t.begin(
        "rotate",
        format!(
            "{} reshares PK_G to the {n} remaining members ({threshold}-of-{n}); {}'s share becomes useless",
            admin.name, removed.name
        ),
    );
    let ids: Vec<String> = remaining
        .iter()
        .map(|&i| member(&s.members, i).map(|m| m.id.clone()))
        .collect::<Result<_, _>>()?;
    admin
        .group(Cmd::Rotate {
            group: group.to_owned(),
            threshold,
            members: ids,
            auto: None,
        })
        .await?;
    let want = format!("frost {threshold}-of-{n}");
    for &i in &remaining {
        let m = member(&s.members, i)?;
        let key = committee_key(m, group, &want, s.timeout).await?;
        if key != group_key {
            return Err(fail(format!("{}: PK_G changed to {key}", m.name)));
        }
    }
    t.detail(&format!(
        "all {n} hold new shares; PK_G unchanged ({}…)",
        group_key.get(..16).unwrap_or(group_key)
    ));
    // The removed node learns of the new committee from the group topic and erases its
    // old share (a dishonest one could keep it: alone it is below any threshold, and it
    // no longer combines with the new shares).
    let deadline = Instant::now() + s.timeout;
    while share_files(&removed.dir) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let erased = share_files(&removed.dir) == 0;
    t.detail(&if erased {
        format!("{}'s node erased its old share", removed.name)
    } else {
        format!(
            "{}'s node still has its old share file (it never heard of the rotation); the share does not combine with the new ones",
            removed.name
        )
    });
    // The new committee signs.
    let proposer = member(&s.members, 2 % n)?;
    let id = propose(
        proposer,
        group,
        "TRIGGER_X",
        Some("after the rotation"),
        None,
    )
    .await?;
    t.detail(&format!(
        "{} proposes TRIGGER_X \"after the rotation\"",
        proposer.name
    ));
    let voters: Vec<usize> = remaining.iter().rev().copied().collect();
    vote_until_passed(s, t, group, &id, &voters).await?;
    let attestation = attestation_everywhere(s, t, group, &id).await?;
    let file = s.dir.join("attestation-after-rotation.json");
    let text = serde_json::to_string_pretty(&attestation).map_err(|e| fail(e.to_string()))?;
    write(&file, &text)?;
    let key = verify::group_key(group_key)?;
    verify_attestation(&key, &verify::read(&file)?).map_err(|e| {
        fail(format!(
            "the new committee's attestation does not verify: {e}"
        ))
    })?;
    t.detail(&format!(
        "signed by the new committee; verifies under the same PK_G ({})",
        file.display()
    ));
    let facts = json!({
        "threshold": threshold,
        "members": n,
        "group_key": group_key,
        "removed_share_erased": erased,
        "proposal": id,
        "attestation_file": file,
    });
    t.done(facts.clone());
    Ok(facts)
}

/// Proposes `action` as `m` (10 minutes to vote); the proposal id.
async fn propose(
    m: &Member,
    group: &str,
    action: &str,
    data: Option<&str>,
    remove: Option<&str>,
) -> Result<String, Failure> {
    let reply = m
        .group(Cmd::Propose {
            group: group.to_owned(),
            action: action.to_owned(),
            data: data.map(str::to_owned),
            remove: remove.map(str::to_owned),
            committee: Vec::new(),
            threshold: None,
            minutes: 10,
        })
        .await?;
    match reply {
        GroupReply::Proposed { proposal } => Ok(proposal),
        other => Err(fail(format!("unexpected answer to propose: {other:?}"))),
    }
}

/// `PK_G` once `m`'s node records the committee described as `want` (`frost t-of-n`).
async fn committee_key(
    m: &Member,
    group: &str,
    want: &str,
    timeout: Duration,
) -> Result<String, Failure> {
    m.until(
        &Cmd::Proposals {
            group: group.to_owned(),
        },
        &format!("the record of the {want} committee"),
        timeout,
        |r| match r {
            GroupReply::Proposals {
                group_key: Some(k),
                committee: Some(c),
                ..
            } if c == want => Some(k.clone()),
            _ => None,
        },
    )
    .await
}

/// Reads `cid` at `m` once its node has it: (epoch, text if it can decrypt it).
async fn read_one(
    m: &Member,
    group: &str,
    cid: &str,
    what: &str,
    timeout: Duration,
) -> Result<(u64, Option<String>), Failure> {
    m.until(
        &Cmd::Read {
            group: group.to_owned(),
            limit: 100,
        },
        what,
        timeout,
        |r| match r {
            GroupReply::Messages { messages } => messages
                .iter()
                .find(|x| x.cid == cid)
                .map(|x| (x.epoch, x.text.clone())),
            _ => None,
        },
    )
    .await
}

/// Waits for the POST of `proposal_id` at the listener.
async fn wait_trigger(
    inbox: &mut Inbox,
    log: &Path,
    timeout: Duration,
    proposal_id: &str,
) -> Result<(String, String), Failure> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, inbox.events.recv()).await {
            Ok(Some(Event::Trigger { key, body })) if key.as_deref() == Some(proposal_id) => {
                inbox.fired += 1;
                return Ok((proposal_id.to_owned(), body));
            }
            Ok(Some(Event::Trigger { key, .. })) => {
                return Err(fail(format!("a POST for another proposal: {key:?}")));
            }
            Ok(Some(Event::Join { actor })) => inbox.joins.push(actor),
            Ok(None) => return Err(fail("the listener stopped")),
            Err(_) => {
                return Err(fail(format!(
                    "no POST within {} s; see {}",
                    timeout.as_secs(),
                    log.display()
                )));
            }
        }
    }
}

/// POSTs of `proposal_id` seen so far (the executing node must send one).
async fn count_triggers(inbox: &mut Inbox, proposal_id: &str) -> usize {
    // A duplicate would come within the node's retry delay; give it a moment.
    tokio::time::sleep(Duration::from_millis(500)).await;
    while let Ok(event) = inbox.events.try_recv() {
        match event {
            Event::Trigger { key, .. } if key.as_deref() == Some(proposal_id) => inbox.fired += 1,
            Event::Trigger { .. } => {}
            Event::Join { actor } => inbox.joins.push(actor),
        }
    }
    inbox.fired
}

fn share_files(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("committee"))
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".frost"))
                .count()
        })
        .unwrap_or(0)
}

fn write(path: &Path, text: &str) -> Result<(), Failure> {
    std::fs::write(path, text).map_err(|e| fail(format!("{}: {e}", path.display())))
}
