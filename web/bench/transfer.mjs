// Browser benchmark (issue #5): tab <-> tab block transfer over the mesh against the raw
// RTCDataChannel of the same browser, in the same run; time to the first link; bundle size.
//
//   web/bench/run.sh            (builds the wasm first; prints a table and JSON)
//
// Two tabs in separate browser contexts, Chromium as in the e2e tests (loopback-only
// network namespace when possible). Per repetition, alternating:
// - raw: a plain RTCPeerConnection pair made by this script (non-trickle SDP carried by
//   page.evaluate), one ordered reliable channel; tab A sends SIZE bytes as 16 KiB
//   messages with bufferedAmount backpressure (1 MiB high, 512 KiB low, as the mesh
//   transport), tab B counts them; time from the first send to the last byte at B.
// - mesh: tab A's WebNode stores SIZE bytes as 1 MiB raw blocks, tab B's WebNode fetches
//   them all at once (`get`), timed until the last block is verified and stored.
// First links: a `quorate rendezvous` server ($QUORATE_BIN or target/debug/quorate); tab A
// waits in a fresh room, tab B loads the page; B's first PeerUp, since its navigation.
import { spawn } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { createInterface } from "node:readline";
import { gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";
import { check, inLoopbackNamespace, launch, serveWeb, waitFor } from "../e2e/lib.mjs";

const MiB = 1 << 20;
const SIZE = Number(process.env.QUORATE_BENCH_MIB ?? 16) * MiB;
const REPS = Number(process.env.QUORATE_BENCH_REPS ?? 5);
const LINKS = Number(process.env.QUORATE_BENCH_LINKS ?? 5);

const isolated = inLoopbackNamespace(import.meta.url);
const web = await serveWeb();
const browser = await launch(["--allow-loopback-in-peer-connection"]);

async function tab(name, query = "") {
  const context = await browser.newContext();
  await context.grantPermissions(["microphone", "camera"], { origin: web.url });
  const page = await context.newPage();
  const t0 = Date.now();
  await page.goto(`${web.url}/www/index.html${query}`);
  await page.waitForSelector("body[data-ready=true]", { timeout: 15000 });
  const ready = Date.now() - t0;
  const id = await page.evaluate(() => window.quorate.node.nodeId());
  return { name, page, id, ready, context };
}

/** `quorate rendezvous` on a free port (the native binary: $QUORATE_BIN or target/debug). */
async function rendezvous() {
  const repo = fileURLToPath(new URL("../..", import.meta.url));
  const bin = process.env.QUORATE_BIN ?? `${repo}target/debug/quorate`;
  const child = spawn(bin, ["rendezvous", "--listen", "127.0.0.1:0"], { stdio: ["ignore", "pipe", "ignore"] });
  process.on("exit", () => child.kill("SIGKILL"));
  const line = await new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).once("line", resolve);
    child.once("exit", (code) => reject(new Error(`quorate rendezvous exited ${code}`)));
  });
  const addr = line.trim().split(/\s+/).pop();
  return { url: `ws://${addr}`, child };
}

/**
 * Time from page load to the first direct tab <-> tab link: tab A waits in a fresh room,
 * tab B opens the page and finds A through the rendezvous server; B's `firstPeerMs`
 * (performance.now() at its first PeerUp, i.e. since B's navigation started).
 */
async function firstLink(server, i) {
  const query = `?rendezvous=${encodeURIComponent(server.url)}&room=bench-${i}-${Date.now()}`;
  const a = await tab("A", query);
  const b = await tab("B", query);
  let info;
  await waitFor(async () => {
    info = JSON.parse(await b.page.evaluate(() => window.quorate.node.info()));
    return info.firstPeerMs != null;
  }, "B's first peer", 20000);
  const peers = JSON.parse(await b.page.evaluate(() => window.quorate.node.peers()));
  check(peers.some((p) => p.node === a.id), "B's first peer is A");
  await a.context.close();
  await b.context.close();
  return info.firstPeerMs;
}

async function carry(from, to) {
  const signals = await from.page.evaluate(() => window.quorate.node.takeSignals());
  for (const s of signals) {
    await to.page.evaluate(([f, p]) => window.quorate.node.handleSignal(f, p), [from.id, s.payload]);
  }
  return signals.length;
}

const peersOf = (t) => t.page.evaluate(() => JSON.parse(window.quorate.node.peers()));

/** Mesh link A -> B: dial, carry signals, until both see each other. Milliseconds. */
async function meshLink(a, b) {
  const t0 = performance.now();
  await a.page.evaluate((id) => window.quorate.node.dial(id), b.id);
  await waitFor(async () => {
    await carry(a, b);
    await carry(b, a);
    const [pa, pb] = [await peersOf(a), await peersOf(b)];
    return pa.some((p) => p.node === b.id) && pb.some((p) => p.node === a.id);
  }, "the mesh handshake", 20000);
  return performance.now() - t0;
}

/** A raw channel A -> B made in the pages; resolves when open at both ends. */
async function rawLink(a, b) {
  const make = (offerer) => {
    const pc = new RTCPeerConnection();
    window.rawBench = { pc, received: 0 };
    const gathered = () => new Promise((r) => {
      if (pc.iceGatheringState === "complete") r();
      pc.addEventListener("icegatheringstatechange", () => pc.iceGatheringState === "complete" && r());
    });
    const hook = (dc) => {
      dc.binaryType = "arraybuffer";
      dc.bufferedAmountLowThreshold = 512 * 1024;
      window.rawBench.dc = dc;
      window.rawBench.open = new Promise((r) => (dc.readyState === "open" ? r() : (dc.onopen = () => r())));
      dc.onmessage = (e) => {
        window.rawBench.received += e.data.byteLength;
        if (window.rawBench.want && window.rawBench.received >= window.rawBench.want) {
          window.rawBench.done(performance.now());
        }
      };
    };
    if (offerer) hook(pc.createDataChannel("raw"));
    else {
      window.rawBench.open = new Promise((r) => {
        pc.ondatachannel = (e) => { hook(e.channel); window.rawBench.open.then(r); };
      });
    }
    window.rawBench.gathered = gathered;
  };
  await a.page.evaluate(make, true);
  await b.page.evaluate(make, false);
  const offer = await a.page.evaluate(async () => {
    const { pc, gathered } = window.rawBench;
    await pc.setLocalDescription(await pc.createOffer());
    await gathered();
    return pc.localDescription.sdp;
  });
  const answer = await b.page.evaluate(async (sdp) => {
    const { pc, gathered } = window.rawBench;
    await pc.setRemoteDescription({ type: "offer", sdp });
    await pc.setLocalDescription(await pc.createAnswer());
    await gathered();
    return pc.localDescription.sdp;
  }, offer);
  await a.page.evaluate((sdp) => window.rawBench.pc.setRemoteDescription({ type: "answer", sdp }), answer);
  await a.page.evaluate(() => window.rawBench.open);
  await b.page.evaluate(() => window.rawBench.open);
}

/** One raw transfer of `size` bytes; milliseconds from the first send to B's last byte. */
async function rawTransfer(a, b, size) {
  const finished = b.page.evaluate((want) => new Promise((resolve) => {
    window.rawBench.received = 0;
    window.rawBench.want = want;
    window.rawBench.done = resolve;
  }), size);
  await b.page.waitForFunction((want) => window.rawBench.want === want, size);
  const started = await a.page.evaluate(async (size) => {
    const { dc } = window.rawBench;
    const msg = new Uint8Array(16 * 1024 + 1);
    crypto.getRandomValues(msg);
    const start = performance.now();
    let sent = 0;
    while (sent < size) {
      if (dc.bufferedAmount >= 1 << 20) {
        await new Promise((r) => { dc.onbufferedamountlow = () => r(); });
        continue;
      }
      const n = Math.min(msg.length, size - sent);
      dc.send(n === msg.length ? msg : msg.subarray(0, n));
      sent += n;
    }
    return start + performance.timeOrigin;
  }, size);
  const endedAt = (await finished) + (await b.page.evaluate(() => performance.timeOrigin));
  return endedAt - started;
}

/** One mesh transfer: A stores `size` bytes as 1 MiB blocks, B fetches them all. */
async function meshTransfer(a, b, size) {
  const cids = await a.page.evaluate((size) => {
    const cids = [];
    for (let left = size; left > 0; left -= 1 << 20) {
      const bytes = new Uint8Array(Math.min(left, 1 << 20));
      for (let o = 0; o < bytes.length; o += 65536) crypto.getRandomValues(bytes.subarray(o, o + 65536));
      cids.push(window.quorate.node.putBytes(bytes));
    }
    return cids;
  }, size);
  // The puts are written to IndexedDB behind; let that finish so it does not share the
  // transfer's time (a raw transfer has nothing like it).
  await a.page.evaluate(() => window.quorate.node.flush());
  const r = await b.page.evaluate(async (cids) => {
    const start = performance.now();
    const arrivals = [];
    const blocks = await Promise.all(cids.map((c) => window.quorate.node.get(c).then((x) => {
      arrivals.push(Math.round(performance.now() - start));
      return x;
    })));
    return { ms: performance.now() - start, arrivals, bytes: blocks.reduce((n, x) => n + x.length, 0) };
  }, cids);
  check(r.bytes === size, `mesh: fetched ${r.bytes} of ${size} bytes`);
  return r;
}

function bundle() {
  const dir = fileURLToPath(new URL("../pkg/", import.meta.url));
  const wasm = readdirSync(dir).find((f) => f.endsWith(".wasm"));
  const bytes = readFileSync(dir + wasm);
  const js = readFileSync(dir + "quorate_web.js");
  const gz = (b) => gzipSync(b, { level: 9 }).length;
  return { file: wasm, bytes: bytes.length, gzip: gz(bytes), js: js.length, js_gzip: gz(js) };
}

const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];

try {
  const server = await rendezvous();
  const links = [];
  for (let i = 0; i < LINKS; i++) links.push(await firstLink(server, i));
  server.child.kill();
  // QUORATE_BENCH_QUERY=?memory=1 runs the nodes on memory stores instead of IndexedDB.
  const a = await tab("A", process.env.QUORATE_BENCH_QUERY ?? "");
  const b = await tab("B", process.env.QUORATE_BENCH_QUERY ?? "");
  const link = await meshLink(a, b);
  await rawLink(a, b);
  // Warm-up (SCTP windows, JIT): one transfer of each, not counted.
  await rawTransfer(a, b, SIZE);
  await meshTransfer(a, b, SIZE);
  const raw = [];
  const mesh = [];
  const arrivals = [];
  for (let rep = 0; rep < REPS; rep++) {
    raw.push(await rawTransfer(a, b, SIZE));
    const m = await meshTransfer(a, b, SIZE);
    mesh.push(m.ms);
    arrivals.push(m.arrivals);
  }
  const rate = (ms) => SIZE / MiB / (ms / 1000);
  const [rawMs, meshMs] = [median(raw), median(mesh)];
  const size = bundle();
  const result = {
    isolated,
    size_mib: SIZE / MiB,
    reps: REPS,
    page_ready_ms: [a.ready, b.ready],
    mesh_link_ms: Math.round(link),
    load_to_link_ms: links.map(Math.round),
    raw_ms: raw.map(Math.round),
    mesh_ms: mesh.map(Math.round),
    raw_mib_s: +rate(rawMs).toFixed(2),
    mesh_mib_s: +rate(meshMs).toFixed(2),
    ratio: +(rawMs / meshMs).toFixed(3),
    mesh_arrivals_ms: arrivals,
    bundle: size,
  };
  console.log(`| case | median | MiB/s | vs raw |`);
  console.log(`|---|---|---|---|`);
  console.log(`| raw RTCDataChannel, 16 KiB messages | ${rawMs.toFixed(0)} ms | ${result.raw_mib_s} | 1.00 |`);
  console.log(`| mesh, 1 MiB blocks | ${meshMs.toFixed(0)} ms | ${result.mesh_mib_s} | ${result.ratio} |`);
  console.log(`page ready: ${a.ready} / ${b.ready} ms; dial -> mesh peers up: ${result.mesh_link_ms} ms`);
  console.log(`page load -> first direct tab<->tab link via rendezvous (median of ${LINKS}): ${median(links).toFixed(0)} ms`
    + ` (all: ${result.load_to_link_ms.join(", ")})`);
  const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
  console.log(`bundle: wasm ${kib(size.bytes)} (gzip ${kib(size.gzip)}), JS glue ${kib(size.js)}`
    + ` (gzip ${kib(size.js_gzip)}), page JS not counted`);
  console.log(`JSON ${JSON.stringify(result)}`);
} finally {
  await browser.close();
  web.close();
}
