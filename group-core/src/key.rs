//! Epoch keys and their distribution: one HPKE envelope per member.
//!
//! An epoch key `K_epoch` is 32 random bytes drawn by the admin who makes the epoch. It is
//! sealed to each member's X25519 key with HPKE (RFC 9180 base mode,
//! DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / ChaCha20-Poly1305, the suite of the
//! rendezvous topic) with `info = "quorate/group-key-envelope/v1"` and
//! `aad = groupId ‖ epoch (u64 BE) ‖ recipientActorId ‖ keyId`, where
//! `keyId = SHA-256("quorate/group-key-id/v1" ‖ K_epoch)` commits to the key. An envelope
//! therefore opens only for its recipient and only as the key of its own group and epoch;
//! a recipient checks the opened key against `keyId`, so an admin cannot give different
//! members different keys for one epoch without being caught.
//!
//! Envelopes travel in [`KeyPage`]s of up to [`PAGE_SIZE`], sorted by recipient, listed by
//! a [`KeyIndex`] (`messageKeyInfo` of the epoch state) with each page's first recipient,
//! so a member fetches the index and one page.

use quorate_actor_core::rendezvous::suite;
use quorate_actor_core::{ActorId, Identity};
use quorate_mesh_proto::{Block, BlockPayload, Cid, Envelope, PinClass};
use rand_core::CryptoRngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::ObjectError;
use crate::id::GroupId;
use crate::member::{MAX_MEMBERS, MemberSet};

/// HPKE `info` of key envelopes.
pub const ENVELOPE_INFO: &[u8] = b"quorate/group-key-envelope/v1";
const KEY_ID_LABEL: &[u8] = b"quorate/group-key-id/v1";
/// Envelopes per page.
pub const PAGE_SIZE: usize = 256;
/// Sealed key material: `enc` (32) + key (32) + tag (16).
pub const SEALED_LEN: usize = suite::OVERHEAD + 32;

/// An epoch key. Wiped on drop; `Debug` does not print it.
#[derive(Clone, PartialEq, Eq)]
pub struct EpochKey(Zeroizing<[u8; 32]>);

impl EpochKey {
    /// A fresh key from `rng`.
    pub fn generate(rng: &mut impl CryptoRngCore) -> EpochKey {
        let mut key = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(key.as_mut());
        EpochKey(key)
    }

    /// Wraps 32 bytes (from a store).
    #[must_use]
    pub fn from_bytes(bytes: [u8; 32]) -> EpochKey {
        EpochKey(Zeroizing::new(bytes))
    }

    /// The key bytes. Handle with care.
    #[must_use]
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }

    /// `SHA-256("quorate/group-key-id/v1" ‖ key)`: names the key without revealing it.
    #[must_use]
    pub fn id(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(KEY_ID_LABEL);
        h.update(self.0.as_ref());
        h.finalize().into()
    }
}

impl core::fmt::Debug for EpochKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("EpochKey(..)")
    }
}

/// `KeyEnvelope { groupId, epoch, recipientActorId, encryptedKeyMaterial }`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyEnvelope {
    /// The group.
    pub group: GroupId,
    /// The epoch.
    pub epoch: u64,
    /// Who can open it.
    pub recipient: ActorId,
    /// HPKE `enc ‖ ct` of the 32-byte key ([`SEALED_LEN`] bytes).
    #[serde(with = "serde_bytes")]
    pub encrypted_key_material: Vec<u8>,
}

/// Why a key envelope does not give the epoch key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Addressed to another actor.
    #[error("key envelope is addressed to someone else")]
    NotForMe,
    /// For another group or epoch than the one asked about.
    #[error("key envelope belongs to another group or epoch")]
    WrongEpoch,
    /// HPKE did not open it (tampered, or sealed to another key).
    #[error("key envelope does not open")]
    Open,
    /// It opened, but to a key other than the one the epoch names.
    #[error("key envelope holds a key other than the epoch's")]
    KeyMismatch,
    /// No envelope for this member in the epoch.
    #[error("no key envelope for this member")]
    Missing,
}

fn envelope_aad(group: &GroupId, epoch: u64, recipient: &ActorId, key_id: &[u8; 32]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(32 + 8 + 32 + 32);
    aad.extend_from_slice(group.as_bytes());
    aad.extend_from_slice(&epoch.to_be_bytes());
    aad.extend_from_slice(recipient.as_bytes());
    aad.extend_from_slice(key_id);
    aad
}

impl KeyEnvelope {
    /// Seals `key` for one member.
    ///
    /// # Errors
    /// [`ObjectError::BadKey`] for an X25519 key nobody can hold (small order).
    pub fn seal(
        group: GroupId,
        epoch: u64,
        recipient: ActorId,
        encryption_key: &[u8; 32],
        key: &EpochKey,
        rng: &mut impl CryptoRngCore,
    ) -> Result<KeyEnvelope, ObjectError> {
        let aad = envelope_aad(&group, epoch, &recipient, &key.id());
        let pk = x25519_dalek::PublicKey::from(*encryption_key);
        let sealed = suite::seal(&pk, ENVELOPE_INFO, &aad, key.expose(), rng)
            .map_err(|_| ObjectError::BadKey)?;
        Ok(KeyEnvelope {
            group,
            epoch,
            recipient,
            encrypted_key_material: sealed,
        })
    }

    /// Opens the envelope as `me`, expecting the key of (`group`, `epoch`) named `key_id`.
    ///
    /// # Errors
    /// [`KeyError`] naming what is wrong.
    pub fn open(
        &self,
        me: &Identity,
        group: &GroupId,
        epoch: u64,
        key_id: &[u8; 32],
    ) -> Result<EpochKey, KeyError> {
        if self.recipient != me.id() {
            return Err(KeyError::NotForMe);
        }
        if self.group != *group || self.epoch != epoch {
            return Err(KeyError::WrongEpoch);
        }
        let aad = envelope_aad(group, epoch, &self.recipient, key_id);
        let plain = suite::open(
            me.encryption_secret(),
            ENVELOPE_INFO,
            &aad,
            &self.encrypted_key_material,
        )
        .map_err(|_| KeyError::Open)?;
        let bytes: [u8; 32] = plain.as_slice().try_into().map_err(|_| KeyError::Open)?;
        let key = EpochKey::from_bytes(bytes);
        if key.id() != *key_id {
            return Err(KeyError::KeyMismatch);
        }
        Ok(key)
    }
}

/// Up to [`PAGE_SIZE`] envelopes of one epoch, strictly sorted by recipient.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyPage {
    /// The group.
    pub group: GroupId,
    /// The epoch.
    pub epoch: u64,
    /// The key's id.
    #[serde(with = "serde_bytes")]
    pub key_id: [u8; 32],
    /// The envelopes.
    pub envelopes: Vec<KeyEnvelope>,
}

impl BlockPayload for KeyPage {
    const TYPE: &'static str = "group-key-page";
    const VERSION: u32 = 1;
    const PIN: PinClass = PinClass::GroupEpoch;
}

/// A page of the index: its first recipient and its CID.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageRef {
    /// The page's first recipient.
    pub first: ActorId,
    /// The page.
    pub cid: Cid,
}

/// `messageKeyInfo`: the key's id and the pages of envelopes, sorted by first recipient.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyIndex {
    /// The group.
    pub group: GroupId,
    /// The epoch.
    pub epoch: u64,
    /// `SHA-256("quorate/group-key-id/v1" ‖ K_epoch)`.
    #[serde(with = "serde_bytes")]
    pub key_id: [u8; 32],
    /// The pages.
    pub pages: Vec<PageRef>,
}

impl BlockPayload for KeyIndex {
    const TYPE: &'static str = "group-key-index";
    const VERSION: u32 = 1;
    const PIN: PinClass = PinClass::GroupEpoch;
}

/// Most pages an index lists.
pub const MAX_PAGES: usize = MAX_MEMBERS.div_ceil(PAGE_SIZE);

/// An epoch key sealed to every member: the index and its pages, as blocks.
#[derive(Clone, Debug)]
pub struct Distribution {
    /// The index block (`messageKeyInfo`).
    pub index: Block,
    /// The page blocks.
    pub pages: Vec<Block>,
}

impl Distribution {
    /// Seals `key` to every member of `members` (one HPKE seal each).
    ///
    /// # Errors
    /// [`ObjectError`] if a member's key is unusable or a block is too large.
    pub fn seal(
        members: &MemberSet,
        epoch: u64,
        key: &EpochKey,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Distribution, ObjectError> {
        let group = members.group;
        let key_id = key.id();
        let mut pages = Vec::new();
        let mut refs = Vec::new();
        for chunk in members.members.chunks(PAGE_SIZE) {
            let mut envelopes = Vec::with_capacity(chunk.len());
            for m in chunk {
                envelopes.push(KeyEnvelope::seal(
                    group,
                    epoch,
                    m.actor,
                    &m.encryption_key,
                    key,
                    rng,
                )?);
            }
            let Some(first) = chunk.first().map(|m| m.actor) else {
                continue;
            };
            let page = Envelope::unsigned(KeyPage {
                group,
                epoch,
                key_id,
                envelopes,
            })
            .to_block()?;
            refs.push(PageRef {
                first,
                cid: *page.cid(),
            });
            pages.push(page);
        }
        let index = Envelope::unsigned(KeyIndex {
            group,
            epoch,
            key_id,
            pages: refs,
        })
        .to_block()?;
        Ok(Distribution { index, pages })
    }
}

impl KeyIndex {
    /// Decodes an index and checks it belongs to (`group`, `epoch`) and is sorted.
    ///
    /// # Errors
    /// [`ObjectError`] naming what is wrong.
    pub fn verify(block: &Block, group: &GroupId, epoch: u64) -> Result<KeyIndex, ObjectError> {
        let index = block.decode::<KeyIndex>()?.payload;
        if index.group != *group {
            return Err(ObjectError::WrongGroup);
        }
        if index.epoch != epoch {
            return Err(ObjectError::WrongEpoch);
        }
        if index.pages.len() > MAX_PAGES {
            return Err(ObjectError::TooLarge("key index"));
        }
        if index.pages.windows(2).any(|w| match w {
            [a, b] => a.first >= b.first,
            _ => false,
        }) {
            return Err(ObjectError::NotSorted("key pages"));
        }
        Ok(index)
    }

    /// The page that would hold `actor`'s envelope.
    #[must_use]
    pub fn page_of(&self, actor: &ActorId) -> Option<Cid> {
        self.pages
            .iter()
            .take_while(|p| p.first <= *actor)
            .last()
            .map(|p| p.cid)
    }
}

impl KeyPage {
    /// Decodes a page and checks it belongs to the index's group, epoch and key.
    ///
    /// # Errors
    /// [`ObjectError`] naming what is wrong.
    pub fn verify(block: &Block, index: &KeyIndex) -> Result<KeyPage, ObjectError> {
        let page = block.decode::<KeyPage>()?.payload;
        if page.group != index.group {
            return Err(ObjectError::WrongGroup);
        }
        if page.epoch != index.epoch || page.key_id != index.key_id {
            return Err(ObjectError::WrongEpoch);
        }
        if page.envelopes.len() > PAGE_SIZE {
            return Err(ObjectError::TooLarge("key page"));
        }
        if page.envelopes.windows(2).any(|w| match w {
            [a, b] => a.recipient >= b.recipient,
            _ => false,
        }) {
            return Err(ObjectError::NotSorted("key envelopes"));
        }
        Ok(page)
    }

    /// Finds and opens `me`'s envelope.
    ///
    /// # Errors
    /// [`KeyError::Missing`] if the page has none for `me`; otherwise as
    /// [`KeyEnvelope::open`].
    pub fn open(&self, me: &Identity) -> Result<EpochKey, KeyError> {
        let envelope = self
            .envelopes
            .binary_search_by_key(&me.id(), |e| e.recipient)
            .ok()
            .and_then(|i| self.envelopes.get(i))
            .ok_or(KeyError::Missing)?;
        envelope.open(me, &self.group, self.epoch, &self.key_id)
    }
}
