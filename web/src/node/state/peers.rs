//! What the page's mesh picture shows beyond the mesh machine's peer list: which nodes
//! each peer said it was connected to (the peer list a peer sends when it comes up),
//! which actor a peer holds (the `feed/<actor>` head it announced itself), and the display
//! names of the actors the tab meets (their signed profiles, fetched from peers the way
//! an invitee's profile is: the feed's index and entries, no payloads; at most four at
//! once, 20 s each, feeds of at most 2,000 entries). Read-only for the page: none of it
//! changes what the node does.

use std::collections::{BTreeMap, BTreeSet};

use quorate_actor_core::ActorId;
use quorate_actor_core::sync::{self, Event as FeedEvent, FeedSync};
use quorate_mesh_blockstore::BlockStore;
use quorate_mesh_proto::mesh::{self, NodeId};
use quorate_mesh_proto::{Duration, Instant};
use wasm_bindgen::JsValue;

use super::State;
use super::actor::obj;
use super::groups::num;
use crate::browser;

/// Nodes kept from one peer's list.
const MAX_LIST: usize = 32;
/// Node → actor pairs kept.
const MAX_HOLDERS: usize = 256;
/// Display names kept.
const MAX_NAMES: usize = 256;
/// Profile lookups running at once.
const MAX_LOOKUPS: usize = 4;
/// A lookup that has not finished by then stops (and may start again later).
const LOOKUP_TTL: Duration = Duration::from_secs(20);
/// Wait before looking an actor up again.
const RETRY: Duration = Duration::from_secs(120);
/// Feeds longer than this are not fetched for a name (the profile is verified with the
/// whole feed): such an actor shows by id.
const MAX_ENTRIES: u64 = 2_000;
/// Blocks asked for at once by one lookup.
const WINDOW: usize = 256;

/// One profile lookup: the feed machine (entries only, no payloads) and its deadline.
#[derive(Debug)]
struct Lookup {
    sync: FeedSync,
    until: Instant,
}

/// Who holds what, as far as this tab can tell.
#[derive(Debug, Default)]
pub(in crate::node) struct PeerView {
    /// Peer → the other nodes it reported when it came up.
    lists: BTreeMap<NodeId, Vec<NodeId>>,
    /// Node → the actor whose feed head it announced; `None` once it announced several
    /// (a replica such as a native node's cache, not a holder).
    holders: BTreeMap<NodeId, Option<ActorId>>,
    /// Display names from verified profiles.
    names: BTreeMap<ActorId, String>,
    lookups: BTreeMap<ActorId, Lookup>,
    /// Actors not to look up before the time given.
    retry: BTreeMap<ActorId, Instant>,
    /// No new lookups before this (the wanted set is gathered at most once a second).
    next_start: Instant,
}

impl PeerView {
    /// A peer list `from` sent us (mesh-authenticated).
    pub(super) fn on_list(&mut self, from: NodeId, nodes: &[NodeId]) {
        let list = nodes.iter().copied().take(MAX_LIST).collect();
        self.lists.insert(from, list);
    }

    /// A mesh event: lists of peers gone, heads, blocks for the lookups.
    pub(super) fn on_event(&mut self, now: Instant, event: &mesh::Event) {
        match event {
            mesh::Event::PeerDown {
                node: Some(node), ..
            } => {
                self.lists.remove(node);
            }
            mesh::Event::HeadUpdated { head, from } => {
                if let Some(actor) = head
                    .name
                    .strip_prefix("feed/")
                    .and_then(|a| a.parse::<ActorId>().ok())
                {
                    self.on_feed_head(*from, actor);
                }
            }
            _ => {}
        }
        for lookup in self.lookups.values_mut() {
            sync::feed_event(&mut lookup.sync, now, event);
        }
    }

    fn on_feed_head(&mut self, from: NodeId, actor: ActorId) {
        match self.holders.get(&from) {
            Some(Some(held)) if *held != actor => {
                self.holders.insert(from, None);
            }
            Some(_) => {}
            None => {
                if self.holders.len() >= MAX_HOLDERS {
                    self.holders.pop_first();
                }
                self.holders.insert(from, Some(actor));
            }
        }
    }

    /// The actor `node` holds, if it announced exactly one feed.
    pub(super) fn holder(&self, node: &NodeId) -> Option<ActorId> {
        self.holders.get(node).copied().flatten()
    }

    /// What `node` reported being connected to.
    pub(super) fn list(&self, node: &NodeId) -> &[NodeId] {
        self.lists.get(node).map_or(&[], Vec::as_slice)
    }

    pub(super) fn name(&self, actor: &ActorId) -> Option<&str> {
        self.names.get(actor).map(String::as_str)
    }

    fn learn(&mut self, actor: ActorId, name: String) {
        if self.names.len() >= MAX_NAMES && !self.names.contains_key(&actor) {
            self.names.pop_first();
        }
        self.names.insert(actor, name);
    }

    /// The earliest lookup timer.
    pub(super) fn next_wake(&self) -> Option<Instant> {
        self.lookups
            .values()
            .flat_map(|l| [l.sync.poll_timeout(), Some(l.until)])
            .flatten()
            .min()
    }
}

impl State {
    /// Starts profile lookups for the actors met without a name (group members, peers'
    /// actors), runs them, and keeps the names found; returns how much happened.
    pub(super) fn peers_pump(&mut self) -> usize {
        let now = browser::now();
        if let Some(record) = &self.record
            && let Some(name) = record.name.clone()
            && self.peer_view.name(&record.actor) != Some(name.as_str())
        {
            self.peer_view.learn(record.actor, name);
        }
        self.start_lookups(now);
        let mut work = 0;
        let mut done = Vec::new();
        let store = self.driver.store_mut();
        let mut inputs = Vec::new();
        for (actor, lookup) in &mut self.peer_view.lookups {
            if lookup.sync.poll_timeout().is_some_and(|t| t <= now) {
                lookup.sync.handle_timeout(now);
            }
            let drained = sync::drain(&mut lookup.sync, now, |cid| store.get(cid).ok().flatten());
            work += drained.mesh.len();
            inputs.extend(drained.mesh);
            for event in drained.events {
                if let FeedEvent::Complete(snapshot) = event {
                    let name = snapshot.profile.metadata.get("name").cloned();
                    done.push((*actor, name));
                }
            }
            if lookup.until <= now {
                done.push((*actor, None));
            }
        }
        for input in inputs {
            // A refused input (too many head names) only delays a name.
            let _ = self.driver.handle(now, input);
        }
        for (actor, name) in done {
            work += 1;
            self.peer_view.lookups.remove(&actor);
            match name {
                Some(name) => self.peer_view.learn(actor, name),
                None => {
                    self.peer_view.retry.insert(actor, now + RETRY);
                }
            }
        }
        work
    }

    fn start_lookups(&mut self, now: Instant) {
        let view = &mut self.peer_view;
        if view.lookups.len() >= MAX_LOOKUPS || view.next_start > now {
            return;
        }
        view.next_start = now + Duration::from_secs(1);
        view.retry.retain(|_, t| *t > now);
        let mut wanted: BTreeSet<ActorId> = view.holders.values().flatten().copied().collect();
        for g in self.groups.gov.groups().list() {
            if g.member {
                wanted.extend(g.members.iter().filter_map(|m| m.parse::<ActorId>().ok()));
            }
        }
        let me = self.actor.as_ref().map(|a| a.identity().id());
        for actor in wanted {
            if view.lookups.len() >= MAX_LOOKUPS {
                break;
            }
            if Some(actor) == me
                || view.names.contains_key(&actor)
                || view.lookups.contains_key(&actor)
                || view.retry.contains_key(&actor)
            {
                continue;
            }
            let mut config = sync::Config::default();
            config.fetch_payloads = false;
            config.max_entries = MAX_ENTRIES;
            config.window = WINDOW;
            let lookup = Lookup {
                sync: FeedSync::new(config, actor, now),
                until: now + LOOKUP_TTL,
            };
            view.lookups.insert(actor, lookup);
        }
    }

    /// Connected peers for the page: `[{node, conn, score, actor, name, knows}]`.
    pub(in crate::node) fn peers_json(&self) -> String {
        let list: js_sys::Array = self
            .driver
            .mesh()
            .peers()
            .into_iter()
            .map(|(conn, node, score)| {
                let actor = self.peer_view.holder(&node);
                let knows: js_sys::Array = self
                    .peer_view
                    .list(&node)
                    .iter()
                    .map(|n| JsValue::from(n.to_string()))
                    .collect();
                obj(&[
                    ("node", node.to_string().into()),
                    ("conn", num(conn.0)),
                    ("score", JsValue::from(score)),
                    (
                        "actor",
                        actor.map_or(JsValue::NULL, |a| a.to_string().into()),
                    ),
                    (
                        "name",
                        actor
                            .and_then(|a| self.peer_view.name(&a))
                            .map_or(JsValue::NULL, JsValue::from),
                    ),
                    ("knows", knows.into()),
                ])
            })
            .collect();
        js_sys::JSON::stringify(&list)
            .ok()
            .and_then(|s| s.as_string())
            .unwrap_or_default()
    }

    /// Display names known: `{actor: name}`.
    pub(in crate::node) fn names_js(&self) -> JsValue {
        let pairs: Vec<(String, JsValue)> = self
            .peer_view
            .names
            .iter()
            .map(|(a, n)| (a.to_string(), JsValue::from(n.as_str())))
            .collect();
        let refs: Vec<(&str, JsValue)> =
            pairs.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        obj(&refs)
    }
}
