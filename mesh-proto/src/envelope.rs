//! The block envelope: `{ type, version, payload, sig? }` in canonical DAG-CBOR.
//!
//! Every DAG-CBOR block in Quorate is an envelope. `type` names the payload schema,
//! `version` its revision, `payload` is the typed value, and `sig` an optional
//! object-level signature. The signature covers
//! `Domain::Envelope.tag() || dagcbor({type, version, payload})`: the bytes of the same
//! envelope without `sig`. The signer's public key travels inside `sig`; callers check
//! that it is the key they expect (an actor's, a committee's) with [`Envelope::verify`].

use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::block::Block;
use crate::domain::{Domain, SignatureError};

/// How long a store must keep a block. Seed 000 §Storage constraints names the critical
/// objects.
///
/// | class | evicted to make room | removed by `expire` |
/// |---|---|---|
/// | [`Cache`](PinClass::Cache) | yes, least-recently-used first | once its optional deadline passes |
/// | [`Retained`](PinClass::Retained) | never ([pinned](PinClass::is_pinned)) | once its required deadline passes |
/// | every other class | never ([pinned](PinClass::is_pinned)) | never |
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum PinClass {
    /// Replicated content: evicted least-recently-used under the byte cap, and after its TTL.
    Cache,
    /// Pinned by the local user (e.g. `quorate put`).
    User,
    /// Actor key material (encrypted keystore backups, profiles).
    ActorKey,
    /// Actor feed heads.
    FeedHead,
    /// Actor feed entries.
    FeedEntry,
    /// Group epoch states.
    GroupEpoch,
    /// Membership snapshots.
    Membership,
    /// Governance votes (and proposals).
    Vote,
    /// Group attestations.
    Attestation,
    /// Group messages a *member* keeps: pinned, never evicted or expired.
    GroupMessage,
    /// Held until a deadline: what a blind store-and-forward cache keeps for members who
    /// are offline (encrypted group messages, epoch states, key envelopes). Never evicted
    /// to make room (its bytes count as pinned), but removed once its deadline passes.
    /// A store put requires the deadline.
    Retained,
}

impl PinClass {
    /// Every class, in code order.
    pub const ALL: [PinClass; 11] = [
        PinClass::Cache,
        PinClass::User,
        PinClass::ActorKey,
        PinClass::FeedHead,
        PinClass::FeedEntry,
        PinClass::GroupEpoch,
        PinClass::Membership,
        PinClass::Vote,
        PinClass::Attestation,
        PinClass::GroupMessage,
        PinClass::Retained,
    ];

    /// True for every class a store must never evict to make room: everything but
    /// [`PinClass::Cache`]. Pinned bytes count against the cap and are never freed by
    /// eviction. Of the pinned classes only [`PinClass::Retained`] [expires](Self::expires).
    #[must_use]
    pub const fn is_pinned(self) -> bool {
        !matches!(self, PinClass::Cache)
    }

    /// True for the classes whose blocks a store removes once their deadline passes:
    /// [`PinClass::Cache`] (when put with one) and [`PinClass::Retained`] (always put
    /// with one). Every other class ignores deadlines.
    #[must_use]
    pub const fn expires(self) -> bool {
        matches!(self, PinClass::Cache | PinClass::Retained)
    }

    /// A stable one-byte code, for stores that persist the class.
    #[must_use]
    pub const fn code(self) -> u8 {
        match self {
            PinClass::Cache => 0,
            PinClass::User => 1,
            PinClass::ActorKey => 2,
            PinClass::FeedHead => 3,
            PinClass::FeedEntry => 4,
            PinClass::GroupEpoch => 5,
            PinClass::Membership => 6,
            PinClass::Vote => 7,
            PinClass::Attestation => 8,
            PinClass::GroupMessage => 9,
            PinClass::Retained => 10,
        }
    }

    /// Inverse of [`PinClass::code`].
    #[must_use]
    pub fn from_code(code: u8) -> Option<PinClass> {
        PinClass::ALL.into_iter().find(|c| c.code() == code)
    }
}

/// A typed payload that lives in a block envelope.
pub trait BlockPayload: Serialize + DeserializeOwned {
    /// The envelope's `type` string. Unique across the project.
    const TYPE: &'static str;
    /// The one `version` this code reads and writes.
    const VERSION: u32;
    /// How stores keep blocks of this type.
    const PIN: PinClass;
}

/// An object-level signature: the signer's Ed25519 public key and the signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectSig {
    /// The signer's Ed25519 public key (32 bytes).
    #[serde(with = "serde_bytes")]
    pub key: [u8; 32],
    /// The Ed25519 signature (64 bytes).
    #[serde(with = "serde_bytes")]
    pub sig: [u8; 64],
}

/// A decoded (or to-be-encoded) envelope around a `T`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope<T> {
    /// The typed payload.
    pub payload: T,
    /// The object-level signature, if any. Not verified by decoding.
    pub sig: Option<ObjectSig>,
}

/// `type` and `version` of an envelope, read without parsing the payload.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Header {
    /// The envelope's `type`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The envelope's `version`.
    pub version: u32,
}

/// Why a value could not become a block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The encoding exceeds the block size limit.
    #[error("encoded block of {size} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// Encoded size.
        size: usize,
        /// Limit.
        max: usize,
    },
    /// The value cannot be represented in DAG-CBOR (e.g. a float NaN).
    #[error("value cannot be encoded as DAG-CBOR: {0}")]
    Serialize(String),
}

/// Why a block is not a valid envelope of the requested type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The block is raw, not DAG-CBOR.
    #[error("block is raw bytes, not a DAG-CBOR envelope")]
    NotDagCbor,
    /// Not well-formed DAG-CBOR for this schema (truncated, wrong field types, unknown
    /// envelope fields, trailing bytes, nesting too deep).
    #[error("malformed envelope: {0}")]
    Malformed(String),
    /// Parses, but is not the canonical encoding of what it parses to (extra payload
    /// fields, unsorted map keys, non-minimal integers or lengths, `sig: null`).
    #[error("envelope is not canonical DAG-CBOR for its value")]
    NonCanonical,
    /// Another block type.
    #[error("expected block type {expected:?}, found {found:?}")]
    WrongType {
        /// The type asked for.
        expected: &'static str,
        /// The type in the block.
        found: String,
    },
    /// A version this code does not read.
    #[error("unsupported version {found} of block type {kind:?} (supported: {supported})")]
    UnsupportedVersion {
        /// The block type.
        kind: &'static str,
        /// The version in the block.
        found: u32,
        /// The version this code reads.
        supported: u32,
    },
}

/// Why an object-level signature is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The envelope carries no signature.
    #[error("envelope is not signed")]
    Unsigned,
    /// The public key in `sig` is not a valid Ed25519 point.
    #[error("signer key is not a valid Ed25519 public key")]
    BadKey,
    /// The signature does not verify.
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// The payload could not be re-encoded to check it.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

#[derive(Serialize)]
struct WireRef<'a, T> {
    #[serde(rename = "type")]
    kind: &'static str,
    version: u32,
    payload: &'a T,
    #[serde(skip_serializing_if = "Option::is_none")]
    sig: Option<&'a ObjectSig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireOwned<T> {
    #[serde(rename = "type")]
    kind: String,
    version: u32,
    payload: T,
    #[serde(default)]
    sig: Option<ObjectSig>,
}

impl<T: BlockPayload> Envelope<T> {
    /// An envelope without a signature.
    pub fn unsigned(payload: T) -> Self {
        Envelope { payload, sig: None }
    }

    /// An envelope signed by `key`.
    ///
    /// # Errors
    /// [`EncodeError`] if the payload cannot be encoded.
    pub fn signed(payload: T, key: &SigningKey) -> Result<Self, EncodeError> {
        let sig = sign_payload(&payload, key)?;
        Ok(Envelope {
            payload,
            sig: Some(sig),
        })
    }

    /// Checks the object-level signature and returns the signer's key. The caller decides
    /// whether that key is allowed to sign this object.
    ///
    /// # Errors
    /// [`VerifyError`] if unsigned or the signature does not verify.
    pub fn verify(&self) -> Result<VerifyingKey, VerifyError> {
        let sig = self.sig.as_ref().ok_or(VerifyError::Unsigned)?;
        let key = VerifyingKey::from_bytes(&sig.key).map_err(|_| VerifyError::BadKey)?;
        let unsigned = encode_wire(&self.payload, None)?;
        Domain::Envelope.verify(&key, &unsigned, &Signature::from_bytes(&sig.sig))?;
        Ok(key)
    }

    /// Encodes as a block.
    ///
    /// # Errors
    /// [`EncodeError`] if the payload cannot be encoded or is too large.
    pub fn to_block(&self) -> Result<Block, EncodeError> {
        Block::from_encoded(encode_wire(&self.payload, self.sig.as_ref())?)
    }
}

pub(crate) fn sign_payload<T: BlockPayload>(
    payload: &T,
    key: &SigningKey,
) -> Result<ObjectSig, EncodeError> {
    let unsigned = encode_wire(payload, None)?;
    Ok(ObjectSig {
        key: key.verifying_key().to_bytes(),
        sig: Domain::Envelope.sign(key, &unsigned).to_bytes(),
    })
}

pub(crate) fn encode_wire<T: BlockPayload>(
    payload: &T,
    sig: Option<&ObjectSig>,
) -> Result<Vec<u8>, EncodeError> {
    let wire = WireRef {
        kind: T::TYPE,
        version: T::VERSION,
        payload,
        sig,
    };
    crate::canonical::encode(&wire).map_err(EncodeError::Serialize)
}

pub(crate) fn header(bytes: &[u8]) -> Result<Header, DecodeError> {
    serde_ipld_dagcbor::from_slice(bytes).map_err(|e| DecodeError::Malformed(e.to_string()))
}

pub(crate) fn decode<T: BlockPayload>(bytes: &[u8]) -> Result<Envelope<T>, DecodeError> {
    let wire: WireOwned<T> = match serde_ipld_dagcbor::from_slice(bytes) {
        Ok(wire) => wire,
        // Explain a failure by the header when it is the header that is wrong.
        Err(e) => {
            let header = header(bytes)?;
            check_header::<T>(&header.kind, header.version)?;
            return Err(DecodeError::Malformed(e.to_string()));
        }
    };
    check_header::<T>(&wire.kind, wire.version)?;
    let again = WireRef {
        kind: T::TYPE,
        version: T::VERSION,
        payload: &wire.payload,
        sig: wire.sig.as_ref(),
    };
    if !crate::canonical::encodes_to(&again, bytes) {
        return Err(DecodeError::NonCanonical);
    }
    Ok(Envelope {
        payload: wire.payload,
        sig: wire.sig,
    })
}

fn check_header<T: BlockPayload>(kind: &str, version: u32) -> Result<(), DecodeError> {
    if kind != T::TYPE {
        return Err(DecodeError::WrongType {
            expected: T::TYPE,
            // Echo a bounded prefix: the type string came from a peer.
            found: kind.chars().take(64).collect(),
        });
    }
    if version != T::VERSION {
        return Err(DecodeError::UnsupportedVersion {
            kind: T::TYPE,
            found: version,
            supported: T::VERSION,
        });
    }
    Ok(())
}
