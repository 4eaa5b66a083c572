//! Content identifiers: CIDv1 with a SHA2-256 multihash, for DAG-CBOR or raw blocks.
//!
//! A [`Cid`] is 36 bytes on the wire (`0x01 codec 0x12 0x20 digest[32]`) and a
//! base32 multibase string (`bafyrei…` for DAG-CBOR, `bafkrei…` for raw) in text. Any
//! multiformats implementation reads both. Other versions, codecs and hash functions are
//! refused at parse time, so the rest of the code never meets them.

use core::fmt;
use core::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// Multicodec of DAG-CBOR.
const DAG_CBOR: u64 = 0x71;
/// Multicodec of raw bytes.
const RAW: u64 = 0x55;
/// Multihash code of SHA2-256.
const SHA2_256: u64 = 0x12;
/// Length of a binary CID.
pub const CID_LEN: usize = 36;

/// How a block's bytes are to be read.
///
/// The order (raw before DAG-CBOR) follows the multicodec numbers, so `Ord` on [`Cid`]
/// equals byte order of the binary form.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Codec {
    /// Opaque bytes (file chunks). Multicodec `0x55`.
    Raw,
    /// A canonical DAG-CBOR [`Envelope`](crate::Envelope). Multicodec `0x71`.
    DagCbor,
}

impl Codec {
    /// The multicodec number.
    #[must_use]
    pub const fn code(self) -> u64 {
        match self {
            Codec::Raw => RAW,
            Codec::DagCbor => DAG_CBOR,
        }
    }

    fn from_code(code: u64) -> Result<Self, CidError> {
        match code {
            RAW => Ok(Codec::Raw),
            DAG_CBOR => Ok(Codec::DagCbor),
            other => Err(CidError::UnsupportedCodec(other)),
        }
    }
}

/// A CIDv1 over SHA2-256. Cheap to copy; ordered by its binary form.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cid {
    codec: Codec,
    digest: [u8; 32],
}

/// Why bytes or text are not a CID this project accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CidError {
    /// Not a CID at all (bad multibase, varint or length).
    #[error("malformed CID: {0}")]
    Malformed(String),
    /// A CID version other than 1.
    #[error("unsupported CID version (only CIDv1 is accepted)")]
    UnsupportedVersion,
    /// A codec other than DAG-CBOR (0x71) or raw (0x55).
    #[error("unsupported codec 0x{0:x} (accepted: dag-cbor 0x71, raw 0x55)")]
    UnsupportedCodec(u64),
    /// A hash other than a 32-byte SHA2-256.
    #[error("unsupported multihash 0x{code:x} of {len} bytes (accepted: sha2-256, 32 bytes)")]
    UnsupportedHash {
        /// The multihash code found.
        code: u64,
        /// The digest length found.
        len: usize,
    },
}

impl Cid {
    /// The CID of `bytes` read with `codec`: hashes them.
    #[must_use]
    pub fn of(codec: Codec, bytes: &[u8]) -> Self {
        Cid {
            codec,
            digest: Sha256::digest(bytes).into(),
        }
    }

    /// Builds a CID from its parts (no hashing).
    #[must_use]
    pub const fn from_digest(codec: Codec, digest: [u8; 32]) -> Self {
        Cid { codec, digest }
    }

    /// The codec.
    #[must_use]
    pub const fn codec(&self) -> Codec {
        self.codec
    }

    /// The SHA2-256 digest of the block's bytes.
    #[must_use]
    pub const fn digest(&self) -> &[u8; 32] {
        &self.digest
    }

    /// The 36-byte binary form.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; CID_LEN] {
        let mut out = [0u8; CID_LEN];
        let codec_byte = match self.codec {
            Codec::Raw => 0x55,
            Codec::DagCbor => 0x71,
        };
        let (head, digest) = out.split_at_mut(4);
        head.copy_from_slice(&[0x01, codec_byte, 0x12, 0x20]);
        digest.copy_from_slice(&self.digest);
        out
    }

    /// Parses the binary form, rejecting trailing bytes.
    ///
    /// # Errors
    /// [`CidError`] for anything but a CIDv1 / sha2-256 / dag-cbor-or-raw CID.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CidError> {
        let cid = cid::Cid::read_bytes(bytes).map_err(|e| CidError::Malformed(e.to_string()))?;
        if cid.encoded_len() != bytes.len() {
            return Err(CidError::Malformed("trailing bytes after CID".into()));
        }
        Cid::try_from(&cid)
    }

    fn to_multiformats(self) -> cid::Cid {
        let mh = cid::multihash::Multihash::<64>::wrap(SHA2_256, &self.digest);
        // 32 bytes always fit in a 64-byte multihash.
        let mh = mh.unwrap_or_default();
        cid::Cid::new_v1(self.codec.code(), mh)
    }
}

impl TryFrom<&cid::Cid> for Cid {
    type Error = CidError;

    fn try_from(cid: &cid::Cid) -> Result<Self, CidError> {
        if cid.version() != cid::Version::V1 {
            return Err(CidError::UnsupportedVersion);
        }
        let codec = Codec::from_code(cid.codec())?;
        let hash = cid.hash();
        let digest: [u8; 32] = hash
            .digest()
            .try_into()
            .map_err(|_| CidError::UnsupportedHash {
                code: hash.code(),
                len: hash.digest().len(),
            })?;
        if hash.code() != SHA2_256 {
            return Err(CidError::UnsupportedHash {
                code: hash.code(),
                len: digest.len(),
            });
        }
        Ok(Cid { codec, digest })
    }
}

impl From<Cid> for cid::Cid {
    fn from(cid: Cid) -> Self {
        cid.to_multiformats()
    }
}

impl fmt::Display for Cid {
    /// Base32 lower-case multibase (`b…`), the CIDv1 default.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.to_multiformats(), f)
    }
}

impl fmt::Debug for Cid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cid({self})")
    }
}

impl FromStr for Cid {
    type Err = CidError;

    /// Accepts any multibase the multiformats `cid` crate reads.
    fn from_str(s: &str) -> Result<Self, CidError> {
        let cid = cid::Cid::from_str(s).map_err(|e| CidError::Malformed(e.to_string()))?;
        Cid::try_from(&cid)
    }
}

impl Serialize for Cid {
    /// As an IPLD link (DAG-CBOR tag 42).
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_multiformats().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Cid {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let cid = cid::Cid::deserialize(d)?;
        Cid::try_from(&cid).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_raw_block_has_the_well_known_cid() {
        // sha2-256 of the empty string, as a raw CIDv1 (same as `ipfs add --cid-version 1 --raw-leaves` of an empty file).
        let cid = Cid::of(Codec::Raw, b"");
        assert_eq!(
            cid.to_string(),
            "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
        );
    }

    #[test]
    fn binary_and_text_round_trip() {
        let cid = Cid::of(Codec::DagCbor, b"hello");
        assert!(cid.to_string().starts_with("bafyrei"));
        assert_eq!(Cid::from_bytes(&cid.to_bytes()), Ok(cid));
        assert_eq!(cid.to_string().parse::<Cid>(), Ok(cid));
    }

    #[test]
    fn ord_is_binary_order() {
        let a = Cid::of(Codec::Raw, b"a");
        let b = Cid::of(Codec::DagCbor, b"b");
        let c = Cid::of(Codec::DagCbor, b"c");
        let mut by_ord = [c, b, a];
        by_ord.sort();
        let mut by_bytes = [c, b, a];
        by_bytes.sort_by_key(Cid::to_bytes);
        assert_eq!(by_ord, by_bytes);
    }

    #[test]
    fn rejects_foreign_cids() {
        // CIDv0 (base58btc, dag-pb).
        assert_eq!(
            "QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n".parse::<Cid>(),
            Err(CidError::UnsupportedVersion)
        );
        let mut bytes = Cid::of(Codec::Raw, b"x").to_bytes();
        bytes[1] = 0x70; // dag-pb
        assert_eq!(
            Cid::from_bytes(&bytes),
            Err(CidError::UnsupportedCodec(0x70))
        );
        let mut bytes = Cid::of(Codec::Raw, b"x").to_bytes();
        bytes[2] = 0x13; // sha2-512 code with a 32-byte digest
        assert!(matches!(
            Cid::from_bytes(&bytes),
            Err(CidError::UnsupportedHash { .. })
        ));
        let mut long = Cid::of(Codec::Raw, b"x").to_bytes().to_vec();
        long.push(0);
        assert!(matches!(
            Cid::from_bytes(&long),
            Err(CidError::Malformed(_))
        ));
        assert!(matches!(Cid::from_bytes(&[]), Err(CidError::Malformed(_))));
        assert!(matches!(
            "not a cid".parse::<Cid>(),
            Err(CidError::Malformed(_))
        ));
    }
}
