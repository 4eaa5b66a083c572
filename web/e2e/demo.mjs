// The demo, end to end: three tabs and one native node, everything through the page's UI
// (window.quorate is only read, for assertions), with screenshots of every stage.
//
//  1. A `quorate rendezvous` server and a native `quorate node` that serves the page
//     (--serve-web: /config.json names the room and the node) and runs TRIGGER_X
//     (--trigger-url, a listener here). Tabs A, B and C (separate browser contexts) load
//     it; each tab's mesh picture shows three peers — the native node (a hexagon) and two
//     tabs — with links.
//  2. Each tab creates an actor (Alice, Bob, Carol); the pictures then label the tabs
//     with the actors' names (their profiles, fetched from the mesh).
//  3. A creates a group with rules TRIGGER_X=2/3, REMOVE_MEMBER=2/3 and invites B and C,
//     who accept; everyone chats and reads everyone.
//  4. B proposes before there is a committee: the page says why it cannot. A calls a FROST
//     committee, 2 of the 3 members; every tab runs the DKG and shows "frost 2-of-3" and
//     the same PK_G.
//  5. B proposes TRIGGER_X twice: one open for 0.1 minute (left to expire) and one open
//     for an hour. B votes YES: the progress bar shows 1 of 2; A votes YES: 2 of 2, passed.
//     The committee signs (FROST); every tab shows the attestation "verified under PK_G"
//     (WebCrypto); the native node POSTs exactly once, keyed by the proposal id; the page
//     says that an executor node runs it.
//  6. A proposes REMOVE_MEMBER of C; A and B vote YES; once attested A's tab (the admin)
//     executes it: a new epoch without C. C's page says it is no longer a member (removed
//     in epoch N) and cannot read A's next message; B can.
//  7. Failures, as sentences: C sending after the removal ("not a member … removed in
//     epoch N"), B voting on the decided proposal ("already passed … votes no longer
//     count") and on the expired one ("expired at HH:MM:SS; votes no longer count"), C's
//     tab closing (A and B: "… went away; 2 peers left", a red node in the picture).
//
// Screenshots: $QUORATE_SCREENSHOTS, else target/e2e-screenshots/demo/. Runs in a
// loopback-only network namespace like group.mjs. The native binary: $QUORATE_BIN, else
// target/debug/quorate.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { check, inLoopbackNamespace, listenForPosts, launch, panelMessage, startQuorate, waitFor } from "./lib.mjs";

const PASSPHRASE = "demo test passphrase, not a real one";
const repo = fileURLToPath(new URL("../..", import.meta.url));
const bin = process.env.QUORATE_BIN ?? join(repo, "target/debug/quorate");
if (!existsSync(bin)) {
  console.error(`demo: no native binary at ${bin}: run \`cargo build -p quorate-node\` or set QUORATE_BIN`);
  process.exit(1);
}
const isolated = inLoopbackNamespace(import.meta.url);
if (!isolated) console.log("demo: no network namespace (unshare -n failed)");

const children = [];
process.on("exit", () => children.forEach((c) => c.exitCode === null && c.kill("SIGKILL")));
setTimeout(() => {
  console.error("demo: timed out after 240 s");
  process.exit(1);
}, 240000).unref();

const shots = process.env.QUORATE_SCREENSHOTS ?? join(repo, "target/e2e-screenshots/demo");
mkdirSync(shots, { recursive: true });
const dir = mkdtempSync(join(tmpdir(), "quorate-e2e-demo-"));
const browser = await launch(["--allow-loopback-in-peer-connection"]);
const started = Date.now();
let shot = 0;

const read = (t, f, arg) => t.page.evaluate(f, arg);
const groupOf = (t, g) => read(t, (g) => window.quorate.node.groups().find((x) => x.group === g) ?? null, g);
const texts = (t, g) => read(t, (g) => window.quorate.node.groupMessages(g, 100).map((m) => m.text), g);
const proposalOf = (t, g, p) => read(t, ([g, p]) => window.quorate.node.proposals(g).find((x) => x.proposal === p) ?? null, [g, p]);
const count = async (t, selector) => (await t.page.$$(selector)).length;
const item = (p) => `#gov-proposals li[data-proposal="${p}"]`;

/** Saves full-page screenshots of `tabs` as NN-stage-TAB.png. */
async function snap(stage, ...tabs) {
  shot += 1;
  for (const t of tabs) {
    await t.page.screenshot({ path: join(shots, `${String(shot).padStart(2, "0")}-${stage}-${t.name}.png`), fullPage: true });
  }
}

/** Waits for a panel's outcome; it must be a success. */
async function ok(t, panel, what, ms = 30000) {
  const { kind, text } = await panelMessage(t.page, panel, `${t.name}: ${what}`, ms);
  check(kind === "info", `${t.name}: ${what} failed: ${text}`);
  return text;
}

/** Waits for a panel's outcome; it must be a refusal matching `pattern`. */
async function refused(t, panel, what, pattern) {
  const { kind, text } = await panelMessage(t.page, panel, `${t.name}: ${what}`);
  check(kind === "err" && pattern.test(text), `${t.name}: ${what}: expected a refusal like ${pattern}, got ${kind}: ${text}`);
  console.log(`${t.name}, ${what}: “${text}”`);
  return text;
}

// The listener TRIGGER_X posts to.
const hook = await listenForPosts();
const { posts, url: hookUrl } = hook;

try {
  // --- 1. the room, the native node serving the page, three tabs ------------------------
  const [, listening] = await startQuorate(bin, ["rendezvous", "--listen", "127.0.0.1:0"], children);
  const rdv = `ws://${listening.replace(/^listening on /, "")}`;
  const [, first] = await startQuorate(bin, [
    "node", "--rendezvous", rdv, "--data", join(dir, "native"), "--trigger-url", hookUrl,
    "--serve-web", "127.0.0.1:0", "--web-dir", join(repo, "web"),
  ], children);
  const nativeId = first.split(" ")[1];
  const webUrl = first.match(/ web (http:\/\/\S+)/)?.[1]?.replace(/\/$/, "");
  check(/^[0-9a-f]{64}$/.test(nativeId) && webUrl, `native node line: ${first}`);

  const tab = async (name) => {
    const context = await browser.newContext({ viewport: { width: 900, height: 900 } });
    // Media permission makes Chromium show real loopback candidates (shared/WEBRTC.md).
    await context.grantPermissions(["microphone", "camera"], { origin: webUrl });
    const page = await context.newPage();
    const t = { name, page, context, errors: [] };
    page.on("pageerror", (e) => t.errors.push(String(e)));
    await page.goto(`${webUrl}/www/index.html`);
    await page.waitForSelector("body[data-ready=true]", { timeout: 20000 });
    t.node = await read(t, () => window.quorate.node.nodeId());
    return t;
  };
  const [a, b, c] = [await tab("A"), await tab("B"), await tab("C")];
  const everyone = [a, b, c];
  for (const t of everyone) {
    const others = everyone.filter((o) => o !== t).map((o) => o.node);
    await waitFor(async () => {
      const peers = (await read(t, () => JSON.parse(window.quorate.node.peers()))).map((p) => p.node);
      return [nativeId, ...others].every((n) => peers.includes(n));
    }, `${t.name} linked to the native node and both tabs`, 30000);
    // The picture: three peers up, one of them the native node, a link to each.
    await waitFor(async () => (await count(t, "#mesh g.peer[data-state=up]")) === 3
      && (await count(t, `#mesh g.peer[data-kind=native][data-node="${nativeId}"]`)) === 1
      && (await count(t, "#mesh line.link[data-state=connected]")) === 3,
    `${t.name}: the mesh picture shows the native node and two tabs, linked`, 10000);
  }
  console.log(`three tabs and the native node meshed in ${Date.now() - started} ms`);
  await snap("mesh", a);

  // --- 2. actors ---------------------------------------------------------------------------
  const names = { A: "Alice", B: "Bob", C: "Carol" };
  for (const t of everyone) {
    await t.page.fill("#create-pass", PASSPHRASE);
    await t.page.fill("#create-name", names[t.name]);
    await t.page.click("#create-btn");
    await ok(t, "actor", "creating the actor", 60000);
    t.actor = (await read(t, () => window.quorate.node.actorInfo())).actor;
  }
  // Each picture labels the other tabs with their actors' names.
  for (const t of everyone) {
    const others = everyone.filter((o) => o !== t);
    await waitFor(async () => {
      const labels = await t.page.$$eval("#mesh g.peer[data-kind=tab] text.label", (ts) => ts.map((x) => x.textContent));
      return others.every((o) => labels.includes(names[o.name]));
    }, `${t.name}: the picture names the other tabs' actors`, 20000);
  }
  await snap("actors", a);

  // --- 3. the group, invitations, chat --------------------------------------------------
  await a.page.fill("#group-name", "demo club");
  await a.page.fill("#group-rule", "TRIGGER_X=2/3, REMOVE_MEMBER=2/3");
  await a.page.click("#group-create-btn");
  await ok(a, "group", "creating the group");
  const group = await read(a, () => window.quorate.groupResult);
  check(/^[0-9a-f]{64}$/.test(group), `group id ${group}`);
  await waitFor(() => a.page.isVisible("#group-admin"), "A: the admin controls show");
  for (const t of [b, c]) {
    await a.page.fill("#group-invitee", t.actor);
    await a.page.fill("#group-note", `welcome, ${names[t.name]}`);
    await a.page.click("#group-invite-btn");
    await ok(a, "group", `inviting ${t.name}`);
  }
  for (const t of [b, c]) {
    const button = `#group-invitations button[data-group="${group}"]`;
    await t.page.waitForSelector(button, { timeout: 20000 });
    await t.page.click(button);
    await ok(t, "group", "accepting");
  }
  for (const t of everyone) {
    await waitFor(async () => (await groupOf(t, group))?.members.length === 3, `${t.name}: three members`, 20000);
  }
  const say = async (t, text) => {
    await t.page.fill("#group-text", text);
    await t.page.click("#group-send-btn");
    await ok(t, "group", `sending ${text}`);
  };
  await say(a, "hello from alice");
  await waitFor(async () => (await texts(b, group)).length === 1, "B has A's message");
  await say(b, "hello from bob");
  await waitFor(async () => (await texts(c, group)).length === 2, "C has both");
  await say(c, "hello from carol");
  const chat = JSON.stringify(["hello from alice", "hello from bob", "hello from carol"]);
  for (const t of everyone) {
    await waitFor(async () => JSON.stringify(await texts(t, group)) === chat, `${t.name} reads all three`);
    await waitFor(async () => (await count(t, "#group-messages li[data-readable=true]")) === 3, `${t.name}: three shown`);
  }
  // Authors show by name.
  await waitFor(async () => (await b.page.textContent("#group-messages")).includes("Alice: hello from alice"),
    "B sees Alice's name on her message");
  console.log(`group made, two members admitted, three messages read by all at ${Date.now() - started} ms`);
  await snap("chat", b);

  // --- 4. the committee --------------------------------------------------------------------
  await b.page.selectOption("#gov-action", "TRIGGER_X");
  await b.page.fill("#gov-text", "too early");
  await b.page.click("#gov-propose-btn");
  await refused(b, "group", "proposing without a committee", /no committee yet/);
  const tc = Date.now();
  await a.page.fill("#gov-threshold", "2");
  await a.page.click("#gov-frost-btn");
  await ok(a, "group", "calling the FROST committee");
  for (const t of everyone) {
    await waitFor(async () => {
      const g = await groupOf(t, group);
      return g.committee === "frost 2-of-3" && g.holdsShare;
    }, `${t.name}: a share of the recorded 2-of-3 FROST committee`, 30000);
    await waitFor(async () => (await t.page.textContent("#gov-committee")).startsWith("frost 2-of-3"),
      `${t.name}: the page says frost 2-of-3`);
  }
  const pk = await read(a, (g) => window.quorate.node.groupKey(g), group);
  check(/^[0-9a-f]{64}$/.test(pk ?? ""), `PK_G ${pk}`);
  for (const t of [b, c]) {
    check(await read(t, (g) => window.quorate.node.groupKey(g), group) === pk, `${t.name} has the same PK_G`);
  }
  console.log(`FROST 2-of-3 DKG among the three tabs, recorded in a new epoch, in ${Date.now() - tc} ms`);
  await snap("committee", a);

  // --- 5. proposals, votes, attestation, the action ------------------------------------
  const propose = async (t, action, text, minutes) => {
    await t.page.selectOption("#gov-action", action);
    await t.page.fill("#gov-text", text);
    await t.page.fill("#gov-minutes", String(minutes));
    await t.page.click("#gov-propose-btn");
    await ok(t, "group", `proposing ${action}`);
    return read(t, () => window.quorate.groupResult);
  };
  const vote = async (t, p, yes = true) => {
    const button = `${item(p)} button[data-vote=${yes ? "yes" : "no"}]`;
    await t.page.waitForSelector(button, { timeout: 20000 });
    await t.page.click(button);
  };
  const expiring = await propose(b, "TRIGGER_X", "too late", 0.1);
  const expiresAt = (await proposalOf(b, group, expiring)).expiresAt;
  const bell = await propose(b, "TRIGGER_X", "ring the bell", 60);
  const tv = Date.now();
  await vote(b, bell);
  await ok(b, "group", "voting yes");
  const bar = (t) => t.page.$eval(`${item(bell)} progress`, (p) => ({ value: p.value, max: p.max }));
  for (const t of everyone) {
    await waitFor(async () => {
      const v = await bar(t).catch(() => null);
      return v?.value === 1 && v.max === 2;
    }, `${t.name}: the bar shows 1 of 2 YES`);
  }
  await snap("one-vote", a);
  await vote(a, bell);
  await ok(a, "group", "voting yes");
  for (const t of everyone) {
    await waitFor(async () => {
      const v = await bar(t).catch(() => null);
      return v?.value === 2 && v.max === 2;
    }, `${t.name}: the bar shows 2 of 2 YES`);
    await t.page.waitForSelector(`${item(bell)}[data-outcome=passed] .badge[data-verified=true]`, { timeout: 30000 });
    const badge = await t.page.textContent(`${item(bell)} .badge[data-verified=true]`);
    check(badge.includes("verified under PK_G"), `${t.name}: badge ${badge}`);
  }
  console.log(`second YES → FROST attestation verified with WebCrypto in all three tabs in ${Date.now() - tv} ms`);
  await waitFor(() => posts.length > 0, "the native node POSTs TRIGGER_X", 20000);
  await waitFor(async () => /executor node/.test(await a.page.textContent(`${item(bell)} .fate`)),
    "A: the page says an executor node runs it");
  console.log(`TRIGGER_X posted by the native node ${Date.now() - tv} ms after the first vote`);
  await snap("attested", a, b);

  // --- 6. REMOVE_MEMBER by vote ------------------------------------------------------------
  const tr = Date.now();
  const removal = await propose(a, "REMOVE_MEMBER", c.actor, 60);
  await vote(a, removal);
  await ok(a, "group", "voting yes on the removal");
  await vote(b, removal);
  await ok(b, "group", "voting yes on the removal");
  await a.page.waitForSelector(`${item(removal)} .fate[data-fired=true]`, { timeout: 30000 });
  for (const t of everyone) {
    await waitFor(async () => (await groupOf(t, group))?.members.length === 2, `${t.name}: two members after the vote`, 20000);
  }
  const cView = await groupOf(c, group);
  check(!cView.member && cView.removedIn === cView.epoch, `C's view after the removal: ${JSON.stringify(cView)}`);
  await waitFor(async () => (await c.page.textContent("#group-role")).includes(`removed in epoch ${cView.removedIn}`),
    "C's page says it was removed");
  console.log(`REMOVE_MEMBER voted, attested and executed by A's tab in ${Date.now() - tr} ms: epoch ${cView.epoch}`);
  await say(a, "after carol left");
  await waitFor(async () => (await texts(b, group)).at(-1) === "after carol left", "B reads the new message");
  await waitFor(async () => (await texts(c, group)).length === 4, "C holds the new message");
  check((await texts(c, group)).at(-1) === null, "C cannot read the message after its removal");
  await waitFor(async () => (await count(c, "#group-messages li[data-readable=false]")) === 1, "C: shown sealed");
  await snap("removed", c);

  // --- 7. failures, as sentences ------------------------------------------------------------
  await c.page.fill("#group-text", "still here?");
  await c.page.click("#group-send-btn");
  await refused(c, "group", "sending after the removal",
    new RegExp(`not a member of this group \\(removed in epoch ${cView.removedIn}\\)`));
  await snap("not-a-member", c);
  await vote(b, bell);
  await refused(b, "group", "voting on the decided proposal", /already passed.*votes no longer count/);
  const wait = expiresAt - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait + 200));
  await vote(b, expiring);
  await refused(b, "group", "voting on the expired proposal", /expired at \d\d:\d\d:\d\d; votes no longer count/);
  check((await proposalOf(b, group, expiring)).outcome === "expired", "the short proposal expired");
  await snap("vote-closed", b);
  check(c.errors.length === 0, `C page errors: ${c.errors}`);
  await c.context.close();
  for (const t of [a, b]) {
    await waitFor(async () => (await t.page.getAttribute("#mesh-msg", "data-kind")) === "err"
      && /went away; 2 peers left/.test(await t.page.textContent("#mesh-msg")),
    `${t.name}: says C's tab went away`, 20000);
    const msg = await t.page.textContent("#mesh-msg");
    check(msg.includes("Carol"), `${t.name}: names who went away: ${msg}`);
    await waitFor(async () => (await count(t, `#mesh g.peer[data-state=gone][data-node="${c.node}"]`)) === 1,
      `${t.name}: the picture shows C's node gone`, 5000);
    console.log(`${t.name}: “${msg}”`);
  }
  await snap("peer-gone", a);

  check(posts.length === 1, `exactly one POST, got ${JSON.stringify(posts)}`);
  check(posts[0].key === bell, `keyed by the proposal: ${posts[0].key}`);
  const posted = JSON.parse(posts[0].body);
  check(posted.data === "ring the bell" && posted.group === group, `body ${posts[0].body}`);
  for (const t of [a, b]) check(t.errors.length === 0, `${t.name} page errors: ${t.errors}`);
  console.log(`screenshots in ${shots}`);
  console.log(`demo: ok in ${Date.now() - started} ms`);
} finally {
  await browser.close();
  children.forEach((ch) => ch.kill());
  rmSync(dir, { recursive: true, force: true });
  hook.close();
}
