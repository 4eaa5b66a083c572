// The mesh picture: this tab in the centre, its peers around it, drawn into the inline
// SVG #mesh twice a second from `node.peers()` and each peer connection's getStats().
//
// - A peer is a native node (the node that served this page, per /config.json), a tab
//   (it announced an actor's feed: its name shows once the profile arrived), or a node
//   of unknown kind.
// - The link to a peer is coloured by its RTCPeerConnection state, thicker the more
//   bytes flow, and animated (dashes running in the direction of the traffic) while
//   they do; its label says the round-trip time.
// - Links between two peers (from the peer lists they sent when they came up) are thin
//   dashed lines.
// - A new peer is ringed for a few seconds; a peer gone stays for a few seconds as a red
//   faded node, and #mesh-msg says so.
//
// For tests: `g.peer[data-node][data-kind][data-state=up|gone]`, `line.link[data-node]`
// (`data-state`: the connection state; `data-flow`: in, out or idle),
// `line.peer-link`, and `svg#mesh[data-peers]` (peers up).
const NS = "http://www.w3.org/2000/svg";
const W = 560;
const H = 330;
const CX = W / 2;
const CY = 160;
/** The ellipse peers sit on. */
const RX = 190;
const RY = 100;
/** How long a gone peer stays drawn, and a new one ringed (ms). */
const GONE_MS = 8000;
const NEW_MS = 3000;

const $ = (id) => document.getElementById(id);
const short = (hex) => `${hex.slice(0, 8)}…`;

function svg(tag, attrs = {}, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

function say(text, kind) {
  const msg = $("mesh-msg");
  msg.textContent = text;
  msg.className = kind === "err" ? "err" : kind === "muted" ? "muted" : "";
  msg.dataset.kind = kind;
}

/** Sums a peer connection's data-channel bytes; finds its round-trip time and state. */
async function sample(pc) {
  if (!pc) return null;
  let sent = 0;
  let received = 0;
  let rtt = null;
  const report = await pc.getStats();
  for (const s of report.values()) {
    if (s.type === "data-channel") {
      sent += s.bytesSent ?? 0;
      received += s.bytesReceived ?? 0;
    } else if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded"
      && typeof s.currentRoundTripTime === "number") {
      rtt = s.currentRoundTripTime;
    }
  }
  return { sent, received, rtt, state: pc.connectionState };
}

/** The picture's state between frames. */
const seen = new Map(); // node → { first, last, gone, kind, label, angle, stats, rate }
let busy = false;

function kindOf(peer, config) {
  if (config.node && peer.node === config.node) return "native";
  if (peer.actor) return "tab";
  return "node";
}

function labelOf(peer, kind) {
  // A native node may hold (and announce) actors' feeds as a cache: it is not their tab.
  if (kind === "native") return `node ${short(peer.node)}`;
  return peer.name ?? short(peer.node);
}

const KIND_TEXT = { native: "native node", tab: "tab", node: "node" };
const STATE_COLOUR = {
  connected: "#1a7f37",
  connecting: "#bf8700",
  new: "#bf8700",
  disconnected: "#cf222e",
  failed: "#cf222e",
  closed: "#cf222e",
};

/** Places the nodes on a circle, in a stable order (by id). */
function layout(ids) {
  const sorted = [...ids].sort();
  const out = new Map();
  sorted.forEach((id, i) => {
    const a = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(sorted.length, 1);
    out.set(id, { x: CX + RX * Math.cos(a), y: CY + RY * Math.sin(a) });
  });
  return out;
}

function nodeShape(kind, x, y, state) {
  const fill = state === "gone" ? "#fde2e1" : kind === "native" ? "#dbe9ff" : kind === "tab" ? "#e6f4ea" : "#eee";
  const stroke = state === "gone" ? "#cf222e" : kind === "native" ? "#0550ae" : kind === "tab" ? "#1a7f37" : "#666";
  if (kind === "native") {
    // A hexagon: a server.
    const pts = Array.from({ length: 6 }, (_, i) => {
      const a = Math.PI / 6 + (i * Math.PI) / 3;
      return `${(x + 20 * Math.cos(a)).toFixed(1)},${(y + 20 * Math.sin(a)).toFixed(1)}`;
    }).join(" ");
    return svg("polygon", { points: pts, fill, stroke, "stroke-width": 2 });
  }
  if (kind === "tab") {
    // A rounded rectangle: a browser tab.
    return svg("rect", { x: x - 22, y: y - 15, width: 44, height: 30, rx: 6, fill, stroke, "stroke-width": 2 });
  }
  return svg("circle", { cx: x, cy: y, r: 18, fill, stroke, "stroke-width": 2 });
}

function draw(node, me, peers, now) {
  const root = $("mesh");
  const ids = [...seen.keys()];
  const pos = layout(ids);
  const links = svg("g", { class: "links" });
  const nodes = svg("g", { class: "nodes" });
  // Links between peers (as they reported them).
  const up = new Set(peers.map((p) => p.node));
  const drawnPairs = new Set();
  for (const p of peers) {
    for (const other of p.knows ?? []) {
      if (!up.has(other)) continue;
      const pair = [p.node, other].sort().join(":");
      if (drawnPairs.has(pair)) continue;
      drawnPairs.add(pair);
      const a = pos.get(p.node);
      const b = pos.get(other);
      if (!a || !b) continue;
      links.append(svg("line", {
        class: "peer-link", x1: a.x, y1: a.y, x2: b.x, y2: b.y,
        stroke: "#999", "stroke-width": 1, "stroke-dasharray": "3 4",
      }));
    }
  }
  for (const [id, s] of seen) {
    const p = pos.get(id);
    const gone = s.gone !== null;
    const state = gone ? "gone" : s.stats?.state ?? "connecting";
    const rate = s.rate ?? 0; // bytes per second, both ways
    const width = gone ? 1.5 : Math.min(2 + Math.log2(1 + rate / 256), 9);
    const flow = gone || rate < 1 ? "idle" : s.out >= s.in ? "out" : "in";
    const line = svg("line", {
      class: `link${flow === "idle" ? "" : ` flow-${flow}`}`, x1: CX, y1: CY, x2: p.x, y2: p.y,
      stroke: gone ? "#cf222e" : STATE_COLOUR[state] ?? "#666", "stroke-width": width.toFixed(1),
      "stroke-opacity": gone ? 0.5 : 0.9,
      // The same phase in every frame, so the dashes run on smoothly across redraws.
      style: `animation-delay: -${(now % 800) / 1000}s`,
    });
    line.dataset.node = id;
    line.dataset.state = state;
    line.dataset.flow = flow;
    links.append(line);
    if (!gone && s.stats?.rtt != null) {
      // Beside the link's middle, off the line.
      const len = Math.hypot(p.x - CX, p.y - CY) || 1;
      const nx = -(p.y - CY) / len;
      const ny = (p.x - CX) / len;
      const side = ny > 0 ? -1 : 1;
      const x = (CX + p.x) / 2 + side * nx * 14;
      const y = (CY + p.y) / 2 + side * ny * 14 + 3;
      const across = side * nx;
      const anchor = Math.abs(across) > 0.5 ? (across > 0 ? "start" : "end") : "middle";
      links.append(svg("text", { x, y, class: "rtt", style: `text-anchor: ${anchor}` }, `${(s.stats.rtt * 1000).toFixed(1)} ms`));
    }
    const g = svg("g", { class: "peer", opacity: gone ? 0.55 : 1 });
    g.dataset.node = id;
    g.dataset.kind = s.kind;
    g.dataset.state = gone ? "gone" : "up";
    if (!gone && now - s.first < NEW_MS) {
      g.append(svg("circle", { cx: p.x, cy: p.y, r: 28, class: "ring", style: `animation-delay: -${(now % 1000) / 1000}s` }));
    }
    g.append(nodeShape(s.kind, p.x, p.y, gone ? "gone" : "up"));
    const below = p.y >= CY - 1 ? 32 : -36;
    g.append(svg("text", { x: p.x, y: p.y + below, class: "label" }, s.label));
    g.append(svg("text", { x: p.x, y: p.y + below + 13, class: "sub" },
      gone ? "gone" : `${KIND_TEXT[s.kind]}${s.rate ? ` · ${fmtRate(s.rate)}` : ""}`));
    const title = svg("title", {}, `${KIND_TEXT[s.kind]} ${id}${s.actor ? `\nactor ${s.actor}` : ""}`);
    g.append(title);
    nodes.append(g);
  }
  // This tab.
  const self = svg("g", { class: "self" });
  self.append(svg("circle", { cx: CX, cy: CY, r: 26, fill: "#fff8c5", stroke: "#9a6700", "stroke-width": 2.5 }));
  self.append(svg("text", { x: CX, y: CY + 4, class: "label" }, "you"));
  self.append(svg("text", { x: CX, y: CY + 42, class: "sub" }, me));
  nodes.append(self);
  const legend = svg("text", { x: 8, y: H - 6, class: "legend" },
    "▭ tab  ⬡ native node  ○ other node · link colour: connection state · thickness and motion: traffic");
  root.replaceChildren(links, nodes, legend);
  root.dataset.peers = String(peers.length);
  root.dataset.gone = String([...seen.values()].filter((s) => s.gone !== null).length);
}

function fmtRate(bps) {
  if (bps >= 1024 * 1024) return `${(bps / 1024 / 1024).toFixed(1)} MB/s`;
  if (bps >= 1024) return `${(bps / 1024).toFixed(1)} kB/s`;
  return `${Math.round(bps)} B/s`;
}

async function tick(node, config) {
  if (busy) return;
  busy = true;
  try {
    const now = Date.now();
    const peers = JSON.parse(node.peers() || "[]");
    const up = new Set(peers.map((p) => p.node));
    for (const p of peers) {
      const kind = kindOf(p, config);
      const s = seen.get(p.node) ?? { first: now, gone: null, stats: null, rate: 0, in: 0, out: 0 };
      if (s.gone !== null) {
        s.gone = null;
        s.first = now;
      }
      s.kind = kind;
      s.actor = p.actor;
      s.label = labelOf(p, kind);
      seen.set(p.node, s);
    }
    const gone = [];
    for (const [id, s] of seen) {
      if (up.has(id)) continue;
      if (s.gone === null) {
        s.gone = now;
        gone.push(s.kind === "native" ? `the native node ${short(id)}`
          : s.label !== short(id) ? `${s.label}'s tab (peer ${short(id)})` : `peer ${short(id)}`);
      } else if (now - s.gone > GONE_MS) {
        seen.delete(id);
      }
    }
    if (gone.length) {
      const left = peers.length === 1 ? "1 peer left" : `${peers.length} peers left`;
      say(`${gone.join(" and ")} went away; ${left}`, "err");
    }
    await Promise.all(peers.map(async (p) => {
      const s = seen.get(p.node);
      let pc = null;
      try {
        pc = node.peerConnection(p.node) ?? null;
      } catch {
        pc = null;
      }
      const stats = await sample(pc).catch(() => null);
      if (!stats || !s) return;
      if (s.stats && s.at) {
        const dt = Math.max((now - s.at) / 1000, 0.1);
        s.out = Math.max(stats.sent - s.stats.sent, 0) / dt;
        s.in = Math.max(stats.received - s.stats.received, 0) / dt;
        s.rate = s.out + s.in;
      }
      s.stats = stats;
      s.at = now;
    }));
    const info = node.actorInfo();
    const me = info?.name ?? (info ? short(info.actor) : short(node.nodeId()));
    draw(node, me, peers, now);
  } finally {
    busy = false;
  }
}

/** Starts drawing the picture (every 500 ms). */
export function wireMesh(node, config) {
  const run = () => tick(node, config).catch((e) => say(`the mesh picture failed: ${e?.message ?? e}`, "err"));
  run();
  setInterval(run, 500);
}
