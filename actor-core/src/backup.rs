//! "Log in anywhere": an optional, passphrase-locked copy of an actor's secret that peers
//! keep for it, so a person on a new device with only a handle and a passphrase gets
//! their keys back.
//!
//! # How it works
//!
//! 1. Both devices derive the same [`Locator`] from the handle and the passphrase
//!    ([`Locator::derive`]): Argon2id of the passphrase, salted with
//!    `SHA-256("quorate/backup-locator/v1" || handle)`, gives a 32-byte master; HKDF-SHA256
//!    (extract with no salt, then expand under two labels) splits it into a public
//!    **locator id** and a secret **backup key**. The handle is trimmed and ASCII-lower-cased
//!    first (1 to 64 bytes); the passphrase is used byte for byte, as typed.
//! 2. The old device seals the 32-byte [`ActorSecret`](crate::ActorSecret) under the
//!    backup key (XChaCha20-Poly1305, random 24-byte nonce, associated data
//!    `locator id || actor id || "actor-key-backup" || version (u32, big-endian)`), puts it
//!    in a [`KeyBackup`] block signed by the actor's own key ([`seal_backup`]), and
//!    publishes it under the mesh head [`Locator::head_name`], `backup/<locator id in hex>`.
//!    Stores pin it ([`PinClass::ActorKey`]).
//! 3. A replica cannot decrypt a backup, but [`check_backup`] tells it whether the block
//!    is a well-formed backup signed by the actor named inside, so nobody can fill the
//!    mesh with backups in someone else's name.
//! 4. The new device derives the locator, fetches the head, and [`open_backup`] checks the
//!    signature, the locator id, decrypts, and checks that the secret derives the actor
//!    that signed.
//!
//! # The trade-off: offline guessing
//!
//! The locator id is public: it is in the head name and in the block, and any peer
//! storing the backup sees it, next to the actor id it belongs to. **Anyone who has it can
//! test guesses offline**: pick a handle and a passphrase, run one Argon2id, and see
//! whether the locator id matches. No peer needs to answer, so nothing limits the number
//! of guesses except their cost: one Argon2id at `m = 64 MiB, t = 3, p = 1`
//! ([`LocatorParams::V1`]) each. Measured with this crate's own code (the
//! `measure_one_guess_at_v1` test in `tests/backup.rs`, release build, one core of a
//! 2-vCPU AMD EPYC cloud VM that other builds were sharing): **142 to 209 ms per guess,
//! about 0.15 s**, so some 7 guesses per second per core. An
//! attacker with tuned code and many machines goes faster, but each guess still needs
//! 64 MiB of memory, which is what makes graphics cards and custom chips a poor deal.
//!
//! The handle salts the derivation, so a guesser must attack one person at a time: no
//! precomputed table serves two people. But handles are public names, so assume the
//! guesser knows the handle: **the passphrase is the only secret**. Choose a long one: five
//! or more words picked at random from a list, not a line from a song and not a password
//! used elsewhere. Five words from a 7776-word list are about 2^64 possibilities: at
//! 0.15 s each, over 100 billion core-years to try them all. A password a person made up
//! is another matter: lists built from leaked passwords find many of those within a
//! billion guesses, which is some 5 core-years, or a few weeks for a hundred machines.
//!
//! The parameters cannot be raised per person: a new device has nothing to read them from
//! but the handle and passphrase, so they are a protocol constant, versioned with the
//! labels.
//!
//! **The backup is optional.** Someone who keeps their recovery phrase
//! ([`crate::keystore::recovery_phrase`]) safe, or who does not want any guessable copy of
//! their key on the mesh, should not publish one.
//!
//! # Sans-IO
//!
//! This module makes and checks blocks; fetching heads and blocks is the node's business.

use core::fmt;

use hkdf::Hkdf;
use quorate_mesh_proto::mesh::MAX_HEAD_NAME_LEN;
use quorate_mesh_proto::{
    Block, BlockPayload, DecodeError, EncodeError, Envelope, PinClass, VerifyError,
};
use rand_core::CryptoRngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::id::ActorId;
use crate::identity::Identity;
use crate::keystore::{self, KdfParams, MAX_PASSPHRASE_LEN, NONCE_LEN, SEALED_LEN};

/// Prefix of the Argon2id salt; also names the derivation's version.
const SALT_LABEL: &[u8] = b"quorate/backup-locator/v1";
/// HKDF-Expand label of the locator id.
const ID_LABEL: &[u8] = b"quorate/backup-locator/v1/locator-id";
/// HKDF-Expand label of the backup key.
const KEY_LABEL: &[u8] = b"quorate/backup-locator/v1/backup-key";

/// The longest handle, in bytes, after trimming.
pub const MAX_HANDLE_LEN: usize = 64;

/// The largest block [`check_backup`] and [`open_backup`] parse. A key backup encodes to
/// about 330 bytes.
pub const MAX_BACKUP_BLOCK_SIZE: usize = 1024;

/// Prefix of the mesh head a backup is published under.
pub const HEAD_PREFIX: &str = "backup/";

const _: () = assert!(HEAD_PREFIX.len() + 64 <= MAX_HEAD_NAME_LEN);

/// The Argon2id cost of [`Locator::derive`]: a protocol constant, since a new device has
/// nothing to read it from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocatorParams {
    kdf: KdfParams,
}

impl LocatorParams {
    /// Version 1 of the protocol: `m = 65536` KiB (64 MiB), `t = 3`, `p = 1`.
    pub const V1: LocatorParams = LocatorParams {
        kdf: KdfParams::DEFAULT,
    };

    /// The cheapest Argon2id ([`KdfParams::TESTING`]), for tests and fuzzing. A backup made
    /// with it is **not** found by a device using [`LocatorParams::V1`], and a guess at it
    /// costs microseconds.
    pub const TESTING: LocatorParams = LocatorParams {
        kdf: KdfParams::TESTING,
    };

    /// The Argon2id parameters.
    #[must_use]
    pub const fn kdf(&self) -> KdfParams {
        self.kdf
    }
}

/// The public half of a [`Locator`]: names a backup on the mesh.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LocatorId(#[serde(with = "serde_bytes")] [u8; 32]);

impl LocatorId {
    /// Raw bytes (nothing checks them).
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        LocatorId(bytes)
    }

    /// The 32 bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// `backup/` and the id in lower-case hex: 71 bytes, a valid mesh head name.
    #[must_use]
    pub fn head_name(&self) -> String {
        format!("{HEAD_PREFIX}{self}")
    }
}

impl fmt::Display for LocatorId {
    /// Full lower-case hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::hex::encode(&self.0))
    }
}

impl fmt::Debug for LocatorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = crate::hex::encode(&self.0);
        write!(f, "LocatorId({})", hex.get(..8).unwrap_or_default())
    }
}

/// Where a person's backup lives (the public [`LocatorId`]) and the key that opens it,
/// both derived from handle and passphrase. The key is wiped on drop; `Debug` shows the
/// id only.
#[derive(Clone)]
pub struct Locator {
    id: LocatorId,
    key: Zeroizing<[u8; 32]>,
}

impl Locator {
    /// Derives the locator of `handle` and `passphrase`: one Argon2id with `params`
    /// ([`LocatorParams::V1`] for real use: about 0.15 s, see the [module docs](self)).
    ///
    /// # Errors
    /// [`LocatorError`] if the handle is empty or too long after trimming, or the
    /// passphrase is empty or too long.
    pub fn derive(
        handle: &str,
        passphrase: &str,
        params: &LocatorParams,
    ) -> Result<Locator, LocatorError> {
        let handle = normalize_handle(handle)?;
        if passphrase.is_empty() {
            return Err(LocatorError::EmptyPassphrase);
        }
        if passphrase.len() > MAX_PASSPHRASE_LEN {
            return Err(LocatorError::PassphraseTooLong {
                len: passphrase.len(),
            });
        }
        let salt = Sha256::new()
            .chain_update(SALT_LABEL)
            .chain_update(handle.as_bytes())
            .finalize();
        let master = keystore::argon2id(passphrase.as_bytes(), &salt, &params.kdf)
            .map_err(LocatorError::Internal)?;
        let hkdf = Hkdf::<Sha256>::new(None, master.as_ref());
        let mut id = [0u8; 32];
        let mut key = Zeroizing::new([0u8; 32]);
        hkdf.expand(ID_LABEL, &mut id)
            .and_then(|()| hkdf.expand(KEY_LABEL, key.as_mut()))
            .map_err(|_| LocatorError::Internal("HKDF refused to expand 32 bytes"))?;
        Ok(Locator {
            id: LocatorId(id),
            key,
        })
    }

    /// The public locator id.
    #[must_use]
    pub const fn id(&self) -> LocatorId {
        self.id
    }

    /// The mesh head the backup is published under: `backup/<64 hex digits>`.
    #[must_use]
    pub fn head_name(&self) -> String {
        self.id.head_name()
    }
}

impl fmt::Debug for Locator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Locator")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A handle as the locator uses it: trimmed of surrounding whitespace, ASCII letters
/// lower-cased (other characters are kept as they are), 1 to [`MAX_HANDLE_LEN`] bytes.
///
/// # Errors
/// [`LocatorError::EmptyHandle`] or [`LocatorError::HandleTooLong`].
pub fn normalize_handle(handle: &str) -> Result<String, LocatorError> {
    let handle = handle.trim();
    if handle.is_empty() {
        return Err(LocatorError::EmptyHandle);
    }
    if handle.len() > MAX_HANDLE_LEN {
        return Err(LocatorError::HandleTooLong { len: handle.len() });
    }
    Ok(handle.to_ascii_lowercase())
}

/// Why a locator could not be derived.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LocatorError {
    /// The handle is empty (or only whitespace).
    #[error("the handle is empty")]
    EmptyHandle,
    /// The handle is over [`MAX_HANDLE_LEN`] bytes after trimming.
    #[error("the handle is {len} bytes long; the limit is 64 bytes")]
    HandleTooLong {
        /// Its length in bytes, after trimming.
        len: usize,
    },
    /// The passphrase is the empty string.
    #[error("the passphrase is empty")]
    EmptyPassphrase,
    /// The passphrase is over [`MAX_PASSPHRASE_LEN`] bytes.
    #[error("the passphrase is {len} bytes long; the limit is 1024 bytes")]
    PassphraseTooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// A bug: an assumption of this code did not hold. Never caused by the input.
    #[error("internal error deriving the backup locator: {0}")]
    Internal(&'static str),
}

/// The block payload of a key backup. Built by [`seal_backup`], read by [`check_backup`]
/// and [`open_backup`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyBackup {
    locator: LocatorId,
    actor: ActorId,
    #[serde(with = "serde_bytes")]
    nonce: [u8; NONCE_LEN],
    #[serde(with = "serde_bytes")]
    ciphertext: [u8; SEALED_LEN],
}

impl BlockPayload for KeyBackup {
    const TYPE: &'static str = "actor-key-backup";
    const VERSION: u32 = 1;
    const PIN: PinClass = PinClass::ActorKey;
}

impl KeyBackup {
    /// The locator id the backup is filed under.
    #[must_use]
    pub const fn locator(&self) -> LocatorId {
        self.locator
    }

    /// The actor whose secret it holds (and who must have signed it).
    #[must_use]
    pub const fn actor(&self) -> ActorId {
        self.actor
    }

    /// `locator id || actor id || TYPE || VERSION`: the AEAD associated data.
    fn aad(locator: &LocatorId, actor: &ActorId) -> Vec<u8> {
        let mut aad = Vec::with_capacity(32 + 32 + Self::TYPE.len() + 4);
        aad.extend_from_slice(locator.as_bytes());
        aad.extend_from_slice(actor.as_bytes());
        aad.extend_from_slice(Self::TYPE.as_bytes());
        aad.extend_from_slice(&Self::VERSION.to_be_bytes());
        aad
    }
}

/// What a replica can check about a backup without the passphrase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BackupInfo {
    /// The actor named inside, who signed the block.
    pub actor: ActorId,
    /// The locator id the backup is filed under.
    pub locator: LocatorId,
}

/// Seals `identity`'s secret under `locator` in a [`KeyBackup`] block signed by the
/// actor. Publish it under [`Locator::head_name`].
///
/// # Errors
/// [`BackupError::Encode`] or [`BackupError::Internal`]: neither happens with a
/// well-formed locator; the result is for the caller to report, not to handle.
pub fn seal_backup(
    identity: &Identity,
    locator: &Locator,
    rng: &mut impl CryptoRngCore,
) -> Result<Block, BackupError> {
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    let actor = identity.id();
    let aad = KeyBackup::aad(&locator.id, &actor);
    let ciphertext = crate::keystore::aead_seal(&locator.key, &nonce, &aad, identity.secret())
        .map_err(BackupError::Internal)?;
    let payload = KeyBackup {
        locator: locator.id,
        actor,
        nonce,
        ciphertext,
    };
    let block = Block::encode_signed(&payload, identity.signing_key())?;
    if block.len() > MAX_BACKUP_BLOCK_SIZE {
        return Err(BackupError::Internal(
            "a sealed backup exceeds the size limit",
        ));
    }
    Ok(block)
}

/// Checks a block as a replica can without the passphrase: at most
/// [`MAX_BACKUP_BLOCK_SIZE`] bytes, a canonical [`KeyBackup`] envelope, a valid signature,
/// by the key of the actor named inside.
///
/// # Errors
/// [`BackupError::TooLarge`] or [`BackupError::Malformed`] (not a backup),
/// [`BackupError::BadSignature`] or [`BackupError::SignerNotActor`] (a forged or damaged
/// backup: whoever served it sent garbage).
pub fn check_backup(block: &Block) -> Result<BackupInfo, BackupError> {
    let payload = checked(block)?;
    Ok(BackupInfo {
        actor: payload.actor,
        locator: payload.locator,
    })
}

fn checked(block: &Block) -> Result<KeyBackup, BackupError> {
    if block.len() > MAX_BACKUP_BLOCK_SIZE {
        return Err(BackupError::TooLarge {
            size: block.len(),
            max: MAX_BACKUP_BLOCK_SIZE,
        });
    }
    let envelope: Envelope<KeyBackup> = block.decode()?;
    let signer = envelope.verify()?;
    if !envelope.payload.actor.is_key_of(&signer) {
        return Err(BackupError::SignerNotActor {
            actor: envelope.payload.actor,
        });
    }
    Ok(envelope.payload)
}

/// Opens a backup with the locator derived from handle and passphrase: everything
/// [`check_backup`] checks, then the locator id, the decryption, and that the secret
/// derives the actor who signed.
///
/// # Errors
/// As [`check_backup`], plus [`BackupError::WrongHandleOrPassphrase`] and
/// [`BackupError::Inconsistent`].
pub fn open_backup(block: &Block, locator: &Locator) -> Result<Identity, BackupError> {
    let payload = checked(block)?;
    if payload.locator != locator.id {
        return Err(BackupError::WrongHandleOrPassphrase);
    }
    let aad = KeyBackup::aad(&payload.locator, &payload.actor);
    let secret =
        crate::keystore::aead_open(&locator.key, &payload.nonce, &aad, &payload.ciphertext)
            .map_err(BackupError::Internal)?
            .ok_or(BackupError::Inconsistent(
                "it does not decrypt under the key of its own locator",
            ))?;
    let identity = Identity::from_secret(secret);
    if identity.id() != payload.actor {
        return Err(BackupError::Inconsistent(
            "the secret inside belongs to another actor than the signer",
        ));
    }
    Ok(identity)
}

/// Why a key backup could not be made, checked or opened.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// Not a backup: larger than any backup; nothing was parsed.
    #[error("not a key backup: the block is {size} bytes, a key backup is at most {max}")]
    TooLarge {
        /// The block's size.
        size: usize,
        /// [`MAX_BACKUP_BLOCK_SIZE`].
        max: usize,
    },
    /// Not a backup: not a canonical `actor-key-backup` version-1 envelope.
    #[error("not a key backup block: {0}")]
    Malformed(#[from] DecodeError),
    /// A forged or damaged backup: unsigned, or the signature does not verify.
    #[error("the key backup's signature is missing or invalid (forged or damaged): {0}")]
    BadSignature(#[from] VerifyError),
    /// A forged backup: validly signed, but not by the actor it names.
    #[error("the key backup names actor {actor} but is signed by another key (forged)")]
    SignerNotActor {
        /// The actor named inside.
        actor: ActorId,
    },
    /// The backup is filed under another locator: the handle or the passphrase is not
    /// the one it was made with.
    #[error("wrong handle or passphrase for this key backup")]
    WrongHandleOrPassphrase,
    /// Signed by its actor and filed under this locator, but its contents do not fit
    /// together. Only the actor's own software could have made it.
    #[error("the key backup is signed by its actor but cannot be used: {0}")]
    Inconsistent(&'static str),
    /// The backup block could not be encoded.
    #[error("could not encode the key backup: {0}")]
    Encode(#[from] EncodeError),
    /// A bug: an assumption of this code did not hold. Never caused by the input.
    #[error("internal error in the key backup: {0}")]
    Internal(&'static str),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::ActorSecret;

    fn signed(identity: &Identity, payload: &KeyBackup) -> Block {
        Block::encode_signed(payload, identity.signing_key()).unwrap()
    }

    #[test]
    fn a_signed_backup_that_does_not_fit_together_is_inconsistent() {
        let me = Identity::from_secret(ActorSecret::from_bytes([1; 32]));
        let other = ActorSecret::from_bytes([2; 32]);
        let locator = Locator::derive("me", "pw", &LocatorParams::TESTING).unwrap();
        let aad = KeyBackup::aad(&locator.id, &me.id());

        let garbage = KeyBackup {
            locator: locator.id,
            actor: me.id(),
            nonce: [3; NONCE_LEN],
            ciphertext: [4; SEALED_LEN],
        };
        let block = signed(&me, &garbage);
        assert!(check_backup(&block).is_ok());
        assert!(matches!(
            open_backup(&block, &locator),
            Err(BackupError::Inconsistent(why)) if why.contains("decrypt")
        ));

        let swapped = KeyBackup {
            ciphertext: crate::keystore::aead_seal(&locator.key, &[3; NONCE_LEN], &aad, &other)
                .unwrap(),
            ..garbage
        };
        let block = signed(&me, &swapped);
        assert!(check_backup(&block).is_ok());
        assert!(matches!(
            open_backup(&block, &locator),
            Err(BackupError::Inconsistent(why)) if why.contains("another actor")
        ));
    }

    #[test]
    fn the_head_name_fits_the_mesh_limit() {
        let locator = Locator::derive("me", "pw", &LocatorParams::TESTING).unwrap();
        let name = locator.head_name();
        assert_eq!(name.len(), 71);
        assert!(name.len() <= MAX_HEAD_NAME_LEN);
        assert_eq!(
            name,
            format!("backup/{}", crate::hex::encode(locator.id().as_bytes()))
        );
    }
}
