//! # quorate-mesh-proto
//!
//! The bottom layer of Quorate: the vocabulary every other layer speaks.
//!
//! - [`Instant`]: virtual time in microseconds. Cores never read a clock.
//! - [`Cid`] and [`Block`]: content addressing with CIDv1 (SHA2-256) over canonical
//!   DAG-CBOR (or raw bytes), readable by any multiformats implementation (`bafyrei…`).
//! - [`Envelope`]: the `{ type, version, payload, sig? }` wrapper of every DAG-CBOR block,
//!   with an object-level Ed25519 signature.
//! - [`Domain`]: the single table of signature domains; every signature in the project is
//!   over `domain_tag || canonical bytes`.
//!
//! - [`mesh`]: the sans-IO mesh machine — handshake, HAVE/WANT/BLOCK, Plumtree gossip on
//!   topics, named heads, relayed signaling, rate limits and peer scores. Its module docs
//!   describe the protocol and how to drive it.
//!
//! # Sans-IO
//! Nothing in this crate performs IO, reads a clock or draws randomness. Time arrives as an
//! [`Instant`], keys as arguments. The crate builds for `wasm32-unknown-unknown`.
//!
//! # Driving
//! Blocks are values: make one, hand its bytes to a peer or a store, and check them on the
//! way back in.
//!
//! 1. Build a payload type (or use [`payloads::Text`]) and call [`Block::encode`] or
//!    [`Block::encode_signed`].
//! 2. Ship `block.cid()` and `block.bytes()`.
//! 3. On receipt, call [`Block::from_untrusted`] with the CID you asked for: the size is
//!    checked, then the hash, before any parser sees the bytes.
//! 4. [`Block::decode`] parses the envelope strictly (type, version, canonical bytes);
//!    [`Envelope::verify`] checks the signature and returns the signer's key.
//!
//! ```
//! use quorate_mesh_proto::{payloads::Text, Block, Cid};
//! use ed25519_dalek::SigningKey;
//!
//! let key = SigningKey::from_bytes(&[1; 32]);
//! let block = Block::encode_signed(&Text { body: "hello mesh".into() }, &key)?;
//! let cid: Cid = block.cid().to_string().parse()?;          // bafyrei…
//!
//! // … the bytes cross the network …
//! let received = Block::from_untrusted(&cid, block.bytes().clone())?;
//! let envelope = received.decode::<Text>()?;
//! assert_eq!(envelope.payload.body, "hello mesh");
//! assert_eq!(envelope.verify()?, key.verifying_key());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Errors and panics
//! Every fallible operation returns a `#[non_exhaustive]` error enum naming the fault:
//! [`BlockError`] (size, hash), [`DecodeError`] (codec, type, version, malformed,
//! non-canonical), [`EncodeError`], [`CidError`], [`VerifyError`]. No code path reachable
//! from untrusted bytes unwraps, indexes or panics: the workspace denies those lints, and
//! the fuzz targets plus proptests in `tests/` feed random and mutated bytes to every
//! decoder.
//!
//! # Features
//! - `test-util`: `mesh::testing`, a byte-driven exerciser for fuzzing and proptests.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod block;
mod canonical;
mod cid;
mod domain;
mod envelope;
pub mod mesh;
pub mod payloads;
mod time;

pub use block::{Block, BlockError, MAX_BLOCK_SIZE};
pub use cid::{CID_LEN, Cid, CidError, Codec};
pub use domain::{Domain, SignatureError};
pub use envelope::{
    BlockPayload, DecodeError, EncodeError, Envelope, Header, ObjectSig, PinClass, VerifyError,
};
pub use time::{Duration, Instant};

/// Re-exported so callers name the same key types as this crate.
pub use ed25519_dalek;
