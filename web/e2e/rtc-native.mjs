// A tab and a native `quorate node` connect over WebRTC with the node's copy-paste
// signaling (`quorate signal offer` / `accept`, the tab's acceptBlob/takeBlob), then the
// tab fetches a file block the node `put`, and the node fetches a text block the tab put.
//
// The native binary: $QUORATE_BIN, else target/debug/quorate (`cargo build -p
// quorate-node`; run.sh builds it). Runs in a loopback-only network namespace like rtc.mjs.
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { check, inLoopbackNamespace, launch, serveWeb, waitFor } from "./lib.mjs";

const repo = fileURLToPath(new URL("../..", import.meta.url));
const bin = process.env.QUORATE_BIN ?? join(repo, "target/debug/quorate");
if (!existsSync(bin)) {
  console.error(`rtc-native: no native binary at ${bin}: run \`cargo build -p quorate-node\` or set QUORATE_BIN`);
  process.exit(1);
}
const isolated = inLoopbackNamespace(import.meta.url);

const quorate = (...args) =>
  new Promise((resolve, reject) => {
    execFile(bin, args, { timeout: 40000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`quorate ${args[0]}: ${err.message} ${stderr}`)) : resolve(stdout.trim()));
  });

const dir = mkdtempSync(join(tmpdir(), "quorate-e2e-"));
const data = join(dir, "node");
const node = spawn(bin, ["node", "--data", data, "--listen", "127.0.0.1:0"], {
  stdio: ["ignore", "pipe", "pipe"],
  env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? "warn" },
});
node.stderr.on("data", (d) => process.env.QUORATE_E2E_VERBOSE && process.stderr.write(d));
const web = await serveWeb();
const browser = await launch(["--allow-loopback-in-peer-connection"]);
try {
  const first = await new Promise((resolve, reject) => {
    createInterface({ input: node.stdout }).once("line", resolve);
    node.once("exit", (code) => reject(new Error(`quorate node exited ${code}`)));
  });
  const nodeId = first.split(" ")[1];
  check(/^[0-9a-f]{64}$/.test(nodeId), `native node line: ${first}`);

  const context = await browser.newContext();
  await context.grantPermissions(["microphone", "camera"], { origin: web.url });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(`${web.url}/www/index.html`);
  await page.waitForSelector("body[data-ready=true]", { timeout: 15000 });
  const tabId = await page.evaluate(() => window.quorate.node.nodeId());
  console.log(`native ${nodeId.slice(0, 16)}…  tab ${tabId.slice(0, 16)}…`);

  // The native node dials the tab by copy-paste.
  const t0 = Date.now();
  const offer = await quorate("signal", "offer", "--to", tabId, "--data", data);
  const from = await page.evaluate((b) => window.quorate.node.acceptBlob(b), offer);
  check(from === nodeId, `offer from ${from}`);
  let answer = "";
  await waitFor(async () => {
    answer = await page.evaluate((id) => window.quorate.node.takeBlob(id), nodeId);
    return answer !== "";
  }, "the tab's answer");
  await quorate("signal", "accept", answer, "--data", data);
  await waitFor(async () => {
    const peers = JSON.parse(await page.evaluate(() => window.quorate.node.peers()));
    return peers.some((p) => p.node === nodeId);
  }, "the native peer in the tab", 20000);
  console.log(`offer -> peer up in the tab: ${Date.now() - t0} ms (including two CLI calls)`);

  const pair = await page.evaluate(
    (id) => window.quorate.selectedPair(window.quorate.node.peerConnection(id)), nodeId);
  check(pair && pair.local && pair.remote, "no selected candidate pair");
  console.log(`tab selected pair: ${pair.local.address}:${pair.local.port} (${pair.local.type})`
    + ` <-> ${pair.remote.address}:${pair.remote.port} (${pair.remote.type})`);
  check(pair.local.type === "host" && pair.remote.type === "host", "not host<->host");
  if (isolated) check(pair.remote.address === "127.0.0.1", "remote is not 127.0.0.1");

  // Native put -> tab get.
  const file = join(dir, "hello.txt");
  writeFileSync(file, "hello from the native node\n");
  const fileCid = await quorate("put", file, "--data", data);
  const size = await page.evaluate(async (c) => {
    const bytes = await Promise.race([
      window.quorate.node.get(c),
      new Promise((_, rej) => setTimeout(() => rej(new Error("get timed out")), 15000)),
    ]);
    return bytes.length;
  }, fileCid);
  check(size > 0, "empty block");
  console.log(`tab fetched ${fileCid} (${size} bytes) from the native node`);

  // Tab put -> native get.
  const text = `hello from tab ${tabId.slice(0, 8)}`;
  const textCid = await page.evaluate((t) => window.quorate.node.putText(t), text);
  const got = await quorate("get", textCid, "--data", data, "--timeout", "15");
  check(got === text, `native got ${JSON.stringify(got)}`);
  console.log(`native node fetched ${textCid} from the tab: ${JSON.stringify(got)}`);
  check(errors.length === 0, `page errors: ${errors}`);
  console.log("rtc-native: ok");
} finally {
  await browser.close();
  web.close();
  node.kill("SIGTERM");
  await new Promise((r) => (node.exitCode !== null ? r() : node.once("exit", r)));
  rmSync(dir, { recursive: true, force: true });
}
