//! [`GlobalEnvelope`]: an HPKE-sealed, sender-hidden message to one actor.

use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use quorate_mesh_proto::{
    Block, BlockPayload, Cid, DecodeError, Domain, EncodeError, ObjectSig, PinClass,
};
use rand_core::CryptoRngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use x25519_dalek::{PublicKey, StaticSecret};

use super::suite::{self, SuiteError};
use super::tag::{self, SLOT_MS};
use crate::id::ActorId;
use crate::identity::Identity;

/// HPKE `info` of every envelope.
pub const INFO: &[u8] = b"quorate/global-envelope/v1";
/// Largest envelope block, all of it (the mesh envelope around the payload included).
pub const MAX_ENVELOPE_SIZE: usize = 64 * 1024;
/// Largest `ciphertext` (`enc || ct`).
pub const MAX_CIPHERTEXT: usize = 60 * 1024;
/// Longest invitation note, in bytes of UTF-8.
pub const MAX_NOTE: usize = 1024;
/// Largest bootstrap payload.
pub const MAX_BOOTSTRAP: usize = 32 * 1024;
/// Longest lifetime a sender may give an envelope: one slot, so the recipient still
/// recognises the tag (its window is the slot of the send time ± 1) until expiry.
pub const MAX_TTL_MS: u64 = SLOT_MS;
/// How far the clocks of a sender and a receiver may disagree.
pub const MAX_CLOCK_SKEW_MS: u64 = 5 * 60 * 1000;
/// Length of the HPKE `aad`: `to_tag || expires_at_ms` (big-endian).
pub const AAD_LEN: usize = 32 + 8;

const SEEN_LABEL: &[u8] = b"quorate/global-envelope/seen/v1";

/// What a sender tells a recipient, sealed inside an envelope.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum Body {
    /// An invitation, to a group or to talk.
    Invitation {
        /// The group invited to, if any.
        #[serde(default, skip_serializing_if = "Option::is_none", with = "serde_bytes")]
        group: Option<[u8; 32]>,
        /// A human note, at most [`MAX_NOTE`] bytes.
        note: String,
        /// A block with more (a group's public card, say).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        payload: Option<Cid>,
    },
    /// Encrypted bootstrap material for a group, at most [`MAX_BOOTSTRAP`] bytes; its
    /// format belongs to group-core.
    Bootstrap {
        /// The material.
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
    },
}

impl Body {
    /// The size limit this body breaks, as `(len, max)`, if any.
    #[must_use]
    pub fn oversize(&self) -> Option<(usize, usize)> {
        let (len, max) = match self {
            Body::Invitation { note, .. } => (note.len(), MAX_NOTE),
            Body::Bootstrap { data } => (data.len(), MAX_BOOTSTRAP),
        };
        (len > max).then_some((len, max))
    }
}

/// The plaintext of an envelope: the sender, hidden from everyone but the recipient.
///
/// `sig` is the sender's Ed25519 signature (domain [`Domain::GlobalEnvelope`]) over the
/// canonical DAG-CBOR map `{ to_tag, expires_at_ms, from, from_key, body }`, so it also
/// binds the recipient's tag and the expiry: a recipient cannot re-seal it to anyone else,
/// and nobody can make it live longer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sealed {
    /// `SHA-256(from_key)`.
    pub from: ActorId,
    /// The sender's Ed25519 public key.
    #[serde(with = "serde_bytes")]
    pub from_key: [u8; 32],
    /// The message.
    pub body: Body,
    /// The sender's signature.
    #[serde(with = "serde_bytes")]
    pub sig: [u8; 64],
}

#[derive(Serialize)]
struct SignedRef<'a> {
    #[serde(with = "serde_bytes")]
    to_tag: &'a [u8; 32],
    expires_at_ms: u64,
    from: &'a ActorId,
    #[serde(with = "serde_bytes")]
    from_key: &'a [u8; 32],
    body: &'a Body,
}

impl Sealed {
    /// Signs `body` as `sender`, for the envelope with this tag and expiry.
    ///
    /// # Errors
    /// [`SealError::BodyTooLarge`] beyond the body limits, [`SealError::Encode`] if the
    /// body cannot be encoded.
    pub fn sign(
        sender: &Identity,
        to_tag: &[u8; 32],
        expires_at_ms: u64,
        body: Body,
    ) -> Result<Sealed, SealError> {
        if let Some((len, max)) = body.oversize() {
            return Err(SealError::BodyTooLarge { len, max });
        }
        let from = sender.id();
        let from_key = sender.verifying_key().to_bytes();
        let signed = signed_bytes(to_tag, expires_at_ms, &from, &from_key, &body)
            .map_err(|e| SealError::Encode(EncodeError::Serialize(e)))?;
        let sig = Domain::GlobalEnvelope
            .sign(sender.signing_key(), &signed)
            .to_bytes();
        Ok(Sealed {
            from,
            from_key,
            body,
            sig,
        })
    }

    /// Canonical DAG-CBOR.
    ///
    /// # Errors
    /// [`SealError::Encode`] if the value cannot be encoded.
    pub fn to_bytes(&self) -> Result<Vec<u8>, SealError> {
        let mut out = Vec::with_capacity(256);
        serde_ipld_dagcbor::to_writer(&mut out, self)
            .map_err(|e| SealError::Encode(EncodeError::Serialize(e.to_string())))?;
        Ok(out)
    }

    /// Parses canonical DAG-CBOR: anything else (trailing bytes, unknown fields, a second
    /// encoding of the same value) is refused. Checks no signature.
    ///
    /// # Errors
    /// [`EnvelopeError::SealedMalformed`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Sealed, EnvelopeError> {
        let sealed: Sealed =
            serde_ipld_dagcbor::from_slice(bytes).map_err(|_| EnvelopeError::SealedMalformed)?;
        match sealed.to_bytes() {
            Ok(again) if again == bytes => Ok(sealed),
            _ => Err(EnvelopeError::SealedMalformed),
        }
    }

    /// Checks the body limits, `from == SHA-256(from_key)` and the signature for this tag
    /// and expiry; returns the sender's key.
    ///
    /// # Errors
    /// [`EnvelopeError::BodyTooLarge`], [`EnvelopeError::FromKeyMismatch`],
    /// [`EnvelopeError::BadFromKey`] or [`EnvelopeError::BadInnerSignature`].
    pub fn verify(
        &self,
        to_tag: &[u8; 32],
        expires_at_ms: u64,
    ) -> Result<VerifyingKey, EnvelopeError> {
        if let Some((len, max)) = self.body.oversize() {
            return Err(EnvelopeError::BodyTooLarge { len, max });
        }
        if ActorId::from_bytes(Sha256::digest(self.from_key).into()) != self.from {
            return Err(EnvelopeError::FromKeyMismatch);
        }
        let key =
            VerifyingKey::from_bytes(&self.from_key).map_err(|_| EnvelopeError::BadFromKey)?;
        let signed = signed_bytes(
            to_tag,
            expires_at_ms,
            &self.from,
            &self.from_key,
            &self.body,
        )
        .map_err(|_| EnvelopeError::Internal("re-encoding a decoded body failed"))?;
        Domain::GlobalEnvelope
            .verify(&key, &signed, &Signature::from_bytes(&self.sig))
            .map_err(|_| EnvelopeError::BadInnerSignature)?;
        Ok(key)
    }
}

fn signed_bytes(
    to_tag: &[u8; 32],
    expires_at_ms: u64,
    from: &ActorId,
    from_key: &[u8; 32],
    body: &Body,
) -> Result<Vec<u8>, String> {
    let signed = SignedRef {
        to_tag,
        expires_at_ms,
        from,
        from_key,
        body,
    };
    serde_ipld_dagcbor::to_vec(&signed).map_err(|e| e.to_string())
}

/// [`GlobalEnvelope`] without `signature`, borrowed: the bytes the outer signature and the
/// proof of work cover. Same field names and attributes, so the same encoding.
#[derive(Serialize)]
struct UnsignedRef<'a> {
    #[serde(with = "serde_bytes")]
    to_tag: &'a [u8; 32],
    #[serde(with = "serde_bytes")]
    ciphertext: &'a [u8],
    expires_at_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pow: Option<u64>,
}

/// `aad = to_tag || expires_at_ms` (big-endian): a relay that changes either breaks the
/// AEAD.
#[must_use]
pub fn envelope_aad(to_tag: &[u8; 32], expires_at_ms: u64) -> [u8; AAD_LEN] {
    let mut aad = [0u8; AAD_LEN];
    let (head, tail) = aad.split_at_mut(32);
    head.copy_from_slice(to_tag);
    tail.copy_from_slice(&expires_at_ms.to_be_bytes());
    aad
}

/// `GlobalEnvelope { to_tag, ciphertext, expires_at_ms, pow?, signature? }`: the one
/// message type of the rendezvous topic besides presence (block type `global-envelope`,
/// version 1, [`PinClass::Cache`]).
///
/// The block's own envelope signature is never used: a public sender signs in
/// `signature` instead, and [`GlobalEnvelope::from_block`] refuses a signed block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlobalEnvelope {
    /// The recipient's tag for the slot of the send time (see [`tag::to_tag`]).
    #[serde(with = "serde_bytes")]
    pub to_tag: [u8; 32],
    /// `enc || ct`: HPKE to the recipient's X25519 key of a canonical [`Sealed`].
    #[serde(with = "serde_bytes")]
    pub ciphertext: Vec<u8>,
    /// Milliseconds since the Unix epoch after which nobody accepts it.
    pub expires_at_ms: u64,
    /// Proof-of-work nonce (see [`mint_pow`](super::mint_pow)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pow: Option<u64>,
    /// A public sender's signature ([`Domain::GlobalEnvelope`]) over the canonical
    /// DAG-CBOR of this payload without `signature`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<ObjectSig>,
}

impl BlockPayload for GlobalEnvelope {
    const TYPE: &'static str = "global-envelope";
    const VERSION: u32 = 1;
    const PIN: PinClass = PinClass::Cache;
}

/// A verified envelope's content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opened {
    /// The sender (`SHA-256(from_key)`).
    pub from: ActorId,
    /// The sender's key, which signed the sealed content.
    pub from_key: VerifyingKey,
    /// The message.
    pub body: Body,
    /// True if the sender also signed the outside (it chose to be visible to all).
    pub public: bool,
}

/// Why an envelope cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// A lifetime of zero, above [`MAX_TTL_MS`], or past the end of time.
    #[error("envelope lifetime of {ttl_ms} ms is outside 1..={MAX_TTL_MS}")]
    BadTtl {
        /// The lifetime asked for.
        ttl_ms: u64,
    },
    /// A body field beyond its limit ([`MAX_NOTE`], [`MAX_BOOTSTRAP`]).
    #[error("body of {len} bytes exceeds the limit of {max}")]
    BodyTooLarge {
        /// Size of the field.
        len: usize,
        /// Its limit.
        max: usize,
    },
    /// The recipient key is a small-order point that nobody can decrypt to.
    #[error("recipient X25519 key is unusable")]
    BadRecipientKey,
    /// The envelope block or its ciphertext would exceed [`MAX_ENVELOPE_SIZE`] /
    /// [`MAX_CIPHERTEXT`].
    #[error("envelope of {size} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Size.
        size: usize,
        /// Limit.
        max: usize,
    },
    /// DAG-CBOR encoding failed.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// HPKE refused to seal for a reason that is a bug here.
    #[error("internal error: {0}")]
    Internal(&'static str),
}

/// Why a received envelope is refused. See [`EnvelopeError::forwarder_accountable`] for
/// who is to blame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// The block exceeds [`MAX_ENVELOPE_SIZE`]; nothing was parsed.
    #[error("envelope block of {size} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Block size.
        size: usize,
        /// Limit.
        max: usize,
    },
    /// Not a canonical `global-envelope` block of version 1.
    #[error("not a global envelope: {0}")]
    Decode(DecodeError),
    /// The block carries a mesh envelope signature; envelopes sign in `signature` only.
    #[error("global envelope block carries a block-level signature")]
    BlockSigned,
    /// `ciphertext` shorter than `enc` plus the AEAD tag, or above [`MAX_CIPHERTEXT`].
    #[error("ciphertext of {size} bytes is outside the allowed range")]
    CiphertextSize {
        /// Its size.
        size: usize,
    },
    /// No proof of work, and the receiver asks for one.
    #[error("no proof of work (difficulty {required} required)")]
    MissingPow {
        /// The receiver's difficulty.
        required: u8,
    },
    /// The proof of work has too few leading zero bits.
    #[error("proof of work has {found} leading zero bits, {required} required")]
    InsufficientPow {
        /// The receiver's difficulty.
        required: u8,
        /// Leading zero bits of the hash.
        found: u32,
    },
    /// Past its expiry.
    #[error("envelope expired at {expires_at_ms}, now {now_ms}")]
    Expired {
        /// The envelope's expiry.
        expires_at_ms: u64,
        /// The receiver's time.
        now_ms: u64,
    },
    /// Expires further ahead than any honest sender sets ([`MAX_TTL_MS`] plus
    /// [`MAX_CLOCK_SKEW_MS`]).
    #[error("envelope expiry {expires_at_ms} is beyond {max_ms}")]
    ExpiryTooFar {
        /// The envelope's expiry.
        expires_at_ms: u64,
        /// The latest expiry accepted now.
        max_ms: u64,
    },
    /// The tag is not this recipient's in any accepted slot ([`GlobalEnvelope::open`]
    /// only; the inbox calls this "not for us", which is no fault).
    #[error("envelope is not addressed to this recipient")]
    NotAddressed,
    /// `signature.key` is not a valid Ed25519 public key.
    #[error("outer signer key is not a valid Ed25519 key")]
    BadSignerKey,
    /// `signature` does not verify.
    #[error("outer signature does not verify")]
    BadSignature,
    /// `signature` is by a key other than the sealed sender's.
    #[error("outer signer is not the sealed sender")]
    SignerMismatch,
    /// HPKE open failed: wrong recipient key, or `ciphertext`, `to_tag` or
    /// `expires_at_ms` changed on the way.
    #[error("envelope does not decrypt")]
    Decrypt,
    /// The plaintext is not a canonical [`Sealed`].
    #[error("sealed content is malformed")]
    SealedMalformed,
    /// A body field beyond its limit.
    #[error("sealed body of {len} bytes exceeds the limit of {max}")]
    BodyTooLarge {
        /// Size of the field.
        len: usize,
        /// Its limit.
        max: usize,
    },
    /// `from_key` is not a valid Ed25519 public key.
    #[error("sealed sender key is not a valid Ed25519 key")]
    BadFromKey,
    /// `from` is not `SHA-256(from_key)`.
    #[error("sealed sender id does not match its key")]
    FromKeyMismatch,
    /// The sealed signature does not verify.
    #[error("sealed signature does not verify")]
    BadInnerSignature,
    /// A bug here, not the sender's fault.
    #[error("internal error: {0}")]
    Internal(&'static str),
}

impl EnvelopeError {
    /// True if any node that relays the envelope could have seen the fault (size, format,
    /// proof of work, expiry, outer signature): the peer that forwarded it is accountable.
    /// False for what only the recipient can see (decryption and everything inside): an
    /// honest relay forwards those unknowingly, so blame the forwarder lightly if at all.
    #[must_use]
    pub fn forwarder_accountable(&self) -> bool {
        match self {
            EnvelopeError::TooLarge { .. }
            | EnvelopeError::Decode(_)
            | EnvelopeError::BlockSigned
            | EnvelopeError::CiphertextSize { .. }
            | EnvelopeError::MissingPow { .. }
            | EnvelopeError::InsufficientPow { .. }
            | EnvelopeError::Expired { .. }
            | EnvelopeError::ExpiryTooFar { .. }
            | EnvelopeError::BadSignerKey
            | EnvelopeError::BadSignature => true,
            EnvelopeError::NotAddressed
            | EnvelopeError::SignerMismatch
            | EnvelopeError::Decrypt
            | EnvelopeError::SealedMalformed
            | EnvelopeError::BodyTooLarge { .. }
            | EnvelopeError::BadFromKey
            | EnvelopeError::FromKeyMismatch
            | EnvelopeError::BadInnerSignature
            | EnvelopeError::Internal(_) => false,
        }
    }
}

impl GlobalEnvelope {
    /// Seals `body` from `sender` to the actor whose X25519 key is `recipient`, tagged for
    /// the slot of `now_ms`, expiring `ttl_ms` later. No proof of work, no outer signature:
    /// add them with [`mint_pow`](super::mint_pow), then [`GlobalEnvelope::sign`].
    ///
    /// # Errors
    /// [`SealError`]: a bad lifetime, an oversize body, an unusable recipient key.
    pub fn seal(
        sender: &Identity,
        recipient: &PublicKey,
        body: Body,
        now_ms: u64,
        ttl_ms: u64,
        rng: &mut impl CryptoRngCore,
    ) -> Result<GlobalEnvelope, SealError> {
        if ttl_ms == 0 || ttl_ms > MAX_TTL_MS {
            return Err(SealError::BadTtl { ttl_ms });
        }
        let expires_at_ms = now_ms
            .checked_add(ttl_ms)
            .ok_or(SealError::BadTtl { ttl_ms })?;
        let to_tag = tag::to_tag(recipient, tag::slot(now_ms));
        let sealed = Sealed::sign(sender, &to_tag, expires_at_ms, body)?;
        let plaintext = zeroize::Zeroizing::new(sealed.to_bytes()?);
        let aad = envelope_aad(&to_tag, expires_at_ms);
        let ciphertext =
            suite::seal(recipient, INFO, &aad, &plaintext, rng).map_err(|e| match e {
                SuiteError::BadRecipientKey => SealError::BadRecipientKey,
                _ => SealError::Internal("HPKE seal failed"),
            })?;
        if ciphertext.len() > MAX_CIPHERTEXT {
            return Err(SealError::TooLarge {
                size: ciphertext.len(),
                max: MAX_CIPHERTEXT,
            });
        }
        Ok(GlobalEnvelope {
            to_tag,
            ciphertext,
            expires_at_ms,
            pow: None,
            signature: None,
        })
    }

    /// This envelope's HPKE `aad`.
    #[must_use]
    pub fn aad(&self) -> [u8; AAD_LEN] {
        envelope_aad(&self.to_tag, self.expires_at_ms)
    }

    /// Signs the outside as a public sender (after any proof of work: the signature covers
    /// `pow`). Use the key that sealed the content, or recipients refuse it.
    ///
    /// # Errors
    /// [`SealError::Encode`] if the envelope cannot be encoded.
    pub fn sign(&mut self, key: &SigningKey) -> Result<(), SealError> {
        self.signature = None;
        let unsigned = self.unsigned_bytes()?;
        let sig = Domain::GlobalEnvelope.sign(key, &unsigned);
        self.signature = Some(ObjectSig {
            key: key.verifying_key().to_bytes(),
            sig: sig.to_bytes(),
        });
        Ok(())
    }

    /// Encodes as a block.
    ///
    /// # Errors
    /// [`SealError::TooLarge`] beyond [`MAX_ENVELOPE_SIZE`].
    pub fn to_block(&self) -> Result<Block, SealError> {
        let block = Block::encode(self)?;
        if block.len() > MAX_ENVELOPE_SIZE {
            return Err(SealError::TooLarge {
                size: block.len(),
                max: MAX_ENVELOPE_SIZE,
            });
        }
        Ok(block)
    }

    /// Reads an envelope from a block: size first, then strict decoding, then the
    /// ciphertext bounds. No cryptography.
    ///
    /// # Errors
    /// [`EnvelopeError::TooLarge`], [`EnvelopeError::Decode`],
    /// [`EnvelopeError::BlockSigned`] or [`EnvelopeError::CiphertextSize`].
    pub fn from_block(block: &Block) -> Result<GlobalEnvelope, EnvelopeError> {
        if block.len() > MAX_ENVELOPE_SIZE {
            return Err(EnvelopeError::TooLarge {
                size: block.len(),
                max: MAX_ENVELOPE_SIZE,
            });
        }
        let decoded = block
            .decode::<GlobalEnvelope>()
            .map_err(EnvelopeError::Decode)?;
        if decoded.sig.is_some() {
            return Err(EnvelopeError::BlockSigned);
        }
        let envelope = decoded.payload;
        let size = envelope.ciphertext.len();
        if !(suite::OVERHEAD..=MAX_CIPHERTEXT).contains(&size) {
            return Err(EnvelopeError::CiphertextSize { size });
        }
        Ok(envelope)
    }

    /// Checks `now_ms <= expires_at_ms <= now_ms + MAX_TTL_MS + MAX_CLOCK_SKEW_MS`.
    ///
    /// # Errors
    /// [`EnvelopeError::Expired`] or [`EnvelopeError::ExpiryTooFar`].
    pub fn check_expiry(&self, now_ms: u64) -> Result<(), EnvelopeError> {
        if now_ms > self.expires_at_ms {
            return Err(EnvelopeError::Expired {
                expires_at_ms: self.expires_at_ms,
                now_ms,
            });
        }
        let max_ms = now_ms.saturating_add(MAX_TTL_MS + MAX_CLOCK_SKEW_MS);
        if self.expires_at_ms > max_ms {
            return Err(EnvelopeError::ExpiryTooFar {
                expires_at_ms: self.expires_at_ms,
                max_ms,
            });
        }
        Ok(())
    }

    /// Checks the outer signature, if any, and returns its key.
    ///
    /// # Errors
    /// [`EnvelopeError::BadSignerKey`] or [`EnvelopeError::BadSignature`].
    pub fn verify_signature(&self) -> Result<Option<VerifyingKey>, EnvelopeError> {
        let Some(sig) = &self.signature else {
            return Ok(None);
        };
        let key = VerifyingKey::from_bytes(&sig.key).map_err(|_| EnvelopeError::BadSignerKey)?;
        let unsigned = self
            .unsigned_bytes()
            .map_err(|_| EnvelopeError::Internal("re-encoding a decoded envelope failed"))?;
        Domain::GlobalEnvelope
            .verify(&key, &unsigned, &Signature::from_bytes(&sig.sig))
            .map_err(|_| EnvelopeError::BadSignature)?;
        Ok(Some(key))
    }

    /// Opens an envelope addressed to `recipient`: expiry, tag (slot of `now_ms` ± 1),
    /// outer signature, HPKE, then the sealed content and its signature. Proof of work is
    /// the caller's ([`check_pow`](super::check_pow), before this).
    ///
    /// # Errors
    /// [`EnvelopeError`] naming the first check that failed.
    pub fn open(&self, recipient: &Identity, now_ms: u64) -> Result<Opened, EnvelopeError> {
        self.check_expiry(now_ms)?;
        if !tag::is_addressed_to(&self.to_tag, &recipient.encryption_public(), now_ms) {
            return Err(EnvelopeError::NotAddressed);
        }
        self.open_addressed(recipient.encryption_secret())
    }

    /// Everything after the tag: outer signature, HPKE, sealed content.
    pub(crate) fn open_addressed(&self, secret: &StaticSecret) -> Result<Opened, EnvelopeError> {
        let signer = self.verify_signature()?;
        let plaintext =
            suite::open(secret, INFO, &self.aad(), &self.ciphertext).map_err(|e| match e {
                SuiteError::TooShort => EnvelopeError::CiphertextSize {
                    size: self.ciphertext.len(),
                },
                _ => EnvelopeError::Decrypt,
            })?;
        let sealed = Sealed::from_bytes(&plaintext)?;
        let from_key = sealed.verify(&self.to_tag, self.expires_at_ms)?;
        if signer.is_some_and(|k| k != from_key) {
            return Err(EnvelopeError::SignerMismatch);
        }
        Ok(Opened {
            from: sealed.from,
            from_key,
            body: sealed.body,
            public: signer.is_some(),
        })
    }

    /// Streams the canonical DAG-CBOR of this envelope's payload without `signature`, and
    /// without `pow` too if `drop_pow`, into `out`: the outer signature covers the former,
    /// the proof of work the latter. No copy of the ciphertext, no block hash.
    pub(crate) fn write_unsigned(
        &self,
        drop_pow: bool,
        out: impl std::io::Write,
    ) -> Result<(), EncodeError> {
        let unsigned = UnsignedRef {
            to_tag: &self.to_tag,
            ciphertext: &self.ciphertext,
            expires_at_ms: self.expires_at_ms,
            pow: if drop_pow { None } else { self.pow },
        };
        serde_ipld_dagcbor::to_writer(out, &unsigned)
            .map_err(|e| EncodeError::Serialize(e.to_string()))
    }

    fn unsigned_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::with_capacity(self.ciphertext.len() + 128);
        self.write_unsigned(false, &mut out)?;
        Ok(out)
    }

    /// What duplicates share even when a relay changed `pow` or dropped `signature`:
    /// `SHA-256(label || to_tag || expires_at_ms || ciphertext)`.
    #[must_use]
    pub fn content_id(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(SEEN_LABEL);
        h.update(self.aad());
        h.update(&self.ciphertext);
        h.finalize().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsigned_bytes_are_the_payload_encoding_without_signature() {
        let mut env = GlobalEnvelope {
            to_tag: [1; 32],
            ciphertext: vec![2; 100],
            expires_at_ms: 3,
            pow: Some(4),
            signature: None,
        };
        let plain = serde_ipld_dagcbor::to_vec(&env).unwrap();
        assert_eq!(env.unsigned_bytes().unwrap(), plain);
        env.signature = Some(ObjectSig {
            key: [5; 32],
            sig: [6; 64],
        });
        assert_eq!(env.unsigned_bytes().unwrap(), plain);
        let mut no_pow = Vec::new();
        env.write_unsigned(true, &mut no_pow).unwrap();
        env.pow = None;
        env.signature = None;
        assert_eq!(no_pow, serde_ipld_dagcbor::to_vec(&env).unwrap());
    }
}
