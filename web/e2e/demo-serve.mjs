// `quorate demo --serve`: a tab joins the demo's own group.
//
// The demo runs its script on three native nodes (--json: the transcript is its first line
// of stdout), then keeps serving: the page it serves names the demo's rendezvous server and
// its join endpoint (/config.json "demo"). A tab creates an actor, presses "join the demo
// group", accepts the invitation the demo's admin (Ann) sends, and is admitted: it sees the
// FROST committee (as the script's last step reshared it) and PK_G the script made, sends
// a message, and Ann's native node — read with `quorate group read` and the demo's
// passphrase — decrypts it.
//
// Runs in a loopback-only network namespace like the other tests. The native binary:
// $QUORATE_BIN, else target/debug/quorate.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { check, inLoopbackNamespace, launch, panelMessage, startQuorate, waitFor } from "./lib.mjs";

const DEMO_PASSPHRASE = "quorate demo passphrase: not for real use"; // node/src/demo/mod.rs
const repo = fileURLToPath(new URL("../..", import.meta.url));
const bin = process.env.QUORATE_BIN ?? join(repo, "target/debug/quorate");
if (!existsSync(bin)) {
  console.error(`demo-serve: no native binary at ${bin}: run \`cargo build -p quorate-node\` or set QUORATE_BIN`);
  process.exit(1);
}
const isolated = inLoopbackNamespace(import.meta.url);
if (!isolated) console.log("demo-serve: no network namespace (unshare -n failed)");

const children = [];
process.on("exit", () => children.forEach((c) => c.exitCode === null && c.kill("SIGKILL")));
setTimeout(() => {
  console.error("demo-serve: timed out after 180 s");
  process.exit(1);
}, 180000).unref();

const dir = mkdtempSync(join(tmpdir(), "quorate-e2e-demo-serve-"));
const data = join(dir, "demo");
const browser = await launch(["--allow-loopback-in-peer-connection"]);
const read = (page, f, arg) => page.evaluate(f, arg);

try {
  const started = Date.now();
  const [, line] = await startQuorate(bin, [
    "demo", "--serve", "--json", "--nodes", "3", "--data", data, "--web-dir", join(repo, "web"),
  ], children);
  const transcript = JSON.parse(line);
  check(transcript.ok === true, `the demo's script passed: ${line.slice(0, 300)}`);
  const { group, group_key: groupKey, web, rotated } = transcript.result;
  // The script ends by resharing the key to the members left after its removal.
  const committee = `frost ${rotated.threshold}-of-${rotated.members}`;
  check(typeof web === "string", `the demo serves the page: ${JSON.stringify(transcript.result)}`);
  console.log(`demo script done in ${Date.now() - started} ms; page at ${web}`);

  const origin = web.replace(/\/$/, "");
  const context = await browser.newContext();
  // Media permission makes Chromium show real loopback candidates (shared/WEBRTC.md).
  await context.grantPermissions(["microphone", "camera"], { origin });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(web);
  await page.waitForSelector("body[data-ready=true]", { timeout: 20000 });
  const config = await read(page, () => window.quorate.config);
  check(typeof config.demo === "string" && config.demo.endsWith("/join"), `config.json names the join endpoint: ${JSON.stringify(config)}`);

  await page.fill("#create-pass", "a tab's passphrase, not a real one");
  await page.fill("#create-name", "Tabby");
  await page.click("#create-btn");
  const created = await panelMessage(page, "actor", "creating the actor", 60000);
  check(created.kind === "info", `actor: ${created.text}`);

  await page.waitForSelector("#demo-join-btn", { state: "visible", timeout: 10000 });
  await page.click("#demo-join-btn");
  const asked = await panelMessage(page, "group", "asking to join");
  check(asked.kind === "info", `join: ${asked.text}`);
  const accept = `#group-invitations button[data-group="${group}"]`;
  await page.waitForSelector(accept, { timeout: 30000 });
  await page.click(accept);
  const accepted = await panelMessage(page, "group", "accepting");
  check(accepted.kind === "info", `accept: ${accepted.text}`);

  // Admitted by Ann's node: 3 nodes, 1 removed by the script, plus this tab.
  await waitFor(async () => {
    const g = await read(page, (g) => window.quorate.node.groups().find((x) => x.group === g) ?? null, group);
    return g?.member && g.members.length === 3 && g.committee === committee;
  }, "the tab is a member and sees the demo's FROST committee", 30000);
  const key = await read(page, (g) => window.quorate.node.groupKey(g), group);
  check(JSON.stringify(key).includes(groupKey), `the tab knows the demo's PK_G ${groupKey}: ${JSON.stringify(key)}`);

  await page.fill("#group-text", "hello from a tab");
  await page.click("#group-send-btn");
  const sent = await panelMessage(page, "group", "sending");
  check(sent.kind === "info", `send: ${sent.text}`);

  // Ann's native node decrypts the tab's message.
  await waitFor(() => {
    const out = spawnSync(bin, ["group", "read", group, "--json", "--data", join(data, "ann")], {
      env: { ...process.env, QUORATE_PASSPHRASE: DEMO_PASSPHRASE, RUST_LOG: "warn" },
      encoding: "utf8",
    });
    if (out.status !== 0) return false;
    return JSON.parse(out.stdout).messages.some((m) => m.text === "hello from a tab");
  }, "Ann's node reads the tab's message", 30000);
  const shots = process.env.QUORATE_SCREENSHOTS ?? join(repo, "target/e2e-screenshots/demo");
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: join(shots, "20-demo-serve-tab-joined.png"), fullPage: true });
  check(errors.length === 0, `page errors: ${errors.join("; ")}`);
  console.log(`demo-serve: a tab joined the demo's group and Ann read its message (${Date.now() - started} ms)`);
} finally {
  await browser.close();
  children.forEach((c) => c.exitCode === null && c.kill("SIGINT"));
  rmSync(dir, { recursive: true, force: true });
}
