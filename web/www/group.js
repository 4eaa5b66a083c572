// The Groups panel: create a group, invite an actor (by id), accept invitations, chat,
// remove a member, leave; and governance: set up the committee (FROST among the members,
// or this tab's single key), propose, vote, see attestations verified with WebCrypto and
// what became of them. The node does the work (WebNode's createGroup / inviteToGroup /
// groupInvitations / acceptInvitation / sendToGroup / groupMessages / removeFromGroup /
// leaveGroup / groups / callCommittee / setCommittee / propose / vote / proposals /
// governanceLog); this file shows what happens, and checks what it can before acting so
// that a failure reads as a sentence (not a member, vote closed, no committee…). The last
// result is `window.quorate.groupResult`, for tests.
import { verifyAttestation } from "./verify.js";

const $ = (id) => document.getElementById(id);
const short = (hex) => `${hex.slice(0, 12)}…`;
const reason = (e) => String(e?.message ?? e).replace(/^Error: /, "");
/** A time of day, HH:MM:SS (local, 24-hour). */
const hhmm = (ms) => {
  const d = new Date(ms);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, "0")).join(":");
};

/** Display names the node knows (`{actor: name}`), refreshed at every render. */
let names = {};
const nameOf = (actor, me) => (actor === me ? "you" : names[actor] ?? short(actor));

/** A failure the page can name: thrown by `check`, shown as is. */
class Refusal extends Error {}
const refuse = (text) => {
  throw new Refusal(text);
};

/** Why the actor may not act in `g` (a sentence), or null if it may. */
function notMember(g) {
  if (!g) return "this tab does not follow that group";
  if (g.member) return null;
  if (g.removedIn !== null && g.removedIn !== undefined) {
    return `you are not a member of this group (removed in epoch ${g.removedIn}): `
      + "you still read what was sent while you were in it, nothing after";
  }
  return "you are not a member of this group (yet): accept an invitation, then an admin's node admits you";
}

/** The node's error, as a sentence (the page checks most things first; this catches the rest). */
function explain(e, g) {
  const text = reason(e);
  if (e instanceof Refusal) return text;
  if (/not a member/i.test(text)) return notMember(g) ?? `not a member: ${text}`;
  if (/no unlocked actor|NoActor/i.test(text)) return "create, log in or unlock an actor first";
  if (/^no proposal .* in this group/.test(text)) return "this tab does not know that proposal yet: wait for it to arrive";
  if (/busy \(re-entrant/.test(text)) return "the node was busy: try again";
  return text;
}

let selected = null;
/** Groups whose invitation this page accepted (the join request is out). */
const accepted = new Set();

function say(text, kind = "") {
  const msg = $("group-msg");
  msg.textContent = text;
  msg.className = kind;
  msg.dataset.kind = kind || "info";
}

function el(tag, props = {}, ...children) {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
}

/** Replaces a list's items only when `key` changed (keeps the page still otherwise). */
function renderList(list, key, items, empty) {
  if (list.dataset.key === key) return;
  list.dataset.key = key;
  list.replaceChildren(...(items.length ? items : [el("li", { className: "muted", textContent: empty })]));
}

/** The selected group's view, fresh from the node. */
const current = (node) => node.groups().find((x) => x.group === selected);

async function act(node, what, work) {
  try {
    say(`${what}…`, "muted");
    const result = await work();
    window.quorate.groupResult = result;
    return result;
  } catch (e) {
    say(explain(e, current(node)), "err");
    return undefined;
  } finally {
    renderGroups(node);
  }
}

function renderInvitations(node) {
  const invitations = node.groupInvitations();
  const followed = new Map(node.groups().map((g) => [g.group, g]));
  const items = invitations.map((inv) => {
    const g = followed.get(inv.group);
    const joined = g?.member;
    const removed = g && !g.member && g.removedIn !== null && g.removedIn !== undefined;
    const done = joined || removed || accepted.has(inv.group);
    const label = joined ? "joined" : removed ? `removed in epoch ${g.removedIn}` : done ? "requested" : "accept";
    const button = el("button", { type: "button", textContent: label, disabled: !!done });
    button.dataset.group = inv.group;
    button.addEventListener("click", () => act(node, "asking to join", async () => {
      const cid = node.acceptInvitation(inv.group);
      accepted.add(inv.group);
      selected = inv.group;
      say("join request sent: an admin's node admits you with the next epoch");
      return cid;
    }));
    return el("li", {}, `from ${short(inv.from)} to group ${short(inv.group)}${inv.note ? `: “${inv.note}”` : ""} `, button);
  });
  const key = invitations.map((i) => `${i.invite}:${followed.get(i.group)?.member}:${followed.get(i.group)?.removedIn}:${accepted.has(i.group)}`).join(",");
  renderList($("group-invitations"), key, items, "no invitations");
}

function renderGroupList(node, groups) {
  const items = groups.map((g) => {
    const li = el("li", {}, el("code", { textContent: short(g.group) }), ` ${g.name || "(unnamed)"} — `
      + (g.member ? `member${g.admin ? ", admin" : ""}, epoch ${g.epoch}, ${g.members.length} members`
        : g.removedIn !== null && g.removedIn !== undefined ? `no longer a member (removed in epoch ${g.removedIn})` : "not a member")
      + `, ${g.messages} messages `);
    const open = el("button", { type: "button", textContent: selected === g.group ? "open" : "show" });
    open.dataset.group = g.group;
    open.addEventListener("click", () => {
      selected = g.group;
      renderGroups(node);
    });
    li.append(open);
    return li;
  });
  const key = groups.map((g) => `${g.group}:${g.epoch}:${g.member}:${g.removedIn}:${g.messages}:${selected}`).join(",");
  renderList($("group-list"), key, items, "no groups yet");
}

function renderSelected(node, groups, me) {
  const g = groups.find((x) => x.group === selected);
  $("group-open").hidden = !g;
  if (!g) return;
  $("group-title").textContent = g.name || "(unnamed)";
  $("group-id").textContent = g.group;
  $("group-epoch").textContent = g.epoch === null ? "not known yet" : String(g.epoch);
  const former = !g.member && g.removedIn !== null && g.removedIn !== undefined;
  $("group-admin").hidden = !g.admin;
  // A former member keeps the composer: trying to send says why it cannot.
  $("group-post").hidden = !g.member && !former;
  $("group-leave").hidden = !g.member || g.admin;
  const members = g.members.map((m) => {
    const li = el("li", {}, names[m] ? `${names[m]} ` : "", el("code", { textContent: m }), m === me ? " (you) " : " ");
    if (g.admin && m !== me) {
      const remove = el("button", { type: "button", textContent: "remove" });
      remove.dataset.actor = m;
      remove.addEventListener("click", () => act(node, "removing (a new epoch and key)", async () => {
        const epoch = node.removeFromGroup(g.group, m);
        say(`removed ${short(m)}: epoch ${epoch.epoch}, ${epoch.bytes} bytes on the wire`);
        return epoch;
      }));
      li.append(remove);
    }
    return li;
  });
  renderList($("group-members"), `${g.group}:${g.epoch}:${g.members.join(",")}:${g.admin}:${g.members.map((m) => names[m]).join(",")}`, members, "no members known");
  const messages = node.groupMessages(g.group, 100);
  const readsSome = messages.some((m) => m.text !== null);
  $("group-role").textContent = g.member ? (g.admin ? "an admin" : "a member")
    : former ? `no longer a member (removed in epoch ${g.removedIn}; you read the epochs you were in, nothing after)`
    : readsSome ? "no longer a member (you read the epochs you were in, nothing after)"
    : "not a member (this tab keeps its ciphertext as a blind cache)";
  $("group-role").dataset.removedIn = former ? String(g.removedIn) : "";
  const items = messages.map((m) => {
    const who = nameOf(m.author, me);
    const li = el("li", { title: `epoch ${m.epoch}, lamport ${m.lamport}, ${m.cid}` });
    if (m.text === null) {
      li.className = "muted";
      li.textContent = `${who}: [sealed: no key for epoch ${m.epoch} here]`;
    } else {
      li.textContent = `${who}: ${m.text}`;
    }
    li.dataset.readable = String(m.text !== null);
    return li;
  });
  const key = `${g.group}:${messages.map((m) => `${m.cid}${m.text === null ? "-" : "+"}${names[m.author] ?? ""}`).join(",")}`;
  renderList($("group-messages"), key, items, "no messages yet");
  renderGovernance(node, g, me);
}

/** Attestations already checked with WebCrypto: proposal → { ok, why }. */
const verified = new Map();
/** YES votes each proposal needs in all, as last counted while it was pending. */
const targets = new Map();
/** Groups whose FROST DKG this tab called: group → when (ms). */
const calls = new Map();

/** What became of an attested proposal, for people. */
function fate(p) {
  if (!p.attestation) return null;
  const x = p.execution;
  if (x?.ran) return { kind: "ok", text: `✓ action fired: ${x.what}` };
  if (x && /no handler/.test(x.what)) {
    return { kind: "", text: `attested — ${p.action} runs at an executor node (its POST is not visible from this tab)` };
  }
  if (x) return { kind: "", text: `attested — an admin's node carries it out (not this tab: ${x.what})` };
  return { kind: "", text: "attested — executing…" };
}

function renderGovernance(node, g, me) {
  const key = node.groupKey(g.group);
  $("gov-key").textContent = key ?? "none yet (no committee)";
  $("gov-committee").textContent = g.committee
    ? `${g.committee}${g.holdsShare ? " (this tab holds a share)" : ""}`
    : "none yet";
  $("gov-committee").dataset.committee = g.committee ?? "";
  $("gov-setup").hidden = !g.admin || key !== null;
  // While a DKG this tab called runs (until it is recorded or fails, at most a minute),
  // no second committee is set up over it.
  const log = node.governanceLog(g.group);
  const called = calls.get(g.group);
  const failed = called && log.some((n) => n.kind === "committee" && n.at >= called && /failed/.test(n.text));
  const running = called && !failed && Date.now() - called < 60000;
  $("gov-frost-btn").disabled = !!running;
  $("gov-committee-btn").disabled = !!running;
  $("gov-frost-btn").textContent = running ? "DKG running…" : "call the DKG";
  $("gov-size").textContent = String(g.members.length);
  $("gov-threshold").max = String(Math.max(g.members.length, 2));
  const former = !g.member && g.removedIn !== null && g.removedIn !== undefined;
  $("gov-propose").hidden = !g.member && !former;
  const proposals = node.proposals(g.group);
  const now = Date.now();
  const items = proposals.map((p) => {
    const li = el("li", {});
    li.dataset.proposal = p.proposal;
    li.dataset.outcome = p.outcome;
    // YES needed in all: known while pending (the node counts it then); kept once decided.
    if (p.needed !== null) targets.set(p.proposal, p.yes + p.needed);
    const target = targets.get(p.proposal) ?? Math.max(p.yes, 1);
    const bar = el("progress", { max: target, value: Math.min(p.yes, target), title: `${p.yes} YES of ${target} needed` });
    bar.dataset.yes = String(p.yes);
    bar.dataset.target = String(target);
    const open = p.outcome === "pending" && now < p.expiresAt;
    const status = open ? `open until ${hhmm(p.expiresAt)}`
      : p.outcome === "expired" || p.outcome === "pending" ? `expired at ${hhmm(p.expiresAt)}` : p.outcome;
    li.append(`${p.action} by ${nameOf(p.by, me)} — ${status} `, bar,
      ` ${p.yes} of ${target} YES needed (${p.no} no, ${p.eligible} voters) `);
    if (g.member || former) {
      for (const [label, yes] of [["yes", true], ["no", false]]) {
        const b = el("button", { type: "button", textContent: label, className: open ? "" : "closed" });
        b.dataset.vote = label;
        if (!open) b.title = "voting is closed";
        b.addEventListener("click", () => act(node, "voting", async () => {
          checkVote(node, g.group, p.proposal);
          const cid = node.vote(g.group, p.proposal, yes);
          say(`voted ${label}`);
          return cid;
        }));
        li.append(b);
      }
    }
    if (p.attestation) {
      const check = verified.get(p.proposal);
      const badge = el("span", { className: `badge ${check ? (check.ok ? "ok" : "bad") : ""}` });
      badge.dataset.verified = check ? String(check.ok) : "pending";
      badge.textContent = !check ? "attested: checking…" : check.ok ? "✓ verified under PK_G (WebCrypto)" : `✗ ${check.why}`;
      li.append(" ", badge);
      if (!check && key) {
        verifyAttestation(key, p.attestation).then((r) => {
          verified.set(p.proposal, r);
          renderGroups(node);
        });
      }
      const f = fate(p);
      const done = el("span", { className: `badge ${f.kind}`, textContent: f.text });
      done.dataset.fired = String(!!p.execution?.ran);
      done.classList.add("fate");
      li.append(" ", done);
    }
    return li;
  });
  const keyOf = proposals.map((p) => `${p.proposal}:${p.outcome}:${p.yes}:${p.no}:${!!p.attestation}:${JSON.stringify(p.execution)}:${p.outcome === "pending" && now < p.expiresAt}:${JSON.stringify(verified.get(p.proposal) ?? null)}`).join(",");
  renderList($("gov-proposals"), `${g.group}:${g.member}:${former}:${keyOf}:${Object.keys(names).length}`, items, "no proposals");
  const logItems = log.slice(-8).reverse().map((n) => {
    const li = el("li", { textContent: `${hhmm(n.at)} ${n.kind}: ${n.text}` });
    li.dataset.kind = n.kind;
    return li;
  });
  renderList($("gov-log"), `${g.group}:${log.length}:${log.at(-1)?.at}`, logItems, "nothing yet");
}

/** Refuses a vote that would not count, with the reason. */
function checkVote(node, group, proposal) {
  const g = node.groups().find((x) => x.group === group);
  const why = notMember(g);
  if (why) refuse(why);
  const p = node.proposals(group).find((x) => x.proposal === proposal);
  if (!p) refuse("this tab does not know that proposal yet: wait for it to arrive");
  if (p.outcome === "expired" || (p.outcome === "pending" && Date.now() >= p.expiresAt)) {
    refuse(`this proposal expired at ${hhmm(p.expiresAt)}; votes no longer count`);
  }
  if (p.outcome === "passed") {
    refuse(`this proposal already passed (${p.yes} YES of ${p.eligible} voters); votes no longer count`);
  }
  if (p.outcome === "rejected" || p.outcome === "tied") {
    refuse(`this proposal was already decided (${p.outcome}); votes no longer count`);
  }
  if (p.outcome.startsWith("invalid") || p.outcome === "unknown epoch") {
    refuse(`this proposal cannot be decided (${p.outcome}); votes do not count`);
  }
}

/** Shows the groups (called after every change and on a timer). */
export function renderGroups(node) {
  const info = node.actorInfo();
  const unlocked = !!(info && !info.locked);
  $("group-locked").hidden = unlocked;
  $("group-main").hidden = !unlocked;
  const groups = node.groups();
  names = node.names();
  if (!selected && groups.length) selected = (groups.find((g) => g.member) ?? groups[0]).group;
  if (unlocked) renderInvitations(node);
  renderGroupList(node, groups);
  renderSelected(node, groups, info?.actor);
}

export function wireGroups(node) {
  $("group-create-btn").addEventListener("click", () => act(node, "creating the group", async () => {
    const rules = $("group-rule").value.split(",").map((r) => r.trim()).filter((r) => r);
    if (!$("group-name").value.trim()) refuse("a group needs a name");
    const id = node.createGroup($("group-name").value, rules);
    $("group-name").value = "";
    selected = id;
    say(`created group ${short(id)}`);
    return id;
  }));
  $("group-invite-btn").addEventListener("click", () => act(node, "fetching the invitee's profile, then inviting", async () => {
    const invitee = $("group-invitee").value.trim().toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(invitee)) refuse("an actor id is 64 hex characters: their page shows it under Actor");
    if (current(node)?.members.includes(invitee)) refuse(`${nameOf(invitee)} is already a member of this group`);
    const cid = await node.inviteToGroup(selected, invitee, $("group-note").value);
    $("group-invitee").value = "";
    say(`invitation sent (invite ${short(cid)}); they accept, then your node admits them`);
    return cid;
  }));
  const send = () => act(node, "sending", async () => {
    const text = $("group-text").value;
    if (!text.trim()) return undefined;
    const why = notMember(current(node));
    if (why) refuse(why);
    const cid = node.sendToGroup(selected, text);
    $("group-text").value = "";
    say("sent (encrypted to the current epoch, signed)");
    return cid;
  });
  $("group-send-btn").addEventListener("click", send);
  $("group-text").addEventListener("keydown", (e) => e.key === "Enter" && send());
  $("group-leave-btn").addEventListener("click", () => act(node, "asking to leave", async () => {
    const cid = node.leaveGroup(selected);
    say("leave request sent: an admin's node removes you with the next epoch");
    return cid;
  }));
  $("gov-frost-btn").addEventListener("click", () => act(node, "calling the FROST DKG", async () => {
    const g = current(node);
    const n = g?.members.length ?? 0;
    const t = Number($("gov-threshold").value);
    if (n < 2) refuse("a FROST committee needs at least two members: invite someone first");
    if (!Number.isInteger(t) || t < 2 || t > n) refuse(`the threshold must be a whole number from 2 to ${n} (the members)`);
    const call = node.callCommittee(selected, t);
    calls.set(selected, Date.now());
    say(`called a ${t}-of-${n} FROST committee: the members' tabs are running the DKG; `
      + "the committee is recorded in a new epoch once all of them finished");
    return call;
  }));
  $("gov-committee-btn").addEventListener("click", () => act(node, "making this tab the committee", async () => {
    const key = node.setCommittee(selected);
    say(`this tab holds the group key ${short(key)} while it is open`);
    return key;
  }));
  $("gov-propose-btn").addEventListener("click", () => act(node, "proposing", async () => {
    const action = $("gov-action").value;
    const text = $("gov-text").value.trim();
    const g = current(node);
    const why = notMember(g);
    if (why) refuse(why);
    if (node.groupKey(selected) === null) {
      refuse("this group has no committee yet, so nobody could attest a proposal: "
        + "an admin sets one up first (FROST committee, or this tab's key)");
    }
    const minutes = Number($("gov-minutes").value || 60);
    if (!(minutes > 0) || minutes > 43200) refuse("a proposal is open for more than 0 and at most 43,200 minutes (30 days)");
    if (action === "REMOVE_MEMBER") {
      const target = text.toLowerCase();
      if (!/^[0-9a-f]{64}$/.test(target)) refuse("REMOVE_MEMBER needs the actor id (64 hex characters) of the member to remove");
      if (!g.members.includes(target)) refuse(`${nameOf(target)} is not a member of this group`);
    }
    const id = action === "REMOVE_MEMBER"
      ? node.propose(selected, action, undefined, text.toLowerCase(), minutes)
      : node.propose(selected, action, text || undefined, undefined, minutes);
    $("gov-text").value = "";
    say(`proposed ${action}: ${short(id)}`);
    return id;
  }));
  renderGroups(node);
}

/**
 * `quorate demo` serves the page with a join endpoint (`/config.json`'s "demo"): the button
 * POSTs this tab's actor id there and the demo's admin invites it; the invitation then
 * shows under Invitations like any other.
 */
export function wireDemoJoin(node, config) {
  if (typeof config.demo !== "string") return;
  $("demo-join").hidden = false;
  $("demo-join-btn").addEventListener("click", () => act(node, "asking the demo's admin for an invitation", async () => {
    const info = node.actorInfo();
    if (!info || info.locked) refuse("create or unlock an actor first");
    let res;
    try {
      // text/plain keeps it a simple cross-origin request (no preflight).
      res = await fetch(config.demo, { method: "POST", headers: { "content-type": "text/plain" }, body: JSON.stringify({ actor: info.actor }) });
    } catch {
      refuse("the demo is not running any more (its join endpoint does not answer)");
    }
    const text = (await res.text()).trim();
    if (!res.ok) refuse(`the demo refused: ${text}`);
    say(`asked: ${text}`);
    return text;
  }));
}
