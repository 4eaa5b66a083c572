// The Actor panel: create an actor, log in anywhere with handle + passphrase, unlock the
// one this tab keeps, post, and see the latest posts. The node does the work (WebNode's
// createActor / loginActor / unlockActor / post / actorInfo / latestPosts); this file only
// shows what happens (the last result is `window.quorate.actorResult`, for tests).
// Argon2id (64 MiB) runs synchronously in the node, so every costly call first says what
// it is doing and lets the page paint.
const $ = (id) => document.getElementById(id);

/** Resolves after the browser has painted (a frame, then a task). */
const painted = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));

const short = (hex) => `${hex.slice(0, 16)}…`;
const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;

function say(text, kind = "") {
  const msg = $("actor-msg");
  msg.textContent = text;
  msg.className = kind;
  msg.dataset.kind = kind || "info";
}

/** What an error says, without the "Error: " prefix. */
const reason = (e) => String(e?.message ?? e).replace(/^Error: /, "");

function renderPosts(node) {
  const posts = node.latestPosts(10);
  const list = $("actor-posts");
  list.replaceChildren(...(posts.length ? posts.map((p) => {
    const li = document.createElement("li");
    li.textContent = p.text;
    li.title = `entry ${p.seq}, ${new Date(p.timestamp).toLocaleString()}`;
    return li;
  }) : [Object.assign(document.createElement("li"), { className: "muted", textContent: "no posts yet" })]));
}

/** Shows the actor (or its absence); called after every change and on a timer. */
export function renderActor(node) {
  const info = node.actorInfo();
  const login = JSON.parse(node.info()).login;
  $("actor-new").hidden = info !== null || login !== null;
  $("actor-unlock").hidden = !(info && info.locked);
  $("actor-main").hidden = !(info && !info.locked);
  const status = $("actor-status");
  if (login) {
    status.textContent = login.keys
      ? `keys recovered; fetching the feed: ${login.have} of ${login.total || "?"} entries`
      : "looking for the key backup on the mesh…";
  } else if (!info) {
    status.textContent = "no actor in this tab";
  } else if (info.locked) {
    status.textContent = `actor ${short(info.actor)} is locked`;
    $("unlock-id").textContent = info.actor;
  } else {
    status.textContent = `actor ${short(info.actor)}${info.handle ? ` (handle ${info.handle})` : ""}`;
  }
  status.dataset.state = login ? "login" : !info ? "none" : info.locked ? "locked" : "unlocked";
  if (info && !info.locked) {
    $("actor-id").textContent = info.actor;
    $("actor-name").textContent = info.name ? ` — ${info.name}` : "";
    const entries = String(info.entries);
    if ($("actor-entries").textContent !== entries || $("actor-head").textContent !== info.head) {
      $("actor-entries").textContent = entries;
      $("actor-head").textContent = info.head;
      renderPosts(node);
    }
  }
}

/** Runs `work` with the buttons disabled and errors shown. */
async function busy(node, work) {
  const buttons = document.querySelectorAll("#actor button");
  buttons.forEach((b) => (b.disabled = true));
  try {
    await work();
  } catch (e) {
    say(reason(e), "err");
  } finally {
    buttons.forEach((b) => (b.disabled = false));
    renderActor(node);
  }
}

export function wireActor(node) {
  $("create-btn").addEventListener("click", () => busy(node, async () => {
    const handle = $("create-handle").value.trim();
    say(handle
      ? "deriving keys (Argon2id, 64 MiB, twice: the backup locator and the keystore)…"
      : "deriving the keystore key (Argon2id, 64 MiB)…", "muted");
    await painted();
    const info = await node.createActor(handle || undefined, $("create-pass").value, $("create-name").value);
    window.quorate.actorResult = info;
    $("create-pass").value = "";
    say(`created actor ${short(info.actor)}${handle ? `; its key backup is on the mesh under handle ${info.handle}` : ""}`
      + ` (Argon2id: ${info.locatorMs ? `${secs(info.locatorMs)} + ` : ""}${secs(info.keystoreMs)})`);
  }));
  $("login-btn").addEventListener("click", () => busy(node, async () => {
    say("deriving key… (Argon2id, 64 MiB)", "muted");
    await painted();
    const login = node.loginActor($("login-handle").value, $("login-pass").value);
    say("looking for the key backup on the mesh…", "muted");
    renderActor(node);
    const info = await login;
    window.quorate.actorResult = info;
    $("login-pass").value = "";
    say(`logged in as ${short(info.actor)}: ${info.entries} entries verified in ${secs(info.ms)}`
      + ` (key derivation ${secs(info.deriveMs)}, keystore saved in ${secs(info.sealMs)})`);
  }));
  $("unlock-btn").addEventListener("click", () => busy(node, async () => {
    say("deriving key… (Argon2id, 64 MiB)", "muted");
    await painted();
    const info = node.unlockActor($("unlock-pass").value);
    window.quorate.actorResult = info;
    $("unlock-pass").value = "";
    say(`unlocked ${short(info.actor)} in ${secs(info.unlockMs)}`);
  }));
  $("forget-btn").addEventListener("click", () => busy(node, async () => {
    if (!confirm("Forget this actor here? Without its passphrase and a backup or recovery, it is gone.")) return;
    node.forgetActor();
    await node.flush();
    say("forgotten");
  }));
  const post = () => busy(node, async () => {
    const text = $("post-text").value;
    if (!text.trim()) return;
    node.post(text);
    $("post-text").value = "";
    say("posted");
  });
  $("post-btn").addEventListener("click", post);
  $("post-text").addEventListener("keydown", (e) => e.key === "Enter" && post());
  const info = node.actorInfo();
  if (info?.locked) say("this tab keeps an actor: unlock it with its passphrase", "muted");
  renderActor(node);
}
