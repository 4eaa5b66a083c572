//! The actor, in the node: create, unlock, post, forget; store its blocks pinned, announce
//! its heads, and keep its record (keystore and heads) in the key-value database.

use js_sys::{Array, Object};
use quorate_actor_core::backup::{Locator, LocatorParams, normalize_handle, seal_backup};
use quorate_actor_core::keystore::{KdfParams, Keystore, KeystoreError};
use quorate_mesh_blockstore::{BlockStore, PutOptions};
use quorate_mesh_proto::mesh::{Head, Input};
use quorate_mesh_proto::{Block, Cid, PinClass};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use wasm_bindgen::{JsError, JsValue};

use super::State;
use crate::browser;
use crate::node::actor::{
    Actor, ActorRecord, MAX_BATCH, MAX_NAME_LEN, Published, RECORD_KEY, latest_posts,
};

/// The most a saved keystore may ask of the tab: 256 MiB, `t = 8`, `p = 4` (this tab seals
/// with `KdfParams::DEFAULT`, 64 MiB and `t = 3`).
const KEYSTORE_LIMIT: KdfParams = KdfParams::new(256 * 1024, 8, 4);
/// Most posts `latestPosts` returns.
const MAX_POSTS_SHOWN: usize = 200;

/// A JS object from key-value pairs.
pub(super) fn obj(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in pairs {
        let _ = js_sys::Reflect::set(&o, &JsValue::from_str(k), v);
    }
    o.into()
}

/// Milliseconds since `t0` (a `browser::now()`), for reports.
pub(super) fn ms_since(t0: quorate_mesh_proto::Instant) -> f64 {
    let micros = browser::now().as_micros().saturating_sub(t0.as_micros());
    #[allow(
        clippy::cast_precision_loss,
        reason = "a duration in microseconds shown to the page"
    )]
    let ms = micros as f64 / 1000.0;
    ms
}

/// A seeded ChaCha20 from `crypto.getRandomValues`.
pub(super) fn rng() -> Result<ChaCha20Rng, String> {
    let mut seed = [0u8; 32];
    browser::random(&mut seed).map_err(|e| format!("getRandomValues: {e}"))?;
    Ok(ChaCha20Rng::from_seed(seed))
}

fn err(message: impl std::fmt::Display) -> JsError {
    JsError::new(&message.to_string())
}

impl State {
    /// Loads the actor record kept in the key-value database (if any) and announces its
    /// heads again, so peers find the feed and the backup while the tab is open.
    pub(in crate::node) fn load_record(&mut self) {
        let Some(value) = self.kv.as_ref().and_then(|kv| kv.get(RECORD_KEY).cloned()) else {
            return;
        };
        match ActorRecord::from_js(&value) {
            Ok(record) => {
                self.announce(record.feed.clone());
                if let Some(backup) = record.backup.clone() {
                    self.announce(backup);
                }
                self.restore_groups(record.groups.clone());
                self.record = Some(record);
            }
            Err(e) => self.saver.last_error = Some(format!("the saved actor is unreadable: {e}")),
        }
    }

    /// Refuses to start a new actor while one is held or a login runs.
    pub(super) fn check_no_actor(&self) -> Result<(), JsError> {
        if let Some(record) = &self.record {
            return Err(err(format!(
                "this tab already holds actor {}; forget it first",
                record.actor.short()
            )));
        }
        if self.login.is_some() {
            return Err(err("a login is already running in this tab"));
        }
        Ok(())
    }

    /// Creates an actor: keys, profile, a first entry, the key backup if `handle` is given,
    /// the keystore sealed under `passphrase`. Costs two Argon2id (one without a handle).
    pub(in crate::node) fn create_actor(
        &mut self,
        handle: Option<&str>,
        passphrase: &str,
        name: Option<&str>,
    ) -> Result<JsValue, JsError> {
        self.check_no_actor()?;
        let name = name.map(str::trim).filter(|n| !n.is_empty());
        if name.is_some_and(|n| n.len() > MAX_NAME_LEN) {
            return Err(err(format!(
                "a display name is at most {MAX_NAME_LEN} bytes"
            )));
        }
        let handle = match handle.map(str::trim).filter(|h| !h.is_empty()) {
            Some(h) => Some(normalize_handle(h).map_err(err)?),
            None => None,
        };
        if passphrase.is_empty() {
            return Err(err("the passphrase is empty"));
        }
        let mut rng = rng().map_err(err)?;
        let (actor, Published { mut blocks, head }) = Actor::create(&mut rng, name).map_err(err)?;
        let t0 = browser::now();
        let backup = match &handle {
            Some(h) => {
                let locator = Locator::derive(h, passphrase, &LocatorParams::V1).map_err(err)?;
                let block = seal_backup(actor.identity(), &locator, &mut rng).map_err(err)?;
                let head = Head {
                    name: locator.head_name(),
                    seq: 1,
                    cid: *block.cid(),
                };
                blocks.push((block, PinClass::ActorKey));
                Some(head)
            }
            None => None,
        };
        let locator_ms = ms_since(t0);
        let t1 = browser::now();
        let keystore = Keystore::seal(actor.identity(), passphrase, KdfParams::DEFAULT, &mut rng)
            .map_err(err)?;
        let keystore_ms = ms_since(t1);
        self.store_pinned(&blocks).map_err(err)?;
        self.announce(head.clone());
        if let Some(backup) = backup.clone() {
            self.announce(backup);
        }
        self.record = Some(ActorRecord {
            actor: actor.identity().id(),
            name: name.map(str::to_owned),
            handle,
            keystore,
            feed: head,
            backup,
            groups: Vec::new(),
        });
        self.actor = Some(actor);
        self.saver.dirty = true;
        let info = self.actor_info();
        let _ = js_sys::Reflect::set(&info, &"locatorMs".into(), &locator_ms.into());
        let _ = js_sys::Reflect::set(&info, &"keystoreMs".into(), &keystore_ms.into());
        Ok(info)
    }

    /// Opens the saved keystore with `passphrase` and rebuilds the feed from the store.
    pub(in crate::node) fn unlock_actor(&mut self, passphrase: &str) -> Result<JsValue, JsError> {
        let record = self
            .record
            .as_ref()
            .ok_or_else(|| err("there is no saved actor in this tab"))?;
        if self.actor.is_some() {
            return Ok(self.actor_info());
        }
        let t0 = browser::now();
        let identity = Keystore::open_with_limits(&record.keystore, passphrase, &KEYSTORE_LIMIT)
            .map_err(|e| match e {
                KeystoreError::WrongPassphraseOrCorrupt => {
                    err("wrong passphrase (or the saved keystore is damaged)")
                }
                other => err(format!("cannot open the saved keystore: {other}")),
            })?;
        let unlock_ms = ms_since(t0);
        let head = record.feed.cid;
        let store = self.driver.store_mut();
        let actor = Actor::rebuild(identity, &head, |cid| store.get(cid).ok().flatten())
            .map_err(|e| err(format!("the keys opened, but {e}")))?;
        self.actor = Some(actor);
        let info = self.actor_info();
        let _ = js_sys::Reflect::set(&info, &"unlockMs".into(), &unlock_ms.into());
        Ok(info)
    }

    /// Appends one entry per text and publishes the new head.
    pub(in crate::node) fn post(&mut self, texts: &[String]) -> Result<JsValue, JsError> {
        if texts.is_empty() || texts.len() > MAX_BATCH {
            return Err(err(format!("post 1 to {MAX_BATCH} entries at once")));
        }
        let Some(actor) = self.actor.as_mut() else {
            return Err(err(if self.record.is_some() {
                "the actor is locked: unlock it with its passphrase first"
            } else {
                "no actor in this tab: create one or log in"
            }));
        };
        let t0 = browser::now();
        let Published { blocks, head } =
            actor.post(texts.iter().map(String::as_str)).map_err(err)?;
        self.store_pinned(&blocks).map_err(err)?;
        self.announce(head.clone());
        if let Some(record) = self.record.as_mut() {
            record.feed = head;
            self.saver.dirty = true;
        }
        let info = self.actor_info();
        let _ = js_sys::Reflect::set(&info, &"ms".into(), &ms_since(t0).into());
        Ok(info)
    }

    /// Drops the actor and its saved record (its blocks stay in the store).
    pub(in crate::node) fn forget_actor(&mut self) -> Result<(), JsError> {
        if self.login.is_some() {
            return Err(err("a login is running"));
        }
        if self.record.take().is_some() {
            self.saver.dirty = true;
        }
        self.actor = None;
        Ok(())
    }

    /// `{actor, name, handle, entries, seq, head, backup, locked}`, or `null`.
    pub(in crate::node) fn actor_info(&self) -> JsValue {
        let Some(record) = &self.record else {
            return JsValue::NULL;
        };
        let opt = |s: &Option<String>| s.as_deref().map_or(JsValue::NULL, JsValue::from_str);
        #[allow(
            clippy::cast_precision_loss,
            reason = "entry counts are far below 2^53"
        )]
        let entries = self
            .actor
            .as_ref()
            .map_or(record.feed.seq.saturating_add(1), |a| {
                a.entries().len() as u64
            }) as f64;
        obj(&[
            ("actor", record.actor.to_string().into()),
            ("name", opt(&record.name)),
            ("handle", opt(&record.handle)),
            ("entries", entries.into()),
            ("head", record.feed.cid.to_string().into()),
            (
                "backup",
                record
                    .backup
                    .as_ref()
                    .map_or(JsValue::NULL, |b| b.name.as_str().into()),
            ),
            ("locked", self.actor.is_none().into()),
        ])
    }

    /// The newest `n` posts of the unlocked actor, newest first: `[{seq, timestamp, text}]`.
    pub(in crate::node) fn latest_posts(&mut self, n: usize) -> Array {
        let list = Array::new();
        let Some(actor) = &self.actor else {
            return list;
        };
        let store = self.driver.store_mut();
        for post in latest_posts(actor.entries(), n.min(MAX_POSTS_SHOWN), |cid| {
            store.get(cid).ok().flatten()
        }) {
            #[allow(
                clippy::cast_precision_loss,
                reason = "seq and epoch milliseconds are far below 2^53"
            )]
            let (seq, timestamp) = (post.seq as f64, post.timestamp as f64);
            list.push(&obj(&[
                ("seq", seq.into()),
                ("timestamp", timestamp.into()),
                ("text", post.text.into()),
            ]));
        }
        list
    }

    /// Stores blocks pinned, in one batch.
    pub(super) fn store_pinned(&mut self, blocks: &[(Block, PinClass)]) -> Result<(), String> {
        let batch: Vec<(Block, PutOptions)> = blocks
            .iter()
            .map(|(b, class)| (b.clone(), PutOptions::pinned(*class)))
            .collect();
        let results = self
            .driver
            .store_mut()
            .put_many(&batch)
            .map_err(|e| format!("block store: {e}"))?;
        match results.into_iter().find_map(Result::err) {
            Some(e) => Err(format!("block store: {e}")),
            None => Ok(()),
        }
    }

    /// Re-stores blocks already in the store under a pin (fetched blocks are cached).
    pub(super) fn pin_stored(&mut self, cids: &[(Cid, PinClass)]) -> Result<(), String> {
        let store = self.driver.store_mut();
        let blocks: Vec<(Block, PinClass)> = cids
            .iter()
            .filter_map(|(cid, class)| Some((store.get(cid).ok().flatten()?, *class)))
            .collect();
        if blocks.len() != cids.len() {
            return Err(format!(
                "{} of the actor's blocks are missing from the store",
                cids.len() - blocks.len()
            ));
        }
        self.store_pinned(&blocks)
    }

    /// Announces (or advances) a head.
    pub(super) fn announce(&mut self, head: Head) {
        // A refused head (a name too long) cannot come from this code's own heads.
        let _ = self.driver.handle(browser::now(), Input::SetHead(head));
    }
}
