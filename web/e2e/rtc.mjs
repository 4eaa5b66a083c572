// Two tabs (separate browser contexts) run mesh nodes over real WebRTC: tab A dials tab B
// with signals carried between the pages by this script, the mesh handshake completes,
// B fetches by CID a text block A stored (then 4 MiB of blocks, timed), and getStats()
// shows a direct host <-> host pair on 127.0.0.1.
//
// Chromium hides local addresses behind mDNS names unless the page may use the camera or
// microphone: --allow-loopback-in-peer-connection plus grantPermissions gives raw
// 127.0.0.1 host candidates (shared/WEBRTC.md). Even then Chromium prefers the default
// route's address, so the test re-runs itself in a loopback-only network namespace
// (`unshare -n`) when it can; where it cannot, it only requires a host <-> host pair.
import { check, inLoopbackNamespace, launch, serveWeb, waitFor } from "./lib.mjs";

const isolated = inLoopbackNamespace(import.meta.url);
if (!isolated) console.log("rtc: no network namespace (unshare -n failed); any host pair is accepted");

const web = await serveWeb();
const browser = await launch(["--allow-loopback-in-peer-connection"]);

async function tab(name) {
  const context = await browser.newContext();
  await context.grantPermissions(["microphone", "camera"], { origin: web.url });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(`${web.url}/www/index.html`);
  await page.waitForSelector("body[data-ready=true]", { timeout: 15000 });
  const id = await page.evaluate(() => window.quorate.node.nodeId());
  return { name, page, id, errors };
}

/** Moves every waiting signal from `from` to `to`; how many. */
async function carry(from, to) {
  const signals = await from.page.evaluate(() => window.quorate.node.takeSignals());
  for (const s of signals) {
    check(s.to === to.id, `signal for ${s.to}, expected ${to.id}`);
    await to.page.evaluate(([f, p]) => window.quorate.node.handleSignal(f, p), [from.id, s.payload]);
  }
  return signals.length;
}

const peersOf = (t) => t.page.evaluate(() => JSON.parse(window.quorate.node.peers()));

try {
  const a = await tab("A");
  const b = await tab("B");
  console.log(`A ${a.id.slice(0, 16)}…  B ${b.id.slice(0, 16)}…`);

  // Dial, carrying signals until both see each other.
  const t0 = Date.now();
  await a.page.evaluate((id) => window.quorate.node.dial(id), b.id);
  let signals = 0;
  await waitFor(async () => {
    signals += (await carry(a, b)) + (await carry(b, a));
    const [pa, pb] = [await peersOf(a), await peersOf(b)];
    return pa.some((p) => p.node === b.id) && pb.some((p) => p.node === a.id);
  }, "the mesh handshake", 20000);
  console.log(`dial -> peers up at both ends: ${Date.now() - t0} ms (${signals} signals carried)`);

  // A text block, by CID.
  const text = `hello from ${a.id.slice(0, 8)} at ${new Date().toISOString()}`;
  const cid = await a.page.evaluate((t) => window.quorate.node.putText(t), text);
  const got = await b.page.evaluate(async (c) => {
    const bytes = await Promise.race([
      window.quorate.node.get(c),
      new Promise((_, rej) => setTimeout(() => rej(new Error("get timed out")), 10000)),
    ]);
    return new TextDecoder().decode(bytes);
  }, cid);
  check(got === text, `B got ${JSON.stringify(got)}, expected ${JSON.stringify(text)}`);
  console.log(`B fetched ${cid} from A: ${JSON.stringify(got)}`);

  // A direct host <-> host pair, both ways.
  for (const [t, other] of [[a, b], [b, a]]) {
    const pair = await t.page.evaluate(
      (id) => window.quorate.selectedPair(window.quorate.node.peerConnection(id)),
      other.id,
    );
    check(pair && pair.local && pair.remote, `${t.name}: no selected candidate pair`);
    console.log(`${t.name} selected pair: ${pair.local.address}:${pair.local.port} (${pair.local.type})`
      + ` <-> ${pair.remote.address}:${pair.remote.port} (${pair.remote.type}), rtt ${pair.rtt}`);
    check(pair.local.type === "host" && pair.remote.type === "host", `${t.name}: not host<->host`);
    if (isolated) {
      check(pair.local.address === "127.0.0.1" && pair.remote.address === "127.0.0.1",
        `${t.name}: pair is not 127.0.0.1 <-> 127.0.0.1`);
    }
  }

  // 4 MiB: four 1 MiB random blocks, fetched at once.
  const MiB = 1 << 20;
  const put = await a.page.evaluate(async (size) => {
    const cids = [];
    const digests = [];
    for (let i = 0; i < 4; i++) {
      const bytes = new Uint8Array(size);
      for (let o = 0; o < size; o += 65536) crypto.getRandomValues(bytes.subarray(o, o + 65536));
      cids.push(window.quorate.node.putBytes(bytes));
      digests.push(Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))).join(","));
    }
    return { cids, digests };
  }, MiB);
  const fetched = await b.page.evaluate(async (cids) => {
    const start = performance.now();
    const arrivals = [];
    const blocks = await Promise.race([
      Promise.all(cids.map((c) => window.quorate.node.get(c).then((b) => {
        arrivals.push(Math.round(performance.now() - start));
        return b;
      }))),
      new Promise((_, rej) => setTimeout(() => rej(new Error("bulk get timed out")), 60000)),
    ]);
    const ms = performance.now() - start;
    const digests = [];
    for (const b of blocks) {
      digests.push(Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", b))).join(","));
    }
    return { ms, arrivals, digests, bytes: blocks.reduce((n, b) => n + b.length, 0) };
  }, put.cids);
  check(fetched.bytes === 4 * MiB, `fetched ${fetched.bytes} bytes`);
  check(JSON.stringify(fetched.digests) === JSON.stringify(put.digests), "fetched blocks differ");
  const rate = (4 / (fetched.ms / 1000)).toFixed(1);
  console.log(`B fetched 4 MiB (4 x 1 MiB blocks) in ${fetched.ms.toFixed(0)} ms: ${rate} MiB/s`
    + ` (blocks arrived at ${fetched.arrivals.join(", ")} ms)`);

  for (const t of [a, b]) {
    const errs = await t.page.evaluate(() => window.quorate.node.errors());
    check(t.errors.length === 0, `${t.name} page errors: ${t.errors}`);
    if (errs !== "[]") console.log(`${t.name} transport errors: ${errs}`);
  }
  console.log("rtc: ok");
} finally {
  await browser.close();
  web.close();
}
