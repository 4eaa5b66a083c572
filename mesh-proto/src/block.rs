//! [`Block`]: bytes that are known to hash to their [`Cid`].

use bytes::Bytes;
use ed25519_dalek::SigningKey;

use crate::cid::{Cid, Codec};
use crate::envelope::{self, BlockPayload, DecodeError, EncodeError, Envelope, Header};

/// The largest block the protocol carries: 2 MiB, the same hard limit as IPFS bitswap,
/// so a 1 MiB chunk plus its envelope always fits. Peers may advertise smaller limits.
pub const MAX_BLOCK_SIZE: usize = 2 * 1024 * 1024;

/// A content-addressed block. Invariant: `cid == Cid::of(cid.codec(), bytes)`.
///
/// Every constructor either computes the CID from the bytes or checks it, so a `Block`
/// value is proof that its bytes match its CID; cloning is cheap (shared bytes).
#[derive(Clone, PartialEq, Eq)]
pub struct Block {
    cid: Cid,
    bytes: Bytes,
}

/// Why untrusted bytes are not the block that was asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BlockError {
    /// Larger than the limit; nothing was hashed.
    #[error("block of {size} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// Size received.
        size: usize,
        /// Limit applied.
        max: usize,
    },
    /// The bytes hash to another CID: a corrupt or forged block.
    #[error("block bytes hash to {actual}, expected {expected}")]
    CidMismatch {
        /// CID that was asked for.
        expected: Cid,
        /// CID of the bytes received.
        actual: Cid,
    },
}

impl Block {
    /// Encodes `payload` in an unsigned [`Envelope`] as canonical DAG-CBOR.
    ///
    /// # Errors
    /// [`EncodeError`] if the payload cannot be serialized or the block is too large.
    pub fn encode<T: BlockPayload>(payload: &T) -> Result<Block, EncodeError> {
        Block::from_encoded(envelope::encode_wire(payload, None)?)
    }

    /// Encodes `payload` in an [`Envelope`] signed by `key` (domain
    /// [`Domain::Envelope`](crate::Domain::Envelope)).
    ///
    /// # Errors
    /// [`EncodeError`] if the payload cannot be serialized or the block is too large.
    pub fn encode_signed<T: BlockPayload>(
        payload: &T,
        key: &SigningKey,
    ) -> Result<Block, EncodeError> {
        let sig = envelope::sign_payload(payload, key)?;
        Block::from_encoded(envelope::encode_wire(payload, Some(&sig))?)
    }

    /// A raw block (codec `raw`), such as a file chunk.
    ///
    /// # Errors
    /// [`EncodeError::TooLarge`] above [`MAX_BLOCK_SIZE`].
    pub fn raw(bytes: impl Into<Bytes>) -> Result<Block, EncodeError> {
        let bytes = bytes.into();
        check_size(bytes.len(), MAX_BLOCK_SIZE)
            .map_err(|(size, max)| EncodeError::TooLarge { size, max })?;
        Ok(Block {
            cid: Cid::of(Codec::Raw, &bytes),
            bytes,
        })
    }

    /// Accepts bytes from anywhere untrusted (a peer, a disk): checks the size limit, then
    /// the hash, before anything parses them.
    ///
    /// # Errors
    /// [`BlockError`] if the bytes are too large or do not hash to `expected`.
    pub fn from_untrusted(expected: &Cid, bytes: impl Into<Bytes>) -> Result<Block, BlockError> {
        Self::from_untrusted_with_limit(expected, bytes, MAX_BLOCK_SIZE)
    }

    /// [`Block::from_untrusted`] with a smaller limit (say, one a peer advertised).
    /// Limits above [`MAX_BLOCK_SIZE`] are clamped to it.
    ///
    /// # Errors
    /// [`BlockError`] if the bytes are too large or do not hash to `expected`.
    pub fn from_untrusted_with_limit(
        expected: &Cid,
        bytes: impl Into<Bytes>,
        max_size: usize,
    ) -> Result<Block, BlockError> {
        let bytes = bytes.into();
        check_size(bytes.len(), max_size.min(MAX_BLOCK_SIZE))
            .map_err(|(size, max)| BlockError::TooLarge { size, max })?;
        let actual = Cid::of(expected.codec(), &bytes);
        if actual != *expected {
            return Err(BlockError::CidMismatch {
                expected: *expected,
                actual,
            });
        }
        Ok(Block { cid: actual, bytes })
    }

    /// Encoded bytes whose CID the caller computed with [`Cid::of`] moments ago.
    pub(crate) fn from_encoded(bytes: Vec<u8>) -> Result<Block, EncodeError> {
        check_size(bytes.len(), MAX_BLOCK_SIZE)
            .map_err(|(size, max)| EncodeError::TooLarge { size, max })?;
        Ok(Block {
            cid: Cid::of(Codec::DagCbor, &bytes),
            bytes: Bytes::from(bytes),
        })
    }

    /// Decodes the envelope as a `T`: checks codec, `type` and `version`, parses, then
    /// re-encodes and byte-compares, so a value has exactly one accepted encoding.
    /// The object-level signature, if any, is *not* checked: see [`Envelope::verify`].
    ///
    /// # Errors
    /// [`DecodeError`] naming what is wrong.
    pub fn decode<T: BlockPayload>(&self) -> Result<Envelope<T>, DecodeError> {
        if self.cid.codec() != Codec::DagCbor {
            return Err(DecodeError::NotDagCbor);
        }
        envelope::decode(&self.bytes)
    }

    /// Reads only `type` and `version`, to dispatch a block of unknown type.
    ///
    /// # Errors
    /// [`DecodeError`] if this is not an envelope.
    pub fn header(&self) -> Result<Header, DecodeError> {
        if self.cid.codec() != Codec::DagCbor {
            return Err(DecodeError::NotDagCbor);
        }
        envelope::header(&self.bytes)
    }

    /// The block's CID.
    #[must_use]
    pub fn cid(&self) -> &Cid {
        &self.cid
    }

    /// The block's bytes.
    #[must_use]
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// Size in bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// True for a zero-length (raw) block.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Splits into CID and bytes.
    #[must_use]
    pub fn into_parts(self) -> (Cid, Bytes) {
        (self.cid, self.bytes)
    }
}

impl core::fmt::Debug for Block {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Block")
            .field("cid", &self.cid)
            .field("len", &self.bytes.len())
            .finish()
    }
}

fn check_size(size: usize, max: usize) -> Result<(), (usize, usize)> {
    if size > max { Err((size, max)) } else { Ok(()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untrusted_bytes_are_size_checked_then_hash_checked() {
        let block = Block::raw(&b"chunk"[..]).unwrap();
        let ok = Block::from_untrusted(block.cid(), block.bytes().clone()).unwrap();
        assert_eq!(ok, block);

        let forged = Block::from_untrusted(block.cid(), &b"chunK"[..]);
        assert!(
            matches!(forged, Err(BlockError::CidMismatch { expected, .. }) if expected == *block.cid())
        );

        let big = vec![0u8; MAX_BLOCK_SIZE + 1];
        assert_eq!(
            Block::from_untrusted(block.cid(), big).unwrap_err(),
            BlockError::TooLarge {
                size: MAX_BLOCK_SIZE + 1,
                max: MAX_BLOCK_SIZE
            }
        );
        assert_eq!(
            Block::from_untrusted_with_limit(block.cid(), &b"chunk"[..], 4).unwrap_err(),
            BlockError::TooLarge { size: 5, max: 4 }
        );
    }

    #[test]
    fn raw_blocks_cap_at_the_protocol_limit() {
        assert!(Block::raw(vec![0u8; MAX_BLOCK_SIZE]).is_ok());
        assert!(matches!(
            Block::raw(vec![0u8; MAX_BLOCK_SIZE + 1]),
            Err(EncodeError::TooLarge { .. })
        ));
    }

    #[test]
    fn raw_blocks_do_not_decode_as_envelopes() {
        let block = Block::raw(&b"\xa0"[..]).unwrap();
        assert_eq!(block.header().unwrap_err(), DecodeError::NotDagCbor);
    }
}
