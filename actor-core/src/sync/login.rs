//! `Login`: handle + passphrase → keys from a backup on the mesh → the actor's feed.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use quorate_mesh_proto::mesh::{Head, NodeId};
use quorate_mesh_proto::{Block, Cid, Instant};

use crate::backup::{Locator, open_backup};
use crate::identity::Identity;
use crate::sync::{Config, Event, FeedSync, Output};

/// Most backup candidates tried.
const MAX_CANDIDATES: usize = 32;
/// Most backup blocks ever tried (junk announcements cannot grow memory without bound).
const MAX_TRIED: usize = 1024;

/// Log in anywhere. See the [module docs](crate::sync).
#[derive(Debug)]
pub struct Login {
    config: Config,
    locator: Locator,
    name: String,
    /// Backup block CID → peers that announced it.
    candidates: BTreeMap<Cid, BTreeSet<NodeId>>,
    tried: BTreeSet<Cid>,
    identity: Option<Identity>,
    feed: Option<FeedSync>,
    outputs: VecDeque<Output>,
    next_query: Instant,
}

impl Login {
    /// Starts looking for the backup at `locator` (derived from handle and passphrase
    /// with [`Locator::derive`]).
    #[must_use]
    pub fn new(config: Config, locator: Locator, now: Instant) -> Self {
        let name = locator.head_name();
        let mut outputs = VecDeque::new();
        outputs.push_back(Output::QueryHeads(vec![name.clone()]));
        Login {
            next_query: now.saturating_add(config.requery),
            config,
            locator,
            name,
            candidates: BTreeMap::new(),
            tried: BTreeSet::new(),
            identity: None,
            feed: None,
            outputs,
        }
    }

    /// The recovered identity, once a backup opened.
    #[must_use]
    pub fn identity(&self) -> Option<&Identity> {
        self.identity.as_ref()
    }

    /// The feed sync started after the keys came back.
    #[must_use]
    pub fn feed(&self) -> Option<&FeedSync> {
        self.feed.as_ref()
    }

    /// True once keys are back and the feed verified.
    #[must_use]
    pub fn is_complete(&self) -> bool {
        self.feed.as_ref().is_some_and(FeedSync::is_complete)
    }

    /// A head a peer announced.
    pub fn handle_head(&mut self, now: Instant, head: &Head, from: NodeId) {
        if let Some(feed) = self.feed.as_mut() {
            feed.handle_head(now, head, from);
            return;
        }
        if head.name != self.name {
            return;
        }
        if self.tried.contains(&head.cid) {
            self.outputs.push_back(Output::Penalize {
                node: from,
                reason: "invalid key backup".into(),
            });
            return;
        }
        let full = self.candidates.len() >= MAX_CANDIDATES || self.tried.len() >= MAX_TRIED;
        if full && !self.candidates.contains_key(&head.cid) {
            return;
        }
        let peers = self.candidates.entry(head.cid).or_default();
        if peers.is_empty() {
            self.outputs.push_back(Output::Need {
                cid: head.cid,
                priority: 255,
            });
        }
        peers.insert(from);
    }

    /// A block from the store (`from = None`) or a peer.
    pub fn handle_block(&mut self, now: Instant, block: &Block, from: Option<NodeId>) {
        if let Some(feed) = self.feed.as_mut() {
            feed.handle_block(now, block, from);
            return;
        }
        let cid = *block.cid();
        let Some(peers) = self.candidates.remove(&cid) else {
            return;
        };
        self.tried.insert(cid);
        match open_backup(block, &self.locator) {
            Ok(identity) => {
                let actor = identity.id();
                self.outputs
                    .push_back(Output::Event(Event::KeysRecovered { actor }));
                self.identity = Some(identity);
                self.feed = Some(FeedSync::new(self.config.clone(), actor, now));
            }
            Err(e) => {
                for node in peers {
                    self.outputs.push_back(Output::Penalize {
                        node,
                        reason: format!("invalid key backup: {e}"),
                    });
                    self.outputs.push_back(Output::Event(Event::BackupRejected {
                        from: Some(node),
                        reason: e.to_string(),
                    }));
                }
            }
        }
    }

    /// Re-asks for the backup (or the feed head) while nothing usable has arrived.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(feed) = self.feed.as_mut() {
            feed.handle_timeout(now);
            return;
        }
        if now >= self.next_query {
            self.next_query = now.saturating_add(self.config.requery);
            self.outputs
                .push_back(Output::QueryHeads(vec![self.name.clone()]));
        }
    }

    /// When to call [`Login::handle_timeout`].
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.feed {
            Some(feed) => feed.poll_timeout(),
            None => Some(self.next_query),
        }
    }

    /// The next thing to do; drain after every call.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        if let Some(out) = self.outputs.pop_front() {
            return Some(out);
        }
        self.feed.as_mut().and_then(FeedSync::poll_output)
    }
}
