// The page's glue: load the wasm module, open this tab's mesh node (blocks in IndexedDB),
// join the rendezvous server if one is configured, and run the small UI.
// The node is `window.quorate.node` (a WebNode): tests and the console drive it from there.
//
// Query parameters: rendezvous=ws://HOST:PORT (else /config.json's "rendezvous", if the
// page is served by `quorate node --serve-web`), room=NAME (default "quorate"), fresh=1
// (a new identity instead of this browser's saved one), db=NAME (IndexedDB database),
// memory=1 (blocks in memory only, lost with the tab).
import init, { WebNode } from "../pkg/quorate_web.js";
import { claimIdentity } from "./identity.js";
import { selectedPair } from "./stats.js";
import { renderActor, wireActor } from "./actor.js";
import { renderGroups, wireDemoJoin, wireGroups } from "./group.js";
import { wireMesh } from "./mesh.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);

/** Where to meet peers: the query, else /config.json (`{"rendezvous": url|null, "node": hex}`). */
async function loadConfig() {
  const config = { rendezvous: params.get("rendezvous"), room: params.get("room") ?? "quorate", node: null };
  if (config.rendezvous === null) {
    try {
      const res = await fetch("/config.json", { cache: "no-store" });
      if (res.ok) {
        const served = await res.json();
        if (typeof served.rendezvous === "string") config.rendezvous = served.rendezvous;
        if (typeof served.room === "string") config.room = served.room;
        if (typeof served.node === "string") config.node = served.node;
        if (typeof served.demo === "string") config.demo = served.demo;
      }
    } catch {
      // Not served by a node: no rendezvous unless the query names one.
    }
  }
  return config;
}

function showInfo(node, config) {
  const info = JSON.parse(node.info());
  const r = info.rendezvous;
  $("rdv").textContent = r.state === "off" ? "off"
    : `${r.state} (${r.url}, room ${r.room}, ${r.members} other members)${r.error ? ` — last error: ${r.error}` : ""}`;
  $("rdv").dataset.state = r.state;
  $("store").textContent = `${info.blocks} blocks${info.persistent ? ", IndexedDB" : ", memory only"}`
    + (info.pendingWrites ? `, ${info.pendingWrites} writes pending` : "")
    + (info.flushError ? ` — flush failed: ${info.flushError}` : "");
  const peers = JSON.parse(node.peers());
  $("peer-count").textContent = String(peers.length);
  const list = $("peers");
  const ids = peers.map((p) => `${p.node}:${p.name}`).join(",");
  if (list.dataset.ids !== ids) {
    list.dataset.ids = ids;
    list.replaceChildren(...(peers.length ? peers.map((p) => {
      const li = document.createElement("li");
      const code = document.createElement("code");
      code.textContent = p.node;
      li.append(code, p.node === config.node ? " (the node serving this page)" : p.name ? ` (${p.name}'s tab)` : "");
      return li;
    }) : [Object.assign(document.createElement("li"), { className: "muted", textContent: "none yet" })]));
  }
}

function wireUi(node) {
  $("put-btn").addEventListener("click", () => {
    try {
      $("put-cid").textContent = node.putText($("put-text").value);
      $("put-cid").className = "";
    } catch (e) {
      $("put-cid").textContent = String(e);
      $("put-cid").className = "err";
    }
  });
  $("get-btn").addEventListener("click", async () => {
    const out = $("get-out");
    out.textContent = "fetching…";
    out.className = "muted";
    try {
      const bytes = await Promise.race([
        node.get($("get-cid").value.trim()),
        new Promise((_, reject) => setTimeout(() => reject(new Error("no peer delivered it in 20 s")), 20000)),
      ]);
      let text;
      try {
        text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
      } catch {
        text = `${bytes.length} bytes: ${Array.from(bytes.slice(0, 64), (b) => b.toString(16).padStart(2, "0")).join("")}…`;
      }
      out.textContent = text;
      out.className = "";
    } catch (e) {
      out.textContent = String(e);
      out.className = "err";
    }
  });
}

async function main() {
  await init();
  const config = await loadConfig();
  const secret = await claimIdentity({ fresh: params.get("fresh") === "1" });
  const node = params.get("memory") === "1"
    ? WebNode.create(secret)
    : await WebNode.open(secret, params.get("db") ?? undefined);
  window.quorate = { node, selectedPair, config };
  $("node-id").textContent = node.nodeId();
  if (config.rendezvous) {
    try {
      node.joinRendezvous(config.rendezvous, config.room);
    } catch (e) {
      $("status").textContent = `rendezvous: ${e.message ?? e}`;
      $("status").className = "err";
    }
  } else if (config.node) {
    $("status").textContent = `served by node ${config.node}, but no rendezvous server is configured`;
  }
  wireUi(node);
  wireActor(node);
  wireGroups(node);
  wireDemoJoin(node, config);
  wireMesh(node, config);
  showInfo(node, config);
  setInterval(() => {
    showInfo(node, config);
    renderActor(node);
    renderGroups(node);
  }, 250);
  // Blocks are written behind; a tab going away writes what it can.
  addEventListener("pagehide", () => node.flush().catch(() => {}));
  document.body.dataset.ready = "true";
}

main().catch((e) => {
  $("status").textContent = `failed to start: ${e.message ?? e}`;
  $("status").className = "err";
});
