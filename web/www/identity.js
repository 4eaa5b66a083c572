// This browser's node identities: 32-byte secrets kept in localStorage, so a reloaded or
// reopened tab is the same node (and finds its blocks: the database is named after the
// node id). Two tabs open at once must not be the same node, so a tab holds a Web Lock on
// the identity it uses; another tab takes the next free one or makes a new one. A
// reloaded tab asks for its previous identity first (remembered in sessionStorage), and
// waits a little for the old page to let go of it.
const KEYS = "quorate.keys";
const MINE = "quorate.key";
const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const unhex = (text) => new Uint8Array(text.match(/../g).map((h) => parseInt(h, 16)));
const isSecret = (k) => typeof k === "string" && /^[0-9a-f]{64}$/.test(k);

/** Holds lock `name` for the page's life; true if it got it (within `waitMs`). */
function hold(name, waitMs) {
  if (!navigator.locks) return Promise.resolve(true);
  return new Promise((resolve) => {
    const ctl = new AbortController();
    const options = waitMs > 0 ? { signal: ctl.signal } : { ifAvailable: true };
    if (waitMs > 0) setTimeout(() => ctl.abort(), waitMs);
    navigator.locks
      .request(name, options, (lock) => {
        resolve(lock !== null);
        return lock ? new Promise(() => {}) : undefined;
      })
      .catch(() => resolve(false));
  });
}

const lockName = (key) => `quorate-node-key-${key.slice(0, 16)}`;

/** The secret this tab runs with (`fresh`: a new identity, saved for later tabs). */
export async function claimIdentity({ fresh = false } = {}) {
  let keys = [];
  try {
    keys = JSON.parse(localStorage.getItem(KEYS) ?? "[]");
    if (!Array.isArray(keys)) keys = [];
  } catch {
    keys = [];
  }
  keys = keys.filter(isSecret);
  const previous = sessionStorage.getItem(MINE);
  let chosen = null;
  if (!fresh) {
    if (isSecret(previous) && keys.includes(previous) && (await hold(lockName(previous), 3000))) {
      chosen = previous;
    }
    for (const key of keys) {
      if (chosen) break;
      if (key !== previous && (await hold(lockName(key), 0))) chosen = key;
    }
  }
  if (!chosen) {
    chosen = hex(crypto.getRandomValues(new Uint8Array(32)));
    await hold(lockName(chosen), 0);
    keys.push(chosen);
    localStorage.setItem(KEYS, JSON.stringify(keys));
  }
  sessionStorage.setItem(MINE, chosen);
  return unhex(chosen);
}
