//! Keystore files (`quorate_actor_core::keystore`) and recovery phrases: `inspect` and
//! `open_with_limits` never panic and agree with each other; `seal` → `open` gives the
//! secret back; a recovery phrase that parses is the canonical phrase of its secret.
//!
//! **Cost bound.** A keystore file names its own Argon2id parameters, and `Keystore::open`
//! accepts up to 1 GiB / `t = 16`: one such input would take seconds and stall the fuzzer.
//! This target opens with `open_with_limits(.., &KdfParams::TESTING)` (8 KiB, `t = 1`,
//! `p = 1`), so any input asking for more is refused (`ParamsOverLimit`) before Argon2id
//! runs, and an input costs at most one cheapest Argon2id (microseconds). Parsing and
//! bounds checks are the same code as in `open`.
//!
//! Input layout: `mode || rest`.
//! - `mode & 1 == 0` (decode): `rest` is a keystore file, opened with the passphrase
//!   `"fuzz"`; and `rest` as lossy UTF-8 is a recovery phrase.
//! - `mode & 1 == 1` (seal): `rest = secret(32) || seed(8) || passphrase`, the passphrase
//!   read as lossy UTF-8, sealed with memory 8 or 16 KiB (`mode & 2`) and `t` 1 or 2
//!   (`mode & 4`), the salt and nonce from ChaCha20 seeded with `seed`.
//!
//! Asserted:
//! - `inspect` fails ⇒ `open` fails with the same error; `inspect` succeeds ⇒ the input is
//!   `FILE_LEN` bytes, its parameters validate, and `open` either returns the actor
//!   `inspect` named or fails with `ParamsOverLimit` (exactly when the parameters exceed
//!   `TESTING`), `WrongPassphraseOrCorrupt` or `ActorMismatch` naming that actor;
//! - no input ever gives `Internal` or a passphrase error (the passphrase is fine);
//! - a phrase that parses is 24 list words, and, lower-cased with single spaces, is
//!   exactly `recovery_phrase` of the secret it gave;
//! - `seal` refuses exactly empty and over-long passphrases; otherwise its bytes are
//!   `FILE_LEN` long, `inspect` reads back the actor and parameters, `open` gives the
//!   secret back, a wrong passphrase is `WrongPassphraseOrCorrupt`, and changing one byte
//!   (chosen by `seed`) makes `open` fail.

#![no_main]
#![allow(
    clippy::expect_used,
    clippy::panic,
    reason = "fuzz target: a panic is a found bug"
)]

use libfuzzer_sys::fuzz_target;
use quorate_actor_core::keystore::{
    FILE_LEN, KdfParams, Keystore, KeystoreError, MAX_PASSPHRASE_LEN, from_recovery_phrase,
    recovery_phrase,
};
use quorate_actor_core::{ActorSecret, Identity};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

const PASS: &str = "fuzz";

fn check_open(bytes: &[u8]) {
    let inspected = Keystore::inspect(bytes);
    let opened = Keystore::open_with_limits(bytes, PASS, &KdfParams::TESTING);
    match (&inspected, &opened) {
        (Err(e), opened) => assert_eq!(opened.as_ref().err(), Some(e), "inspect refused"),
        (Ok(info), Ok(identity)) => {
            assert_eq!(bytes.len(), FILE_LEN);
            assert_eq!(identity.id(), info.actor);
            assert!(info.params.within(&KdfParams::TESTING));
        }
        (Ok(info), Err(e)) => {
            assert_eq!(bytes.len(), FILE_LEN);
            assert_eq!(info.version, 1);
            assert_eq!(info.params.validate(), Ok(()));
            let over = !info.params.within(&KdfParams::TESTING);
            match e {
                KeystoreError::ParamsOverLimit { params, limit } => {
                    assert!(over);
                    assert_eq!((*params, *limit), (info.params, KdfParams::TESTING));
                }
                KeystoreError::WrongPassphraseOrCorrupt => assert!(!over),
                KeystoreError::ActorMismatch { claimed, .. } => {
                    assert!(!over);
                    assert_eq!(*claimed, info.actor);
                }
                other => panic!("inspect accepted, open refused: {other:?}"),
            }
        }
    }
    if let Err(e) = &opened {
        let _ = e.to_string();
        assert!(
            !matches!(
                e,
                KeystoreError::Internal(_)
                    | KeystoreError::EmptyPassphrase
                    | KeystoreError::PassphraseTooLong { .. }
            ),
            "{e:?}"
        );
    }
}

fn check_phrase(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    match from_recovery_phrase(&text) {
        Ok(secret) => {
            let canonical = text
                .split_whitespace()
                .map(str::to_ascii_lowercase)
                .collect::<Vec<_>>()
                .join(" ");
            assert_eq!(recovery_phrase(&secret), canonical);
            assert_eq!(from_recovery_phrase(&canonical).as_ref(), Ok(&secret));
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

fn check_seal(mode: u8, rest: &[u8]) {
    let (Some(secret), Some(seed)) = (
        rest.get(..32).and_then(|b| <[u8; 32]>::try_from(b).ok()),
        rest.get(32..40).and_then(|b| <[u8; 8]>::try_from(b).ok()),
    ) else {
        return;
    };
    let seed = u64::from_be_bytes(seed);
    let passphrase = String::from_utf8_lossy(rest.get(40..).unwrap_or_default());
    let identity = Identity::from_secret(ActorSecret::from_bytes(secret));
    let params = KdfParams::new(
        if mode & 2 == 0 { 8 } else { 16 },
        if mode & 4 == 0 { 1 } else { 2 },
        1,
    );
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let sealed = Keystore::seal(&identity, &passphrase, params, &mut rng);
    let bytes = match sealed {
        Ok(bytes) => bytes,
        Err(KeystoreError::EmptyPassphrase) => return assert!(passphrase.is_empty()),
        Err(KeystoreError::PassphraseTooLong { len }) => {
            return assert!(len > MAX_PASSPHRASE_LEN && len == passphrase.len());
        }
        Err(e) => panic!("seal: {e:?}"),
    };
    assert!(!passphrase.is_empty() && passphrase.len() <= MAX_PASSPHRASE_LEN);
    assert_eq!(bytes.len(), FILE_LEN);
    let info = Keystore::inspect(&bytes).expect("inspect what seal wrote");
    assert_eq!((info.actor, info.params), (identity.id(), params));
    let opened = Keystore::open_with_limits(&bytes, &passphrase, &params).expect("open");
    assert_eq!(opened.secret(), identity.secret());
    let wrong = format!("{passphrase}x");
    if wrong.len() <= MAX_PASSPHRASE_LEN {
        assert_eq!(
            Keystore::open_with_limits(&bytes, &wrong, &params).err(),
            Some(KeystoreError::WrongPassphraseOrCorrupt)
        );
    }
    let mut bad = bytes;
    let pos = usize::try_from(seed % FILE_LEN as u64).expect("small");
    if let Some(b) = bad.get_mut(pos) {
        *b ^= u8::try_from(seed >> 56).expect("one byte").max(1);
    }
    assert!(Keystore::open_with_limits(&bad, &passphrase, &params).is_err());
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 1 {
        check_seal(mode, rest);
    } else {
        check_open(rest);
        check_phrase(rest);
    }
});
