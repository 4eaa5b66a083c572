// The page's glue: load the wasm module, make this tab's identity, show it.
import init, { WebIdentity } from "../pkg/quorate_web.js";

const $ = (id) => document.getElementById(id);

async function main() {
  await init();
  // The node secret comes from the browser's CSPRNG; the Rust core never calls a clock or
  // an RNG of its own.
  const secret = crypto.getRandomValues(new Uint8Array(32));
  const identity = WebIdentity.fromSecret(secret);
  $("node-id").textContent = identity.nodeId();
  document.body.dataset.ready = "true";
}

main().catch((e) => {
  $("status").textContent = `failed to start: ${e}`;
  $("status").className = "err";
});
