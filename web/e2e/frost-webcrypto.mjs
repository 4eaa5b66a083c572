// Outsider verification of a FROST committee's signature with the browser's WebCrypto:
// the `frost_committee` example runs a 3-of-5 DKG and a signing session with one member
// offline and prints { groupKey, message, signature }; Chromium's
// crypto.subtle.verify("Ed25519", …) accepts it, and rejects a tampered message, key and
// signature.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { launch, serveWeb } from "./lib.mjs";

const root = fileURLToPath(new URL("../..", import.meta.url));
const run = spawnSync(
  "cargo",
  ["run", "-q", "--locked", "-p", "quorate-examples", "--example", "frost_committee", "--", "--json"],
  { cwd: root, encoding: "utf8" },
);
if (run.status !== 0) throw new Error(`frost_committee failed: ${run.stderr}`);
const vector = JSON.parse(run.stdout.trim().split("\n").pop());

const web = await serveWeb();
const browser = await launch();
try {
  const page = await browser.newPage();
  // A page from 127.0.0.1: a secure context, where crypto.subtle exists.
  await page.goto(`${web.url}/www/index.html`);
  const verdicts = await page.evaluate(async ({ groupKey, message, signature }) => {
    const bytes = (hex) => Uint8Array.from(hex.match(/../g).map((h) => parseInt(h, 16)));
    const flip = (b, i) => {
      const c = b.slice();
      c[i] ^= 1;
      return c;
    };
    const verify = async (k, m, s) => {
      try {
        const key = await crypto.subtle.importKey("raw", k, { name: "Ed25519" }, false, ["verify"]);
        return await crypto.subtle.verify({ name: "Ed25519" }, key, s, m);
      } catch {
        return false;
      }
    };
    const [k, m, s] = [bytes(groupKey), bytes(message), bytes(signature)];
    return {
      genuine: await verify(k, m, s),
      message: await verify(k, flip(m, m.length - 1), s),
      key: await verify(flip(k, 0), m, s),
      signature: await verify(k, m, flip(s, 40)),
    };
  }, vector);
  const expected = { genuine: true, message: false, key: false, signature: false };
  for (const [what, want] of Object.entries(expected)) {
    if (verdicts[what] !== want) {
      throw new Error(`WebCrypto Ed25519 on the ${what}: ${verdicts[what]}, expected ${want}`);
    }
  }
  console.log(`frost-webcrypto: the committee's signature verifies in Chromium (WebCrypto Ed25519); tampered message, key and signature fail`);
} finally {
  await browser.close();
  web.close();
}
