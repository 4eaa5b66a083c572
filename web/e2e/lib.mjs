// Shared helpers for the end-to-end tests: a static file server for web/ and Chromium.
import { spawn, spawnSync } from "node:child_process";
import { createInterface } from "node:readline";
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".wasm": "application/wasm",
  ".css": "text/css; charset=utf-8",
};

/** Serves web/ on 127.0.0.1 (a random port); resolves to { url, close }. */
export function serveWeb() {
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname));
    if (path.includes("..")) {
      res.writeHead(400).end();
      return;
    }
    try {
      const body = await readFile(join(ROOT, path));
      res.writeHead(200, { "content-type": TYPES[extname(path)] ?? "application/octet-stream" });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      resolve({ url: `http://127.0.0.1:${port}`, close: () => server.close() });
    });
  });
}

/** Debian's Chromium, headless, with the flags the project allows (plus `extraArgs`). */
export function launch(extraArgs = []) {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      ...extraArgs,
    ],
  });
}

/** Waits until `cond()` (sync or async) is truthy; fails with `what` after `ms`. */
export async function waitFor(cond, what, ms = 15000) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Fails the test with a message. */
export function check(cond, message) {
  if (!cond) throw new Error(`check failed: ${message}`);
}

/**
 * Re-runs the calling test inside a fresh network namespace with only loopback up
 * (`unshare -n`, needs root or user namespaces), so Chromium has no other interface to
 * prefer over 127.0.0.1 (shared/WEBRTC.md). Returns true inside the namespace; false if
 * it cannot be made (the test then runs where it is). Exits with the child's status
 * otherwise.
 */
export function inLoopbackNamespace(scriptUrl) {
  if (process.env.QUORATE_NETNS === "1") return true;
  const probe = spawnSync("unshare", ["-n", "true"], { stdio: "ignore" });
  if (probe.status !== 0) return false;
  const script = fileURLToPath(scriptUrl);
  const run = spawnSync(
    "unshare",
    ["-n", "sh", "-c", 'ip link set lo up && exec "$0" "$@"', process.execPath, script],
    { stdio: "inherit", env: { ...process.env, QUORATE_NETNS: "1" } },
  );
  process.exit(run.status ?? 1);
}

/**
 * Starts the native `quorate` binary with `args`, remembering the child in `children`;
 * resolves to [process, first stdout line]. Its log (RUST_LOG, default warn) goes to
 * stderr only with QUORATE_E2E_VERBOSE set.
 */
export function startQuorate(bin, args, children) {
  const child = spawn(bin, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? "warn" },
  });
  children.push(child);
  child.stderr.on("data", (d) => process.env.QUORATE_E2E_VERBOSE && process.stderr.write(d));
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).once("line", (line) => resolve([child, line]));
    child.once("exit", (code) => reject(new Error(`quorate ${args[0]} exited ${code}`)));
  });
}

/**
 * Waits until a panel's message (`#actor-msg`, `#group-msg`) reports an outcome
 * (`data-kind` "info" or "err"), then clears the kind so the next wait sees the next one;
 * resolves to `{ kind, text }`.
 */
export async function panelMessage(page, panel, what, ms = 30000) {
  let kind = "";
  await waitFor(async () => {
    kind = await page.getAttribute(`#${panel}-msg`, "data-kind");
    return kind === "err" || kind === "info";
  }, what, ms);
  const text = await page.textContent(`#${panel}-msg`);
  await page.evaluate((p) => { document.getElementById(`${p}-msg`).dataset.kind = ""; }, panel);
  return { kind, text };
}

/**
 * An HTTP listener on 127.0.0.1 recording every request (what `--trigger-url` POSTs to):
 * resolves to { posts: [{ key: Idempotency-Key, body }], url: "http://…/hook", close }.
 */
export async function listenForPosts() {
  const posts = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      posts.push({ key: req.headers["idempotency-key"], body });
      res.writeHead(200).end();
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { posts, url: `http://127.0.0.1:${server.address().port}/hook`, close: () => server.close() };
}
