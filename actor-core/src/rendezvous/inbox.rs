//! [`Inbox`]: the filter a node runs on every block of the rendezvous topic.

use std::collections::{BTreeSet, VecDeque};

use ed25519_dalek::VerifyingKey;
use quorate_mesh_proto::mesh::NodeId;
use quorate_mesh_proto::{Block, BlockPayload, Cid, DecodeError};
use x25519_dalek::StaticSecret;

use super::envelope::{Body, EnvelopeError, GlobalEnvelope, MAX_ENVELOPE_SIZE};
use super::pow::check_pow;
use super::presence::{Presence, PresenceBook, PresenceError, verify_presence};
use super::tag::TagWindow;
use crate::id::ActorId;
use crate::identity::Identity;

/// What an [`Inbox`] accepts.
///
/// Build it with struct update syntax: `InboxConfig { difficulty: 16,
/// ..InboxConfig::default() }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboxConfig {
    /// Leading zero bits of proof of work every envelope must carry (0: none). Checked
    /// on every envelope, addressed to us or not, before anything else.
    pub difficulty: u8,
    /// Senders delivered at once; everyone else waits in the pending list until
    /// [`Inbox::accept`].
    pub allow: BTreeSet<ActorId>,
    /// Most held messages; beyond it the oldest is dropped (0: hold none).
    pub max_pending: usize,
    /// How many envelope ids the inbox remembers to drop duplicates.
    pub max_seen: usize,
    /// Most actors in the presence book.
    pub max_presence: usize,
}

impl Default for InboxConfig {
    fn default() -> Self {
        InboxConfig {
            difficulty: 0,
            allow: BTreeSet::new(),
            max_pending: 64,
            max_seen: 4096,
            max_presence: 1024,
        }
    }
}

/// A message that passed every check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The sender (`SHA-256(from_key)`).
    pub from: ActorId,
    /// The sender's Ed25519 key.
    pub from_key: VerifyingKey,
    /// The message.
    pub body: Body,
    /// The envelope block it came in.
    pub envelope: Cid,
    /// The envelope's expiry.
    pub expires_at_ms: u64,
    /// True if the sender signed the outside too (it chose to be seen by all).
    pub public: bool,
    /// When the inbox received it.
    pub received_at_ms: u64,
}

/// Why a block was refused: bad input from the peer that sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RejectReason {
    /// Larger than any rendezvous block may be ([`MAX_ENVELOPE_SIZE`]); nothing parsed.
    TooLarge {
        /// Block size.
        size: usize,
    },
    /// Not a block envelope at all (raw, or no readable `type` / `version`).
    Malformed(DecodeError),
    /// A block type that does not belong on the rendezvous topic (a bounded prefix).
    UnexpectedType(String),
    /// A bad global envelope.
    Envelope(EnvelopeError),
    /// A bad presence.
    Presence(PresenceError),
}

impl RejectReason {
    /// True if the peer that forwarded the block could have seen the fault itself (see
    /// [`EnvelopeError::forwarder_accountable`]): everything except faults inside an
    /// envelope's ciphertext.
    #[must_use]
    pub fn forwarder_accountable(&self) -> bool {
        match self {
            RejectReason::Envelope(e) => e.forwarder_accountable(),
            _ => true,
        }
    }
}

/// What [`Inbox::handle`] made of one block.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InboxOutcome {
    /// A valid envelope for someone else (the common case): PoW, expiry and a tag
    /// compare, no decryption.
    NotForUs,
    /// An envelope this inbox has handled before (same block, or same content with
    /// another `pow` or without its outer signature).
    Duplicate,
    /// Refused; the reason says whom to blame.
    Rejected(RejectReason),
    /// From an allowed or accepted sender (boxed: the other outcomes are small).
    Delivered(Box<Delivery>),
    /// From a sender not (yet) accepted: kept in the pending list.
    Held {
        /// The sender, for the user to decide on with [`Inbox::accept`].
        from: ActorId,
    },
    /// A verified presence announcement.
    Presence {
        /// The actor.
        actor: ActorId,
        /// Its node.
        node: NodeId,
        /// True if newer than what the presence book held.
        updated: bool,
    },
}

/// The sans-IO filter of the rendezvous topic: feed it every block of the topic with
/// [`Inbox::handle`]; it keeps the envelopes addressed to this actor, holds those from
/// unknown senders until the user accepts them, and keeps a [`PresenceBook`].
pub struct Inbox {
    id: ActorId,
    secret: StaticSecret,
    tags: TagWindow,
    config: InboxConfig,
    accepted: BTreeSet<ActorId>,
    pending: VecDeque<Delivery>,
    seen: Seen,
    presence: PresenceBook,
}

impl core::fmt::Debug for Inbox {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Inbox")
            .field("id", &self.id)
            .field("config", &self.config)
            .field("accepted", &self.accepted.len())
            .field("pending", &self.pending.len())
            .field("seen", &self.seen.order.len())
            .field("presence", &self.presence.len())
            .finish_non_exhaustive()
    }
}

impl Inbox {
    /// An inbox for `identity` (it keeps a copy of the X25519 secret key).
    #[must_use]
    pub fn new(identity: &Identity, config: InboxConfig) -> Self {
        Inbox {
            id: identity.id(),
            secret: identity.encryption_secret().clone(),
            tags: TagWindow::new(identity.encryption_public()),
            seen: Seen::new(config.max_seen),
            presence: PresenceBook::new(config.max_presence),
            config,
            accepted: BTreeSet::new(),
            pending: VecDeque::new(),
        }
    }

    /// Handles one block of the rendezvous topic at `now_ms`. Never fails: bad blocks come
    /// back as [`InboxOutcome::Rejected`] for the caller to score the peer.
    ///
    /// Order: size, type; for an envelope, then decoding, proof of work, expiry, tag
    /// (`NotForUs`), duplicates, outer signature, HPKE, sealed content, allow-list.
    pub fn handle(&mut self, now_ms: u64, block: &Block) -> InboxOutcome {
        if block.len() > MAX_ENVELOPE_SIZE {
            return InboxOutcome::Rejected(RejectReason::TooLarge { size: block.len() });
        }
        let header = match block.header() {
            Ok(h) => h,
            Err(e) => return InboxOutcome::Rejected(RejectReason::Malformed(e)),
        };
        if header.kind == GlobalEnvelope::TYPE {
            self.handle_envelope(now_ms, block)
        } else if header.kind == Presence::TYPE {
            self.handle_presence(now_ms, block)
        } else {
            InboxOutcome::Rejected(RejectReason::UnexpectedType(
                header.kind.chars().take(64).collect(),
            ))
        }
    }

    fn handle_envelope(&mut self, now_ms: u64, block: &Block) -> InboxOutcome {
        let reject = |e| InboxOutcome::Rejected(RejectReason::Envelope(e));
        let envelope = match GlobalEnvelope::from_block(block) {
            Ok(e) => e,
            Err(e) => return reject(e),
        };
        if let Err(e) = check_pow(&envelope, self.config.difficulty) {
            return reject(e);
        }
        if let Err(e) = envelope.check_expiry(now_ms) {
            return reject(e);
        }
        if !self.tags.matches(&envelope.to_tag, now_ms) {
            return InboxOutcome::NotForUs;
        }
        let block_id = *block.cid().digest();
        let content_id = envelope.content_id();
        if self.seen.contains(&block_id) || self.seen.contains(&content_id) {
            return InboxOutcome::Duplicate;
        }
        // Remember the exact block either way; the content only once it opened, so that a
        // tampered copy arriving first cannot shadow the genuine one.
        self.seen.insert(block_id);
        let opened = match envelope.open_addressed(&self.secret) {
            Ok(o) => o,
            Err(e) => return reject(e),
        };
        self.seen.insert(content_id);
        let delivery = Delivery {
            from: opened.from,
            from_key: opened.from_key,
            body: opened.body,
            envelope: *block.cid(),
            expires_at_ms: envelope.expires_at_ms,
            public: opened.public,
            received_at_ms: now_ms,
        };
        if self.is_allowed(&delivery.from) {
            return InboxOutcome::Delivered(Box::new(delivery));
        }
        let from = delivery.from;
        if self.config.max_pending > 0 {
            while self.pending.len() >= self.config.max_pending {
                self.pending.pop_front();
            }
            self.pending.push_back(delivery);
        }
        InboxOutcome::Held { from }
    }

    fn handle_presence(&mut self, now_ms: u64, block: &Block) -> InboxOutcome {
        match verify_presence(block, now_ms) {
            Ok(p) => {
                let (actor, node) = (p.actor, p.node);
                let updated = self.presence.insert(p);
                InboxOutcome::Presence {
                    actor,
                    node,
                    updated,
                }
            }
            Err(e) => InboxOutcome::Rejected(RejectReason::Presence(e)),
        }
    }

    /// Accepts `from` from now on and returns its held messages, oldest first.
    pub fn accept(&mut self, from: ActorId) -> Vec<Delivery> {
        self.accepted.insert(from);
        self.take_pending(&from)
    }

    /// Drops the held messages of `from` without accepting it; returns how many.
    pub fn dismiss(&mut self, from: &ActorId) -> usize {
        self.take_pending(from).len()
    }

    /// Stops accepting `from` (the allow-list in the config is unaffected). Returns true
    /// if it was accepted.
    pub fn revoke(&mut self, from: &ActorId) -> bool {
        self.accepted.remove(from)
    }

    /// True if messages from `from` are delivered at once.
    #[must_use]
    pub fn is_allowed(&self, from: &ActorId) -> bool {
        self.config.allow.contains(from) || self.accepted.contains(from)
    }

    /// Held messages, oldest first.
    pub fn pending(&self) -> impl Iterator<Item = &Delivery> {
        self.pending.iter()
    }

    /// The latest presence of each actor seen on the topic.
    #[must_use]
    pub fn presence(&self) -> &PresenceBook {
        &self.presence
    }

    /// Drops presences expired at `now_ms`; returns how many.
    pub fn prune(&mut self, now_ms: u64) -> usize {
        self.presence.prune(now_ms)
    }

    /// The actor this inbox receives for.
    #[must_use]
    pub fn id(&self) -> ActorId {
        self.id
    }

    fn take_pending(&mut self, from: &ActorId) -> Vec<Delivery> {
        let (taken, kept): (Vec<Delivery>, Vec<Delivery>) =
            self.pending.drain(..).partition(|d| d.from == *from);
        self.pending = kept.into();
        taken
    }
}

/// A bounded set of 32-byte ids, forgetting the oldest first.
#[derive(Clone, Debug)]
struct Seen {
    max: usize,
    set: BTreeSet<[u8; 32]>,
    order: VecDeque<[u8; 32]>,
}

impl Seen {
    fn new(max: usize) -> Self {
        Seen {
            max,
            set: BTreeSet::new(),
            order: VecDeque::new(),
        }
    }

    fn contains(&self, id: &[u8; 32]) -> bool {
        self.set.contains(id)
    }

    fn insert(&mut self, id: [u8; 32]) {
        if self.max == 0 || !self.set.insert(id) {
            return;
        }
        self.order.push_back(id);
        while self.order.len() > self.max {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seen_forgets_the_oldest() {
        let mut seen = Seen::new(2);
        seen.insert([1; 32]);
        seen.insert([2; 32]);
        seen.insert([2; 32]);
        seen.insert([3; 32]);
        assert!(!seen.contains(&[1; 32]));
        assert!(seen.contains(&[2; 32]) && seen.contains(&[3; 32]));
        assert_eq!(seen.order.len(), 2);
        let mut none = Seen::new(0);
        none.insert([1; 32]);
        assert!(!none.contains(&[1; 32]));
    }
}
