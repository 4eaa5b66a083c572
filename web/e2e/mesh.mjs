// The page as a mesh member, with a rendezvous server, a native node and three tabs
// (separate browser contexts, each with its own IndexedDB):
//
// a. `quorate rendezvous` and a native `quorate node --rendezvous --serve-web` run; tabs A
//    and B load the page from the node, which tells them the rendezvous server and room in
//    its /config.json, and find everyone through the room. A puts a text
//    block through the page UI (fill + click); B fetches it through the UI, the native
//    node with `quorate get` (its control socket); B's getStats() shows a direct host
//    pair to A.
// b. B puts a block only it has, waits for it to be in IndexedDB, and reloads: same node
//    id, its blocks still there, and A and the native node fetch the new block from it.
// c. The rendezvous server is killed. Tab C (no rendezvous) is linked to A by signals this
//    script carries (the page-carried path, as copy-paste would), learns A's peers from
//    A's peer list and connects to B and the native node with signals relayed by A
//    through the mesh. C ends up directly connected to B and fetches a block only B has.
//
// Runs in a loopback-only network namespace like rtc.mjs. The native binary: $QUORATE_BIN,
// else target/debug/quorate (run.sh builds it).
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { check, inLoopbackNamespace, launch, serveWeb, startQuorate, waitFor } from "./lib.mjs";

const repo = fileURLToPath(new URL("../..", import.meta.url));
const bin = process.env.QUORATE_BIN ?? join(repo, "target/debug/quorate");
if (!existsSync(bin)) {
  console.error(`mesh: no native binary at ${bin}: run \`cargo build -p quorate-node\` or set QUORATE_BIN`);
  process.exit(1);
}
const isolated = inLoopbackNamespace(import.meta.url);
if (!isolated) console.log("mesh: no network namespace (unshare -n failed); any host pair is accepted");

const children = [];
/** Starts `quorate args…`; resolves to [process, first stdout line]. */
const start = (args) => startQuorate(bin, args, children);
const stop = (child) =>
  new Promise((r) => {
    if (child.exitCode !== null || child.signalCode !== null) return r();
    child.once("exit", r);
    child.kill("SIGTERM");
  });
process.on("exit", () => children.forEach((c) => c.exitCode === null && c.kill("SIGKILL")));
// The whole test is bounded: a hang fails it (the exit hook kills the processes).
setTimeout(() => {
  console.error("mesh: timed out after 240 s");
  process.exit(1);
}, 240000).unref();

const quorate = (...args) =>
  new Promise((resolve, reject) => {
    execFile(bin, args, { timeout: 40000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`quorate ${args.join(" ")}: ${err.message} ${stderr}`)) : resolve(stdout.trim()));
  });

const dir = mkdtempSync(join(tmpdir(), "quorate-e2e-mesh-"));
const data = join(dir, "node");
const web = await serveWeb();
const browser = await launch(["--allow-loopback-in-peer-connection"]);

/** A tab in its own browser context, opened at `origin` + `query`; timings from page.goto. */
async function tab(name, query, origin = web.url) {
  const context = await browser.newContext();
  await context.grantPermissions(["microphone", "camera"], { origin });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  const t = { name, page, errors, context };
  await open(t, () => page.goto(`${origin}/www/index.html${query}`));
  return t;
}

/** Loads (or reloads) a tab's page and waits for its node. */
async function open(t, load) {
  t.started = Date.now();
  await load();
  await t.page.waitForSelector("body[data-ready=true]", { timeout: 20000 });
  t.ready = Date.now() - t.started;
  t.id = await t.page.evaluate(() => window.quorate.node.nodeId());
}

const info = (t) => t.page.evaluate(() => JSON.parse(window.quorate.node.info()));
const peersOf = async (t) => (await t.page.evaluate(() => JSON.parse(window.quorate.node.peers()))).map((p) => p.node);
const linked = async (t, ids) => {
  const peers = await peersOf(t);
  return ids.every((id) => peers.includes(id));
};
const pairTo = (t, id) =>
  t.page.evaluate((node) => window.quorate.selectedPair(window.quorate.node.peerConnection(node)), id);
const short = (id) => `${id.slice(0, 12)}…`;

/** Puts `text` through the UI; the CID shown. */
async function uiPut(t, text) {
  await t.page.fill("#put-text", text);
  await t.page.click("#put-btn");
  await waitFor(async () => /^baf/.test(await t.page.textContent("#put-cid")), `${t.name}: the CID`, 5000);
  return t.page.textContent("#put-cid");
}

/** Fetches `cid` through the UI; the text shown (fails on an error). */
async function uiFetch(t, cid) {
  await t.page.fill("#get-cid", cid);
  await t.page.click("#get-btn");
  let out = "";
  await waitFor(async () => {
    out = await t.page.textContent("#get-out");
    return out !== "fetching…" && out !== "";
  }, `${t.name}: the fetch of ${cid}`, 25000);
  check(await t.page.getAttribute("#get-out", "class") !== "err", `${t.name} fetch failed: ${out}`);
  return out;
}

/** Checks that `t`'s link to `id` is a direct host <-> host pair (127.0.0.1 if isolated). */
async function checkDirect(t, id, label) {
  const pair = await pairTo(t, id);
  check(pair && pair.local && pair.remote, `${label}: no selected candidate pair`);
  console.log(`${label}: ${pair.local.address}:${pair.local.port} (${pair.local.type})`
    + ` <-> ${pair.remote.address}:${pair.remote.port} (${pair.remote.type})`);
  check(pair.local.type === "host" && pair.remote.type === "host", `${label}: not host<->host`);
  if (isolated) {
    check(pair.local.address === "127.0.0.1" && pair.remote.address === "127.0.0.1",
      `${label}: not 127.0.0.1 <-> 127.0.0.1`);
  }
}

/** Moves every signal waiting in `from` (for `to`) into `to`; how many. */
async function carry(from, to) {
  const signals = await from.page.evaluate(() => window.quorate.node.takeSignals());
  for (const s of signals) {
    check(s.to === to.id, `${from.name} has a signal for ${s.to}, expected ${to.id}`);
    await to.page.evaluate(([f, p]) => window.quorate.node.handleSignal(f, p), [from.id, s.payload]);
  }
  return signals.length;
}

let rendezvous;
try {
  // --- a. the room -----------------------------------------------------------------------
  const [server, listening] = await start(["rendezvous", "--listen", "127.0.0.1:0"]);
  rendezvous = server;
  const addr = listening.replace(/^listening on /, "");
  check(/^127\.0\.0\.1:\d+$/.test(addr), `rendezvous line: ${listening}`);
  const url = `ws://${addr}`;
  // The native node also serves the page (`--serve-web`): tabs A and B load it from there
  // and learn the rendezvous server and room from its /config.json.
  const [, first] = await start([
    "node", "--rendezvous", url, "--data", data,
    "--serve-web", "127.0.0.1:0", "--web-dir", join(repo, "web"),
  ]);
  const nativeId = first.split(" ")[1];
  check(/^[0-9a-f]{64}$/.test(nativeId), `native node line: ${first}`);
  const served = first.match(/ web (http:\/\/127\.0\.0\.1:\d+)\/$/);
  check(served, `native node line names its web page: ${first}`);
  const nodeWeb = served[1];
  const config = await (await fetch(`${nodeWeb}/config.json`)).json();
  check(config.rendezvous === url && config.node === nativeId, `config.json: ${JSON.stringify(config)}`);

  const a = await tab("A", "", nodeWeb);
  await waitFor(() => linked(a, [nativeId]), "A <-> native through the room", 20000);
  const aInfo = await info(a);
  console.log(`A ${short(a.id)} ready in ${a.ready} ms; first peer (native) at ${Math.round(aInfo.firstPeerMs)} ms after navigation start`);
  const b = await tab("B", "", nodeWeb);
  await waitFor(() => linked(b, [nativeId, a.id]), "B <-> native and A", 20000);
  const bInfo = await info(b);
  console.log(`B ${short(b.id)} ready in ${b.ready} ms; first peer at ${Math.round(bInfo.firstPeerMs)} ms, both peers ${Date.now() - b.started} ms after goto`);
  check(bInfo.rendezvous.state === "joined" && bInfo.persistent, `B: ${JSON.stringify(bInfo)}`);
  await waitFor(() => linked(a, [b.id]), "A sees B", 10000);

  const text = `hello from tab A (${short(a.id)}) at ${new Date().toISOString()}`;
  const cid = await uiPut(a, text);
  let t0 = Date.now();
  const gotB = await uiFetch(b, cid);
  check(gotB === text, `B's UI shows ${JSON.stringify(gotB)}`);
  console.log(`B fetched ${cid} through the UI in ${Date.now() - t0} ms`);
  t0 = Date.now();
  const gotNative = await quorate("get", cid, "--data", data, "--timeout", "20");
  check(gotNative === text, `native got ${JSON.stringify(gotNative)}`);
  console.log(`native node fetched it in ${Date.now() - t0} ms (quorate get)`);
  await checkDirect(b, a.id, "B -> A pair");

  // --- b. reload -------------------------------------------------------------------------
  const onlyB = `only tab B has this (${Date.now()})`;
  const cidB = await uiPut(b, onlyB);
  await b.page.evaluate(() => window.quorate.node.flush());
  const before = await info(b);
  check(before.pendingWrites === 0 && before.blocks >= 2, `B before reload: ${JSON.stringify(before)}`);
  const oldId = b.id;
  await open(b, () => b.page.reload());
  check(b.id === oldId, `B came back as ${b.id}, was ${oldId}`);
  const after = await info(b);
  check(after.blocks >= before.blocks, `B after reload has ${after.blocks} blocks, had ${before.blocks}`);
  console.log(`B reloaded: same node id, ${after.blocks} blocks back from IndexedDB, ready in ${b.ready} ms`);
  const gotA = await a.page.evaluate(async (c) => {
    const bytes = await Promise.race([
      window.quorate.node.get(c),
      new Promise((_, reject) => setTimeout(() => reject(new Error("get timed out")), 20000)),
    ]);
    return new TextDecoder().decode(bytes);
  }, cidB);
  const serving = Date.now() - b.started;
  check(gotA === onlyB, `A got ${JSON.stringify(gotA)}`);
  const reloaded = await info(b);
  console.log(`reload -> A fetched B's block from B: ${serving} ms (B's first peer ${Math.round(reloaded.firstPeerMs)} ms after navigation start)`);
  t0 = Date.now();
  const gotNativeB = await quorate("get", cidB, "--data", data, "--timeout", "20");
  check(gotNativeB === onlyB, `native got ${JSON.stringify(gotNativeB)}`);
  console.log(`native node fetched B's block in ${Date.now() - t0} ms`);

  // --- c. no server ----------------------------------------------------------------------
  await stop(rendezvous);
  await waitFor(async () => (await info(a)).rendezvous.state !== "joined"
    && (await info(b)).rendezvous.state !== "joined", "A and B notice the server is gone", 15000);
  const lateB = `put by B after the server died (${Date.now()})`;
  const cidLate = await uiPut(b, lateB);
  const c = await tab("C", "");
  check((await info(c)).rendezvous.state === "off", "C has no rendezvous");
  t0 = Date.now();
  await c.page.evaluate((id) => window.quorate.node.dial(id), a.id);
  let carried = 0;
  await waitFor(async () => {
    carried += (await carry(c, a)) + (await carry(a, c));
    return linked(c, [a.id]);
  }, "C <-> A by carried signals", 20000);
  console.log(`C ${short(c.id)} linked to A by ${carried} carried signals in ${Date.now() - t0} ms`);
  await waitFor(() => linked(c, [b.id]), "C <-> B through signals relayed by A", 20000);
  console.log(`C linked to B through the mesh ${Date.now() - t0} ms after dialing A`);
  await checkDirect(c, b.id, "C -> B pair");
  const gotC = await uiFetch(c, cidLate);
  check(gotC === lateB, `C got ${JSON.stringify(gotC)}`);
  console.log(`C fetched ${cidLate} (only B has it) with no server running`);
  await waitFor(() => linked(c, [nativeId]), "C <-> native through the mesh", 20000)
    .then(() => console.log("C also linked to the native node through the mesh"))
    .catch((e) => console.log(`note: ${e.message}`));

  for (const t of [a, b, c]) {
    check(t.errors.length === 0, `${t.name} page errors: ${t.errors}`);
    const errs = await t.page.evaluate(() => window.quorate.node.errors());
    if (errs !== "[]") console.log(`${t.name} transport errors: ${errs}`);
  }
  console.log("mesh: ok");
} finally {
  await browser.close();
  web.close();
  for (const child of children) await stop(child);
  rmSync(dir, { recursive: true, force: true });
}
