// Actors in the browser: create, post, log in anywhere, unlock after a reload.
//
// A `quorate rendezvous` server and tabs in separate browser contexts (fresh profiles,
// each with its own empty IndexedDB) that meet in one room:
//
// a. Tab A creates actor "alice" through the page (handle, passphrase, display name) and
//    posts 20 entries through the page.
// b. Tab B logs in through the page with only handle + passphrase and gets the identical
//    state back: same actor id, same entry count, same latest posts.
// c. Tab C logs in with a wrong passphrase and fails, within its timeout, with a message
//    that says no peer has a backup for that handle and passphrase.
// d. Tab A reloads: same node, the actor is locked; a wrong passphrase is refused, the
//    right one unlocks the same actor with the same feed, read back from IndexedDB.
// e. Rehydration at scale: A appends ENTRIES more entries in one batch (`postMany`), a
//    fresh tab D logs in and verifies all of them; the time from the end of the locator
//    derivation to the verified feed is printed (and the derivation's own time).
//    QUORATE_E2E_ENTRIES sets the count (default 10,000: some 17 s on the 2-core
//    machine).
//
// Runs in a loopback-only network namespace like mesh.mjs. The native binary: $QUORATE_BIN,
// else target/debug/quorate (run.sh builds it).
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { check, inLoopbackNamespace, launch, serveWeb, waitFor } from "./lib.mjs";

const ENTRIES = Number(process.env.QUORATE_E2E_ENTRIES ?? 10000);
const HANDLE = "alice";
const PASSPHRASE = "correct horse battery staple, twice over";
const repo = fileURLToPath(new URL("../..", import.meta.url));
const bin = process.env.QUORATE_BIN ?? join(repo, "target/debug/quorate");
if (!existsSync(bin)) {
  console.error(`actor: no native binary at ${bin}: run \`cargo build -p quorate-node\` or set QUORATE_BIN`);
  process.exit(1);
}
const isolated = inLoopbackNamespace(import.meta.url);
if (!isolated) console.log("actor: no network namespace (unshare -n failed)");

const children = [];
process.on("exit", () => children.forEach((c) => c.exitCode === null && c.kill("SIGKILL")));
setTimeout(() => {
  console.error("actor: timed out after 420 s");
  process.exit(1);
}, 420000).unref();

/** `quorate rendezvous` on a free port; its ws:// URL. */
async function rendezvous() {
  const child = spawn(bin, ["rendezvous", "--listen", "127.0.0.1:0"], { stdio: ["ignore", "pipe", "ignore"] });
  children.push(child);
  const line = await new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).once("line", resolve);
    child.once("exit", (code) => reject(new Error(`quorate rendezvous exited ${code}`)));
  });
  return `ws://${line.trim().split(/\s+/).pop()}`;
}

const web = await serveWeb();
const browser = await launch(["--allow-loopback-in-peer-connection"]);
const url = await rendezvous();
const query = `?rendezvous=${encodeURIComponent(url)}&room=actor-${Date.now()}`;

/** A tab in a fresh browser context (its own IndexedDB), in the room. */
async function tab(name) {
  const context = await browser.newContext();
  await context.grantPermissions(["microphone", "camera"], { origin: web.url });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  const t = { name, page, errors, context };
  await open(t, () => page.goto(`${web.url}/www/index.html${query}`));
  return t;
}

async function open(t, load) {
  await load();
  await t.page.waitForSelector("body[data-ready=true]", { timeout: 20000 });
  t.id = await t.page.evaluate(() => window.quorate.node.nodeId());
}

const node = (t, f, arg) => t.page.evaluate(f, arg);
const actorInfo = (t) => node(t, () => window.quorate.node.actorInfo());
const posts = (t, n) => node(t, (n) => window.quorate.node.latestPosts(n).map((p) => p.text), n);
const peersOf = async (t) => (await node(t, () => JSON.parse(window.quorate.node.peers()))).map((p) => p.node);
const linked = async (t, id) => (await peersOf(t)).includes(id);

/**
 * Waits until `t` is linked to `other` through the room. A dial that fails is not retried
 * by the node (members wait for joiners, joiners dial once), so after 10 s this dials
 * again by hand (its signals still go through the rendezvous server).
 */
async function link(t, other) {
  try {
    await waitFor(() => linked(t, other.id), `${t.name} <-> ${other.name}`, 10000);
  } catch {
    console.log(`${t.name} -> ${other.name}: no link after 10 s; dialing again`);
    await node(t, (id) => window.quorate.node.dial(id), other.id).catch(() => {});
    await waitFor(() => linked(t, other.id), `${t.name} <-> ${other.name} (dialed again)`, 20000);
  }
}
const message = (t) => t.page.textContent("#actor-msg");
const short = (id) => `${id.slice(0, 12)}…`;

/** Waits until the panel's message is no longer a "doing" message; returns it and its kind. */
async function outcome(t, what, ms) {
  let kind = "";
  await waitFor(async () => {
    kind = await t.page.getAttribute("#actor-msg", "data-kind");
    return kind === "err" || kind === "info";
  }, `${t.name}: ${what}`, ms);
  return { kind, text: await message(t) };
}

try {
  // --- a. create and post through the page ---------------------------------------------
  const a = await tab("A");
  await a.page.fill("#create-handle", HANDLE);
  await a.page.fill("#create-pass", PASSPHRASE);
  await a.page.fill("#create-name", "Alice");
  const t0 = Date.now();
  await a.page.click("#create-btn");
  let result = await outcome(a, "the actor", 60000);
  check(result.kind === "info", `A: create failed: ${result.text}`);
  const created = await node(a, () => window.quorate.actorResult);
  console.log(`A created actor ${short(created.actor)} in ${Date.now() - t0} ms through the page:`
    + ` Argon2id (64 MiB, t=3) locator ${Math.round(created.locatorMs)} ms, keystore ${Math.round(created.keystoreMs)} ms`);
  check(await a.page.isVisible("#actor-main"), "A: the actor panel shows the actor");
  for (let i = 1; i <= 20; i++) {
    await a.page.fill("#post-text", `hello ${i} from alice`);
    await a.page.click("#post-btn");
    await waitFor(async () => (await actorInfo(a)).entries === i + 1, `A: post ${i}`, 5000);
  }
  const infoA = await actorInfo(a);
  check(infoA.entries === 21 && infoA.handle === HANDLE && infoA.name === "Alice", `A: ${JSON.stringify(infoA)}`);
  await waitFor(async () => (await a.page.textContent("#actor-posts li")) === "hello 20 from alice", "A: the newest post shown");
  const postsA = await posts(a, 10);
  check(postsA[0] === "hello 20 from alice" && postsA[9] === "hello 11 from alice", `A posts: ${postsA}`);

  // --- b. log in anywhere through the page ----------------------------------------------
  const b = await tab("B");
  await link(b, a);
  await b.page.fill("#login-handle", HANDLE);
  await b.page.fill("#login-pass", PASSPHRASE);
  // Every message the panel shows, in order (the first ones are brief).
  await node(b, () => {
    window.shown = [];
    const msg = document.getElementById("actor-msg");
    new MutationObserver(() => window.shown.push(msg.textContent)).observe(msg, { childList: true, characterData: true, subtree: true });
  });
  await b.page.click("#login-btn");
  result = await outcome(b, "the login", 60000);
  const shown = await node(b, () => window.shown);
  check(shown[0]?.startsWith("deriving key"), `B: the panel said ${JSON.stringify(shown)}`);
  check(result.kind === "info", `B: login failed: ${result.text}`);
  const loggedIn = await node(b, () => window.quorate.actorResult);
  const infoB = await actorInfo(b);
  check(infoB.actor === infoA.actor, `B is ${infoB.actor}, A is ${infoA.actor}`);
  check(infoB.entries === infoA.entries && infoB.head === infoA.head, `B: ${JSON.stringify(infoB)}`);
  check(infoB.name === "Alice" && infoB.handle === HANDLE && !infoB.locked, `B: ${JSON.stringify(infoB)}`);
  const postsB = await posts(b, 10);
  check(JSON.stringify(postsB) === JSON.stringify(postsA), `B posts: ${postsB}`);
  await waitFor(async () => (await b.page.textContent("#actor-posts li")) === "hello 20 from alice", "B: the newest post shown");
  console.log(`B logged in with handle + passphrase: ${infoB.entries} entries in ${Math.round(loggedIn.ms)} ms`
    + ` after a ${Math.round(loggedIn.deriveMs)} ms locator derivation; keystore sealed in ${Math.round(loggedIn.sealMs)} ms`);

  // --- c. a wrong passphrase fails clearly, within its timeout --------------------------
  const c = await tab("C");
  await link(c, a);
  const wrong = await node(c, async () => {
    const t0 = performance.now();
    try {
      await window.quorate.node.loginActor("alice", "correct horse battery staple, twice", 8000);
      return { ok: true };
    } catch (e) {
      return { ok: false, message: e.message, ms: performance.now() - t0 };
    }
  });
  check(!wrong.ok, "C: a wrong passphrase logged in");
  check(/no peer has a backup for this handle and passphrase/.test(wrong.message), `C: ${wrong.message}`);
  check(wrong.ms < 8000 + 5000, `C: took ${wrong.ms} ms`);
  check(await actorInfo(c) === null, "C holds no actor");
  console.log(`C: wrong passphrase refused after ${Math.round(wrong.ms)} ms: "${wrong.message}"`);

  // --- d. reload, unlock ----------------------------------------------------------------
  await node(a, () => window.quorate.node.flush());
  const oldId = a.id;
  await open(a, () => a.page.reload());
  check(a.id === oldId, "A is the same node after the reload");
  await waitFor(async () => (await a.page.getAttribute("#actor-status", "data-state")) === "locked", "A: locked after the reload");
  check((await actorInfo(a)).locked, "A: locked");
  await a.page.fill("#unlock-pass", "not it");
  await a.page.click("#unlock-btn");
  result = await outcome(a, "the wrong unlock", 20000);
  check(result.kind === "err" && /wrong passphrase/.test(result.text), `A: wrong unlock said ${JSON.stringify(result)}`);
  await a.page.fill("#unlock-pass", PASSPHRASE);
  await a.page.click("#unlock-btn");
  result = await outcome(a, "the unlock", 20000);
  check(result.kind === "info", `A: unlock failed: ${result.text}`);
  const unlocked = await actorInfo(a);
  check(unlocked.actor === infoA.actor && unlocked.entries === 21 && !unlocked.locked, `A: ${JSON.stringify(unlocked)}`);
  check(JSON.stringify(await posts(a, 10)) === JSON.stringify(postsA), "A: the same posts after the reload");
  const unlockMs = await node(a, () => window.quorate.actorResult.unlockMs);
  console.log(`A reloaded: locked, wrong passphrase refused, unlocked in ${Math.round(unlockMs)} ms; same actor and 21 entries`);
  for (const t of [b, c]) {
    check(t.errors.length === 0, `${t.name} page errors: ${t.errors}`);
    await t.context.close();
  }

  // --- e. rehydration at scale ----------------------------------------------------------
  // B and C are gone: D's only source is A (B's copy is older; a stale replica is a case of
  // its own, covered by the simulator in actor-core).
  const many = await node(a, (n) => window.quorate.node.postMany(n, "bulk"), ENTRIES);
  await node(a, () => window.quorate.node.flush());
  const total = 21 + ENTRIES;
  check(many.entries === total, `A has ${many.entries} entries`);
  console.log(`A appended ${ENTRIES} entries in ${Math.round(many.ms)} ms (one batch, one head)`);
  const d = await tab("D");
  await link(d, a);
  const big = await node(d, async ([h, p]) => {
    const t0 = performance.now();
    try {
      const r = await window.quorate.node.loginActor(h, p, 60000);
      return { ok: true, ...r, wall: performance.now() - t0 };
    } catch (e) {
      return { ok: false, message: e.message };
    }
  }, [HANDLE, PASSPHRASE]);
  check(big.ok, `D: login failed: ${big.message}`);
  check(big.actor === infoA.actor && big.entries === total, `D: ${JSON.stringify(big)}`);
  const postsD = await posts(d, 5);
  check(JSON.stringify(postsD) === JSON.stringify(await posts(a, 5)), `D posts: ${postsD}`);
  check(postsD[0] === `bulk ${ENTRIES}`, `D newest: ${postsD[0]}`);
  console.log(`D logged in: ${total} entries rehydrated (with their payloads) in ${Math.round(big.ms)} ms`
    + ` after a ${Math.round(big.deriveMs)} ms locator derivation (login call to verified feed: ${Math.round(big.wall)} ms)`);
  console.log(`JSON ${JSON.stringify({ entries: total, login_ms: Math.round(big.ms), derive_ms: Math.round(big.deriveMs),
    small_login_ms: Math.round(loggedIn.ms), create_locator_ms: Math.round(created.locatorMs),
    create_keystore_ms: Math.round(created.keystoreMs), unlock_ms: Math.round(unlockMs) })}`);

  for (const t of [a, d]) check(t.errors.length === 0, `${t.name} page errors: ${t.errors}`);
  console.log("actor: ok");
} finally {
  await browser.close();
  web.close();
  children.forEach((c) => c.kill());
}
