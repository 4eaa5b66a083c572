//! The keystore file and the recovery phrase, through the public API only.
//!
//! Every test uses `KdfParams::TESTING` (one Argon2id at 8 KiB) except
//! `default_parameters_are_the_documented_ones`, which only reads constants.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

use proptest::prelude::*;
use quorate_actor_core::keystore::{
    FILE_LEN, FORMAT_VERSION, KdfParams, Keystore, KeystoreError, MAGIC, MAX_PASSPHRASE_LEN,
    ParamsError, RecoveryError, from_recovery_phrase, recovery_phrase,
};
use quorate_actor_core::{ActorSecret, Identity};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

const PASS: &str = "correct horse battery staple";

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

fn identity(seed: u8) -> Identity {
    Identity::from_secret(ActorSecret::from_bytes([seed; 32]))
}

fn sealed(id: &Identity) -> Vec<u8> {
    Keystore::seal(id, PASS, KdfParams::TESTING, &mut rng(1)).unwrap()
}

/// Byte offsets of the version-1 header fields (the module docs' table).
const M_COST: usize = 5;
const T_COST: usize = 9;
const P_COST: usize = 13;
const ACTOR: usize = 14;
const HEADER_LEN: usize = 86;

/// A ceiling just above `TESTING`, so that no mutated file runs an expensive Argon2id.
const CHEAP: KdfParams = KdfParams::new(1024, 4, 4);

#[test]
fn seal_then_open_gives_the_same_identity_back() {
    let me = identity(7);
    let bytes = sealed(&me);
    assert_eq!(bytes.len(), FILE_LEN);
    assert_eq!(bytes[..4], MAGIC);
    assert_eq!(bytes[4], FORMAT_VERSION);
    let opened = Keystore::open(&bytes, PASS).unwrap();
    assert_eq!(opened.id(), me.id());
    assert_eq!(opened.secret(), me.secret());

    let info = Keystore::inspect(&bytes).unwrap();
    assert_eq!(info.version, 1);
    assert_eq!(info.params, KdfParams::TESTING);
    assert_eq!(info.actor, me.id());
    // The actor id is in the clear at offset 14, the secret is not anywhere.
    assert_eq!(bytes[ACTOR..ACTOR + 32], me.id().as_bytes()[..]);
    assert!(!bytes.windows(32).any(|w| w == me.secret().expose()));
}

#[test]
fn the_same_seed_gives_the_same_file_and_another_seed_another_salt() {
    let me = identity(7);
    let a = Keystore::seal(&me, PASS, KdfParams::TESTING, &mut rng(1)).unwrap();
    let b = Keystore::seal(&me, PASS, KdfParams::TESTING, &mut rng(1)).unwrap();
    let c = Keystore::seal(&me, PASS, KdfParams::TESTING, &mut rng(2)).unwrap();
    assert_eq!(a, b);
    assert_eq!(a[..ACTOR + 32], c[..ACTOR + 32]);
    assert_ne!(a[ACTOR + 32..], c[ACTOR + 32..]);
    assert_eq!(Keystore::open(&c, PASS).unwrap().id(), me.id());
}

#[test]
fn a_wrong_passphrase_is_refused_with_a_plain_message() {
    let bytes = sealed(&identity(7));
    for wrong in [
        "correct horse battery stapl",
        "Correct horse battery staple",
        " ",
    ] {
        let err = Keystore::open(&bytes, wrong).unwrap_err();
        assert_eq!(err, KeystoreError::WrongPassphraseOrCorrupt, "{wrong:?}");
        assert_eq!(
            err.to_string(),
            "wrong passphrase, or the keystore file is damaged"
        );
    }
}

#[test]
fn empty_and_oversized_passphrases_are_refused_before_any_work() {
    let me = identity(7);
    assert_eq!(
        Keystore::seal(&me, "", KdfParams::TESTING, &mut rng(1)).unwrap_err(),
        KeystoreError::EmptyPassphrase
    );
    assert_eq!(
        Keystore::open(&sealed(&me), "").unwrap_err(),
        KeystoreError::EmptyPassphrase
    );
    let long = "x".repeat(MAX_PASSPHRASE_LEN + 1);
    assert_eq!(
        Keystore::seal(&me, &long, KdfParams::TESTING, &mut rng(1)).unwrap_err(),
        KeystoreError::PassphraseTooLong { len: long.len() }
    );
    let longest = "x".repeat(MAX_PASSPHRASE_LEN);
    let bytes = Keystore::seal(&me, &longest, KdfParams::TESTING, &mut rng(1)).unwrap();
    assert_eq!(Keystore::open(&bytes, &longest).unwrap().id(), me.id());
}

#[test]
fn every_single_byte_change_is_an_error_and_header_changes_fail_the_tag() {
    let me = identity(7);
    let bytes = sealed(&me);
    for pos in 0..bytes.len() {
        for mask in [0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff] {
            let mut bad = bytes.clone();
            bad[pos] ^= mask;
            let err = Keystore::open_with_limits(&bad, PASS, &CHEAP)
                .expect_err(&format!("byte {pos} ^ {mask:#04x} opened"));
            let expected_kind = match pos {
                0..4 => matches!(err, KeystoreError::BadMagic),
                4 => matches!(err, KeystoreError::UnsupportedVersion(v) if v == 1 ^ mask),
                M_COST..ACTOR => matches!(
                    err,
                    KeystoreError::BadParams(_)
                        | KeystoreError::ParamsOverLimit { .. }
                        | KeystoreError::WrongPassphraseOrCorrupt
                ),
                // Actor id, salt, nonce, ciphertext: the file still parses, the tag fails.
                _ => {
                    let info = Keystore::inspect(&bad).unwrap();
                    assert_eq!(info.actor == me.id(), !(ACTOR..ACTOR + 32).contains(&pos));
                    err == KeystoreError::WrongPassphraseOrCorrupt
                }
            };
            assert!(expected_kind, "byte {pos} ^ {mask:#04x}: {err:?}");
        }
    }
}

#[test]
fn every_header_change_that_still_parses_fails_the_tag() {
    // Only the parameter bytes need Argon2id to notice; they are authenticated too.
    let bytes = sealed(&identity(7));
    let mut tried = 0;
    for pos in M_COST..ACTOR {
        for mask in 1..=0xffu8 {
            let mut bad = bytes.clone();
            bad[pos] ^= mask;
            let Ok(info) = Keystore::inspect(&bad) else {
                continue;
            };
            if !info.params.within(&CHEAP) {
                continue;
            }
            tried += 1;
            assert_eq!(
                Keystore::open_with_limits(&bad, PASS, &CHEAP).unwrap_err(),
                KeystoreError::WrongPassphraseOrCorrupt,
                "byte {pos} ^ {mask:#04x}"
            );
        }
    }
    assert!(tried > 100, "only {tried} parameter changes parsed");
}

#[test]
fn every_truncation_is_an_error() {
    let bytes = sealed(&identity(7));
    for len in 0..bytes.len() {
        let cut = &bytes[..len];
        let expected = KeystoreError::Truncated { len };
        assert_eq!(Keystore::inspect(cut).unwrap_err(), expected);
        assert_eq!(Keystore::open(cut, PASS).unwrap_err(), expected);
    }
}

#[test]
fn trailing_bytes_are_an_error() {
    let bytes = sealed(&identity(7));
    for extra in [1, 2, 100] {
        let mut long = bytes.clone();
        long.extend(std::iter::repeat_n(0, extra));
        let expected = KeystoreError::TrailingBytes { extra };
        assert_eq!(Keystore::inspect(&long).unwrap_err(), expected);
        assert_eq!(Keystore::open(&long, PASS).unwrap_err(), expected);
    }
}

#[test]
fn other_versions_and_magics_are_named() {
    let mut bytes = sealed(&identity(7));
    bytes[4] = 2;
    assert_eq!(
        Keystore::open(&bytes, PASS).unwrap_err(),
        KeystoreError::UnsupportedVersion(2)
    );
    assert_eq!(
        Keystore::inspect(b"PK\x03\x04 a zip file").unwrap_err(),
        KeystoreError::BadMagic
    );
    // A future version may be any length: the version is read before the length.
    assert_eq!(
        Keystore::inspect(b"QRKS\x02").unwrap_err(),
        KeystoreError::UnsupportedVersion(2)
    );
}

fn with_params(bytes: &[u8], m: u32, t: u32, p: u8) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[M_COST..T_COST].copy_from_slice(&m.to_be_bytes());
    out[T_COST..P_COST].copy_from_slice(&t.to_be_bytes());
    out[P_COST] = p;
    out
}

#[test]
fn absurd_parameters_are_refused_before_argon2id_runs() {
    // Were any of these run, the test would allocate terabytes or take years.
    let bytes = sealed(&identity(7));
    let four_gib = 4 * 1024 * 1024;
    let cases = [
        (
            u32::MAX,
            1,
            1,
            ParamsError::Memory {
                m_cost_kib: u32::MAX,
            },
        ),
        (
            four_gib,
            1,
            1,
            ParamsError::Memory {
                m_cost_kib: four_gib,
            },
        ),
        (0, 1, 1, ParamsError::Memory { m_cost_kib: 0 }),
        (8, 1, 2, ParamsError::Memory { m_cost_kib: 8 }),
        (
            8,
            1_000_000_000,
            1,
            ParamsError::Time {
                t_cost: 1_000_000_000,
            },
        ),
        (
            1024 * 1024,
            u32::MAX,
            1,
            ParamsError::Time { t_cost: u32::MAX },
        ),
        (8, 0, 1, ParamsError::Time { t_cost: 0 }),
        (8, 1, 0, ParamsError::Parallelism { p_cost: 0 }),
        (1024, 1, 255, ParamsError::Parallelism { p_cost: 255 }),
    ];
    for (m, t, p, why) in cases {
        let bad = with_params(&bytes, m, t, p);
        let expected = KeystoreError::BadParams(why);
        assert_eq!(Keystore::inspect(&bad).unwrap_err(), expected);
        assert_eq!(Keystore::open(&bad, PASS).unwrap_err(), expected);
        assert!(expected.to_string().contains("out of bounds"));
    }
    assert_eq!(
        Keystore::seal(&identity(7), PASS, KdfParams::new(8, 0, 1), &mut rng(1)).unwrap_err(),
        KeystoreError::BadParams(ParamsError::Time { t_cost: 0 })
    );
}

#[test]
fn a_caller_can_set_a_lower_ceiling() {
    let me = identity(7);
    let params = KdfParams::new(16, 2, 1);
    let bytes = Keystore::seal(&me, PASS, params, &mut rng(1)).unwrap();
    assert_eq!(
        Keystore::open_with_limits(&bytes, PASS, &KdfParams::TESTING).unwrap_err(),
        KeystoreError::ParamsOverLimit {
            params,
            limit: KdfParams::TESTING
        }
    );
    assert_eq!(
        Keystore::open_with_limits(&bytes, PASS, &params)
            .unwrap()
            .id(),
        me.id()
    );
}

#[test]
fn default_parameters_are_the_documented_ones() {
    assert_eq!(KdfParams::DEFAULT, KdfParams::new(65536, 3, 1));
    assert_eq!(KdfParams::TESTING, KdfParams::new(8, 1, 1));
    assert_eq!(KdfParams::MAX, KdfParams::new(1024 * 1024, 16, 16));
    assert_eq!(KdfParams::DEFAULT.validate(), Ok(()));
    assert_eq!(FILE_LEN, 134);
    assert_eq!(&MAGIC, b"QRKS");
    assert_eq!(FORMAT_VERSION, 1);
    assert_eq!(
        quorate_actor_core::backup::LocatorParams::V1.kdf(),
        KdfParams::DEFAULT
    );
}

// --- recovery phrase ---

/// BIP-39 reference vectors (trezor/python-mnemonic `vectors.json`, 256-bit entropy).
const VECTORS: [(u8, &str); 4] = [
    (
        0x00,
        "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon \
         abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon \
         abandon abandon abandon art",
    ),
    (
        0x7f,
        "legal winner thank year wave sausage worth useful legal winner thank year wave \
         sausage worth useful legal winner thank year wave sausage worth title",
    ),
    (
        0x80,
        "letter advice cage absurd amount doctor acoustic avoid letter advice cage absurd \
         amount doctor acoustic avoid letter advice cage absurd amount doctor acoustic bless",
    ),
    (
        0xff,
        "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo \
         zoo zoo vote",
    ),
];

#[test]
fn recovery_phrases_match_the_bip39_vectors() {
    for (byte, words) in VECTORS {
        let secret = ActorSecret::from_bytes([byte; 32]);
        assert_eq!(recovery_phrase(&secret), words);
        assert_eq!(from_recovery_phrase(words).unwrap(), secret);
    }
}

#[test]
fn recovery_phrases_tolerate_spacing_and_case() {
    let secret = ActorSecret::from_bytes([0x7f; 32]);
    let phrase = recovery_phrase(&secret);
    let messy = format!("  \t{}\n", phrase.to_uppercase().replace(' ', " \n\t  "));
    assert_eq!(from_recovery_phrase(&messy).unwrap(), secret);
}

/// The BIP-39 vector for 16 zero bytes: a valid phrase, but 12 words.
const TWELVE_WORDS: [&str; 12] = [
    "abandon", "abandon", "abandon", "abandon", "abandon", "abandon", "abandon", "abandon",
    "abandon", "abandon", "abandon", "about",
];

#[test]
fn recovery_phrase_errors_are_typed_and_do_not_echo_words() {
    let zero = VECTORS[0].1;
    // Right length, all words valid, wrong checksum word.
    let bad_last = zero.replace(" art", " abandon");
    assert_eq!(
        from_recovery_phrase(&bad_last).unwrap_err(),
        RecoveryError::BadChecksum
    );
    // Two words swapped.
    let legal = VECTORS[1].1;
    let swapped = legal.replacen("legal winner", "winner legal", 1);
    assert_eq!(
        from_recovery_phrase(&swapped).unwrap_err(),
        RecoveryError::BadChecksum
    );
    // A word not in the list, named by its 1-based position only.
    let mut words: Vec<&str> = legal.split(' ').collect();
    words[4] = "wavy";
    let err = from_recovery_phrase(&words.join(" ")).unwrap_err();
    assert_eq!(err, RecoveryError::UnknownWord { position: 5 });
    assert!(err.to_string().contains("word 5"));
    assert!(!err.to_string().contains("wavy"));
    words[4] = "wave";
    words[23] = "tit";
    assert_eq!(
        from_recovery_phrase(&words.join(" ")).unwrap_err(),
        RecoveryError::UnknownWord { position: 24 }
    );
    // Word counts: a valid 12-word BIP-39 phrase is not an actor secret.
    for (phrase, count) in [
        ("", 0),
        (&TWELVE_WORDS.join(" "), 12),
        (&zero[..zero.len() - 4], 23),
        (&format!("{zero} art"), 25),
    ] {
        assert_eq!(
            from_recovery_phrase(phrase).unwrap_err(),
            RecoveryError::WrongWordCount(count)
        );
    }
}

proptest! {
    #[test]
    fn recovery_phrases_round_trip_and_agree_with_the_bip39_crate(bytes in any::<[u8; 32]>()) {
        let secret = ActorSecret::from_bytes(bytes);
        let phrase = recovery_phrase(&secret);
        let reference = bip39::Mnemonic::from_entropy(&bytes).unwrap().to_string();
        prop_assert_eq!(&phrase, &reference);
        prop_assert_eq!(phrase.split(' ').count(), 24);
        prop_assert_eq!(from_recovery_phrase(&phrase).unwrap(), secret);
    }

    #[test]
    fn arbitrary_text_is_never_a_panic(text in "\\PC{0,300}") {
        let _ = from_recovery_phrase(&text);
    }

    #[test]
    fn keystores_round_trip(
        bytes in any::<[u8; 32]>(),
        passphrase in "\\PC{1,40}",
        seed in any::<u64>(),
    ) {
        let me = Identity::from_secret(ActorSecret::from_bytes(bytes));
        let file = Keystore::seal(&me, &passphrase, KdfParams::TESTING, &mut rng(seed)).unwrap();
        prop_assert_eq!(Keystore::inspect(&file).unwrap().actor, me.id());
        let opened = Keystore::open_with_limits(&file, &passphrase, &KdfParams::TESTING).unwrap();
        prop_assert_eq!(opened.secret(), me.secret());
        let wrong = format!("{passphrase}!");
        prop_assert_eq!(
            Keystore::open(&file, &wrong).unwrap_err(),
            KeystoreError::WrongPassphraseOrCorrupt
        );
    }

    #[test]
    fn random_bytes_are_a_typed_error(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        prop_assert!(Keystore::inspect(&bytes).is_err() || bytes.len() == FILE_LEN);
        prop_assert!(Keystore::open_with_limits(&bytes, PASS, &CHEAP).is_err());
    }

    #[test]
    fn random_bodies_after_a_valid_prefix_are_a_typed_error(
        body in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        // Magic, version and TESTING parameters, then anything: reaches Argon2id and AEAD.
        let mut bytes = b"QRKS\x01\x00\x00\x00\x08\x00\x00\x00\x01\x01".to_vec();
        bytes.extend(body);
        let opened = Keystore::open_with_limits(&bytes, PASS, &CHEAP);
        prop_assert!(opened.is_err());
        if bytes.len() == FILE_LEN {
            prop_assert_eq!(opened.unwrap_err(), KeystoreError::WrongPassphraseOrCorrupt);
        }
    }

    #[test]
    fn mutated_files_are_a_typed_error(
        edits in proptest::collection::vec((0..FILE_LEN, 1..=255u8), 1..4),
    ) {
        let original = sealed(&identity(9));
        let mut bytes = original.clone();
        for (pos, mask) in edits {
            bytes[pos] ^= mask;
        }
        prop_assume!(bytes != original);
        prop_assert!(Keystore::open_with_limits(&bytes, PASS, &CHEAP).is_err());
    }
}

#[test]
fn header_length_is_the_associated_data_length() {
    // Changing the last header byte (the nonce's) fails; the first ciphertext byte too.
    let bytes = sealed(&identity(7));
    for pos in [HEADER_LEN - 1, HEADER_LEN] {
        let mut bad = bytes.clone();
        bad[pos] ^= 1;
        assert_eq!(
            Keystore::open(&bad, PASS).unwrap_err(),
            KeystoreError::WrongPassphraseOrCorrupt
        );
    }
}
