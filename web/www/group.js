// The Groups panel: create a group, invite an actor (by id), accept invitations, chat,
// remove a member, leave. The node does the work (WebNode's createGroup / inviteToGroup /
// groupInvitations / acceptInvitation / sendToGroup / groupMessages / removeFromGroup /
// leaveGroup / groups); this file shows what happens. The last result is
// `window.quorate.groupResult`, for tests.
import { verifyAttestation } from "./verify.js";

const $ = (id) => document.getElementById(id);
const short = (hex) => `${hex.slice(0, 12)}…`;
const reason = (e) => String(e?.message ?? e).replace(/^Error: /, "");

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

async function act(node, what, work) {
  try {
    say(`${what}…`, "muted");
    const result = await work();
    window.quorate.groupResult = result;
    return result;
  } catch (e) {
    say(reason(e), "err");
    return undefined;
  } finally {
    renderGroups(node);
  }
}

function renderInvitations(node) {
  const invitations = node.groupInvitations();
  const followed = new Map(node.groups().map((g) => [g.group, g]));
  const items = invitations.map((inv) => {
    const joined = followed.get(inv.group)?.member;
    const done = joined || accepted.has(inv.group);
    const button = el("button", { type: "button", textContent: joined ? "joined" : done ? "requested" : "accept", disabled: !!done });
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
  const key = invitations.map((i) => `${i.invite}:${followed.get(i.group)?.member}:${accepted.has(i.group)}`).join(",");
  renderList($("group-invitations"), key, items, "no invitations");
}

function renderGroupList(node, groups) {
  const items = groups.map((g) => {
    const li = el("li", {}, el("code", { textContent: short(g.group) }), ` ${g.name || "(unnamed)"} — `
      + (g.member ? `member${g.admin ? ", admin" : ""}, epoch ${g.epoch}, ${g.members.length} members` : "not a member")
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
  const key = groups.map((g) => `${g.group}:${g.epoch}:${g.member}:${g.messages}:${selected}`).join(",");
  renderList($("group-list"), key, items, "no groups yet");
}

function renderSelected(node, groups, me) {
  const g = groups.find((x) => x.group === selected);
  $("group-open").hidden = !g;
  if (!g) return;
  $("group-title").textContent = g.name || "(unnamed)";
  $("group-id").textContent = g.group;
  $("group-epoch").textContent = g.epoch === null ? "not known yet" : String(g.epoch);
  $("group-admin").hidden = !g.admin;
  $("group-post").hidden = !g.member;
  $("group-leave").hidden = !g.member || g.admin;
  const members = g.members.map((m) => {
    const li = el("li", {}, el("code", { textContent: m }), m === me ? " (you) " : " ");
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
  renderList($("group-members"), `${g.group}:${g.epoch}:${g.members.join(",")}:${g.admin}`, members, "no members known");
  const messages = node.groupMessages(g.group, 100);
  const readsSome = messages.some((m) => m.text !== null);
  $("group-role").textContent = g.member ? (g.admin ? "an admin" : "a member")
    : readsSome ? "no longer a member (you read the epochs you were in, nothing after)"
    : "not a member (this tab keeps its ciphertext as a blind cache)";
  const items = messages.map((m) => {
    const who = m.author === me ? "you" : short(m.author);
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
  const key = `${g.group}:${messages.map((m) => `${m.cid}${m.text === null ? "-" : "+"}`).join(",")}`;
  renderList($("group-messages"), key, items, "no messages yet");
  renderGovernance(node, g, me);
}

/** Attestations already checked with WebCrypto: proposal → { ok, why }. */
const verified = new Map();

function renderGovernance(node, g, me) {
  const key = node.groupKey(g.group);
  $("gov-key").textContent = key ?? "none yet (no committee)";
  $("gov-committee-btn").hidden = !g.admin || key !== null;
  $("gov-propose").hidden = !g.member;
  const proposals = node.proposals(g.group);
  const items = proposals.map((p) => {
    const li = el("li", {});
    li.dataset.proposal = p.proposal;
    li.dataset.outcome = p.outcome;
    const target = p.needed === null ? Math.max(p.yes, 1) : p.yes + p.needed;
    const bar = el("progress", { max: target, value: Math.min(p.yes, target), title: `${p.yes} YES of ${target} needed` });
    li.append(`${p.action} by ${p.by === me ? "you" : short(p.by)} — ${p.outcome} `, bar, ` ${p.yes} yes / ${p.no} no of ${p.eligible} `);
    if (g.member && p.outcome === "pending") {
      for (const [label, yes] of [["yes", true], ["no", false]]) {
        const b = el("button", { type: "button", textContent: label });
        b.dataset.vote = label;
        b.addEventListener("click", () => act(node, "voting", async () => {
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
    }
    return li;
  });
  const keyOf = proposals.map((p) => `${p.proposal}:${p.outcome}:${p.yes}:${p.no}:${!!p.attestation}:${JSON.stringify(verified.get(p.proposal) ?? null)}`).join(",");
  renderList($("gov-proposals"), `${g.group}:${g.member}:${keyOf}`, items, "no proposals");
}

/** Shows the groups (called after every change and on a timer). */
export function renderGroups(node) {
  const info = node.actorInfo();
  const unlocked = !!(info && !info.locked);
  $("group-locked").hidden = unlocked;
  $("group-main").hidden = !unlocked;
  const groups = node.groups();
  if (!selected && groups.length) selected = (groups.find((g) => g.member) ?? groups[0]).group;
  if (unlocked) renderInvitations(node);
  renderGroupList(node, groups);
  renderSelected(node, groups, info?.actor);
}

export function wireGroups(node) {
  $("group-create-btn").addEventListener("click", () => act(node, "creating the group", async () => {
    const rule = $("group-rule").value.trim();
    const id = node.createGroup($("group-name").value, rule ? [rule] : []);
    $("group-name").value = "";
    selected = id;
    say(`created group ${short(id)}`);
    return id;
  }));
  $("group-invite-btn").addEventListener("click", () => act(node, "fetching the invitee's profile, then inviting", async () => {
    const cid = await node.inviteToGroup(selected, $("group-invitee").value, $("group-note").value);
    $("group-invitee").value = "";
    say(`invitation sent (invite ${short(cid)}); they accept, then your node admits them`);
    return cid;
  }));
  const send = () => act(node, "sending", async () => {
    const text = $("group-text").value;
    if (!text.trim()) return undefined;
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
  $("gov-committee-btn").addEventListener("click", () => act(node, "making this tab the committee", async () => {
    const key = node.setCommittee(selected);
    say(`this tab holds the group key ${short(key)} while it is open`);
    return key;
  }));
  $("gov-propose-btn").addEventListener("click", () => act(node, "proposing", async () => {
    const action = $("gov-action").value;
    const text = $("gov-text").value.trim();
    const id = action === "REMOVE_MEMBER"
      ? node.propose(selected, action, undefined, text)
      : node.propose(selected, action, text || undefined);
    $("gov-text").value = "";
    say(`proposed ${action}: ${short(id)}`);
    return id;
  }));
  renderGroups(node);
}
