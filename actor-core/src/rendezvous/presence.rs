//! [`Presence`]: "actor A is on node N now", signed by A; and [`PresenceBook`], the latest
//! presence of each actor.
//!
//! Identity is the actor key; the node id is only where the actor can be reached at the
//! moment (seed 003: transport ids are ephemeral and carry no trust). A presence is a
//! claim by the actor: a node that connects on its strength must still prove the actor
//! key over the link.
//!
//! The signature is the block's own envelope signature ([`Block::encode_signed`], domain
//! [`Domain::Envelope`](quorate_mesh_proto::Domain::Envelope)), not a field signed under
//! `Domain::GlobalEnvelope`: the signed bytes then include the block `type` and `version`,
//! so a presence signature can never pass for any other object; every signed block in the
//! project verifies the same way; and the envelope domain stays with envelopes.

use std::collections::{BTreeMap, BTreeSet};

use ed25519_dalek::VerifyingKey;
use quorate_mesh_proto::mesh::NodeId;
use quorate_mesh_proto::{Block, BlockPayload, DecodeError, EncodeError, PinClass};
use serde::{Deserialize, Serialize};

use super::envelope::MAX_CLOCK_SKEW_MS;
use crate::id::ActorId;
use crate::identity::Identity;

/// Largest presence block.
pub const MAX_PRESENCE_SIZE: usize = 1024;
/// Longest presence lifetime: announce again before it runs out.
pub const MAX_PRESENCE_TTL_MS: u32 = 60 * 60 * 1000;

/// `Presence { actor, actor_key, node, at_ms, ttl_ms }`, in a block signed by
/// `actor_key` (block type `actor-presence`, version 1, [`PinClass::Cache`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Presence {
    /// `SHA-256(actor_key)`.
    pub actor: ActorId,
    /// The actor's Ed25519 key; the block must be signed by it.
    #[serde(with = "serde_bytes")]
    pub actor_key: [u8; 32],
    /// The node the actor runs on now.
    pub node: NodeId,
    /// When it was announced (ms since the Unix epoch).
    pub at_ms: u64,
    /// For how long it holds, 1 to [`MAX_PRESENCE_TTL_MS`].
    pub ttl_ms: u32,
}

impl BlockPayload for Presence {
    const TYPE: &'static str = "actor-presence";
    const VERSION: u32 = 1;
    const PIN: PinClass = PinClass::Cache;
}

/// Why a block is not a valid, current presence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PresenceError {
    /// The block exceeds [`MAX_PRESENCE_SIZE`]; nothing was parsed.
    #[error("presence block of {size} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Block size.
        size: usize,
        /// Limit.
        max: usize,
    },
    /// Not a canonical `actor-presence` block of version 1.
    #[error("not a presence: {0}")]
    Decode(DecodeError),
    /// `ttl_ms` is 0 or above [`MAX_PRESENCE_TTL_MS`].
    #[error("presence lifetime of {ttl_ms} ms is outside 1..={MAX_PRESENCE_TTL_MS}")]
    BadTtl {
        /// The lifetime claimed.
        ttl_ms: u32,
    },
    /// Announced more than [`MAX_CLOCK_SKEW_MS`] ahead of the receiver's clock.
    #[error("presence from {at_ms} is ahead of now ({now_ms})")]
    FromFuture {
        /// Its time.
        at_ms: u64,
        /// The receiver's time.
        now_ms: u64,
    },
    /// `at_ms + ttl_ms` has passed.
    #[error("presence expired at {expires_at_ms}, now {now_ms}")]
    Expired {
        /// When it ran out.
        expires_at_ms: u64,
        /// The receiver's time.
        now_ms: u64,
    },
    /// `actor` is not `SHA-256(actor_key)`.
    #[error("presence actor id does not match its key")]
    ActorMismatch,
    /// `actor_key` is not a valid Ed25519 public key.
    #[error("presence actor key is not a valid Ed25519 key")]
    BadKey,
    /// The block is not signed.
    #[error("presence is not signed")]
    Unsigned,
    /// Signed by a key other than `actor_key`.
    #[error("presence is signed by another key")]
    SignerMismatch,
    /// The signature does not verify.
    #[error("presence signature does not verify")]
    BadSignature,
}

impl Presence {
    /// A presence of `identity` on `node` at `now_ms`.
    #[must_use]
    pub fn new(identity: &Identity, node: NodeId, now_ms: u64, ttl_ms: u32) -> Presence {
        Presence {
            actor: identity.id(),
            actor_key: identity.verifying_key().to_bytes(),
            node,
            at_ms: now_ms,
            ttl_ms,
        }
    }

    /// When it stops holding.
    #[must_use]
    pub fn expires_at_ms(&self) -> u64 {
        self.at_ms.saturating_add(u64::from(self.ttl_ms))
    }

    /// A block of this presence signed by `identity` (which should be the one it names,
    /// or receivers refuse it).
    ///
    /// # Errors
    /// [`EncodeError`] if it cannot be encoded.
    pub fn to_block(&self, identity: &Identity) -> Result<Block, EncodeError> {
        Block::encode_signed(self, identity.signing_key())
    }
}

/// Reads and checks a presence block at `now_ms`: size, format, lifetime, clock (at most
/// [`MAX_CLOCK_SKEW_MS`] ahead, not expired), `actor == SHA-256(actor_key)`, then the
/// signature by `actor_key`. Cheap checks first.
///
/// # Errors
/// [`PresenceError`] naming the first check that failed.
pub fn verify_presence(block: &Block, now_ms: u64) -> Result<Presence, PresenceError> {
    if block.len() > MAX_PRESENCE_SIZE {
        return Err(PresenceError::TooLarge {
            size: block.len(),
            max: MAX_PRESENCE_SIZE,
        });
    }
    let envelope = block.decode::<Presence>().map_err(PresenceError::Decode)?;
    let p = &envelope.payload;
    if p.ttl_ms == 0 || p.ttl_ms > MAX_PRESENCE_TTL_MS {
        return Err(PresenceError::BadTtl { ttl_ms: p.ttl_ms });
    }
    if p.at_ms > now_ms.saturating_add(MAX_CLOCK_SKEW_MS) {
        return Err(PresenceError::FromFuture {
            at_ms: p.at_ms,
            now_ms,
        });
    }
    if now_ms > p.expires_at_ms() {
        return Err(PresenceError::Expired {
            expires_at_ms: p.expires_at_ms(),
            now_ms,
        });
    }
    let key = VerifyingKey::from_bytes(&p.actor_key).map_err(|_| PresenceError::BadKey)?;
    if !p.actor.is_key_of(&key) {
        return Err(PresenceError::ActorMismatch);
    }
    match &envelope.sig {
        None => return Err(PresenceError::Unsigned),
        Some(sig) if sig.key != p.actor_key => return Err(PresenceError::SignerMismatch),
        Some(_) => {}
    }
    envelope.verify().map_err(|_| PresenceError::BadSignature)?;
    Ok(envelope.payload)
}

/// The latest presence of each actor, at most `max` actors. When full, a new actor
/// replaces the one announced longest ago (if that is older than the newcomer).
#[derive(Clone, Debug)]
pub struct PresenceBook {
    max: usize,
    by_actor: BTreeMap<ActorId, Presence>,
    by_age: BTreeSet<(u64, ActorId)>,
}

impl PresenceBook {
    /// An empty book for at most `max` actors.
    #[must_use]
    pub fn new(max: usize) -> Self {
        PresenceBook {
            max,
            by_actor: BTreeMap::new(),
            by_age: BTreeSet::new(),
        }
    }

    /// Records a (verified) presence if it is newer than what the book holds for its
    /// actor. Returns true if the book changed.
    pub fn insert(&mut self, presence: Presence) -> bool {
        let actor = presence.actor;
        if let Some(old) = self.by_actor.get(&actor) {
            if old.at_ms >= presence.at_ms {
                return false;
            }
            self.by_age.remove(&(old.at_ms, actor));
        } else if self.by_actor.len() >= self.max {
            match self.by_age.first().copied() {
                Some((at_ms, oldest)) if at_ms < presence.at_ms => {
                    self.by_age.remove(&(at_ms, oldest));
                    self.by_actor.remove(&oldest);
                }
                _ => return false,
            }
        }
        self.by_age.insert((presence.at_ms, actor));
        self.by_actor.insert(actor, presence);
        true
    }

    /// The actor's presence, if it still holds at `now_ms`.
    #[must_use]
    pub fn get(&self, actor: &ActorId, now_ms: u64) -> Option<&Presence> {
        self.by_actor
            .get(actor)
            .filter(|p| now_ms <= p.expires_at_ms())
    }

    /// Drops every presence expired at `now_ms`; returns how many.
    pub fn prune(&mut self, now_ms: u64) -> usize {
        let expired: Vec<(u64, ActorId)> = self
            .by_actor
            .values()
            .filter(|p| now_ms > p.expires_at_ms())
            .map(|p| (p.at_ms, p.actor))
            .collect();
        for key in &expired {
            self.by_age.remove(key);
            self.by_actor.remove(&key.1);
        }
        expired.len()
    }

    /// Every presence held (current or not), by actor id.
    pub fn iter(&self) -> impl Iterator<Item = &Presence> {
        self.by_actor.values()
    }

    /// How many actors the book holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.by_actor.len()
    }

    /// True if it holds none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.by_actor.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn presence(actor: u8, at_ms: u64) -> Presence {
        Presence {
            actor: ActorId::from_bytes([actor; 32]),
            actor_key: [0; 32],
            node: NodeId::from_bytes([actor; 32]),
            at_ms,
            ttl_ms: 1000,
        }
    }

    #[test]
    fn book_keeps_the_newest_per_actor_and_evicts_the_oldest_actor() {
        let mut book = PresenceBook::new(2);
        assert!(book.insert(presence(1, 10)));
        assert!(!book.insert(presence(1, 10)));
        assert!(!book.insert(presence(1, 5)));
        assert!(book.insert(presence(1, 20)));
        assert!(book.insert(presence(2, 15)));
        // Full: actor 3 replaces actor 2 (announced at 15, the oldest).
        assert!(book.insert(presence(3, 30)));
        assert_eq!(book.len(), 2);
        assert!(book.get(&ActorId::from_bytes([2; 32]), 0).is_none());
        // An older newcomer does not evict anyone.
        assert!(!book.insert(presence(4, 1)));
        assert_eq!(
            book.get(&ActorId::from_bytes([1; 32]), 1020)
                .map(|p| p.at_ms),
            Some(20)
        );
        assert!(book.get(&ActorId::from_bytes([1; 32]), 1021).is_none());
        assert_eq!(book.prune(1021), 1);
        assert_eq!(book.len(), 1);
        assert_eq!(book.by_age.len(), 1);
        assert!(!PresenceBook::new(0).insert(presence(1, 1)));
    }
}
