//! Log-in-anywhere key backups (`quorate_actor_core::backup`): `check_backup` and
//! `open_backup` never panic and agree with each other; `seal_backup` → `open_backup`
//! gives the secret back; locators derive exactly when handle and passphrase are in
//! bounds.
//!
//! Every locator here uses `LocatorParams::TESTING` (Argon2id at 8 KiB, `t = 1`): the
//! protocol's 64 MiB would make each input take a tenth of a second. The two fixed
//! locators are derived once per process.
//!
//! Input layout: `mode || rest`.
//! - `mode & 3 == 0` (decode): `rest` is the bytes of a DAG-CBOR block
//!   (`Block::from_untrusted` with its own CID), checked and opened with the locator of
//!   `("alice", "fuzz")`.
//! - `mode & 3 == 1` (seal): `rest = secret(32) || seed(8)`: that actor's backup under the
//!   same locator, nonce from ChaCha20 seeded with `seed`.
//! - `mode & 3 >= 2` (derive): `rest = handle || 0 || passphrase`, both lossy UTF-8.
//!
//! Asserted:
//! - `TooLarge` exactly above `MAX_BACKUP_BLOCK_SIZE`, from both functions;
//! - `check_backup` fails ⇒ `open_backup` fails with the same error; `open_backup`
//!   succeeds ⇒ `check_backup` names that actor and this locator; `check_backup`
//!   succeeds ⇒ the block decodes as a `KeyBackup` that re-encodes to the same block, and
//!   `open_backup` either succeeds, is `WrongHandleOrPassphrase` (exactly when the locator
//!   differs) or `Inconsistent`;
//! - no input gives `Internal` or `Encode`;
//! - a sealed backup is at most `MAX_BACKUP_BLOCK_SIZE`, passes the decode checks above,
//!   opens to the same secret, is `WrongHandleOrPassphrase` under another locator,
//!   `SignerNotActor` when re-signed by another key, and an error once a byte (chosen by
//!   `seed`) changes;
//! - `Locator::derive` succeeds exactly when the trimmed handle is 1 to 64 bytes and the
//!   passphrase 1 to 1024 bytes, and gives the same id for the ASCII-upper-cased handle.

#![no_main]
#![allow(
    clippy::expect_used,
    clippy::panic,
    reason = "fuzz target: a panic is a found bug"
)]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use quorate_actor_core::backup::{
    BackupError, KeyBackup, Locator, LocatorError, LocatorParams, MAX_BACKUP_BLOCK_SIZE,
    MAX_HANDLE_LEN, check_backup, open_backup, seal_backup,
};
use quorate_actor_core::keystore::MAX_PASSPHRASE_LEN;
use quorate_actor_core::{ActorSecret, Identity};
use quorate_mesh_proto::{Block, Cid, Codec, MAX_BLOCK_SIZE};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

static ALICE: LazyLock<Locator> = LazyLock::new(|| {
    Locator::derive("alice", "fuzz", &LocatorParams::TESTING).expect("alice's locator")
});
static BOB: LazyLock<Locator> = LazyLock::new(|| {
    Locator::derive("bob", "fuzz", &LocatorParams::TESTING).expect("bob's locator")
});
static MALLORY: LazyLock<Identity> =
    LazyLock::new(|| Identity::from_secret(ActorSecret::from_bytes([0x4d; 32])));

fn check_block(block: &Block) {
    let checked = check_backup(block);
    let opened = open_backup(block, &ALICE);
    let too_large = block.len() > MAX_BACKUP_BLOCK_SIZE;
    for e in [checked.as_ref().err(), opened.as_ref().err()]
        .into_iter()
        .flatten()
    {
        let _ = e.to_string();
        assert!(
            !matches!(e, BackupError::Internal(_) | BackupError::Encode(_)),
            "{e:?}"
        );
        assert_eq!(
            matches!(e, BackupError::TooLarge { .. }),
            too_large,
            "{e:?}"
        );
    }
    match (&checked, &opened) {
        (Err(e), opened) => assert_eq!(opened.as_ref().err(), Some(e), "check refused"),
        (Ok(info), opened) => {
            assert!(!too_large);
            let envelope = block.decode::<KeyBackup>().expect("check accepted");
            assert_eq!(envelope.to_block().expect("re-encode"), *block);
            assert_eq!(envelope.payload.actor(), info.actor);
            assert_eq!(envelope.payload.locator(), info.locator);
            match opened {
                Ok(identity) => {
                    assert_eq!(identity.id(), info.actor);
                    assert_eq!(info.locator, ALICE.id());
                }
                Err(BackupError::WrongHandleOrPassphrase) => {
                    assert_ne!(info.locator, ALICE.id());
                }
                Err(BackupError::Inconsistent(_)) => assert_eq!(info.locator, ALICE.id()),
                Err(e) => panic!("check accepted, open refused: {e:?}"),
            }
        }
    }
}

fn check_seal(rest: &[u8]) {
    let (Some(secret), Some(seed)) = (
        rest.get(..32).and_then(|b| <[u8; 32]>::try_from(b).ok()),
        rest.get(32..40).and_then(|b| <[u8; 8]>::try_from(b).ok()),
    ) else {
        return;
    };
    let seed = u64::from_be_bytes(seed);
    let identity = Identity::from_secret(ActorSecret::from_bytes(secret));
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let block = seal_backup(&identity, &ALICE, &mut rng).expect("seal");
    assert!(block.len() <= MAX_BACKUP_BLOCK_SIZE);
    check_block(&block);
    let opened = open_backup(&block, &ALICE).expect("open what seal made");
    assert_eq!(opened.secret(), identity.secret());
    assert_eq!(
        open_backup(&block, &BOB).err(),
        Some(BackupError::WrongHandleOrPassphrase)
    );
    let envelope = block.decode::<KeyBackup>().expect("decode");
    if identity.id() != MALLORY.id() {
        let forged = Block::encode_signed(&envelope.payload, MALLORY.signing_key()).expect("sign");
        let expected = Some(BackupError::SignerNotActor {
            actor: identity.id(),
        });
        assert_eq!(check_backup(&forged).err(), expected);
        assert_eq!(open_backup(&forged, &ALICE).err(), expected);
    }
    let mut bad = block.bytes().to_vec();
    let pos = usize::try_from(seed % bad.len() as u64).expect("small");
    if let Some(b) = bad.get_mut(pos) {
        *b ^= u8::try_from(seed >> 56).expect("one byte").max(1);
    }
    let bad = untrusted(&bad).expect("small");
    check_block(&bad);
    assert!(open_backup(&bad, &ALICE).is_err());
}

fn check_derive(rest: &[u8]) {
    let (handle, passphrase) = match rest.iter().position(|&b| b == 0) {
        Some(i) => (rest.get(..i), rest.get(i + 1..)),
        None => (Some(rest), None),
    };
    let handle = String::from_utf8_lossy(handle.unwrap_or_default());
    let passphrase = String::from_utf8_lossy(passphrase.unwrap_or_default());
    let trimmed = handle.trim().len();
    let derived = Locator::derive(&handle, &passphrase, &LocatorParams::TESTING);
    match &derived {
        Ok(locator) => {
            assert!((1..=MAX_HANDLE_LEN).contains(&trimmed));
            assert!((1..=MAX_PASSPHRASE_LEN).contains(&passphrase.len()));
            let upper = Locator::derive(
                &handle.to_ascii_uppercase(),
                &passphrase,
                &LocatorParams::TESTING,
            )
            .expect("upper-cased handle");
            assert_eq!(upper.id(), locator.id());
            let name = locator.head_name();
            assert_eq!(name.len(), 71);
            assert!(name.starts_with("backup/"));
        }
        Err(LocatorError::EmptyHandle) => assert_eq!(trimmed, 0),
        Err(LocatorError::HandleTooLong { len }) => {
            assert!(*len == trimmed && trimmed > MAX_HANDLE_LEN);
        }
        Err(LocatorError::EmptyPassphrase) => assert!(passphrase.is_empty()),
        Err(LocatorError::PassphraseTooLong { len }) => {
            assert!(*len == passphrase.len() && *len > MAX_PASSPHRASE_LEN);
        }
        Err(e) => panic!("derive: {e:?}"),
    }
}

fn untrusted(bytes: &[u8]) -> Option<Block> {
    let cid = Cid::of(Codec::DagCbor, bytes);
    match Block::from_untrusted(&cid, bytes.to_vec()) {
        Ok(block) => Some(block),
        Err(e) => {
            assert!(bytes.len() > MAX_BLOCK_SIZE, "own hash refused: {e}");
            None
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode & 3 {
        0 => {
            if let Some(block) = untrusted(rest) {
                check_block(&block);
            }
        }
        1 => check_seal(rest),
        _ => check_derive(rest),
    }
});
