//! The rendezvous client of a tab: a `WebSocket` speaking the native server's JSON
//! protocol, version 1 (`quorate-node`'s `rendezvous::protocol`): join one room, track
//! its members, relay signal payloads; reconnect with backoff when the server goes away.
//!
//! Like the transport, nothing happens inside browser callbacks: they queue a [`Note`]
//! in the shared [`Inbox`] (tagged with the socket's generation, so a replaced socket's
//! late events are ignored) and wake the node, whose step calls
//! [`Rendezvous::on_raw`]. Everything the server sends is untrusted: a message that does
//! not parse, names a malformed node id or carries a bad payload is dropped.

use std::cell::RefCell;
use std::collections::{BTreeSet, VecDeque};
use std::rc::Rc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use js_sys::{JSON, Reflect};
use quorate_mesh_proto::mesh::NodeId;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{CloseEvent, MessageEvent, WebSocket};

use crate::browser;
use crate::idb::{FailedFlush, IdbError};

/// The protocol's WebSocket subprotocol.
const SUBPROTOCOL: &str = "quorate-rendezvous.v1";
/// Largest server message read (as the native client).
const MAX_INCOMING: usize = 1024 * 1024;
/// Largest signal payload, decoded (the protocol's limit).
const MAX_PAYLOAD: usize = 32 * 1024;
/// Room members remembered at most (the server's default room cap is 1,000).
const MAX_MEMBERS: usize = 1024;
/// First and longest wait before reconnecting.
const FIRST_DELAY_MS: i32 = 1_000;
const MAX_DELAY_MS: i32 = 30_000;
/// How long connecting and joining may take before the socket is dropped and retried.
const JOIN_TIMEOUT_MS: i32 = 10_000;

/// Something a callback reported, for the node's next step.
pub(super) enum Note {
    /// From rendezvous socket generation `gen`.
    Rdv { generation: u64, raw: Raw },
    /// A flush batch finished.
    Flushed(Result<usize, FailedFlush>),
    /// The actor record was written (or not).
    Saved(Result<(), IdbError>),
}

/// A socket or timer event.
pub(super) enum Raw {
    Open,
    Message(String),
    Closed(String),
    /// The retry timer (or the join timeout) fired.
    Timer,
}

/// Notes from callbacks, and how to wake the node.
#[derive(Default)]
pub(super) struct Inbox {
    notes: RefCell<VecDeque<Note>>,
    wake: RefCell<Option<Rc<dyn Fn()>>>,
}

impl Inbox {
    pub(super) fn push(&self, note: Note) {
        if let Ok(mut q) = self.notes.try_borrow_mut() {
            q.push_back(note);
        }
        let wake = self.wake.try_borrow().ok().and_then(|w| w.clone());
        if let Some(wake) = wake {
            wake();
        }
    }

    pub(super) fn pop(&self) -> Option<Note> {
        self.notes.try_borrow_mut().ok()?.pop_front()
    }

    pub(super) fn set_wake(&self, wake: Rc<dyn Fn()>) {
        if let Ok(mut w) = self.wake.try_borrow_mut() {
            *w = Some(wake);
        }
    }
}

/// What the server said, checked.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Event {
    /// Our join succeeded: the other members.
    Peers(Vec<NodeId>),
    /// A node entered the room (it dials us).
    Joined(NodeId),
    /// A node left.
    Left(NodeId),
    /// A payload from a member.
    Signal { from: NodeId, payload: Vec<u8> },
}

type Listener = Closure<dyn FnMut(JsValue)>;

/// One socket and its callbacks (unhooked and closed on drop).
struct Socket {
    ws: WebSocket,
    _listeners: Vec<Listener>,
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        self.ws.set_onerror(None);
        let _ = self.ws.close();
    }
}

/// A pending timer (cleared on drop).
struct Timer {
    handle: Option<i32>,
    _f: Closure<dyn FnMut()>,
}

impl Drop for Timer {
    fn drop(&mut self) {
        if let Some(h) = self.handle {
            browser::clear_timeout(h);
        }
    }
}

/// Where the client is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Off,
    Connecting,
    Joined,
    Waiting,
}

/// The rendezvous client. See the [module docs](self).
pub(super) struct Rendezvous {
    inbox: Rc<Inbox>,
    me: NodeId,
    url: Option<String>,
    room: String,
    generation: u64,
    socket: Option<Socket>,
    timer: Option<Timer>,
    phase: Phase,
    delay_ms: i32,
    members: BTreeSet<NodeId>,
    last_error: Option<String>,
    joins: u32,
}

impl std::fmt::Debug for Rendezvous {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rendezvous")
            .field("url", &self.url)
            .field("phase", &self.phase)
            .field("members", &self.members.len())
            .finish_non_exhaustive()
    }
}

/// Whether `room` is a valid room name (1 to 64 of `a-z 0-9 - _ / .`).
pub(super) fn valid_room(room: &str) -> bool {
    let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_/.".contains(&b);
    !room.is_empty() && room.len() <= 64 && room.bytes().all(allowed)
}

impl Rendezvous {
    pub(super) fn new(inbox: Rc<Inbox>, me: NodeId) -> Rendezvous {
        Rendezvous {
            inbox,
            me,
            url: None,
            room: String::new(),
            generation: 0,
            socket: None,
            timer: None,
            phase: Phase::Off,
            delay_ms: FIRST_DELAY_MS,
            members: BTreeSet::new(),
            last_error: None,
            joins: 0,
        }
    }

    /// Starts (or restarts) joining `room` on the server at `url` (`ws://…`).
    ///
    /// # Errors
    /// A bad room name, or a URL the browser refuses.
    pub(super) fn start(&mut self, url: &str, room: &str) -> Result<(), String> {
        if !valid_room(room) {
            return Err(format!(
                "bad room {room:?}: 1 to 64 characters from a-z 0-9 - _ / ."
            ));
        }
        self.stop();
        self.url = Some(url.to_owned());
        self.room = room.to_owned();
        self.delay_ms = FIRST_DELAY_MS;
        self.connect()
    }

    /// Leaves: closes the socket, forgets the room, stops retrying.
    pub(super) fn stop(&mut self) {
        self.url = None;
        self.socket = None;
        self.timer = None;
        self.members.clear();
        self.phase = Phase::Off;
    }

    /// Whether `node` is in our room right now (so signals to it can go through here).
    pub(super) fn is_member(&self, node: &NodeId) -> bool {
        self.phase == Phase::Joined && self.members.contains(node)
    }

    /// Relays a node-envelope payload to member `to`; false if it cannot go this way.
    pub(super) fn send_signal(&mut self, to: NodeId, payload: &[u8]) -> bool {
        if !self.is_member(&to) || payload.len() > MAX_PAYLOAD {
            return false;
        }
        let text = format!(
            r#"{{"type":"signal","to":"{to}","payload":"{}"}}"#,
            STANDARD.encode(payload)
        );
        self.send(&text)
    }

    /// The status, as a JS object for `JSON.stringify`.
    pub(super) fn status(&self) -> JsValue {
        let o = js_sys::Object::new();
        let phase = match self.phase {
            Phase::Off => "off",
            Phase::Connecting => "connecting",
            Phase::Joined => "joined",
            Phase::Waiting => "waiting",
        };
        let set = |k: &str, v: JsValue| {
            let _ = Reflect::set(&o, &k.into(), &v);
        };
        set("state", phase.into());
        set(
            "url",
            self.url.as_deref().map_or(JsValue::NULL, JsValue::from),
        );
        set("room", self.room.as_str().into());
        set("members", JsValue::from(self.members.len()));
        set("joins", JsValue::from(self.joins));
        set(
            "error",
            self.last_error
                .as_deref()
                .map_or(JsValue::NULL, JsValue::from),
        );
        o.into()
    }

    /// Acts on a socket or timer event of generation `generation`; the server events
    /// that follow.
    pub(super) fn on_raw(&mut self, generation: u64, raw: Raw) -> Vec<Event> {
        if generation != self.generation || self.url.is_none() {
            return Vec::new(); // a replaced socket, or stopped
        }
        match raw {
            Raw::Open => {
                let join = format!(
                    r#"{{"type":"join","room":"{}","node":"{}"}}"#,
                    self.room, self.me
                );
                if !self.send(&join) {
                    self.lost("cannot send the join");
                }
                Vec::new()
            }
            Raw::Message(text) => self.on_message(&text),
            Raw::Closed(why) => {
                self.lost(&why);
                Vec::new()
            }
            Raw::Timer => {
                if self.phase == Phase::Waiting {
                    if let Err(e) = self.connect() {
                        self.lost(&e);
                    }
                } else if self.phase == Phase::Connecting {
                    self.lost("no answer to the join in time");
                }
                Vec::new()
            }
        }
    }

    fn on_message(&mut self, text: &str) -> Vec<Event> {
        let Some(msg) = parse(text) else {
            return Vec::new();
        };
        match msg {
            Server::Peers(nodes) => {
                self.phase = Phase::Joined;
                self.joins = self.joins.saturating_add(1);
                self.timer = None;
                self.delay_ms = FIRST_DELAY_MS;
                self.last_error = None;
                self.members = nodes
                    .iter()
                    .copied()
                    .filter(|n| *n != self.me)
                    .take(MAX_MEMBERS)
                    .collect();
                vec![Event::Peers(self.members.iter().copied().collect())]
            }
            Server::Joined(node) if node != self.me => {
                if self.members.len() < MAX_MEMBERS {
                    self.members.insert(node);
                }
                vec![Event::Joined(node)]
            }
            Server::Left(node) => {
                self.members.remove(&node);
                vec![Event::Left(node)]
            }
            Server::Signal { from, payload } if self.phase == Phase::Joined => {
                vec![Event::Signal { from, payload }]
            }
            Server::Error(reason) => {
                self.last_error = Some(reason);
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn send(&self, text: &str) -> bool {
        self.socket.as_ref().is_some_and(|s| {
            s.ws.ready_state() == WebSocket::OPEN && s.ws.send_with_str(text).is_ok()
        })
    }

    /// The socket is gone: forget the room, retry after the backoff delay.
    fn lost(&mut self, why: &str) {
        self.socket = None;
        self.members.clear();
        self.last_error = Some(why.to_owned());
        self.phase = Phase::Waiting;
        self.generation = self.generation.wrapping_add(1);
        let delay = self.delay_ms;
        self.delay_ms = delay.saturating_mul(2).min(MAX_DELAY_MS);
        self.timer = self.timer_in(delay);
    }

    fn timer_in(&self, ms: i32) -> Option<Timer> {
        let inbox = Rc::clone(&self.inbox);
        let generation = self.generation;
        let f = Closure::<dyn FnMut()>::new(move || {
            inbox.push(Note::Rdv {
                generation,
                raw: Raw::Timer,
            });
        });
        let handle = browser::set_timeout(f.as_ref().unchecked_ref(), ms);
        Some(Timer { handle, _f: f })
    }

    fn connect(&mut self) -> Result<(), String> {
        let url = self.url.clone().ok_or("no rendezvous URL")?;
        self.generation = self.generation.wrapping_add(1);
        self.socket = None;
        self.members.clear();
        let ws = WebSocket::new_with_str(&url, SUBPROTOCOL)
            .map_err(|e| format!("WebSocket {url:?}: {}", browser::describe(&e)))?;
        let generation = self.generation;
        let listen = |make: fn(JsValue) -> Raw| {
            let inbox = Rc::clone(&self.inbox);
            Listener::new(move |e: JsValue| {
                inbox.push(Note::Rdv {
                    generation,
                    raw: make(e),
                });
            })
        };
        let on_open = listen(|_| Raw::Open);
        let on_message = listen(|e| {
            let text = e
                .dyn_into::<MessageEvent>()
                .ok()
                .and_then(|m| m.data().as_string())
                .unwrap_or_default();
            Raw::Message(text)
        });
        let on_close = listen(|e| {
            let why = e.dyn_into::<CloseEvent>().map_or_else(
                |_| "closed".to_owned(),
                |c| format!("closed ({}) {}", c.code(), c.reason()),
            );
            Raw::Closed(why)
        });
        let on_error = listen(|_| Raw::Closed("connection failed".to_owned()));
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        ws.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        self.socket = Some(Socket {
            ws,
            _listeners: vec![on_open, on_message, on_close, on_error],
        });
        self.phase = Phase::Connecting;
        self.timer = self.timer_in(JOIN_TIMEOUT_MS);
        Ok(())
    }
}

/// A server message, checked.
#[derive(Debug, PartialEq, Eq)]
enum Server {
    Peers(Vec<NodeId>),
    Joined(NodeId),
    Left(NodeId),
    Signal { from: NodeId, payload: Vec<u8> },
    Error(String),
}

/// Parses one server message; `None` for anything malformed or unknown.
fn parse(text: &str) -> Option<Server> {
    if text.len() > MAX_INCOMING {
        return None;
    }
    let value = JSON::parse(text).ok()?;
    if !value.is_object() {
        return None;
    }
    let field = |name: &str| Reflect::get(&value, &name.into()).ok();
    let string = |name: &str| field(name).and_then(|v| v.as_string());
    let node = |name: &str| string(name).and_then(|s| parse_node(&s));
    match string("type")?.as_str() {
        "peers" => {
            let list = field("nodes")?.dyn_into::<js_sys::Array>().ok()?;
            let mut nodes = Vec::new();
            for item in list.iter().take(MAX_MEMBERS) {
                nodes.push(parse_node(&item.as_string()?)?);
            }
            Some(Server::Peers(nodes))
        }
        "joined" => Some(Server::Joined(node("node")?)),
        "left" => Some(Server::Left(node("node")?)),
        "signal" => {
            let payload = string("payload")?;
            if payload.len() > MAX_PAYLOAD.div_ceil(3) * 4 {
                return None;
            }
            let payload = STANDARD.decode(payload).ok()?;
            if payload.len() > MAX_PAYLOAD {
                return None;
            }
            Some(Server::Signal {
                from: node("from")?,
                payload,
            })
        }
        "error" => {
            let mut reason = string("reason").unwrap_or_default();
            if reason.len() > 200 {
                let mut cut = 200;
                while !reason.is_char_boundary(cut) {
                    cut -= 1;
                }
                reason.truncate(cut);
            }
            Some(Server::Error(reason))
        }
        _ => None,
    }
}

/// A node id in the protocol's one form: 64 lower-case hex characters.
fn parse_node(text: &str) -> Option<NodeId> {
    let lower_hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    if text.len() != 64 || !text.bytes().all(lower_hex) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is a failed test"
)]
mod tests {
    use super::{MAX_PAYLOAD, Server, parse, valid_room};
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

    wasm_bindgen_test_configure!(run_in_browser);

    const A: &str = "aa00000000000000000000000000000000000000000000000000000000000001";

    #[wasm_bindgen_test]
    fn server_messages_parse() {
        let peers = parse(&format!(
            r#"{{"type":"peers","room":"r","nodes":["{A}"],"x":1}}"#
        ));
        assert_eq!(peers, Some(Server::Peers(vec![A.parse().unwrap()])));
        let signal = parse(&format!(
            r#"{{"type":"signal","from":"{A}","payload":"{}"}}"#,
            STANDARD.encode(b"sdp")
        ));
        assert_eq!(
            signal,
            Some(Server::Signal {
                from: A.parse().unwrap(),
                payload: b"sdp".to_vec()
            })
        );
        assert_eq!(
            parse(r#"{"type":"error","reason":"no"}"#),
            Some(Server::Error("no".into()))
        );
    }

    #[wasm_bindgen_test]
    fn garbage_is_dropped() {
        let upper = A.to_uppercase();
        let big = STANDARD.encode(vec![0u8; MAX_PAYLOAD + 1]);
        let cases = [
            String::new(),
            "null".into(),
            "[]".into(),
            "42".into(),
            "{".into(),
            r#"{"type":"dance"}"#.into(),
            r#"{"type":7}"#.into(),
            r#"{"type":"peers"}"#.into(),
            r#"{"type":"peers","nodes":"x"}"#.into(),
            r#"{"type":"peers","nodes":[1]}"#.into(),
            format!(r#"{{"type":"joined","node":"{upper}"}}"#),
            format!(r#"{{"type":"left","node":"{}"}}"#, &A[1..]),
            format!(r#"{{"type":"signal","from":"{A}","payload":"!!"}}"#),
            format!(r#"{{"type":"signal","from":"{A}","payload":"{big}"}}"#),
            format!(r#"{{"type":"signal","from":"{A}"}}"#),
            r#"{"type":"signal","from":"x","payload":"AA=="}"#.into(),
        ];
        for case in &cases {
            let shown: String = case.chars().take(120).collect();
            assert!(parse(case).is_none(), "{shown}");
        }
        let long = format!(r#"{{"type":"error","reason":"{}"}}"#, "é".repeat(300));
        assert!(matches!(parse(&long), Some(Server::Error(r)) if r.len() <= 200));
    }

    #[wasm_bindgen_test]
    fn room_names() {
        assert!(valid_room("quorate"));
        assert!(valid_room("demo/room-1.x_y"));
        for bad in ["", "Upper", "sp ace", "é", &"a".repeat(65), "\"quote"] {
            assert!(!valid_room(bad), "{bad:?}");
        }
    }
}
