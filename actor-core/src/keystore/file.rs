//! The version-1 keystore file: fixed layout, checked splits, no trailing bytes.
//! The table is in the [module docs](super).

use super::KeystoreError;
use super::aead::{NONCE_LEN, SEALED_LEN};
use super::params::KdfParams;
use crate::id::ActorId;

/// The first four bytes of every keystore file.
pub const MAGIC: [u8; 4] = *b"QRKS";
/// The format version this code writes and reads.
pub const FORMAT_VERSION: u8 = 1;
/// Salt length.
pub(crate) const SALT_LEN: usize = 16;
/// Bytes before the ciphertext: all of them are AEAD associated data.
pub(crate) const HEADER_LEN: usize = 4 + 1 + 4 + 4 + 1 + 32 + SALT_LEN + NONCE_LEN;
/// The whole version-1 file.
pub const FILE_LEN: usize = HEADER_LEN + SEALED_LEN;

/// A parsed version-1 file. Parameters are validated; nothing is decrypted.
#[derive(Clone, Debug)]
pub(crate) struct File {
    pub(crate) params: KdfParams,
    pub(crate) actor: ActorId,
    pub(crate) salt: [u8; SALT_LEN],
    pub(crate) nonce: [u8; NONCE_LEN],
    pub(crate) sealed: [u8; SEALED_LEN],
}

impl File {
    /// The header bytes (the associated data).
    pub(crate) fn header(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(FILE_LEN);
        out.extend_from_slice(&MAGIC);
        out.push(FORMAT_VERSION);
        out.extend_from_slice(&self.params.m_cost_kib.to_be_bytes());
        out.extend_from_slice(&self.params.t_cost.to_be_bytes());
        out.push(self.params.p_cost);
        out.extend_from_slice(self.actor.as_bytes());
        out.extend_from_slice(&self.salt);
        out.extend_from_slice(&self.nonce);
        out
    }

    /// The whole file.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.header();
        out.extend_from_slice(&self.sealed);
        out
    }

    /// Parses a file: magic, version, exact length, then parameter bounds. Nothing costly
    /// runs and nothing is allocated before the length is known to be exact.
    pub(crate) fn parse(bytes: &[u8]) -> Result<File, KeystoreError> {
        let len = bytes.len();
        if bytes.iter().zip(MAGIC.iter()).any(|(a, b)| a != b) {
            return Err(KeystoreError::BadMagic);
        }
        let mut r = Reader(bytes);
        let _magic: [u8; 4] = r.take(len)?;
        let [version] = r.take(len)?;
        if version != FORMAT_VERSION {
            return Err(KeystoreError::UnsupportedVersion(version));
        }
        if len > FILE_LEN {
            return Err(KeystoreError::TrailingBytes {
                extra: len - FILE_LEN,
            });
        }
        let params = KdfParams::new(
            u32::from_be_bytes(r.take(len)?),
            u32::from_be_bytes(r.take(len)?),
            u8::from_be_bytes(r.take(len)?),
        );
        let file = File {
            params,
            actor: ActorId::from_bytes(r.take(len)?),
            salt: r.take(len)?,
            nonce: r.take(len)?,
            sealed: r.take(len)?,
        };
        if !r.0.is_empty() {
            return Err(KeystoreError::Internal(
                "keystore length check missed bytes",
            ));
        }
        params.validate().map_err(KeystoreError::BadParams)?;
        Ok(file)
    }
}

/// Checked splits off the front of a byte string.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self, len: usize) -> Result<[u8; N], KeystoreError> {
        let (head, rest) = self
            .0
            .split_first_chunk::<N>()
            .ok_or(KeystoreError::Truncated { len })?;
        self.0 = rest;
        Ok(*head)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout_is_the_documented_one() {
        assert_eq!(HEADER_LEN, 86);
        assert_eq!(FILE_LEN, 134);
        let file = File {
            params: KdfParams::new(0x0102_0304, 0x0506_0708, 17),
            actor: ActorId::from_bytes([0xaa; 32]),
            salt: [0xbb; 16],
            nonce: [0xcc; 24],
            sealed: [0xdd; 48],
        };
        let bytes = file.to_bytes();
        let mut expected = b"QRKS\x01\x01\x02\x03\x04\x05\x06\x07\x08\x11".to_vec();
        expected.extend([0xaa; 32]);
        expected.extend([0xbb; 16]);
        expected.extend([0xcc; 24]);
        expected.extend([0xdd; 48]);
        assert_eq!(bytes, expected);
        assert_eq!(file.header(), expected[..HEADER_LEN]);
        // Out-of-bounds parameters are the last check, after the layout.
        assert_eq!(
            File::parse(&bytes).unwrap_err(),
            KeystoreError::BadParams(super::super::ParamsError::Parallelism { p_cost: 17 })
        );
    }

    #[test]
    fn short_files_are_truncated_unless_the_prefix_is_already_wrong() {
        assert_eq!(
            File::parse(b"").unwrap_err(),
            KeystoreError::Truncated { len: 0 }
        );
        assert_eq!(
            File::parse(b"QR").unwrap_err(),
            KeystoreError::Truncated { len: 2 }
        );
        assert_eq!(File::parse(b"QX").unwrap_err(), KeystoreError::BadMagic);
        assert_eq!(
            File::parse(b"QRKS").unwrap_err(),
            KeystoreError::Truncated { len: 4 }
        );
        assert_eq!(
            File::parse(b"QRKS\x02").unwrap_err(),
            KeystoreError::UnsupportedVersion(2)
        );
        assert_eq!(
            File::parse(b"QRKS\x01\x00").unwrap_err(),
            KeystoreError::Truncated { len: 6 }
        );
    }
}
