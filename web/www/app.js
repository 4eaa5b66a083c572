// The page's glue: load the wasm module, start this tab's mesh node, show its id.
// The node is `window.quorate.node` (a WebNode): tests and the console drive it from there.
import init, { WebIdentity, WebNode } from "../pkg/quorate_web.js";
import { selectedPair } from "./stats.js";

const $ = (id) => document.getElementById(id);

async function main() {
  await init();
  // The node secret comes from the browser's CSPRNG; the Rust core never calls a clock or
  // an RNG of its own.
  const secret = crypto.getRandomValues(new Uint8Array(32));
  const identity = WebIdentity.fromSecret(secret);
  const node = WebNode.create(secret);
  if (node.nodeId() !== identity.nodeId()) throw new Error("identity mismatch");
  window.quorate = { node, selectedPair };
  $("node-id").textContent = node.nodeId();
  document.body.dataset.ready = "true";
}

main().catch((e) => {
  $("status").textContent = `failed to start: ${e}`;
  $("status").className = "err";
});
