//! Actors in the node: it replicates the feeds and key backups it hears of (a blind cache:
//! it checks signatures, it cannot read a backup), keeps announcing the heads it holds
//! across restarts, and runs log-ins for `quorate actor login`.
//!
//! Every sync machine is driven by actor-core's shared glue (`sync::feed_event`,
//! `sync::drain`): mesh events in, mesh inputs and sync events out, needed blocks looked
//! up in the store first.
//!
//! Quotas: at most [`MAX_FOLLOWS`] feeds and [`MAX_BACKUPS`] backups, feeds of at most
//! `sync::Config::max_entries` entries; verified feed blocks are pinned, payloads stay in
//! the evictable cache.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant as StdInstant;

use quorate_actor_core::ActorId;
use quorate_actor_core::backup::{HEAD_PREFIX, check_backup};
use quorate_actor_core::sync::{self, Event as SyncEvent, FeedSnapshot, FeedSync, Login, Machine};
use quorate_mesh_blockstore::{BlockStore as _, PutOptions};
use quorate_mesh_proto::mesh::{Event, Head, Input};
use quorate_mesh_proto::{Cid, Instant, PinClass};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use super::control::{LoginReply, Reply};
use super::node::Node;

/// Feeds followed at most.
pub(crate) const MAX_FOLLOWS: usize = 256;
/// Key backups held at most.
pub(crate) const MAX_BACKUPS: usize = 1024;
/// The file the node's announced heads persist in.
pub(crate) const HEADS_FILE: &str = "heads.json";
const FEED_PREFIX: &str = "feed/";

/// A log-in waiting for its feed.
#[derive(Debug)]
pub(crate) struct PendingLogin {
    pub(crate) login: Login,
    pub(crate) reply: Option<oneshot::Sender<Reply>>,
    pub(crate) started: StdInstant,
    pub(crate) keys_at: Option<StdInstant>,
    pub(crate) deadline: StdInstant,
}

/// The node's actor state.
#[derive(Debug, Default)]
pub(crate) struct Actors {
    follows: BTreeMap<ActorId, FeedSync>,
    /// Backup head name → the block being checked, or the head held.
    backups: BTreeMap<String, Backup>,
    pub(crate) logins: Vec<PendingLogin>,
    /// Heads this node announces, persisted in [`HEADS_FILE`].
    heads: BTreeMap<String, Head>,
    heads_path: PathBuf,
}

#[derive(Debug)]
enum Backup {
    Checking(Head),
    Held,
}

#[derive(Serialize, Deserialize)]
struct StoredHead {
    name: String,
    seq: u64,
    cid: String,
}

impl Actors {
    /// Loads the persisted heads of `dir` (a missing or unreadable file means none).
    pub(crate) fn load(dir: &Path) -> Actors {
        let heads_path = dir.join(HEADS_FILE);
        let mut heads = BTreeMap::new();
        if let Ok(text) = std::fs::read_to_string(&heads_path) {
            match serde_json::from_str::<Vec<StoredHead>>(&text) {
                Ok(list) => {
                    for h in list {
                        if let Ok(cid) = h.cid.parse::<Cid>() {
                            heads.insert(
                                h.name.clone(),
                                Head {
                                    name: h.name,
                                    seq: h.seq,
                                    cid,
                                },
                            );
                        }
                    }
                }
                Err(e) => {
                    // Keep the damaged file for inspection instead of writing over it.
                    let kept = heads_path.with_extension("json.corrupt");
                    let moved = std::fs::rename(&heads_path, &kept);
                    tracing::warn!(
                        "{}: {e}; starting without stored heads (the file is kept as {}: {moved:?})",
                        heads_path.display(),
                        kept.display()
                    );
                }
            }
        }
        Actors {
            heads,
            heads_path,
            ..Actors::default()
        }
    }

    /// Backup heads whose block `cid` is being checked.
    fn checking(&self, cid: &Cid) -> Vec<Head> {
        self.backups
            .values()
            .filter_map(|b| match b {
                Backup::Checking(h) if h.cid == *cid => Some(h.clone()),
                _ => None,
            })
            .collect()
    }

    /// The heads to announce at start.
    pub(crate) fn stored_heads(&self) -> Vec<Head> {
        self.heads.values().cloned().collect()
    }

    pub(crate) fn remember_head(&mut self, head: &Head) {
        let newer = self
            .heads
            .get(&head.name)
            .is_none_or(|old| head.seq >= old.seq);
        if !newer {
            return;
        }
        self.heads.insert(head.name.clone(), head.clone());
        let list: Vec<StoredHead> = self
            .heads
            .values()
            .map(|h| StoredHead {
                name: h.name.clone(),
                seq: h.seq,
                cid: h.cid.to_string(),
            })
            .collect();
        let write = serde_json::to_vec_pretty(&list)
            .map_err(std::io::Error::other)
            .and_then(|bytes| {
                let tmp = self.heads_path.with_extension("json.tmp");
                std::fs::write(&tmp, bytes)?;
                std::fs::rename(&tmp, &self.heads_path)
            });
        if let Err(e) = write {
            tracing::warn!("{}: {e}", self.heads_path.display());
        }
    }
}

/// Adds heads to the data directory's stored heads while no node runs there (the next
/// node started on it announces them).
pub(crate) fn remember_heads_offline(dir: &Path, heads: &[Head]) {
    let mut actors = Actors::load(dir);
    for head in heads {
        actors.remember_head(head);
    }
}

impl Node {
    /// Announces the stored heads (at start).
    pub(crate) fn announce_stored_heads(&mut self) {
        let now = self.now();
        for head in self.actors.stored_heads() {
            if let Some(actor) = head
                .name
                .strip_prefix(FEED_PREFIX)
                .and_then(|a| a.parse::<ActorId>().ok())
            {
                self.follow(actor, now);
            }
            if quorate_group_core::group_of_name(&head.name).is_some() {
                self.restore_group_head(head.clone());
            }
            if let Err(e) = self.driver.handle(now, Input::SetHead(head)) {
                tracing::warn!("stored head: {e}");
            }
        }
    }

    /// Announces a head published locally (`quorate actor` commands) and remembers it.
    pub(crate) fn publish_head(&mut self, head: Head) -> Result<(), String> {
        let now = self.now();
        self.driver
            .handle(now, Input::SetHead(head.clone()))
            .map_err(|e| e.to_string())?;
        if let Some(actor) = head
            .name
            .strip_prefix(FEED_PREFIX)
            .and_then(|a| a.parse::<ActorId>().ok())
        {
            self.follow(actor, now);
        }
        if head.name.starts_with(HEAD_PREFIX) {
            self.actors.backups.insert(head.name.clone(), Backup::Held);
        }
        self.actors.remember_head(&head);
        Ok(())
    }

    fn follow(&mut self, actor: ActorId, now: Instant) {
        if self.actors.follows.contains_key(&actor) || self.actors.follows.len() >= MAX_FOLLOWS {
            return;
        }
        let mut config = sync::Config::default();
        config.announce = true;
        self.actors
            .follows
            .insert(actor, FeedSync::new(config, actor, now));
    }

    /// A mesh event, as the actor layer sees it.
    pub(crate) fn actors_on_event(&mut self, event: &Event) {
        let now = self.now();
        match event {
            Event::HeadUpdated { head, .. } => {
                if let Some(actor) = head
                    .name
                    .strip_prefix(FEED_PREFIX)
                    .and_then(|a| a.parse::<ActorId>().ok())
                {
                    self.follow(actor, now);
                } else if head.name.starts_with(HEAD_PREFIX)
                    && !self.actors.backups.contains_key(&head.name)
                    && self.actors.backups.len() < MAX_BACKUPS
                {
                    self.actors
                        .backups
                        .insert(head.name.clone(), Backup::Checking(head.clone()));
                    self.want_or_check(head.cid, now);
                }
            }
            Event::Fetched { block, from } => {
                for head in self.actors.checking(block.cid()) {
                    self.check_backup_block(&head, block, Some(*from), now);
                }
            }
            _ => {}
        }
        for sync in self.actors.follows.values_mut() {
            sync::feed_event(sync, now, event);
        }
        for pending in &mut self.actors.logins {
            sync::feed_event(&mut pending.login, now, event);
        }
    }

    fn want_or_check(&mut self, cid: Cid, now: Instant) {
        match self.driver.store_mut().get(&cid) {
            Ok(Some(block)) => {
                for head in self.actors.checking(&cid) {
                    self.check_backup_block(&head, &block, None, now);
                }
            }
            _ => {
                if let Err(e) = self.driver.handle(now, Input::Want { cid, priority: 20 }) {
                    tracing::debug!("backup want: {e}");
                }
            }
        }
    }

    fn check_backup_block(
        &mut self,
        head: &Head,
        block: &quorate_mesh_proto::Block,
        from: Option<quorate_mesh_proto::mesh::NodeId>,
        now: Instant,
    ) {
        match check_backup(block) {
            Ok(_) => {
                self.pin(block.cid(), PinClass::ActorKey);
                self.actors.backups.insert(head.name.clone(), Backup::Held);
                let _ = self.publish_head(head.clone());
            }
            Err(e) => {
                self.actors.backups.remove(&head.name);
                if let Some(node) = from {
                    let reason = format!("invalid key backup: {e}");
                    let _ = self.driver.handle(now, Input::Penalize { node, reason });
                }
            }
        }
    }

    fn pin(&mut self, cid: &Cid, class: PinClass) {
        let store = self.driver.store_mut();
        if let Ok(Some(block)) = store.get(cid)
            && let Err(e) = store.put(&block, PutOptions::pinned(class))
        {
            tracing::warn!(%cid, "pinning: {e}");
        }
    }

    fn pin_feed(&mut self, snapshot: &FeedSnapshot) {
        let mut pins: Vec<(Cid, PinClass)> = vec![
            (snapshot.head_cid, PinClass::FeedHead),
            (snapshot.head.profile, PinClass::ActorKey),
        ];
        pins.extend(
            snapshot
                .head
                .pages
                .iter()
                .map(|c| (*c, PinClass::FeedEntry)),
        );
        pins.extend(snapshot.entries.iter().map(|c| (*c, PinClass::FeedEntry)));
        let store = self.driver.store_mut();
        let mut batch = Vec::with_capacity(pins.len());
        for (cid, class) in pins {
            if let Ok(Some(block)) = store.get(&cid) {
                batch.push((block, PutOptions::pinned(class)));
            }
        }
        if let Err(e) = store.put_many(&batch) {
            tracing::warn!("pinning a feed: {e}");
        }
    }

    /// Runs every sync machine's outputs; returns how many things happened.
    pub(crate) fn actors_pump(&mut self, now: Instant) -> usize {
        let mut work = 0;
        let actors: Vec<ActorId> = self.actors.follows.keys().copied().collect();
        for actor in actors {
            let Some(mut sync) = self.actors.follows.remove(&actor) else {
                continue;
            };
            let (w, events) = self.drive(&mut sync, now);
            work += w;
            self.actors.follows.insert(actor, sync);
            for event in events {
                match event {
                    SyncEvent::Complete(snapshot) => {
                        tracing::info!(actor = %actor.short(), entries = snapshot.entries.len(), "feed verified");
                        self.pin_feed(&snapshot);
                        let head = snapshot.head.mesh_head(snapshot.head_cid);
                        self.actors.remember_head(&head);
                    }
                    SyncEvent::InvalidFeed { reason, .. } => {
                        tracing::warn!(actor = %actor.short(), "invalid feed: {reason}")
                    }
                    SyncEvent::Equivocation(e) => {
                        tracing::warn!(actor = %actor.short(), seq = e.seq(), "the actor forked its feed")
                    }
                    other => tracing::debug!("feed {}: {other:?}", actor.short()),
                }
            }
        }
        let mut logins = std::mem::take(&mut self.actors.logins);
        let wall = StdInstant::now();
        for pending in &mut logins {
            let (w, events) = self.drive(&mut pending.login, now);
            work += w;
            for event in events {
                match event {
                    SyncEvent::KeysRecovered { actor } => {
                        tracing::info!(actor = %actor.short(), "keys recovered from a backup");
                        pending.keys_at = Some(wall);
                    }
                    SyncEvent::Complete(snapshot) => {
                        self.pin_feed(&snapshot);
                        let head = snapshot.head.mesh_head(snapshot.head_cid);
                        let _ = self.publish_head(head.clone());
                        if let (Some(reply), Some(identity)) =
                            (pending.reply.take(), pending.login.identity())
                        {
                            let ms = |t: StdInstant| {
                                u64::try_from(t.duration_since(pending.started).as_millis())
                                    .unwrap_or(u64::MAX)
                            };
                            drop(reply.send(Reply::LoggedIn(Box::new(LoginReply {
                                actor: identity.id().to_string(),
                                secret: hex::encode(identity.secret().expose()),
                                head: snapshot.head_cid.to_string(),
                                entries: snapshot.entries.len() as u64,
                                payloads: snapshot.payloads.len() as u64,
                                keys_ms: pending.keys_at.map_or(0, ms),
                                total_ms: ms(wall),
                            }))));
                        }
                    }
                    SyncEvent::BackupRejected { from, reason } => {
                        tracing::warn!(?from, "backup rejected: {reason}")
                    }
                    other => tracing::debug!("login: {other:?}"),
                }
            }
            if pending.deadline <= wall && pending.reply.is_some() {
                let message = if pending.login.identity().is_some() {
                    "keys recovered, but the feed did not finish in time".to_owned()
                } else {
                    "no peer answered with a backup for this handle and passphrase in time"
                        .to_owned()
                };
                if let Some(reply) = pending.reply.take() {
                    drop(reply.send(Reply::Error { message }));
                }
            }
        }
        logins.retain(|p| p.reply.is_some());
        self.actors.logins = logins;
        work
    }

    /// Drives one machine: timers, then outputs (needs answered from the store).
    fn drive(
        &mut self,
        machine: &mut impl Machine<Event = SyncEvent>,
        now: Instant,
    ) -> (usize, Vec<SyncEvent>) {
        if machine.poll_timeout().is_some_and(|t| t <= now) {
            machine.handle_timeout(now);
        }
        let store = self.driver.store_mut();
        let drained = sync::drain(machine, now, |cid| store.get(cid).ok().flatten());
        let work = drained.mesh.len() + drained.events.len();
        for input in drained.mesh {
            if let Input::SetHead(head) = &input {
                self.actors.remember_head(head);
            }
            if let Err(e) = self.driver.handle(now, input) {
                tracing::debug!("sync input: {e}");
            }
        }
        (work, drained.events)
    }

    /// The earliest sync timer.
    pub(crate) fn actors_next_wake(&self) -> Option<Instant> {
        let follows = self
            .actors
            .follows
            .values()
            .filter_map(FeedSync::poll_timeout);
        let logins = self
            .actors
            .logins
            .iter()
            .filter_map(|p| p.login.poll_timeout());
        follows.chain(logins).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_damaged_heads_file_is_kept_aside_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(HEADS_FILE);
        std::fs::write(&path, b"{ not json").unwrap();
        let mut actors = Actors::load(dir.path());
        assert!(actors.stored_heads().is_empty());
        assert_eq!(
            std::fs::read(path.with_extension("json.corrupt")).unwrap(),
            b"{ not json"
        );
        let head = Head {
            name: "feed/x".into(),
            seq: 1,
            cid: Cid::of(quorate_mesh_proto::Codec::Raw, b"x"),
        };
        actors.remember_head(&head);
        assert_eq!(Actors::load(dir.path()).stored_heads(), vec![head]);
    }
}
