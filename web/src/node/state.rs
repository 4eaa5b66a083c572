//! The node's state and its step: pump the driver, act on its events, route signals,
//! drive a login, save the actor's record.

mod actor;
mod governance;
mod groups;
mod login;
mod peers;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::rc::Rc;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use js_sys::{Array, Function, Object, Promise, Reflect};
use quorate_mesh_blockstore::{BlockStore, PutOptions};
use quorate_mesh_proto::mesh::{self, Event, Input, Mesh, NodeId, NodeKey};
use quorate_mesh_proto::{Block, Cid, Duration, Instant, PinClass};
use quorate_mesh_transport::webrtc::envelope::NodeSignal;
use quorate_mesh_transport::webrtc::signaling::SignedSignal;
use quorate_mesh_transport::{Driver, DriverEvent};
use wasm_bindgen::{JsError, JsValue};
use web_sys::RtcPeerConnection;

use super::rendezvous::{self, Inbox, Note, Rendezvous};
use super::store::NodeStore;
use super::to_js_bytes;
use crate::browser;
use crate::idb::KvStore;
use crate::node::actor::{Actor, ActorRecord, RECORD_KEY};
use crate::rtc::{BrowserTransport, Config, OutgoingSignal};
use groups::Groups;
use login::LoginTask;
use peers::PeerView;

pub(super) use login::DEFAULT_TIMEOUT_MS;

/// Peers the node dials on its own (from peer lists) at most.
const MAX_PEERS: usize = 8;
/// Parts in one copy-paste blob at most (as the native node).
const MAX_BLOB_PARTS: usize = 16;
/// Rounds of pump-and-route per step.
const ROUNDS: usize = 64;
/// Wait after a failed flush before trying again.
const FLUSH_RETRY: Duration = Duration::from_secs(5);

/// Callbacks of a pending `get`.
struct Waiter {
    resolve: Function,
}

/// How a signal reached us (or how we dialed), which decides how ours go back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Carrier {
    /// The page carries them (`takeSignals`/`handleSignal`).
    Page,
    /// The rendezvous server.
    Rendezvous,
    /// The mesh (relayed by peers, sender authenticated).
    Mesh,
}

/// The write-behind of an IndexedDB store.
#[derive(Default)]
struct Flusher {
    /// A batch is committing.
    in_flight: bool,
    /// No new batch before this (after a failure).
    retry_at: Option<Instant>,
    /// Operations committed so far.
    committed: u64,
    last_error: Option<String>,
    /// `flush()` promises waiting for an empty queue: (resolve, reject).
    waiters: Vec<(Function, Function)>,
}

/// The write-behind of the actor record (key-value database).
#[derive(Default)]
struct Saver {
    /// The record changed since the last write.
    dirty: bool,
    /// A write is committing.
    in_flight: bool,
    /// No new write before this (after a failure).
    retry_at: Option<Instant>,
    last_error: Option<String>,
}

pub(super) struct State {
    driver: Driver<BrowserTransport, NodeStore>,
    /// The key-value database beside an IndexedDB block store (`None` in memory).
    kv: Option<KvStore>,
    /// The actor this tab holds (saved), and its keys once unlocked.
    record: Option<ActorRecord>,
    actor: Option<Actor>,
    saver: Saver,
    login: Option<Box<LoginTask>>,
    /// Signals for the page to carry: (to, node-envelope payload).
    out: VecDeque<(NodeId, Vec<u8>)>,
    /// Nodes whose signals the page carries (dialed with `dial`, or heard from through
    /// `handleSignal`); others go through the rendezvous server or the mesh.
    page: BTreeSet<NodeId>,
    /// Nodes connected by copy-paste, and their raw signals waiting for `takeBlob`.
    manual: BTreeSet<NodeId>,
    manual_out: BTreeMap<NodeId, Vec<Vec<u8>>>,
    dialing: BTreeSet<NodeId>,
    gets: BTreeMap<Cid, Vec<Waiter>>,
    pub(super) on_signals: Option<Function>,
    notified: bool,
    inbox: Rc<Inbox>,
    rendezvous: Rendezvous,
    flusher: Flusher,
    /// `performance.now()` of the first peer up, in ms.
    first_peer_ms: Option<f64>,
    /// Every group the tab follows (group-core's host).
    groups: Groups,
    /// Peers' peer lists, their actors and actors' names (for the page's picture).
    peer_view: PeerView,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("id", &self.id().short())
            .field("out", &self.out.len())
            .field("gets", &self.gets.len())
            .finish_non_exhaustive()
    }
}

impl State {
    pub(super) fn new(
        key: NodeKey,
        store: NodeStore,
        kv: Option<KvStore>,
        mesh_seed: [u8; 32],
        rtc_seed: [u8; 32],
        group_seed: [u8; 32],
    ) -> State {
        let me = key.id();
        let transport = BrowserTransport::new(key.clone(), Config::default(), rtc_seed);
        let mesh = Mesh::new(mesh::Config::new(key, mesh_seed), browser::now());
        let inbox = Rc::new(Inbox::default());
        State {
            driver: Driver::new(mesh, transport, store),
            kv,
            record: None,
            actor: None,
            saver: Saver::default(),
            login: None,
            out: VecDeque::new(),
            page: BTreeSet::new(),
            manual: BTreeSet::new(),
            manual_out: BTreeMap::new(),
            dialing: BTreeSet::new(),
            gets: BTreeMap::new(),
            on_signals: None,
            notified: false,
            rendezvous: Rendezvous::new(Rc::clone(&inbox), me),
            inbox,
            flusher: Flusher::default(),
            first_peer_ms: None,
            groups: Groups::new(me, group_seed),
            peer_view: PeerView::default(),
        }
    }

    pub(super) fn id(&self) -> NodeId {
        self.driver.mesh().id()
    }

    pub(super) fn set_wake(&self, wake: Rc<dyn Fn()>) {
        self.inbox.set_wake(Rc::clone(&wake));
        self.driver.transport().set_wake(wake);
    }

    /// Pumps the driver and acts on everything it produced, until quiet; then starts
    /// writing stored blocks to IndexedDB if any wait.
    pub(super) fn step(&mut self) {
        for _ in 0..ROUNDS {
            let mut work = 0;
            while let Some(note) = self.inbox.pop() {
                self.on_note(note);
                work += 1;
            }
            work += self.driver.pump(browser::now());
            while let Some(event) = self.driver.poll_event() {
                self.on_event(event);
                work += 1;
            }
            while let Some(signal) = self.driver.transport_mut().poll_signal() {
                self.route(signal);
                work += 1;
            }
            work += self.drive_login();
            work += self.groups_pump();
            work += self.peers_pump();
            if work == 0 {
                break;
            }
        }
        self.maybe_flush();
    }

    fn on_note(&mut self, note: Note) {
        match note {
            Note::Rdv { generation, raw } => {
                for event in self.rendezvous.on_raw(generation, raw) {
                    self.on_rendezvous(event);
                }
            }
            Note::Flushed(result) => {
                self.flusher.in_flight = false;
                match result {
                    Ok(ops) => {
                        self.flusher.committed += ops as u64;
                        self.flusher.last_error = None;
                    }
                    Err(failed) => {
                        let error = match self.driver.store_mut().idb_mut() {
                            Some(store) => store.requeue(failed).to_string(),
                            None => failed.error.to_string(),
                        };
                        self.flusher.retry_at = Some(browser::now() + FLUSH_RETRY);
                        for (_, reject) in self.flusher.waiters.drain(..) {
                            let _ = reject.call1(&JsValue::UNDEFINED, &error.as_str().into());
                        }
                        self.flusher.last_error = Some(error);
                    }
                }
            }
            Note::Saved(result) => {
                self.saver.in_flight = false;
                match result {
                    Ok(()) => self.saver.last_error = None,
                    Err(e) => {
                        let error = e.to_string();
                        self.saver.dirty = true;
                        self.saver.retry_at = Some(browser::now() + FLUSH_RETRY);
                        for (_, reject) in self.flusher.waiters.drain(..) {
                            let _ = reject.call1(&JsValue::UNDEFINED, &error.as_str().into());
                        }
                        self.saver.last_error = Some(error);
                    }
                }
            }
        }
    }

    fn on_rendezvous(&mut self, event: rendezvous::Event) {
        match event {
            // Joiners dial the members (as native nodes do); members wait for them.
            rendezvous::Event::Peers(nodes) => {
                for node in nodes {
                    self.maybe_dial(node, Carrier::Rendezvous);
                }
            }
            rendezvous::Event::Joined(_) | rendezvous::Event::Left(_) => {}
            rendezvous::Event::Signal { from, payload } => {
                // A refused signal is dropped: the server is not trusted with anything.
                let _ = self.on_node_signal(from, &payload, Carrier::Rendezvous);
            }
        }
    }

    /// Starts a flush batch if writes wait and none is committing; then, once every block
    /// is durable, writes the actor record if it changed (so a saved head never names
    /// blocks that are not); resolves `flush()` promises once nothing waits.
    fn maybe_flush(&mut self) {
        if self.flusher.in_flight || self.saver.in_flight {
            return;
        }
        let now = browser::now();
        if self.flusher.retry_at.is_some_and(|t| t > now) {
            return;
        }
        let Some(store) = self.driver.store_mut().idb_mut() else {
            // A memory node keeps its actor record in memory only.
            self.saver.dirty = false;
            for (resolve, _) in self.flusher.waiters.drain(..) {
                let _ = resolve.call0(&JsValue::UNDEFINED);
            }
            return;
        };
        match store.start_flush() {
            Ok(Some(batch)) => {
                self.flusher.in_flight = true;
                let inbox = Rc::clone(&self.inbox);
                wasm_bindgen_futures::spawn_local(async move {
                    inbox.push(Note::Flushed(batch.wait().await));
                });
            }
            Ok(None) => {
                if self.saver.dirty {
                    if self.saver.retry_at.is_none_or(|t| t <= now) {
                        self.save_record();
                    }
                    return;
                }
                for (resolve, _) in self.flusher.waiters.drain(..) {
                    let _ = resolve.call0(&JsValue::UNDEFINED);
                }
            }
            Err(e) => {
                self.flusher.retry_at = Some(now + FLUSH_RETRY);
                self.flusher.last_error = Some(e.to_string());
            }
        }
    }

    /// Writes the actor record (or its deletion) to the key-value database.
    fn save_record(&mut self) {
        let Some(kv) = self.kv.as_mut() else {
            self.saver.dirty = false;
            return;
        };
        let value = self.record.as_ref().map(ActorRecord::to_js);
        self.saver.dirty = false;
        self.saver.retry_at = None;
        match kv.start_write(RECORD_KEY, value) {
            Ok(write) => {
                self.saver.in_flight = true;
                let inbox = Rc::clone(&self.inbox);
                wasm_bindgen_futures::spawn_local(async move {
                    inbox.push(Note::Saved(write.wait().await));
                });
            }
            Err(e) => {
                self.saver.dirty = true;
                self.saver.retry_at = Some(browser::now() + FLUSH_RETRY);
                self.saver.last_error = Some(e.to_string());
            }
        }
    }

    /// A promise resolved once every stored change is in IndexedDB (at once for a
    /// memory store), rejected if a flush fails.
    pub(super) fn flush(&mut self) -> Result<Promise, JsError> {
        let mut slot = None;
        let promise = Promise::new(&mut |resolve, reject| slot = Some((resolve, reject)));
        let waiter = slot.ok_or_else(|| JsError::new("the Promise executor did not run"))?;
        self.flusher.retry_at = None;
        self.saver.retry_at = None;
        self.flusher.waiters.push(waiter);
        Ok(promise)
    }

    pub(super) fn join_rendezvous(&mut self, url: &str, room: &str) -> Result<(), JsError> {
        self.rendezvous
            .start(url, room)
            .map_err(|e| JsError::new(&format!("rendezvous: {e}")))
    }

    pub(super) fn leave_rendezvous(&mut self) {
        self.rendezvous.stop();
    }

    /// The node's state for the page, as JSON.
    pub(super) fn info_json(&self) -> String {
        let o = Object::new();
        let set = |k: &str, v: JsValue| {
            let _ = Reflect::set(&o, &k.into(), &v);
        };
        set("node", self.id().to_string().into());
        set("peers", JsValue::from(self.driver.mesh().peers().len()));
        set("rendezvous", self.rendezvous.status());
        let stats = self.driver.store().stats();
        set("blocks", JsValue::from(stats.blocks));
        set(
            "pendingWrites",
            JsValue::from(self.driver.store().pending_ops()),
        );
        set("flushing", JsValue::from(self.flusher.in_flight));
        #[allow(
            clippy::cast_precision_loss,
            reason = "a count of operations shown to the page"
        )]
        set(
            "committedWrites",
            JsValue::from(self.flusher.committed as f64),
        );
        set(
            "flushError",
            self.flusher
                .last_error
                .as_deref()
                .map_or(JsValue::NULL, JsValue::from),
        );
        set(
            "persistent",
            JsValue::from(matches!(self.driver.store(), NodeStore::Idb(_))),
        );
        set(
            "firstPeerMs",
            self.first_peer_ms.map_or(JsValue::NULL, JsValue::from),
        );
        set(
            "actor",
            self.record
                .as_ref()
                .map_or(JsValue::NULL, |r| r.actor.to_string().into()),
        );
        set("actorLocked", JsValue::from(self.actor.is_none()));
        set(
            "actorSaveError",
            self.saver
                .last_error
                .as_deref()
                .map_or(JsValue::NULL, JsValue::from),
        );
        set(
            "login",
            self.login.as_ref().map_or(JsValue::NULL, |l| l.status()),
        );
        js_sys::JSON::stringify(&o)
            .ok()
            .and_then(|s| s.as_string())
            .unwrap_or_default()
    }

    /// Milliseconds until the machine's next timer (at least 0, at most a minute).
    pub(super) fn timer_delay_ms(&self) -> Option<i32> {
        let login = self.login.as_ref().map(|l| l.next_wake());
        let at = [
            self.driver.poll_timeout(),
            login,
            self.groups_next_wake(),
            self.peer_view.next_wake(),
        ]
        .into_iter()
        .flatten()
        .min()?;
        let micros = at.as_micros().saturating_sub(browser::now().as_micros());
        let ms = micros.div_ceil(1000).min(60_000);
        i32::try_from(ms).ok()
    }

    /// Tells the page (in a microtask) that signals wait, once per batch.
    pub(super) fn notify(&mut self) {
        if self.out.is_empty() {
            self.notified = false;
            return;
        }
        if !self.notified
            && let Some(f) = &self.on_signals
        {
            self.notified = true;
            browser::queue_microtask(f);
        }
    }

    fn on_event(&mut self, event: DriverEvent) {
        if let DriverEvent::Mesh(mesh_event) = &event {
            self.login_event(mesh_event);
            self.groups_on_event(mesh_event);
            self.peer_view.on_event(browser::now(), mesh_event);
        }
        match event {
            DriverEvent::Mesh(Event::PeerUp { node, .. }) => {
                self.dialing.remove(&node);
                if self.first_peer_ms.is_none() {
                    #[allow(
                        clippy::cast_precision_loss,
                        reason = "milliseconds since page load fit an f64 exactly"
                    )]
                    let ms = browser::now().as_micros() as f64 / 1000.0;
                    self.first_peer_ms = Some(ms);
                }
                // Tell it whom we know, so it can reach them through us.
                let others: Vec<NodeId> = self
                    .driver
                    .mesh()
                    .peers()
                    .into_iter()
                    .map(|(_, n, _)| n)
                    .filter(|n| *n != node)
                    .collect();
                self.send_mesh_signal(node, NodeSignal::Peers(others).encode());
            }
            DriverEvent::Mesh(Event::Fetched { block, .. }) => {
                if let Some(waiters) = self.gets.remove(block.cid()) {
                    let bytes = to_js_bytes(block.bytes());
                    for w in waiters {
                        let _ = w.resolve.call1(&JsValue::UNDEFINED, &bytes);
                    }
                }
            }
            DriverEvent::Mesh(Event::Signal { from, payload }) => {
                // A bad relayed signal is dropped (the mesh scores relays itself).
                let _ = self.on_node_signal(from, &payload, Carrier::Mesh);
            }
            DriverEvent::DialFailed { node, .. } => {
                self.dialing.remove(&node);
            }
            _ => {}
        }
    }

    /// A node-envelope payload from `from`, by `carrier`.
    fn on_node_signal(
        &mut self,
        from: NodeId,
        payload: &[u8],
        carrier: Carrier,
    ) -> Result<(), String> {
        match NodeSignal::decode(payload).map_err(|e| e.to_string())? {
            NodeSignal::WebRtc(body) => {
                self.driver
                    .transport_mut()
                    .handle_signal(from, &body)
                    .map_err(|e| e.to_string())?;
                // Answer the way it came (after the checks: a forged signal changes nothing).
                if carrier == Carrier::Page {
                    self.page.insert(from);
                } else {
                    self.page.remove(&from);
                }
                Ok(())
            }
            // Only the mesh authenticates the sender of a peer list.
            NodeSignal::Peers(nodes) if carrier == Carrier::Mesh => {
                self.peer_view.on_list(from, &nodes);
                for node in nodes {
                    self.maybe_dial(node, Carrier::Mesh);
                }
                Ok(())
            }
            NodeSignal::Peers(_) => Err("a peer list off the mesh".into()),
        }
    }

    /// Dials `node` (learned from a peer list or the rendezvous room) unless it is us,
    /// connected, being dialed, or we have enough peers.
    fn maybe_dial(&mut self, node: NodeId, carrier: Carrier) {
        if node == self.id()
            || self.driver.mesh().conn_of(&node).is_some()
            || self.dialing.contains(&node)
            || self.driver.mesh().peers().len() + self.dialing.len() >= MAX_PEERS
        {
            return;
        }
        if carrier != Carrier::Page {
            self.page.remove(&node);
            self.manual.remove(&node);
        }
        if self.driver.connect(node).is_ok() {
            self.dialing.insert(node);
        }
    }

    /// Sends a signal the transport produced, as the native node does: copy-paste if the
    /// peer is connected by hand, else the rendezvous server if the peer is in our room,
    /// else the page if it carries this peer's signals, else the mesh.
    fn route(&mut self, signal: OutgoingSignal) {
        let OutgoingSignal { to, payload } = signal;
        if self.manual.contains(&to) {
            self.manual_out.entry(to).or_default().push(payload);
            return;
        }
        let wrapped = NodeSignal::WebRtc(payload).encode();
        if self.rendezvous.send_signal(to, &wrapped) {
            return;
        }
        if self.page.contains(&to) {
            self.out.push_back((to, wrapped));
        } else {
            self.send_mesh_signal(to, wrapped);
        }
    }

    fn send_mesh_signal(&mut self, to: NodeId, payload: Vec<u8>) {
        let now = browser::now();
        // A signal the mesh cannot relay is lost, like any signal on any carrier.
        let _ = self.driver.handle(now, Input::SendSignal { to, payload });
    }

    pub(super) fn dial(&mut self, node: NodeId, manual: bool) -> Result<(), JsError> {
        if manual {
            self.manual.insert(node);
            self.page.remove(&node);
        } else {
            self.manual.remove(&node);
            self.page.insert(node);
        }
        self.driver
            .connect(node)
            .map_err(|e| JsError::new(&format!("cannot dial: {e}")))?;
        self.dialing.insert(node);
        Ok(())
    }

    pub(super) fn take_signals(&mut self) -> Array {
        let list = Array::new();
        for (to, payload) in self.out.drain(..) {
            let item = Object::new();
            let _ = Reflect::set(&item, &"to".into(), &to.to_string().into());
            let _ = Reflect::set(&item, &"payload".into(), &STANDARD.encode(payload).into());
            list.push(&item);
        }
        self.notified = false;
        list
    }

    pub(super) fn handle_js_signal(&mut self, from: NodeId, payload: &str) -> Result<(), JsError> {
        let bytes = STANDARD
            .decode(payload)
            .map_err(|e| JsError::new(&format!("payload is not base64: {e}")))?;
        self.manual.remove(&from);
        self.on_node_signal(from, &bytes, Carrier::Page)
            .map_err(|e| JsError::new(&format!("refused a signal: {e}")))
    }

    pub(super) fn accept_blob(&mut self, blob: &str) -> Result<String, JsError> {
        let parts: Vec<&str> = blob.trim().split('.').filter(|p| !p.is_empty()).collect();
        if parts.is_empty() || parts.len() > MAX_BLOB_PARTS {
            return Err(JsError::new("a signal blob has 1 to 16 parts"));
        }
        let mut sender = None;
        for part in parts {
            let bytes = URL_SAFE_NO_PAD
                .decode(part)
                .map_err(|e| JsError::new(&format!("not a signal blob: {e}")))?;
            let (from, to) = SignedSignal::peek(&bytes)
                .map_err(|e| JsError::new(&format!("bad signal: {e}")))?;
            if to != self.id() {
                return Err(JsError::new(&format!("this signal is for node {to}")));
            }
            self.manual.insert(from);
            self.page.remove(&from);
            self.driver
                .transport_mut()
                .handle_signal(from, &bytes)
                .map_err(|e| JsError::new(&format!("bad signal: {e}")))?;
            sender = Some(from);
        }
        Ok(sender.map(|s| s.to_string()).unwrap_or_default())
    }

    pub(super) fn take_blob(&mut self, node: NodeId) -> String {
        self.manual_out
            .remove(&node)
            .unwrap_or_default()
            .iter()
            .map(|s| URL_SAFE_NO_PAD.encode(s))
            .collect::<Vec<_>>()
            .join(".")
    }

    pub(super) fn put(&mut self, bytes: Vec<u8>) -> Result<String, JsError> {
        let block = Block::raw(bytes).map_err(|e| JsError::new(&format!("not a block: {e}")))?;
        self.driver
            .store_mut()
            .put(&block, PutOptions::pinned(PinClass::User))
            .map_err(|e| JsError::new(&format!("block store: {e}")))?;
        Ok(block.cid().to_string())
    }

    pub(super) fn get(&mut self, cid: &str) -> Result<Promise, JsError> {
        let cid: Cid = cid
            .parse()
            .map_err(|e| JsError::new(&format!("bad CID {cid:?}: {e}")))?;
        match self.driver.store_mut().get(&cid) {
            Ok(Some(block)) => {
                return Ok(Promise::resolve(&JsValue::from(to_js_bytes(block.bytes()))));
            }
            Ok(None) => {}
            Err(e) => return Err(JsError::new(&format!("block store: {e}"))),
        }
        let mut slot = None;
        let promise = Promise::new(&mut |resolve, _reject| slot = Some(resolve));
        let resolve = slot.ok_or_else(|| JsError::new("the Promise executor did not run"))?;
        let first = !self.gets.contains_key(&cid);
        self.gets.entry(cid).or_default().push(Waiter { resolve });
        if first {
            let want = Input::Want { cid, priority: 128 };
            if let Err(e) = self.driver.handle(browser::now(), want) {
                self.gets.remove(&cid);
                return Err(JsError::new(&format!("cannot fetch: {e}")));
            }
        }
        Ok(promise)
    }

    pub(super) fn peer_connection(&self, node: &NodeId) -> Option<RtcPeerConnection> {
        self.driver.transport().peer_connection(node)
    }

    pub(super) fn errors_json(&self) -> String {
        let items: Vec<String> = self
            .driver
            .transport()
            .recent_errors()
            .iter()
            .map(|e| format!("{e:?}"))
            .collect();
        format!("[{}]", items.join(","))
    }
}
