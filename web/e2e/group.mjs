// Groups in the browser: three tabs and a native node, everything through the page.
//
// a. A `quorate rendezvous` server and a native `quorate node` (no actor: a blind
//    store-and-forward cache of every group it hears of) in one room; tabs A, B and C
//    (separate browser contexts, each its own IndexedDB) create an actor each.
// b. A creates a group and invites B and C by actor id (the page fetches each invitee's
//    profile from the mesh and seals the invitation on the rendezvous topic); B and C see
//    the invitation and accept; A's node admits them (a new epoch, a key sealed to each).
// c. All three send messages; everyone reads all of them, in the same order.
// d. A removes C (a new epoch and key): A's next message is readable by B, sealed for C;
//    C can no longer send.
// d2. Governance: A makes its tab the group's committee (a group key PK_G in a new epoch)
//    and proposes TRIGGER_X through the page; B votes YES (the rule, TRIGGER_X=1/2 of the
//    two members, is met); A's tab attests; the native node — a blind cache started with
//    --trigger-url — executes it: exactly one POST reaches a listener on 127.0.0.1, keyed
//    by the proposal id. Every tab shows the attestation verified with WebCrypto Ed25519
//    against PK_G ("verified under PK_G"), and a progress bar against the rule.
// e. Store-and-forward: B goes away; A sends two more messages, then A and C go away too.
//    B comes back (reload: same node, same IndexedDB), unlocks, and reads both messages —
//    the native node, which holds only ciphertext, is the only peer that has them.
//
// Runs in a loopback-only network namespace like mesh.mjs. The native binary: $QUORATE_BIN,
// else target/debug/quorate (run.sh builds it).
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { check, inLoopbackNamespace, listenForPosts, launch, panelMessage, serveWeb, startQuorate, waitFor } from "./lib.mjs";

const PASSPHRASE = "group test passphrase, not a real one";
const repo = fileURLToPath(new URL("../..", import.meta.url));
const bin = process.env.QUORATE_BIN ?? join(repo, "target/debug/quorate");
if (!existsSync(bin)) {
  console.error(`group: no native binary at ${bin}: run \`cargo build -p quorate-node\` or set QUORATE_BIN`);
  process.exit(1);
}
const isolated = inLoopbackNamespace(import.meta.url);
if (!isolated) console.log("group: no network namespace (unshare -n failed)");

const children = [];
process.on("exit", () => children.forEach((c) => c.exitCode === null && c.kill("SIGKILL")));
setTimeout(() => {
  console.error("group: timed out after 300 s");
  process.exit(1);
}, 300000).unref();

const dir = mkdtempSync(join(tmpdir(), "quorate-e2e-group-"));
const web = await serveWeb();
const browser = await launch(["--allow-loopback-in-peer-connection"]);

const node = (t, f, arg) => t.page.evaluate(f, arg);
const short = (id) => `${id.slice(0, 12)}…`;
const peersOf = async (t) => (await node(t, () => JSON.parse(window.quorate.node.peers()))).map((p) => p.node);
const groupsOf = (t) => node(t, () => window.quorate.node.groups());
const texts = (t, g) => node(t, (g) => window.quorate.node.groupMessages(g, 100).map((m) => m.text), g);

async function open(t, load) {
  await load();
  await t.page.waitForSelector("body[data-ready=true]", { timeout: 20000 });
  t.id = await t.page.evaluate(() => window.quorate.node.nodeId());
}

/** A tab in a fresh browser context (its own IndexedDB), in the room. */
async function tab(name, query) {
  const context = await browser.newContext();
  // Media permission makes Chromium show real loopback candidates (shared/WEBRTC.md).
  await context.grantPermissions(["microphone", "camera"], { origin: web.url });
  const page = await context.newPage();
  const t = { name, page, context, errors: [], query };
  page.on("pageerror", (e) => t.errors.push(String(e)));
  await open(t, () => page.goto(`${web.url}/www/index.html${query}`));
  return t;
}

/** Waits until a panel's message (`#actor-msg`, `#group-msg`) settles; fails on an error. */
async function settled(t, panel, what, ms = 30000) {
  const { kind, text } = await panelMessage(t.page, panel, `${t.name}: ${what}`, ms);
  check(kind === "info", `${t.name}: ${what} failed: ${text}`);
  return text;
}

async function createActor(t, name) {
  await t.page.fill("#create-pass", PASSPHRASE);
  await t.page.fill("#create-name", name);
  await t.page.click("#create-btn");
  await settled(t, "actor", "creating the actor", 60000);
  t.actor = (await node(t, () => window.quorate.node.actorInfo())).actor;
}

/** With QUORATE_E2E_SHOTS=DIR, saves a full-page screenshot of `t` as DIR/group-NAME.png. */
async function shot(t, name) {
  const out = process.env.QUORATE_E2E_SHOTS;
  if (out) await t.page.screenshot({ path: join(out, `group-${name}.png`), fullPage: true });
}

async function send(t, text) {
  await t.page.fill("#group-text", text);
  await t.page.click("#group-send-btn");
  await settled(t, "group", `sending ${text}`);
}

// The listener TRIGGER_X posts to.
const hook = await listenForPosts();
const { posts, url: hookUrl } = hook;

try {
  // --- a. the room ----------------------------------------------------------------------
  const [, listening] = await startQuorate(bin, ["rendezvous", "--listen", "127.0.0.1:0"], children);
  const url = `ws://${listening.replace(/^listening on /, "")}`;
  const [, first] = await startQuorate(bin, [
    "node", "--rendezvous", url, "--data", join(dir, "native"), "--trigger-url", hookUrl,
  ], children);
  const nativeId = first.split(" ")[1];
  check(/^[0-9a-f]{64}$/.test(nativeId), `native node line: ${first}`);
  const query = `?rendezvous=${encodeURIComponent(url)}`;
  const [a, b, c] = [await tab("A", query), await tab("B", query), await tab("C", query)];
  for (const t of [a, b, c]) {
    await waitFor(async () => (await peersOf(t)).includes(nativeId), `${t.name} linked to the native node`, 20000);
  }
  const t0 = Date.now();
  await createActor(a, "Alice");
  await createActor(b, "Bob");
  await createActor(c, "Carol");
  console.log(`three actors created through the page in ${Date.now() - t0} ms`);

  // --- b. create, invite, accept, admit --------------------------------------------------
  await a.page.fill("#group-name", "e2e club");
  await a.page.click("#group-create-btn");
  await settled(a, "group", "creating the group");
  const group = await node(a, () => window.quorate.groupResult);
  check(/^[0-9a-f]{64}$/.test(group), `group id ${group}`);
  await waitFor(() => a.page.isVisible("#group-admin"), "A: the admin controls show");
  const t1 = Date.now();
  for (const t of [b, c]) {
    await a.page.fill("#group-invitee", t.actor);
    await a.page.fill("#group-note", `welcome, ${t.name}`);
    await a.page.click("#group-invite-btn");
    await settled(a, "group", `inviting ${t.name}`);
  }
  for (const t of [b, c]) {
    const button = `#group-invitations button[data-group="${group}"]`;
    await t.page.waitForSelector(button, { timeout: 20000 });
    const note = await t.page.textContent("#group-invitations li");
    check(note.includes(`welcome, ${t.name}`), `${t.name}: the invitation says ${note}`);
    await t.page.click(button);
    await settled(t, "group", "accepting");
  }
  const everyone = [a, b, c];
  for (const t of everyone) {
    await waitFor(async () => {
      const g = (await groupsOf(t)).find((x) => x.group === group);
      return g?.member && g.members.length === 3;
    }, `${t.name}: a member of the three-member group`, 20000);
  }
  console.log(`invited, accepted and admitted two members in ${Date.now() - t1} ms`);
  const native = (await groupsOf(a)).find((x) => x.group === group);
  check(native.admin && native.epoch >= 1, `A's view: ${JSON.stringify(native)}`);

  // --- c. messages -----------------------------------------------------------------------
  await send(a, "hello from alice");
  await waitFor(async () => (await texts(b, group)).length === 1, "B has A's message");
  await send(b, "hello from bob");
  await waitFor(async () => (await texts(c, group)).length === 2, "C has both");
  await send(c, "hello from carol");
  const expected = JSON.stringify(["hello from alice", "hello from bob", "hello from carol"]);
  for (const t of everyone) {
    await waitFor(async () => JSON.stringify(await texts(t, group)) === expected, `${t.name} reads all three`);
    await waitFor(async () => (await t.page.$$("#group-messages li[data-readable=true]")).length === 3, `${t.name}: three shown`);
  }
  await shot(a, "chat-admin");

  // --- d. removal --------------------------------------------------------------------------
  await a.page.click(`#group-members button[data-actor="${c.actor}"]`);
  const removed = await settled(a, "group", "removing C");
  console.log(`A: ${removed}`);
  for (const t of everyone) {
    await waitFor(async () => (await groupsOf(t)).find((x) => x.group === group)?.members.length === 2,
      `${t.name}: two members after the removal`);
  }
  await send(a, "after carol left");
  await waitFor(async () => (await texts(b, group)).at(-1) === "after carol left", "B reads the new message");
  await waitFor(async () => (await texts(c, group)).length === 4, "C holds the new message");
  check((await texts(c, group)).at(-1) === null, "C cannot read the message after its removal");
  await waitFor(async () => (await c.page.$$("#group-messages li[data-readable=false]")).length === 1, "C: sealed shown");
  const refused = await node(c, (g) => {
    try {
      window.quorate.node.sendToGroup(g, "still here?");
      return null;
    } catch (e) {
      return e.message;
    }
  }, group);
  check(/not a member/.test(refused ?? ""), `C's send after removal: ${refused}`);
  check(!(await groupsOf(c)).find((x) => x.group === group).member, "C is no longer a member");
  await shot(c, "removed");

  // --- d2. governance: committee, proposal, vote, attestation, trigger -------------------
  await a.page.click("#gov-committee-btn");
  const committee = await settled(a, "group", "making A's tab the committee");
  console.log(`A: ${committee}`);
  const pk = await node(a, (g) => window.quorate.node.groupKey(g), group);
  check(/^[0-9a-f]{64}$/.test(pk ?? ""), `PK_G ${pk}`);
  for (const t of [a, b]) {
    await waitFor(async () => (await node(t, (g) => window.quorate.node.groupKey(g), group)) === pk, `${t.name} knows PK_G`);
  }
  await a.page.selectOption("#gov-action", "TRIGGER_X");
  await a.page.fill("#gov-text", "ring the bell");
  await a.page.click("#gov-propose-btn");
  await settled(a, "group", "proposing");
  const proposal = await node(a, () => window.quorate.groupResult);
  const t3 = Date.now();
  const yes = `#gov-proposals li[data-proposal="${proposal}"] button[data-vote=yes]`;
  await b.page.waitForSelector(yes, { timeout: 20000 });
  check(await b.page.$(`#gov-proposals li[data-proposal="${proposal}"] progress`), "B sees a progress bar");
  await b.page.click(yes);
  await settled(b, "group", "voting");
  for (const t of [a, b]) {
    await t.page.waitForSelector(`#gov-proposals li[data-proposal="${proposal}"] .badge[data-verified=true]`, { timeout: 20000 });
  }
  console.log(`vote → attestation verified with WebCrypto in both tabs in ${Date.now() - t3} ms`);
  await waitFor(() => posts.length > 0, "the native node POSTs TRIGGER_X", 20000);
  await new Promise((r) => setTimeout(r, 1000));
  check(posts.length === 1, `one POST, got ${JSON.stringify(posts)}`);
  check(posts[0].key === proposal, `keyed by the proposal: ${posts[0].key}`);
  const posted = JSON.parse(posts[0].body);
  check(posted.data === "ring the bell" && posted.group === group, `body ${posts[0].body}`);
  console.log(`TRIGGER_X posted once by the native node ${Date.now() - t3} ms after the vote`);
  await shot(a, "attested");

  // --- e. store-and-forward through the native cache ------------------------------------
  await node(b, () => window.quorate.node.flush());
  await b.page.close();
  await send(a, "while bob was away 1");
  await send(a, "while bob was away 2");
  // Give the native node the blocks, then A and C leave: only the native node has them.
  await new Promise((r) => setTimeout(r, 1500));
  for (const t of [a, c]) {
    check(t.errors.length === 0, `${t.name} page errors: ${t.errors}`);
    await t.context.close();
  }
  b.page = await b.context.newPage();
  b.page.on("pageerror", (e) => b.errors.push(String(e)));
  const t2 = Date.now();
  await open(b, () => b.page.goto(`${web.url}/www/index.html${query}`));
  await waitFor(async () => (await peersOf(b)).includes(nativeId), "B back, linked to the native node", 20000);
  check((await peersOf(b)).length === 1, "B's only peer is the native node");
  await b.page.fill("#unlock-pass", PASSPHRASE);
  await b.page.click("#unlock-btn");
  await settled(b, "actor", "unlocking");
  await waitFor(async () => (await texts(b, group)).at(-1) === "while bob was away 2",
    "B catches up from the native cache", 30000);
  const caught = await texts(b, group);
  check(JSON.stringify(caught) === JSON.stringify([...JSON.parse(expected), "after carol left",
    "while bob was away 1", "while bob was away 2"]), `B reads ${JSON.stringify(caught)}`);
  console.log(`B came back and caught up from the native cache alone in ${Date.now() - t2} ms`
    + ` (reload, unlock and fetch): ${caught.length} messages`);
  await shot(b, "caught-up");
  check(b.errors.length === 0, `B page errors: ${b.errors}`);
  console.log("group: ok");
} finally {
  await browser.close();
  web.close();
  children.forEach((ch) => ch.kill());
  rmSync(dir, { recursive: true, force: true });
  hook.close();
}
