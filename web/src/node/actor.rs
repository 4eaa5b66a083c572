//! The actor a tab holds: its keys (once unlocked) and its feed, and the record of it kept
//! in IndexedDB so a reload finds it again.
//!
//! Nothing here touches the node: functions take a block loader and return the blocks to
//! store (with their pin class) and the head to announce; `state::actor` does the rest.
//!
//! # The stored record (key `actor` of the node's key-value database)
//! ```text
//! { v: 1, actor: hex, name: string|null, handle: string|null,
//!   keystore: Uint8Array,                        // keystore file bytes (Argon2id-sealed)
//!   feed:   { name, seq: BigInt, cid: string },  // the feed head announced
//!   backup: { name, seq: BigInt, cid: string } | null,
//!   groups: [{ name, seq: BigInt, cid: string }] }  // group heads announced (absent before groups)
//! ```
//! All of it is public (it is what the mesh hears) except the keystore, which only the
//! passphrase opens. A record that does not decode is ignored (and reported by `info`).

use std::collections::BTreeMap;

use js_sys::{Object, Reflect, Uint8Array};
use quorate_actor_core::feed::{FeedEntry, FeedHead, FeedLog, FeedPage, head_name};
use quorate_actor_core::keystore::Keystore;
use quorate_actor_core::sync::FeedSnapshot;
use quorate_actor_core::{ActorId, ActorProfile, Identity};
use quorate_mesh_proto::mesh::{Head, MAX_HEAD_NAME_LEN};
use quorate_mesh_proto::payloads::Text;
use quorate_mesh_proto::{Block, Cid, PinClass};
use rand_core::CryptoRngCore;
use wasm_bindgen::JsValue;

/// The key of the record in the node's key-value database.
pub(super) const RECORD_KEY: &str = "actor";
/// The record version this code reads and writes.
const RECORD_VERSION: u32 = 1;
/// Longest display name, in bytes (the profile's metadata limit is larger).
pub(super) const MAX_NAME_LEN: usize = 128;
/// Longest post, in bytes.
pub(super) const MAX_POST_LEN: usize = 64 * 1024;
/// Most entries one `postMany` appends.
pub(super) const MAX_BATCH: usize = 100_000;
/// Group heads kept in the record at most (two per group).
pub(super) const MAX_GROUP_HEADS: usize = 512;
/// Most entries scanned (newest first) to find the latest posts.
const MAX_SCAN: usize = 1024;

/// What the node keeps about its actor between sessions.
#[derive(Clone, Debug)]
pub(super) struct ActorRecord {
    pub(super) actor: ActorId,
    pub(super) name: Option<String>,
    pub(super) handle: Option<String>,
    pub(super) keystore: Vec<u8>,
    pub(super) feed: Head,
    pub(super) backup: Option<Head>,
    /// Heads of the groups the tab follows, as it last announced them.
    pub(super) groups: Vec<Head>,
}

fn set(o: &Object, k: &str, v: &JsValue) {
    let _ = Reflect::set(o, &JsValue::from_str(k), v);
}

fn opt_str(s: Option<&str>) -> JsValue {
    s.map_or(JsValue::NULL, JsValue::from_str)
}

fn head_to_js(head: &Head) -> JsValue {
    let o = Object::new();
    set(&o, "name", &JsValue::from_str(&head.name));
    set(&o, "seq", &JsValue::from(head.seq));
    set(&o, "cid", &JsValue::from_str(&head.cid.to_string()));
    o.into()
}

fn head_from_js(v: &JsValue) -> Result<Head, String> {
    let field = |k: &str| Reflect::get(v, &JsValue::from_str(k)).unwrap_or(JsValue::UNDEFINED);
    let name = field("name").as_string().ok_or("head name")?;
    if name.len() > MAX_HEAD_NAME_LEN {
        return Err("head name too long".into());
    }
    let seq = u64::try_from(field("seq")).map_err(|_| "head seq")?;
    let cid = field("cid")
        .as_string()
        .ok_or("head cid")?
        .parse::<Cid>()
        .map_err(|e| format!("head cid: {e}"))?;
    Ok(Head { name, seq, cid })
}

impl ActorRecord {
    /// The record as a structured-clone value for IndexedDB.
    pub(super) fn to_js(&self) -> JsValue {
        let o = Object::new();
        set(&o, "v", &JsValue::from(RECORD_VERSION));
        set(&o, "actor", &JsValue::from_str(&self.actor.to_string()));
        set(&o, "name", &opt_str(self.name.as_deref()));
        set(&o, "handle", &opt_str(self.handle.as_deref()));
        set(
            &o,
            "keystore",
            &Uint8Array::from(self.keystore.as_slice()).into(),
        );
        set(&o, "feed", &head_to_js(&self.feed));
        set(
            &o,
            "backup",
            &self.backup.as_ref().map_or(JsValue::NULL, head_to_js),
        );
        let groups: js_sys::Array = self.groups.iter().map(head_to_js).collect();
        set(&o, "groups", &groups.into());
        o.into()
    }

    /// Reads a stored record back and checks that its parts agree: the keystore is a
    /// well-formed keystore of the actor named, the feed head is that actor's.
    pub(super) fn from_js(v: &JsValue) -> Result<ActorRecord, String> {
        if !v.is_object() {
            return Err("not an object".into());
        }
        let field = |k: &str| Reflect::get(v, &JsValue::from_str(k)).unwrap_or(JsValue::UNDEFINED);
        if field("v").as_f64() != Some(f64::from(RECORD_VERSION)) {
            return Err("unknown record version".into());
        }
        let actor = field("actor")
            .as_string()
            .ok_or("actor")?
            .parse::<ActorId>()
            .map_err(|e| e.to_string())?;
        let keystore = Uint8Array::new(&field("keystore")).to_vec();
        let info = Keystore::inspect(&keystore).map_err(|e| format!("keystore: {e}"))?;
        if info.actor != actor {
            return Err("the keystore belongs to another actor".into());
        }
        let feed = head_from_js(&field("feed"))?;
        if feed.name != head_name(&actor) {
            return Err("the feed head is not the actor's".into());
        }
        let backup = match field("backup") {
            b if b.is_null() || b.is_undefined() => None,
            b => Some(head_from_js(&b)?),
        };
        // Absent in records saved before groups; a bad head is dropped, not fatal.
        let groups = match field("groups") {
            g if js_sys::Array::is_array(&g) => js_sys::Array::from(&g)
                .iter()
                .take(MAX_GROUP_HEADS)
                .filter_map(|h| head_from_js(&h).ok())
                .filter(|h| quorate_group_core::group_of_name(&h.name).is_some())
                .collect(),
            _ => Vec::new(),
        };
        let text = |k: &str, max: usize| field(k).as_string().filter(|s| s.len() <= max);
        Ok(ActorRecord {
            actor,
            name: text("name", MAX_NAME_LEN),
            handle: text("handle", 64),
            keystore,
            feed,
            backup,
            groups,
        })
    }
}

/// Blocks to store after a change, each with the class to pin it under, and the feed head
/// to announce.
#[derive(Debug)]
pub(super) struct Published {
    pub(super) blocks: Vec<(Block, PinClass)>,
    pub(super) head: Head,
}

/// An unlocked actor: its keys and its feed.
pub(super) struct Actor {
    identity: Identity,
    log: FeedLog,
    profile: Cid,
}

impl std::fmt::Debug for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Actor")
            .field("id", &self.identity.id())
            .field("entries", &self.log.len())
            .finish_non_exhaustive()
    }
}

/// Milliseconds since the Unix epoch (the page's clock).
pub(crate) fn now_ms() -> u64 {
    #[allow(
        clippy::cast_possible_truncation,
        reason = "a non-negative f64 of epoch milliseconds fits u64; `as` saturates"
    )]
    let ms = js_sys::Date::now().max(0.0) as u64;
    ms
}

fn text_block(text: &str) -> Result<Block, String> {
    if text.len() > MAX_POST_LEN {
        return Err(format!("a post is at most {MAX_POST_LEN} bytes"));
    }
    Block::encode(&Text {
        body: text.to_owned(),
    })
    .map_err(|e| format!("cannot encode the post: {e}"))
}

impl Actor {
    /// A new actor from `rng`: its profile (display name `name`) and a first feed entry
    /// that publishes it (as the native node's `quorate actor new` does).
    pub(super) fn create(
        rng: &mut impl CryptoRngCore,
        name: Option<&str>,
    ) -> Result<(Actor, Published), String> {
        let identity = Identity::generate(rng);
        let metadata: BTreeMap<String, String> = name
            .filter(|n| !n.is_empty())
            .map(|n| ("name".to_owned(), n.to_owned()))
            .into_iter()
            .collect();
        let profile = ActorProfile::publish(&identity, metadata)
            .map_err(|e| format!("cannot sign the profile: {e}"))?;
        let mut actor = Actor {
            log: FeedLog::new(identity.id()),
            identity,
            profile: *profile.cid(),
        };
        let entry = actor
            .log
            .append(&actor.identity, now_ms(), vec![*profile.cid()])
            .map_err(|e| format!("cannot sign the first entry: {e}"))?;
        let mut published = actor.publish()?;
        published.blocks.push((profile, PinClass::ActorKey));
        published.blocks.push((entry, PinClass::FeedEntry));
        Ok((actor, published))
    }

    /// The actor a login rebuilt.
    pub(super) fn from_snapshot(
        identity: Identity,
        snapshot: &FeedSnapshot,
    ) -> Result<Actor, String> {
        let log = FeedLog::resume(snapshot.entries.clone(), snapshot.last.clone())
            .map_err(|e| format!("cannot continue the feed: {e}"))?;
        Ok(Actor {
            identity,
            log,
            profile: snapshot.head.profile,
        })
    }

    /// The actor behind a stored head, with keys from the keystore: the feed is read back
    /// from the local store (head, pages, last entry) and checked.
    pub(super) fn rebuild(
        identity: Identity,
        head_cid: &Cid,
        mut load: impl FnMut(&Cid) -> Option<Block>,
    ) -> Result<Actor, String> {
        let missing = |what: &str| format!("the stored feed lacks its {what} block");
        let block = load(head_cid).ok_or_else(|| missing("head"))?;
        let head = FeedHead::verify_block(&block).map_err(|e| format!("stored head: {e}"))?;
        if head.actor != identity.id() {
            return Err("the stored feed head is another actor's".into());
        }
        let mut entries = Vec::new();
        for (index, cid) in head.pages.iter().enumerate() {
            let block = load(cid).ok_or_else(|| missing("index page"))?;
            let page = FeedPage::verify_block(&block, &head, index)
                .map_err(|e| format!("stored page: {e}"))?;
            entries.extend(page.entries);
        }
        if entries.last() != Some(&head.entry) {
            return Err("the stored index does not end with the head's entry".into());
        }
        let block = load(&head.entry).ok_or_else(|| missing("last entry"))?;
        let last = FeedEntry::verify_block(&block).map_err(|e| format!("stored entry: {e}"))?;
        let log = FeedLog::resume(entries, last).map_err(|e| format!("stored feed: {e}"))?;
        Ok(Actor {
            identity,
            log,
            profile: head.profile,
        })
    }

    /// Appends one entry per text (each a `Text` block), then publishes one head.
    pub(super) fn post<'t>(
        &mut self,
        texts: impl IntoIterator<Item = &'t str>,
    ) -> Result<Published, String> {
        let mut blocks = Vec::new();
        let now = now_ms();
        for text in texts {
            let post = text_block(text)?;
            let entry = self
                .log
                .append(&self.identity, now, vec![*post.cid()])
                .map_err(|e| format!("cannot sign the entry: {e}"))?;
            blocks.push((post, PinClass::FeedEntry));
            blocks.push((entry, PinClass::FeedEntry));
        }
        let mut published = self.publish()?;
        blocks.append(&mut published.blocks);
        published.blocks = blocks;
        Ok(published)
    }

    /// Signs a head for the feed as it is, with the pages that changed.
    fn publish(&mut self) -> Result<Published, String> {
        let publication = self
            .log
            .publish(&self.identity, self.profile)
            .map_err(|e| format!("cannot sign the feed head: {e}"))?;
        let head = publication.feed_head.mesh_head(*publication.head.cid());
        let mut blocks: Vec<(Block, PinClass)> = publication
            .pages
            .into_iter()
            .map(|p| (p, PinClass::FeedEntry))
            .collect();
        blocks.push((publication.head, PinClass::FeedHead));
        Ok(Published { blocks, head })
    }

    pub(super) fn identity(&self) -> &Identity {
        &self.identity
    }

    pub(super) fn entries(&self) -> &[Cid] {
        self.log.entries()
    }
}

/// One post, for the page.
#[derive(Debug)]
pub(super) struct Post {
    pub(super) seq: u64,
    pub(super) timestamp: u64,
    pub(super) text: String,
}

/// The newest `n` posts (`Text` payloads) of a feed whose entry CIDs are `entries`, newest
/// first, read from the local store; entries or payloads it lacks are skipped.
pub(super) fn latest_posts(
    entries: &[Cid],
    n: usize,
    mut load: impl FnMut(&Cid) -> Option<Block>,
) -> Vec<Post> {
    let mut posts = Vec::new();
    for cid in entries.iter().rev().take(MAX_SCAN) {
        if posts.len() >= n {
            break;
        }
        let Some(entry) = load(cid).and_then(|b| b.decode::<FeedEntry>().ok()) else {
            continue;
        };
        let entry = entry.payload;
        for payload in &entry.payloads {
            if let Some(text) = load(payload).and_then(|b| b.decode::<Text>().ok()) {
                posts.push(Post {
                    seq: entry.seq,
                    timestamp: entry.timestamp,
                    text: text.payload.body,
                });
            }
        }
    }
    posts.truncate(n);
    posts
}
