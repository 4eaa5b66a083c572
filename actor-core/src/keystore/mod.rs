//! The keystore: an [`ActorSecret`](crate::ActorSecret) encrypted at rest under a
//! passphrase, and the recovery phrase that writes the same secret as 24 words.
//!
//! A keystore is a small binary file (134 bytes in version 1). [`Keystore::seal`] writes
//! one, [`Keystore::open`] reads it back with the passphrase, and [`Keystore::inspect`]
//! reads what the file says about itself without the passphrase. The [`recovery`]
//! functions turn the secret into words and back, for paper backups.
//!
//! # How it works
//!
//! The passphrase (its UTF-8 bytes exactly as given: not trimmed, not Unicode-normalised,
//! so type it the same way every time) and a random 16-byte salt go through Argon2id
//! (RFC 9106, version 0x13) with the [`KdfParams`] stored in the file, giving a 32-byte key.
//! XChaCha20-Poly1305 under that key and a random 24-byte nonce encrypts the 32-byte
//! secret. The whole header (every byte before the ciphertext) is the AEAD associated
//! data, so changing any byte of the file makes [`Keystore::open`] fail. The derived key
//! and the decrypted bytes are wiped after use.
//!
//! # File format, version 1
//!
//! Integers are big-endian.
//!
//! | offset | bytes | field |
//! |-------:|------:|-------|
//! | 0 | 4 | magic `QRKS` |
//! | 4 | 1 | format version, `1` |
//! | 5 | 4 | Argon2id memory cost `m`, KiB (u32) |
//! | 9 | 4 | Argon2id time cost `t` (u32) |
//! | 13 | 1 | Argon2id parallelism `p` (u8) |
//! | 14 | 32 | [`ActorId`], in the clear |
//! | 46 | 16 | Argon2id salt, random |
//! | 62 | 24 | XChaCha20-Poly1305 nonce, random |
//! | 86 | 48 | the 32-byte secret encrypted, then the 16-byte tag |
//!
//! Bytes 0 to 85 are the associated data. The file is exactly 134 bytes: shorter is
//! [`KeystoreError::Truncated`], longer is [`KeystoreError::TrailingBytes`].
//!
//! **The actor id is stored in the clear** so that `quorate actor show` can print whose
//! keystore a file is without asking for the passphrase ([`Keystore::inspect`]). The id is
//! public anyway (it names the actor on the mesh); what the file hides is the secret. The
//! id is authenticated as associated data, and [`Keystore::open`] checks that the
//! decrypted secret derives that very id, so a file cannot claim to be someone else's.
//!
//! # Bounds
//!
//! The parameters are read from the file, so a damaged or hostile file could ask for
//! 4 GiB of memory or a billion passes. Before any Argon2id runs, they must pass
//! [`KdfParams::validate`] (`1 ≤ p ≤ 16`, `8·p KiB ≤ m ≤ 1 GiB`, `1 ≤ t ≤ 16`), else
//! [`KeystoreError::BadParams`]. A caller with less memory (a browser tab) or one opening
//! files it did not write (a fuzzer) sets its own, lower ceiling with
//! [`Keystore::open_with_limits`]. Opening with [`KdfParams::DEFAULT`] costs one
//! Argon2id at 64 MiB, `t = 3`: about 0.15 s on one server core (measured in
//! [`crate::backup`], which uses the same parameters). That is also what each guess costs
//! someone who has stolen the file and tries passphrases offline.
//!
//! # Sans-IO
//!
//! The caller reads and writes the file and passes randomness in.

mod aead;
mod file;
mod params;
pub mod recovery;

use rand_core::CryptoRngCore;

use crate::id::ActorId;
use crate::identity::Identity;

pub(crate) use aead::{NONCE_LEN, SEALED_LEN, open as aead_open, seal as aead_seal};
pub use file::{FILE_LEN, FORMAT_VERSION, MAGIC};
pub(crate) use params::argon2id;
pub use params::{KdfParams, ParamsError};
pub use recovery::{RecoveryError, from_recovery_phrase, recovery_phrase};

/// The longest passphrase accepted, in bytes of UTF-8.
pub const MAX_PASSPHRASE_LEN: usize = 1024;

/// Seals, opens and inspects keystore files. See the [module docs](self) for the format.
#[derive(Debug)]
pub enum Keystore {}

/// What a keystore file says about itself, readable without the passphrase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeystoreInfo {
    /// The file format version.
    pub version: u8,
    /// The Argon2id parameters the file was sealed with (already validated).
    pub params: KdfParams,
    /// The actor whose secret the file holds, as the file claims it. Authenticated only
    /// when the file is opened.
    pub actor: ActorId,
}

impl Keystore {
    /// Encrypts `identity`'s secret under `passphrase`, with a fresh salt and nonce from
    /// `rng`, and returns the file's bytes. Costs one Argon2id with `params`: use
    /// [`KdfParams::DEFAULT`] for real keys.
    ///
    /// # Errors
    /// [`KeystoreError::EmptyPassphrase`], [`KeystoreError::PassphraseTooLong`],
    /// [`KeystoreError::BadParams`] if `params` is out of bounds.
    pub fn seal(
        identity: &Identity,
        passphrase: &str,
        params: KdfParams,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Vec<u8>, KeystoreError> {
        check_passphrase(passphrase)?;
        params.validate().map_err(KeystoreError::BadParams)?;
        let mut file = file::File {
            params,
            actor: identity.id(),
            salt: [0; file::SALT_LEN],
            nonce: [0; NONCE_LEN],
            sealed: [0; SEALED_LEN],
        };
        rng.fill_bytes(&mut file.salt);
        rng.fill_bytes(&mut file.nonce);
        let key = argon2id(passphrase.as_bytes(), &file.salt, &params)
            .map_err(KeystoreError::Internal)?;
        file.sealed = aead::seal(&key, &file.nonce, &file.header(), identity.secret())
            .map_err(KeystoreError::Internal)?;
        Ok(file.to_bytes())
    }

    /// Decrypts a keystore file with `passphrase`, accepting any parameters that pass
    /// [`KdfParams::validate`] (so at most one Argon2id at 1 GiB, `t = 16`).
    ///
    /// # Errors
    /// [`KeystoreError`]: the passphrase is empty or too long, the bytes are not a
    /// well-formed version-1 keystore, or (after one Argon2id)
    /// [`KeystoreError::WrongPassphraseOrCorrupt`].
    pub fn open(bytes: &[u8], passphrase: &str) -> Result<Identity, KeystoreError> {
        Keystore::open_with_limits(bytes, passphrase, &KdfParams::MAX)
    }

    /// [`Keystore::open`], refusing files whose memory, time or parallelism cost exceeds
    /// the same cost in `limit`, before any Argon2id runs.
    ///
    /// # Errors
    /// As [`Keystore::open`], plus [`KeystoreError::ParamsOverLimit`].
    pub fn open_with_limits(
        bytes: &[u8],
        passphrase: &str,
        limit: &KdfParams,
    ) -> Result<Identity, KeystoreError> {
        check_passphrase(passphrase)?;
        let file = file::File::parse(bytes)?;
        if !file.params.within(limit) {
            return Err(KeystoreError::ParamsOverLimit {
                params: file.params,
                limit: *limit,
            });
        }
        let key = argon2id(passphrase.as_bytes(), &file.salt, &file.params)
            .map_err(KeystoreError::Internal)?;
        let secret = aead::open(&key, &file.nonce, &file.header(), &file.sealed)
            .map_err(KeystoreError::Internal)?
            .ok_or(KeystoreError::WrongPassphraseOrCorrupt)?;
        let identity = Identity::from_secret(secret);
        if identity.id() != file.actor {
            return Err(KeystoreError::ActorMismatch {
                claimed: file.actor,
                derived: identity.id(),
            });
        }
        Ok(identity)
    }

    /// Reads the header without the passphrase: format version, parameters, actor id.
    /// Checks everything [`Keystore::open`] checks before Argon2id (magic, version, exact
    /// length, parameter bounds); runs nothing costly.
    ///
    /// # Errors
    /// [`KeystoreError`] if the bytes are not a well-formed version-1 keystore.
    pub fn inspect(bytes: &[u8]) -> Result<KeystoreInfo, KeystoreError> {
        let file = file::File::parse(bytes)?;
        Ok(KeystoreInfo {
            version: FORMAT_VERSION,
            params: file.params,
            actor: file.actor,
        })
    }
}

fn check_passphrase(passphrase: &str) -> Result<(), KeystoreError> {
    if passphrase.is_empty() {
        return Err(KeystoreError::EmptyPassphrase);
    }
    if passphrase.len() > MAX_PASSPHRASE_LEN {
        return Err(KeystoreError::PassphraseTooLong {
            len: passphrase.len(),
        });
    }
    Ok(())
}

/// Why a keystore could not be sealed, opened or inspected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeystoreError {
    /// The passphrase is the empty string: a keystore always has a passphrase.
    #[error("the passphrase is empty")]
    EmptyPassphrase,
    /// The passphrase is longer than [`MAX_PASSPHRASE_LEN`] bytes.
    #[error("the passphrase is {len} bytes long; the limit is 1024 bytes")]
    PassphraseTooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// The file ends before the fields its version calls for.
    #[error("the keystore file is cut short ({len} bytes; a version-1 keystore is 134 bytes)")]
    Truncated {
        /// The file's length.
        len: usize,
    },
    /// The file does not start with `QRKS`.
    #[error("this is not a Quorate keystore file (it does not start with \"QRKS\")")]
    BadMagic,
    /// A format version this code does not read.
    #[error("keystore format version {0} is not supported (this program reads version 1)")]
    UnsupportedVersion(u8),
    /// Bytes after the end of the keystore.
    #[error("the keystore file has {extra} unexpected bytes after its end")]
    TrailingBytes {
        /// How many.
        extra: usize,
    },
    /// The Argon2id parameters (in the file, or given to `seal`) are out of bounds.
    #[error("the keystore asks for Argon2id parameters out of bounds: {0}")]
    BadParams(ParamsError),
    /// The file's parameters are valid but cost more than the caller's limit.
    #[error("the keystore asks for {params}, more than the {limit} allowed here")]
    ParamsOverLimit {
        /// The file's parameters.
        params: KdfParams,
        /// The limit given to [`Keystore::open_with_limits`].
        limit: KdfParams,
    },
    /// The AEAD tag does not verify: the passphrase is wrong or a byte of the file
    /// changed. The two cannot be told apart, by design.
    #[error("wrong passphrase, or the keystore file is damaged")]
    WrongPassphraseOrCorrupt,
    /// The file decrypts, but the secret derives another actor than the header names.
    /// Only software that knew the passphrase could have written such a file.
    #[error(
        "the keystore decrypts, but holds the key of actor {derived}, not of {claimed} as it says"
    )]
    ActorMismatch {
        /// The actor id in the header.
        claimed: ActorId,
        /// The actor the decrypted secret derives.
        derived: ActorId,
    },
    /// A bug: an assumption of this code did not hold. Never caused by the input.
    #[error("internal error in the keystore: {0}")]
    Internal(&'static str),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::ActorSecret;

    #[test]
    fn a_file_whose_secret_derives_another_actor_is_refused() {
        let secret = ActorSecret::from_bytes([5; 32]);
        let claimed = Identity::from_secret(ActorSecret::from_bytes([6; 32])).id();
        let mut file = file::File {
            params: KdfParams::TESTING,
            actor: claimed,
            salt: [1; file::SALT_LEN],
            nonce: [2; NONCE_LEN],
            sealed: [0; SEALED_LEN],
        };
        let key = argon2id(b"pw", &file.salt, &file.params).unwrap();
        file.sealed = aead::seal(&key, &file.nonce, &file.header(), &secret).unwrap();
        assert_eq!(
            Keystore::open(&file.to_bytes(), "pw").unwrap_err(),
            KeystoreError::ActorMismatch {
                claimed,
                derived: Identity::from_secret(secret).id(),
            }
        );
    }
}
