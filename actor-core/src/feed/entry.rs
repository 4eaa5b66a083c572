//! `FeedEntry`: one signed, chained record of an actor's feed.

use ed25519_dalek::{Signature, VerifyingKey};
use quorate_mesh_proto::{Block, BlockPayload, Cid, Domain, PinClass};
use serde::{Deserialize, Serialize};

use crate::feed::FeedError;
use crate::id::ActorId;
use crate::identity::Identity;

/// Most payload CIDs in one entry.
pub const MAX_PAYLOADS: usize = 64;

/// `FeedEntry { actorId, seq, prevCid, timestamp, payloadCids[], signature }`.
///
/// The signature is Ed25519 by the actor over [`Domain::FeedEntry`] of the canonical
/// DAG-CBOR of every other field. The signing key travels in the entry so each entry
/// verifies on its own (its hash must be the actor id); that costs 32 bytes and lets a
/// node reject a bad entry the moment it arrives instead of after the whole chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedEntry {
    /// The author.
    pub actor: ActorId,
    /// Position in the feed, from 0.
    pub seq: u64,
    /// CID of entry `seq - 1`; `None` exactly for `seq == 0`.
    pub prev: Option<Cid>,
    /// The author's clock, milliseconds since the Unix epoch; never decreases along a feed.
    pub timestamp: u64,
    /// Blocks this entry publishes (profile updates, group records, posts…).
    pub payloads: Vec<Cid>,
    /// The author's Ed25519 public key.
    #[serde(with = "serde_bytes")]
    pub key: [u8; 32],
    /// Ed25519 over `Domain::FeedEntry || dagcbor(all other fields)`.
    #[serde(with = "serde_bytes")]
    pub signature: [u8; 64],
}

impl BlockPayload for FeedEntry {
    const TYPE: &'static str = "feed-entry";
    const VERSION: u32 = 1;
    const PIN: PinClass = PinClass::FeedEntry;
}

/// The signed part of an entry.
#[derive(Serialize)]
struct Signed<'a> {
    actor: &'a ActorId,
    seq: u64,
    prev: &'a Option<Cid>,
    timestamp: u64,
    payloads: &'a [Cid],
    #[serde(with = "serde_bytes")]
    key: &'a [u8; 32],
}

impl FeedEntry {
    /// Signs a new entry.
    ///
    /// # Errors
    /// [`FeedError::Malformed`] if `seq`/`prev` disagree or there are too many payloads.
    pub fn sign(
        identity: &Identity,
        seq: u64,
        prev: Option<Cid>,
        timestamp: u64,
        payloads: Vec<Cid>,
    ) -> Result<FeedEntry, FeedError> {
        let mut entry = FeedEntry {
            actor: identity.id(),
            seq,
            prev,
            timestamp,
            payloads,
            key: identity.verifying_key().to_bytes(),
            signature: [0; 64],
        };
        entry.check_shape()?;
        let sig = Domain::FeedEntry.sign(identity.signing_key(), &entry.signed_bytes()?);
        entry.signature = sig.to_bytes();
        Ok(entry)
    }

    /// As a block (unsigned envelope: the entry carries its own signature).
    ///
    /// # Errors
    /// [`FeedError::Malformed`] if it cannot be encoded.
    pub fn to_block(&self) -> Result<Block, FeedError> {
        Block::encode(self).map_err(|e| FeedError::Malformed(e.to_string()))
    }

    /// Decodes an entry block and checks it on its own: shape, key, signature.
    ///
    /// # Errors
    /// [`FeedError`] naming the fault.
    pub fn verify_block(block: &Block) -> Result<FeedEntry, FeedError> {
        let entry = block
            .decode::<FeedEntry>()
            .map_err(|e| FeedError::Malformed(e.to_string()))?
            .payload;
        entry.verify()?;
        Ok(entry)
    }

    /// Checks shape, that the key is the actor's, and the signature.
    ///
    /// # Errors
    /// [`FeedError::Malformed`], [`FeedError::WrongActor`] or [`FeedError::BadSignature`].
    pub fn verify(&self) -> Result<(), FeedError> {
        self.check_shape()?;
        let key = VerifyingKey::from_bytes(&self.key).map_err(|_| FeedError::BadSignature)?;
        if !self.actor.is_key_of(&key) {
            return Err(FeedError::WrongActor);
        }
        let sig = Signature::from_bytes(&self.signature);
        Domain::FeedEntry
            .verify(&key, &self.signed_bytes()?, &sig)
            .map_err(|_| FeedError::BadSignature)
    }

    fn check_shape(&self) -> Result<(), FeedError> {
        if (self.seq == 0) != self.prev.is_none() {
            return Err(FeedError::Malformed(
                "prev must be absent exactly for seq 0".into(),
            ));
        }
        if self.payloads.len() > MAX_PAYLOADS {
            return Err(FeedError::Malformed("too many payloads".into()));
        }
        Ok(())
    }

    fn signed_bytes(&self) -> Result<Vec<u8>, FeedError> {
        serde_ipld_dagcbor::to_vec(&Signed {
            actor: &self.actor,
            seq: self.seq,
            prev: &self.prev,
            timestamp: self.timestamp,
            payloads: &self.payloads,
            key: &self.key,
        })
        .map_err(|e| FeedError::Malformed(e.to_string()))
    }
}
