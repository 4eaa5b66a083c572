//! The node's state and its step: pump the driver, act on its events, route signals.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::rc::Rc;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use js_sys::{Array, Function, Object, Promise, Reflect};
use quorate_mesh_blockstore::{BlockStore, MemoryStore, PutOptions, StoreConfig};
use quorate_mesh_proto::mesh::{self, Event, Input, Mesh, NodeId, NodeKey};
use quorate_mesh_proto::{Block, Cid, PinClass};
use quorate_mesh_transport::webrtc::envelope::NodeSignal;
use quorate_mesh_transport::webrtc::signaling::SignedSignal;
use quorate_mesh_transport::{Driver, DriverEvent};
use wasm_bindgen::{JsError, JsValue};
use web_sys::RtcPeerConnection;

use super::to_js_bytes;
use crate::browser;
use crate::rtc::{BrowserTransport, Config, OutgoingSignal};

/// Peers the node dials on its own (from peer lists) at most.
const MAX_PEERS: usize = 8;
/// Parts in one copy-paste blob at most (as the native node).
const MAX_BLOB_PARTS: usize = 16;
/// Rounds of pump-and-route per step.
const ROUNDS: usize = 64;

/// Callbacks of a pending `get`.
struct Waiter {
    resolve: Function,
}

pub(super) struct State {
    driver: Driver<BrowserTransport, MemoryStore>,
    /// Signals for the page to carry: (to, node-envelope payload).
    out: VecDeque<(NodeId, Vec<u8>)>,
    /// Nodes whose signals travel through the mesh (learned from a peer list).
    via_mesh: BTreeSet<NodeId>,
    /// Nodes connected by copy-paste, and their raw signals waiting for `takeBlob`.
    manual: BTreeSet<NodeId>,
    manual_out: BTreeMap<NodeId, Vec<Vec<u8>>>,
    dialing: BTreeSet<NodeId>,
    gets: BTreeMap<Cid, Vec<Waiter>>,
    pub(super) on_signals: Option<Function>,
    notified: bool,
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
    pub(super) fn new(key: NodeKey, mesh_seed: [u8; 32], rtc_seed: [u8; 32]) -> State {
        let transport = BrowserTransport::new(key.clone(), Config::default(), rtc_seed);
        let mesh = Mesh::new(mesh::Config::new(key, mesh_seed), browser::now());
        let store = MemoryStore::new(StoreConfig::default());
        State {
            driver: Driver::new(mesh, transport, store),
            out: VecDeque::new(),
            via_mesh: BTreeSet::new(),
            manual: BTreeSet::new(),
            manual_out: BTreeMap::new(),
            dialing: BTreeSet::new(),
            gets: BTreeMap::new(),
            on_signals: None,
            notified: false,
        }
    }

    pub(super) fn id(&self) -> NodeId {
        self.driver.mesh().id()
    }

    pub(super) fn set_wake(&self, wake: Rc<dyn Fn()>) {
        self.driver.transport().set_wake(wake);
    }

    /// Pumps the driver and acts on everything it produced, until quiet.
    pub(super) fn step(&mut self) {
        for _ in 0..ROUNDS {
            let mut work = self.driver.pump(browser::now());
            while let Some(event) = self.driver.poll_event() {
                self.on_event(event);
                work += 1;
            }
            while let Some(signal) = self.driver.transport_mut().poll_signal() {
                self.route(signal);
                work += 1;
            }
            if work == 0 {
                break;
            }
        }
    }

    /// Milliseconds until the machine's next timer (at least 0, at most a minute).
    pub(super) fn timer_delay_ms(&self) -> Option<i32> {
        let at = self.driver.poll_timeout()?;
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
        match event {
            DriverEvent::Mesh(Event::PeerUp { node, .. }) => {
                self.dialing.remove(&node);
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
                let _ = self.on_node_signal(from, &payload, true);
            }
            DriverEvent::DialFailed { node, .. } => {
                self.dialing.remove(&node);
            }
            _ => {}
        }
    }

    /// A node-envelope payload from `from`; `mesh` if the mesh carried (and
    /// authenticated) it.
    fn on_node_signal(&mut self, from: NodeId, payload: &[u8], mesh: bool) -> Result<(), String> {
        match NodeSignal::decode(payload).map_err(|e| e.to_string())? {
            NodeSignal::WebRtc(body) => {
                if mesh {
                    self.via_mesh.insert(from);
                } else {
                    self.via_mesh.remove(&from);
                }
                self.driver
                    .transport_mut()
                    .handle_signal(from, &body)
                    .map_err(|e| e.to_string())
            }
            NodeSignal::Peers(nodes) if mesh => {
                for node in nodes {
                    self.maybe_dial(node);
                }
                Ok(())
            }
            NodeSignal::Peers(_) => Err("a peer list off the mesh".into()),
        }
    }

    fn maybe_dial(&mut self, node: NodeId) {
        if node == self.id()
            || self.driver.mesh().conn_of(&node).is_some()
            || self.dialing.contains(&node)
            || self.driver.mesh().peers().len() + self.dialing.len() >= MAX_PEERS
        {
            return;
        }
        self.via_mesh.insert(node);
        if self.driver.connect(node).is_ok() {
            self.dialing.insert(node);
        }
    }

    fn route(&mut self, signal: OutgoingSignal) {
        let OutgoingSignal { to, payload } = signal;
        if self.manual.contains(&to) {
            self.manual_out.entry(to).or_default().push(payload);
            return;
        }
        let wrapped = NodeSignal::WebRtc(payload).encode();
        if self.via_mesh.contains(&to) {
            self.send_mesh_signal(to, wrapped);
        } else {
            self.out.push_back((to, wrapped));
        }
    }

    fn send_mesh_signal(&mut self, to: NodeId, payload: Vec<u8>) {
        let now = browser::now();
        // A signal the mesh cannot relay is lost, like any signal on any carrier.
        let _ = self.driver.handle(now, Input::SendSignal { to, payload });
    }

    pub(super) fn dial(&mut self, node: NodeId, manual: bool) -> Result<(), JsError> {
        self.via_mesh.remove(&node);
        if manual {
            self.manual.insert(node);
        } else {
            self.manual.remove(&node);
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
        self.on_node_signal(from, &bytes, false)
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
            self.via_mesh.remove(&from);
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

    pub(super) fn peers_json(&self) -> String {
        let items: Vec<String> = self
            .driver
            .mesh()
            .peers()
            .into_iter()
            .map(|(conn, node, score)| {
                format!(r#"{{"node":"{node}","conn":{},"score":{score}}}"#, conn.0)
            })
            .collect();
        format!("[{}]", items.join(","))
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
