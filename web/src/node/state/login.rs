//! "Log in anywhere" in the node's loop: `sync::Login` driven with the shared glue
//! (`feed_event` for every mesh event, `drain` after every step), a deadline that moves
//! while blocks keep coming, and the finish: pin the actor's blocks, announce its heads,
//! seal the keystore under the same passphrase, resolve the page's promise.

use std::collections::BTreeSet;

use js_sys::{Function, Promise};
use quorate_actor_core::ActorId;
use quorate_actor_core::backup::{Locator, LocatorParams, normalize_handle, open_backup};
use quorate_actor_core::keystore::{KdfParams, Keystore};
use quorate_actor_core::sync::{self, Config, FeedSnapshot, Login, drain, feed_event};
use quorate_mesh_blockstore::BlockStore;
use quorate_mesh_proto::mesh::{self, Head};
use quorate_mesh_proto::{Cid, Duration, Instant, PinClass};
use wasm_bindgen::{JsError, JsValue};
use zeroize::Zeroizing;

use super::State;
use super::actor::{ms_since, obj, rng};
use crate::browser;
use crate::node::actor::{Actor, ActorRecord};

/// Backup candidates remembered (as `sync::Login` does).
const MAX_BACKUPS: usize = 32;
/// The default of `loginActor`'s timeout.
pub(in crate::node) const DEFAULT_TIMEOUT_MS: u32 = 30_000;

/// A login under way.
pub(in crate::node) struct LoginTask {
    machine: Login,
    locator: Locator,
    backup_name: String,
    handle: String,
    passphrase: Zeroizing<String>,
    resolve: Function,
    reject: Function,
    /// After the locator derivation.
    started: Instant,
    derive_ms: f64,
    timeout: Duration,
    /// Rejected at this instant: `timeout` after the start, then after the last block.
    deadline: Instant,
    keys: Option<ActorId>,
    /// Backup blocks peers announced under the locator's head.
    backups: BTreeSet<Cid>,
    have: u64,
    total: u64,
    problem: Option<String>,
}

impl std::fmt::Debug for LoginTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginTask")
            .field("keys", &self.keys)
            .field("have", &self.have)
            .field("total", &self.total)
            .finish_non_exhaustive()
    }
}

impl LoginTask {
    /// When the loop must wake for this login.
    pub(super) fn next_wake(&self) -> Instant {
        self.machine
            .poll_timeout()
            .map_or(self.deadline, |t| t.min(self.deadline))
    }

    /// `{keys, have, total}` for `info`.
    pub(super) fn status(&self) -> JsValue {
        #[allow(
            clippy::cast_precision_loss,
            reason = "entry counts are far below 2^53"
        )]
        let (have, total) = (self.have as f64, self.total as f64);
        obj(&[
            ("keys", self.keys.is_some().into()),
            ("have", have.into()),
            ("total", total.into()),
        ])
    }
}

impl State {
    /// Derives the locator of `handle` and `passphrase` (one Argon2id, synchronously) and
    /// starts a login; the promise resolves once the whole feed verified.
    pub(in crate::node) fn start_login(
        &mut self,
        handle: &str,
        passphrase: &str,
        timeout_ms: u32,
    ) -> Result<Promise, JsError> {
        self.check_no_actor()?;
        let handle = normalize_handle(handle).map_err(|e| JsError::new(&e.to_string()))?;
        let t0 = browser::now();
        let locator = Locator::derive(&handle, passphrase, &LocatorParams::V1)
            .map_err(|e| JsError::new(&e.to_string()))?;
        let derive_ms = ms_since(t0);
        let mut slot = None;
        let promise = Promise::new(&mut |resolve, reject| slot = Some((resolve, reject)));
        let (resolve, reject) =
            slot.ok_or_else(|| JsError::new("the Promise executor did not run"))?;
        let now = browser::now();
        let timeout = Duration::from_millis(u64::from(timeout_ms.max(1)));
        self.login = Some(Box::new(LoginTask {
            machine: Login::new(Config::default(), locator.clone(), now),
            backup_name: locator.head_name(),
            locator,
            handle,
            passphrase: Zeroizing::new(passphrase.to_owned()),
            resolve,
            reject,
            started: now,
            derive_ms,
            timeout,
            deadline: now + timeout,
            keys: None,
            backups: BTreeSet::new(),
            have: 0,
            total: 0,
            problem: None,
        }));
        Ok(promise)
    }

    /// Hands a mesh event to the login, if one runs.
    pub(super) fn login_event(&mut self, event: &mesh::Event) {
        let Some(task) = self.login.as_mut() else {
            return;
        };
        let now = browser::now();
        if let mesh::Event::HeadUpdated { head, .. } = event
            && head.name == task.backup_name
            && task.backups.len() < MAX_BACKUPS
        {
            task.backups.insert(head.cid);
        }
        let fetched = matches!(event, mesh::Event::Fetched { .. });
        if feed_event(&mut task.machine, now, event) && fetched && task.keys.is_some() {
            // Blocks keep coming: the feed is not stalled.
            task.deadline = now + task.timeout;
        }
    }

    /// Runs the login's timers and carries out its outputs; returns how much it did.
    pub(super) fn drive_login(&mut self) -> usize {
        let now = browser::now();
        let (Some(task), driver) = (self.login.as_mut(), &mut self.driver) else {
            return 0;
        };
        if task.machine.poll_timeout().is_some_and(|t| t <= now) {
            task.machine.handle_timeout(now);
        }
        let store = driver.store_mut();
        let drained = drain(&mut task.machine, now, |cid| store.get(cid).ok().flatten());
        let work = drained.mesh.len() + drained.events.len();
        for input in drained.mesh {
            // A refused input (a want for a block we hold…) changes nothing for the login.
            let _ = driver.handle(now, input);
        }
        for event in drained.events {
            let Some(task) = self.login.as_mut() else {
                break;
            };
            match event {
                sync::Event::KeysRecovered { actor } => {
                    task.keys = Some(actor);
                    task.deadline = now + task.timeout;
                }
                sync::Event::Progress { have, total, .. } => {
                    (task.have, task.total) = (have, total);
                    task.deadline = now + task.timeout;
                }
                sync::Event::BackupRejected { reason, .. } => {
                    task.problem = Some(format!("a peer offered a bad backup: {reason}"));
                }
                sync::Event::HeadRejected { reason, .. } => {
                    task.problem = Some(format!("a peer offered a bad feed head: {reason}"));
                }
                sync::Event::InvalidFeed { reason, .. } => {
                    task.problem = Some(format!("the feed does not verify: {reason}"));
                }
                sync::Event::Equivocation(_) => {
                    task.problem =
                        Some("the actor's feed is forked (two entries for one seq)".into());
                }
                sync::Event::Complete(snapshot) => self.finish_login(&snapshot),
                _ => {}
            }
        }
        if let Some(task) = self.login.as_ref()
            && now >= task.deadline
        {
            let message = self.timeout_message(task);
            self.fail_login(&message);
        }
        work
    }

    fn timeout_message(&self, task: &LoginTask) -> String {
        let waited = task.timeout.as_secs();
        let peers = self.driver.mesh().peers().len();
        let mut message = match task.keys {
            None => format!(
                "no peer has a backup for this handle and passphrase (waited {waited} s, {peers} peers connected): check both, and that a device holding the backup is online"
            ),
            Some(actor) => format!(
                "recovered the keys of actor {}, but its feed stopped arriving at {} of {} entries (nothing new for {waited} s, {peers} peers connected)",
                actor.short(),
                task.have,
                task.total
            ),
        };
        if let Some(problem) = &task.problem {
            message.push_str("; ");
            message.push_str(problem);
        }
        message
    }

    fn fail_login(&mut self, message: &str) {
        if let Some(task) = self.login.take() {
            let error = js_sys::Error::new(message);
            let _ = task.reject.call1(&JsValue::UNDEFINED, &error);
        }
    }

    /// The feed verified: keep everything, announce, seal the keystore, resolve.
    fn finish_login(&mut self, snapshot: &FeedSnapshot) {
        let ms = self.login.as_ref().map_or(0.0, |t| ms_since(t.started));
        match self.adopt(snapshot) {
            Ok((seal_ms, derive_ms)) => {
                let Some(task) = self.login.take() else {
                    return;
                };
                let info = self.actor_info();
                for (k, v) in [("ms", ms), ("deriveMs", derive_ms), ("sealMs", seal_ms)] {
                    let _ = js_sys::Reflect::set(&info, &k.into(), &v.into());
                }
                let _ = task.resolve.call1(&JsValue::UNDEFINED, &info);
            }
            Err(e) => self.fail_login(&format!("the feed arrived, but {e}")),
        }
    }

    /// Makes the logged-in actor this tab's; returns (seal ms, derive ms).
    fn adopt(&mut self, snapshot: &FeedSnapshot) -> Result<(f64, f64), String> {
        let Some(task) = self.login.as_ref() else {
            return Err("the login went away".into());
        };
        let identity = task
            .machine
            .identity()
            .cloned()
            .ok_or("no keys (internal error)")?;
        let actor = Actor::from_snapshot(identity, snapshot)?;
        // The backup that opened (peers may have announced others under the name).
        let store = self.driver.store_mut();
        let backup = task.backups.iter().copied().find(|cid| {
            store
                .get(cid)
                .ok()
                .flatten()
                .and_then(|b| open_backup(&b, &task.locator).ok())
                .is_some_and(|id| id.id() == snapshot.actor)
        });
        let backup_head = backup.map(|cid| Head {
            name: task.backup_name.clone(),
            seq: 1,
            cid,
        });
        let t0 = browser::now();
        let keystore = Keystore::seal(
            actor.identity(),
            &task.passphrase,
            KdfParams::DEFAULT,
            &mut rng()?,
        )
        .map_err(|e| format!("cannot seal the keystore: {e}"))?;
        let seal_ms = ms_since(t0);
        let (handle, derive_ms) = (task.handle.clone(), task.derive_ms);
        let mut pins = vec![
            (snapshot.head_cid, PinClass::FeedHead),
            (snapshot.head.profile, PinClass::ActorKey),
        ];
        pins.extend(backup.map(|cid| (cid, PinClass::ActorKey)));
        for cid in snapshot
            .head
            .pages
            .iter()
            .chain(&snapshot.entries)
            .chain(&snapshot.payloads)
        {
            pins.push((*cid, PinClass::FeedEntry));
        }
        self.pin_stored(&pins)?;
        let feed = snapshot.head.mesh_head(snapshot.head_cid);
        self.announce(feed.clone());
        if let Some(head) = backup_head.clone() {
            self.announce(head);
        }
        self.record = Some(ActorRecord {
            actor: snapshot.actor,
            name: snapshot.profile.metadata.get("name").cloned(),
            handle: Some(handle),
            keystore,
            feed,
            backup: backup_head,
            groups: Vec::new(),
        });
        self.actor = Some(actor);
        self.saver.dirty = true;
        Ok((seal_ms, derive_ms))
    }
}
