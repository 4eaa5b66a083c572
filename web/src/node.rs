//! [`WebNode`]: the mesh machine in a tab, driven by the page's event loop.
//!
//! The node owns a `Driver<BrowserTransport, MemoryStore>`, the clock (`performance.now()`)
//! and its randomness (`crypto.getRandomValues`). The loop is the browser's: whenever the
//! transport reports something it queues one microtask that pumps the driver; after every
//! pump a single `setTimeout` is re-armed for the machine's next timer. JS calls (dial,
//! signals, put, get) pump too, so their effects go out at once.
//!
//! Signals are carried by the caller by default: [`WebNode::take_signals`] hands out
//! node-envelope payloads (`webrtc::envelope::NodeSignal`, as the rendezvous server
//! carries them) and [`WebNode::handle_signal`] takes them. Peers learned from a mesh
//! peer list are dialed with signals relayed through the mesh, like native nodes do; and
//! `dialManual`/`acceptBlob`/`takeBlob` speak the native node's copy-paste blobs.
//!
//! With `joinRendezvous(url, room)` the node also speaks the rendezvous server's
//! WebSocket protocol (`rendezvous`): it dials the members it finds when it joins
//! (members wait for joiners, as native nodes do), and routes each signal as the native
//! node does: copy-paste if connected by hand, else the server if the peer is in the
//! room, else the page if it carries that peer's signals, else the mesh. If the server
//! goes away the mesh carries signals and the client retries with backoff (1 s doubling
//! to 30 s).
//!
//! # Persistence
//! `WebNode.open(secret, dbName)` keeps blocks in an [`IdbStore`](crate::idb::IdbStore)
//! (database `quorate-node-<id>` unless named): blocks stored by a step (fetched, or put
//! by the page) are written behind in one transaction once the step ends, one batch at a
//! time; `flush()` resolves when everything stored is durable. `WebNode.create` keeps
//! blocks in memory only. The secret is the page's to keep (see `web/www/app.js`).
//!
//! # Actors
//! A tab can hold one actor (a person, with keys and a signed feed; `quorate-actor-core`):
//! `createActor` makes one (and, with a handle, a key backup peers keep for
//! "log in anywhere"), `loginActor` brings one back from peers with only handle and
//! passphrase (`sync::Login` driven in this loop), `post`/`postMany` append to its feed,
//! `unlockActor` opens it again after a reload. Its blocks are pinned in the store, its
//! feed head (`feed/<actor>`) and backup head (`backup/<locator>`) announced on the mesh
//! for as long as the tab is open, and its record — the keystore sealed under the
//! passphrase (Argon2id, 64 MiB) and the heads — kept in a second IndexedDB database,
//! `<dbName>-actor`, written once the blocks it names are durable. A reloaded tab
//! announces the stored heads at once and serves the blocks while still locked.
//!
//! # Groups
//! The tab runs group-core's `GroupHost`, as the native node does: `createGroup`,
//! `inviteToGroup`, `groupInvitations`, `acceptInvitation`, `sendToGroup`,
//! `groupMessages`, `removeFromGroup`, `leaveGroup`, `groups`. It follows every group it
//! hears of — as a member for the unlocked actor (decrypts, pins, admits joins if an
//! admin), as a blind cache of ciphertext for the others — and keeps the group heads it
//! announced in the actor record, so a reload follows the same groups again.
//!
//! # Governance
//! `propose`, `vote`, `proposals`, `groupKey`, and the committee: `setCommittee` (this
//! tab's single key) or `callCommittee` (a FROST DKG among the members, shares in the
//! tabs' memory); `governanceLog` tells what the governance host reported.
//!
//! # The page's picture
//! `peers()` also says, per peer, the actor it holds (from the feed head it announced),
//! that actor's display name, and the nodes the peer reported being connected to;
//! `names()` lists the display names the tab learnt (profiles of group members and
//! peers' actors, fetched like an invitee's).

mod actor;
mod rendezvous;
mod state;
mod store;

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use js_sys::{Array, Function, Promise, Uint8Array};
use quorate_mesh_blockstore::{MemoryStore, StoreConfig};
use quorate_mesh_proto::mesh::{NodeId, NodeKey};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsError, JsValue};

use crate::browser;
use crate::idb::{IdbStore, KvStore};
use state::State;
use store::NodeStore;

/// Schedules pumps: at most one microtask queued, and one timer for the machine.
#[derive(Debug, Default)]
struct Sched {
    queued: Cell<bool>,
    timer: Cell<Option<i32>>,
    pump: RefCell<Option<Function>>,
}

impl Sched {
    fn wake(&self) {
        if self.queued.replace(true) {
            return;
        }
        if let Ok(pump) = self.pump.try_borrow()
            && let Some(pump) = pump.as_ref()
        {
            browser::queue_microtask(pump);
        }
    }

    fn arm(&self, delay_ms: Option<i32>) {
        if let Some(old) = self.timer.take() {
            browser::clear_timeout(old);
        }
        if let (Some(ms), Ok(pump)) = (delay_ms, self.pump.try_borrow())
            && let Some(pump) = pump.as_ref()
        {
            self.timer.set(browser::set_timeout(pump, ms));
        }
    }
}

/// A mesh node in this tab. See the [module docs](self).
#[wasm_bindgen]
#[derive(Debug)]
pub struct WebNode {
    state: Rc<RefCell<State>>,
    sched: Rc<Sched>,
    _pump: Closure<dyn FnMut()>,
}

fn busy() -> JsError {
    JsError::new("the node is busy (re-entrant call)")
}

fn parse_node(hex: &str) -> Result<NodeId, JsError> {
    hex.parse::<NodeId>()
        .map_err(|e| JsError::new(&format!("bad node id {hex:?}: {e}")))
}

#[wasm_bindgen]
impl WebNode {
    /// A node keeping its blocks in memory only, from a 32-byte secret, or a fresh
    /// random identity without one.
    ///
    /// # Errors
    /// A secret of another length, or no `crypto.getRandomValues`.
    pub fn create(secret: Option<Vec<u8>>) -> Result<WebNode, JsError> {
        let key = key_from(secret)?;
        WebNode::build(
            key,
            NodeStore::Memory(MemoryStore::new(StoreConfig::default())),
            None,
        )
    }

    /// A node keeping its blocks in IndexedDB (a promise): database `dbName`, or
    /// `quorate-node-<node id>` without one. The blocks stored there before are loaded
    /// (and re-hashed) first; corrupt records are dropped.
    ///
    /// # Errors
    /// A secret of another length, no `crypto.getRandomValues`, or a database that cannot
    /// be opened (no IndexedDB, blocked, quota).
    pub async fn open(
        secret: Option<Vec<u8>>,
        db_name: Option<String>,
    ) -> Result<WebNode, JsError> {
        let key = key_from(secret)?;
        let name = db_name.unwrap_or_else(|| format!("quorate-node-{}", key.id()));
        let store = IdbStore::open(&name, StoreConfig::default())
            .await
            .map_err(|e| JsError::new(&e.to_string()))?;
        let kv = KvStore::open(&format!("{name}-actor"))
            .await
            .map_err(|e| JsError::new(&e.to_string()))?;
        WebNode::build(key, NodeStore::Idb(Box::new(store)), Some(kv))
    }

    /// Node state for the page, as JSON: `{node, peers, rendezvous: {state, url, room,
    /// members, joins, error}, blocks, pendingWrites, flushing, committedWrites,
    /// flushError, persistent, firstPeerMs, actor, actorLocked, actorSaveError, login}`
    /// (`firstPeerMs`: `performance.now()` when the first peer came up; `actor`: the
    /// actor id held, or null; `login`: `{keys, have, total}` while a login runs).
    #[must_use]
    pub fn info(&self) -> String {
        self.state
            .try_borrow()
            .map(|s| s.info_json())
            .unwrap_or_default()
    }

    /// Joins `room` on the rendezvous server at `url` (`ws://host:port`), and stays
    /// joined: reconnects with backoff whenever the server goes away.
    ///
    /// # Errors
    /// A bad room name or a URL the browser refuses.
    #[wasm_bindgen(js_name = joinRendezvous)]
    pub fn join_rendezvous(&self, url: &str, room: &str) -> Result<(), JsError> {
        self.with(|s| s.join_rendezvous(url, room))?
    }

    /// Leaves the rendezvous server (no reconnection).
    #[wasm_bindgen(js_name = leaveRendezvous)]
    pub fn leave_rendezvous(&self) -> Result<(), JsError> {
        self.with(State::leave_rendezvous)
    }

    /// A promise resolved once every stored block is durable in IndexedDB (at once for a
    /// memory node); rejected with the reason if a flush fails.
    pub fn flush(&self) -> Result<Promise, JsError> {
        self.with(State::flush)?
    }

    /// This node's id, as hex.
    #[wasm_bindgen(js_name = nodeId)]
    #[must_use]
    pub fn node_id(&self) -> String {
        self.state
            .try_borrow()
            .map(|s| s.id().to_string())
            .unwrap_or_default()
    }

    /// Connected peers, as JSON: `[{"node": hex, "conn": n, "score": n, "actor": hex |
    /// null, "name": string | null, "knows": [hex]}]` — `actor`: the actor whose feed head
    /// the peer announced (a tab holding it; `null` for a node holding none, or several);
    /// `name`: that actor's display name, once its profile arrived; `knows`: the nodes the
    /// peer said it was connected to when it came up (a snapshot, for pictures).
    #[must_use]
    pub fn peers(&self) -> String {
        self.state
            .try_borrow()
            .map(|s| s.peers_json())
            .unwrap_or_default()
    }

    /// Recent transport failures, as JSON strings, oldest first.
    #[must_use]
    pub fn errors(&self) -> String {
        self.state
            .try_borrow()
            .map(|s| s.errors_json())
            .unwrap_or_default()
    }

    /// Dials a node; its signals come out of `takeSignals`.
    ///
    /// # Errors
    /// A bad id, or a dial that cannot start (ourselves).
    pub fn dial(&self, node: &str) -> Result<(), JsError> {
        let node = parse_node(node)?;
        self.with(|s| s.dial(node, false))?
    }

    /// Dials a node whose signals are carried as copy-paste blobs (`takeBlob`).
    ///
    /// # Errors
    /// As `dial`.
    #[wasm_bindgen(js_name = dialManual)]
    pub fn dial_manual(&self, node: &str) -> Result<(), JsError> {
        let node = parse_node(node)?;
        self.with(|s| s.dial(node, true))?
    }

    /// Signals waiting for the caller to carry: an array of `{to, payload}` (hex node
    /// id, base64 node-envelope payload).
    #[wasm_bindgen(js_name = takeSignals)]
    pub fn take_signals(&self) -> Result<Array, JsError> {
        self.with(State::take_signals)
    }

    /// Calls `callback()` (in a microtask) whenever new signals wait in `takeSignals`.
    #[wasm_bindgen(js_name = onSignals)]
    pub fn on_signals(&self, callback: Function) -> Result<(), JsError> {
        self.with(|s| s.on_signals = Some(callback))
    }

    /// Takes a signal (base64 node-envelope payload) that node `from` sent us.
    ///
    /// # Errors
    /// A bad id, bad base64, or a payload the node refuses (bad signature…).
    #[wasm_bindgen(js_name = handleSignal)]
    pub fn handle_signal(&self, from: &str, payload: &str) -> Result<(), JsError> {
        let from = parse_node(from)?;
        self.with(|s| s.handle_js_signal(from, payload))?
    }

    /// Takes a copy-paste blob from a native node (`quorate signal offer`/`accept`);
    /// returns the sender's id.
    ///
    /// # Errors
    /// A malformed blob, one addressed to another node, or a refused signal.
    #[wasm_bindgen(js_name = acceptBlob)]
    pub fn accept_blob(&self, blob: &str) -> Result<String, JsError> {
        self.with(|s| s.accept_blob(blob))?
    }

    /// The copy-paste blob of the signals waiting for `node` (empty if none yet).
    ///
    /// # Errors
    /// A bad id.
    #[wasm_bindgen(js_name = takeBlob)]
    pub fn take_blob(&self, node: &str) -> Result<String, JsError> {
        let node = parse_node(node)?;
        self.with(|s| s.take_blob(node))
    }

    /// Stores `text` as a raw block (pinned); returns its CID.
    ///
    /// # Errors
    /// Too large a block, or a store failure.
    #[wasm_bindgen(js_name = putText)]
    pub fn put_text(&self, text: &str) -> Result<String, JsError> {
        self.with(|s| s.put(text.as_bytes().to_vec()))?
    }

    /// Stores bytes as a raw block (pinned); returns its CID.
    ///
    /// # Errors
    /// As `putText`.
    #[wasm_bindgen(js_name = putBytes)]
    pub fn put_bytes(&self, bytes: Vec<u8>) -> Result<String, JsError> {
        self.with(|s| s.put(bytes))?
    }

    /// The bytes of a block: from the store, or fetched from peers (the promise resolves
    /// when a peer delivers it; race it with a timer to give up).
    ///
    /// # Errors
    /// A bad CID or a refused want.
    pub fn get(&self, cid: &str) -> Result<Promise, JsError> {
        self.with(|s| s.get(cid))?
    }

    /// The `RTCPeerConnection` to `node` (for `getStats()`), or `undefined`.
    ///
    /// # Errors
    /// A bad id.
    #[wasm_bindgen(js_name = peerConnection)]
    pub fn peer_connection(&self, node: &str) -> Result<JsValue, JsError> {
        let node = parse_node(node)?;
        self.with(|s| {
            s.peer_connection(&node)
                .map_or(JsValue::UNDEFINED, JsValue::from)
        })
    }

    /// Pumps the node now (normally not needed: the node schedules itself).
    pub fn pump(&self) -> Result<(), JsError> {
        self.with(|_| ())
    }

    /// Creates this tab's actor (a promise, resolved once everything is durable): new
    /// keys, a profile with display name `name`, a first feed entry, and — if `handle` is
    /// given — a key backup that `loginActor(handle, passphrase)` finds from any device.
    /// The keystore is sealed under `passphrase` for `unlockActor`. Runs Argon2id (64 MiB)
    /// twice, synchronously (once without a handle): let the page paint before calling.
    /// Resolves to `actorInfo()` plus `locatorMs` and `keystoreMs` (Argon2id timings).
    ///
    /// # Errors
    /// An actor already held (or a login running), an empty passphrase, a bad handle.
    #[wasm_bindgen(js_name = createActor)]
    pub fn create_actor(
        &self,
        handle: Option<String>,
        passphrase: &str,
        name: Option<String>,
    ) -> Result<Promise, JsError> {
        let (info, flushed) = self.with(|s| -> Result<(JsValue, Promise), JsError> {
            let info = s.create_actor(handle.as_deref(), passphrase, name.as_deref())?;
            Ok((info, s.flush()?))
        })??;
        Ok(wasm_bindgen_futures::future_to_promise(async move {
            wasm_bindgen_futures::JsFuture::from(flushed).await?;
            Ok(info)
        }))
    }

    /// Logs in with only `handle` and `passphrase` (a promise): derives the backup locator
    /// (Argon2id, 64 MiB, synchronously: let the page paint first), finds the key backup
    /// on the mesh, opens it, fetches and verifies the whole feed, pins it, announces its
    /// heads and saves the keystore under the same passphrase. Resolves to `actorInfo()`
    /// plus `ms` (from the end of the derivation to the verified feed), `deriveMs` and
    /// `sealMs`; rejects after `timeoutMs` (default 30,000) without a backup, or without a
    /// new block once the keys are back.
    ///
    /// # Errors
    /// An actor already held, a login running, a bad handle or passphrase.
    #[wasm_bindgen(js_name = loginActor)]
    pub fn login_actor(
        &self,
        handle: &str,
        passphrase: &str,
        timeout_ms: Option<u32>,
    ) -> Result<Promise, JsError> {
        let timeout = timeout_ms.unwrap_or(state::DEFAULT_TIMEOUT_MS);
        self.with(|s| s.start_login(handle, passphrase, timeout))?
    }

    /// Opens the saved actor with its passphrase (Argon2id, synchronously) and reads its
    /// feed back from the store; returns `actorInfo()` plus `unlockMs`.
    ///
    /// # Errors
    /// No saved actor, a wrong passphrase, or a feed missing from the store.
    #[wasm_bindgen(js_name = unlockActor)]
    pub fn unlock_actor(&self, passphrase: &str) -> Result<JsValue, JsError> {
        self.with(|s| s.unlock_actor(passphrase))?
    }

    /// Appends a post (a `Text` block) to the actor's feed and announces the new head;
    /// returns `actorInfo()` plus `ms`.
    ///
    /// # Errors
    /// No unlocked actor, or a post over 64 KiB.
    pub fn post(&self, text: &str) -> Result<JsValue, JsError> {
        self.with(|s| s.post(&[text.to_owned()]))?
    }

    /// Appends `n` posts (`"<prefix> 1"` … `"<prefix> n"`, prefix `post` by default) and
    /// publishes one head for all of them; returns `actorInfo()` plus `ms`.
    ///
    /// # Errors
    /// As `post`; `n` must be 1 to 100,000.
    #[wasm_bindgen(js_name = postMany)]
    pub fn post_many(&self, n: u32, prefix: Option<String>) -> Result<JsValue, JsError> {
        let prefix = prefix.unwrap_or_else(|| "post".to_owned());
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        if n == 0 || n > actor::MAX_BATCH {
            return Err(JsError::new("n must be 1 to 100,000"));
        }
        let texts: Vec<String> = (1..=n).map(|i| format!("{prefix} {i}")).collect();
        self.with(|s| s.post(&texts))?
    }

    /// This tab's actor, or `null`: `{actor, name, handle, entries, head, backup, locked}`
    /// (`head`: CID of the feed head block; `backup`: the backup's head name).
    #[wasm_bindgen(js_name = actorInfo)]
    pub fn actor_info(&self) -> JsValue {
        self.state
            .try_borrow()
            .map_or(JsValue::NULL, |s| s.actor_info())
    }

    /// The newest `n` posts (at most 200) of the unlocked actor, newest first:
    /// `[{seq, timestamp, text}]` (empty while locked).
    ///
    /// # Errors
    /// A re-entrant call.
    #[wasm_bindgen(js_name = latestPosts)]
    pub fn latest_posts(&self, n: u32) -> Result<Array, JsError> {
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        self.with(|s| s.latest_posts(n))
    }

    /// Drops this tab's actor and its saved keystore (its blocks stay; its heads stay
    /// announced until the tab closes).
    ///
    /// # Errors
    /// A login running.
    #[wasm_bindgen(js_name = forgetActor)]
    pub fn forget_actor(&self) -> Result<(), JsError> {
        self.with(State::forget_actor)?
    }

    /// Creates a group with the unlocked actor as creator, admin and only member; returns
    /// its id (hex). Its blocks go out on the group topic at once.
    ///
    /// # Errors
    /// No unlocked actor, an empty or too long name.
    #[wasm_bindgen(js_name = createGroup)]
    pub fn create_group(&self, name: &str, rules: Option<Vec<String>>) -> Result<String, JsError> {
        let rules = rules.unwrap_or_default();
        self.with(|s| s.create_group(name, &rules))?
    }

    /// Makes this tab the committee of `group`: a fresh group key `PK_G`, recorded in a new
    /// epoch (the actor must be a full admin); the tab then attests every proposal that
    /// passes, while it is open (the key lives in memory only). Returns `PK_G` in hex.
    ///
    /// # Errors
    /// Not an admin, no unlocked actor, a group this tab does not follow.
    #[wasm_bindgen(js_name = setCommittee)]
    pub fn set_committee(&self, group: &str) -> Result<String, JsError> {
        self.with(|s| s.set_committee(group))?
    }

    /// Makes a FROST committee for `group`: calls a DKG among every member of the current
    /// epoch with `threshold` signers needed (2 to the number of members; the actor must
    /// be a full admin). Every member's node takes part while it is online; once all of
    /// them reported the same committee, this tab records it in a new epoch (`groups()`
    /// then says `committee: "frost T-of-N"`; progress goes to `governanceLog`). Shares
    /// live in the tabs' memory only. Returns `{call, members, threshold}`.
    ///
    /// # Errors
    /// Not a full admin, no unlocked actor, a group with fewer than two members, a
    /// threshold out of range.
    #[wasm_bindgen(js_name = callCommittee)]
    pub fn call_committee(&self, group: &str, threshold: u32) -> Result<JsValue, JsError> {
        self.with(|s| s.call_committee(group, threshold))?
    }

    /// What the group's governance reported here, oldest first (the last 32):
    /// `[{at, kind, text}]`, `at` in Unix ms, `kind` one of `committee` (a DKG called,
    /// progressing, done or failed), `share` (a FROST share held or dropped), `attested`,
    /// `executed`, `not-executed` (why this tab did not run an attested action), `culprits`.
    ///
    /// # Errors
    /// A bad group id.
    #[wasm_bindgen(js_name = governanceLog)]
    pub fn governance_log(&self, group: &str) -> Result<Array, JsError> {
        self.with(|s| s.governance_log(group))?
    }

    /// Display names known to this tab, `{actor: name}`: its own actor's, and those of
    /// group members and peers' actors whose profiles arrived.
    ///
    /// # Errors
    /// A re-entrant call.
    pub fn names(&self) -> Result<JsValue, JsError> {
        self.with(|s| s.names_js())
    }

    /// Proposes `action` (`TRIGGER_X`, `REMOVE_MEMBER`, …) in the group's current epoch,
    /// with `text` for an external action or `remove` (an actor id) for `REMOVE_MEMBER`,
    /// open for `minutes` (default 60; fractions allowed, at least one second, at most 30
    /// days). Returns the proposal id.
    ///
    /// # Errors
    /// Not a member, a malformed action type or id, a voting time out of range.
    pub fn propose(
        &self,
        group: &str,
        action: &str,
        text: Option<String>,
        remove: Option<String>,
        minutes: Option<f64>,
    ) -> Result<String, JsError> {
        self.with(|s| s.propose(group, action, text, remove, minutes.unwrap_or(60.0)))?
    }

    /// Votes on a proposal (`yes` true or false); returns the vote's CID.
    ///
    /// # Errors
    /// An unknown proposal, no unlocked actor.
    pub fn vote(&self, group: &str, proposal: &str, yes: bool) -> Result<String, JsError> {
        self.with(|s| s.vote(group, proposal, yes))?
    }

    /// The group's proposals, newest deadline first: `[{proposal, action, by, epoch,
    /// expiresAt, outcome, yes, no, eligible, needed, attestation, execution}]`;
    /// `attestation` is `{group, epoch, proposal, signedMessageHash, groupSignature,
    /// issuedAt}` (hex) once the committee signed — check it with WebCrypto against
    /// `groupKey`; `execution` is `{ran, what}` once this tab ran the attested action
    /// (`ran: true`, an internal action of an admin's tab) or found it is not its to run
    /// (`ran: false`, e.g. an external action such as `TRIGGER_X`, which executor nodes
    /// run), else `null`.
    ///
    /// # Errors
    /// A bad group id.
    pub fn proposals(&self, group: &str) -> Result<Array, JsError> {
        self.with(|s| s.proposals(group))?
    }

    /// `PK_G` of the group's current epoch (hex), or `null` without a committee.
    ///
    /// # Errors
    /// A bad group id.
    #[wasm_bindgen(js_name = groupKey)]
    pub fn group_key(&self, group: &str) -> Result<JsValue, JsError> {
        self.with(|s| s.group_key(group))?
    }

    /// Invites actor `actor` (hex id) to `group` (a promise): fetches its profile from the
    /// mesh (for its encryption key), then publishes an invite block on the group topic and
    /// a sealed invitation carrying `note` on the rendezvous topic. Resolves to the invite
    /// block's CID; rejects if the profile does not arrive within `timeoutMs` (default
    /// 30,000) or the actor may not invite.
    ///
    /// # Errors
    /// Bad ids, no unlocked actor, a group this tab does not follow.
    #[wasm_bindgen(js_name = inviteToGroup)]
    pub fn invite_to_group(
        &self,
        group: &str,
        actor: &str,
        note: Option<String>,
        timeout_ms: Option<u32>,
    ) -> Result<Promise, JsError> {
        let note = note.unwrap_or_default();
        let timeout = timeout_ms.unwrap_or(state::DEFAULT_TIMEOUT_MS);
        self.with(|s| s.invite_to_group(group, actor, &note, timeout))?
    }

    /// Invitations the unlocked actor received: `[{from, group, note, invite}]`, oldest
    /// first.
    ///
    /// # Errors
    /// A re-entrant call.
    #[wasm_bindgen(js_name = groupInvitations)]
    pub fn group_invitations(&self) -> Result<Array, JsError> {
        self.with(|s| s.group_invitations())
    }

    /// Accepts the invitation to `group`: publishes a join request (an admin's node admits
    /// it with the next epoch; the new key then arrives sealed to this actor). Returns the
    /// request's CID.
    ///
    /// # Errors
    /// No invitation to that group, no unlocked actor.
    #[wasm_bindgen(js_name = acceptInvitation)]
    pub fn accept_invitation(&self, group: &str) -> Result<String, JsError> {
        self.with(|s| s.accept_invitation(group))?
    }

    /// Sends an encrypted, signed message to `group`; returns its CID.
    ///
    /// # Errors
    /// Not a member of the current epoch, no key yet, a text over 16 KiB.
    #[wasm_bindgen(js_name = sendToGroup)]
    pub fn send_to_group(&self, group: &str, text: &str) -> Result<String, JsError> {
        self.with(|s| s.send_to_group(group, text))?
    }

    /// The last `limit` (at most 500) messages of `group` in display order (Lamport, then
    /// CID): `[{cid, author, epoch, lamport, text}]`, `text` `null` where this actor holds
    /// no key (before it joined, after its removal, or as a blind cache).
    ///
    /// # Errors
    /// A group this tab does not follow.
    #[wasm_bindgen(js_name = groupMessages)]
    pub fn group_messages(&self, group: &str, limit: u32) -> Result<Array, JsError> {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        self.with(|s| s.group_messages(group, limit))?
    }

    /// Removes `actor` from `group`: a new epoch whose key is sealed to the remaining
    /// members only. Returns `{epoch, cid, bytes}` (`bytes`: what the rekey puts on the
    /// wire).
    ///
    /// # Errors
    /// Not an admin, not a member, no unlocked actor.
    #[wasm_bindgen(js_name = removeFromGroup)]
    pub fn remove_from_group(&self, group: &str, actor: &str) -> Result<JsValue, JsError> {
        self.with(|s| s.remove_from_group(group, actor))?
    }

    /// Asks to leave `group` (an admin's node removes the actor with the next epoch);
    /// returns the request's CID.
    ///
    /// # Errors
    /// Not a member, no unlocked actor.
    #[wasm_bindgen(js_name = leaveGroup)]
    pub fn leave_group(&self, group: &str) -> Result<String, JsError> {
        self.with(|s| s.leave_group(group))?
    }

    /// Every group this tab follows: `[{group, name, epoch, members, member, admin,
    /// messages, committee, holdsShare, removedIn}]` (`member: false`: a blind cache of
    /// it; `committee`: `"frost T-of-N"`, `"single key"` or `null`; `holdsShare`: this
    /// tab holds a FROST share of the current committee; `removedIn`: for a former member,
    /// the epoch after the last one it was in, else `null`).
    ///
    /// # Errors
    /// A re-entrant call.
    pub fn groups(&self) -> Result<Array, JsError> {
        self.with(|s| s.group_list())
    }
}

impl WebNode {
    fn build(key: NodeKey, store: NodeStore, kv: Option<KvStore>) -> Result<WebNode, JsError> {
        let mut st = State::new(key, store, kv, random32()?, random32()?, random32()?);
        st.load_record();
        let state = Rc::new(RefCell::new(st));
        let sched = Rc::new(Sched::default());
        let weak: Weak<RefCell<State>> = Rc::downgrade(&state);
        let s = Rc::clone(&sched);
        let pump = Closure::<dyn FnMut()>::new(move || {
            s.queued.set(false);
            let Some(state) = weak.upgrade() else {
                return;
            };
            let Ok(mut st) = state.try_borrow_mut() else {
                s.wake(); // cannot happen (single-threaded, no re-entry); try again
                return;
            };
            st.step();
            s.arm(st.timer_delay_ms());
            st.notify();
        });
        if let Ok(mut slot) = sched.pump.try_borrow_mut() {
            *slot = Some(pump.as_ref().unchecked_ref::<Function>().clone());
        }
        let s = Rc::clone(&sched);
        if let Ok(st) = state.try_borrow() {
            st.set_wake(Rc::new(move || s.wake()));
        }
        sched.arm(Some(0));
        Ok(WebNode {
            state,
            sched,
            _pump: pump,
        })
    }

    /// Runs `f` on the state, then pumps and re-arms the timer.
    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> Result<T, JsError> {
        let mut st = self.state.try_borrow_mut().map_err(|_| busy())?;
        let out = f(&mut st);
        st.step();
        self.sched.arm(st.timer_delay_ms());
        st.notify();
        Ok(out)
    }
}

impl Drop for WebNode {
    fn drop(&mut self) {
        self.sched.arm(None);
    }
}

fn key_from(secret: Option<Vec<u8>>) -> Result<NodeKey, JsError> {
    let secret = match secret {
        Some(s) => <[u8; 32]>::try_from(s.as_slice())
            .map_err(|_| JsError::new("the secret must be 32 bytes"))?,
        None => random32()?,
    };
    Ok(NodeKey::from_secret(secret))
}

fn random32() -> Result<[u8; 32], JsError> {
    let mut buf = [0u8; 32];
    browser::random(&mut buf).map_err(|e| JsError::new(&format!("getRandomValues: {e}")))?;
    Ok(buf)
}

/// A `Uint8Array` copy of `bytes`.
pub(crate) fn to_js_bytes(bytes: &[u8]) -> Uint8Array {
    Uint8Array::from(bytes)
}
