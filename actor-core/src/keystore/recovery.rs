//! Recovery phrase: the 32-byte [`ActorSecret`] as 24 English BIP-39 words.
//!
//! BIP-39 writes 256 bits of entropy plus an 8-bit checksum (the first byte of its
//! SHA-256) as 24 words of 11 bits each, from a fixed list of 2048 English words. Here the
//! entropy *is* the actor secret: no BIP-39 passphrase, no PBKDF2 seed. Anyone who reads
//! the words has the actor's keys, so they belong on paper, not in a file.
//!
//! Reading a phrase back tolerates extra whitespace anywhere (spaces, tabs, new lines) and
//! upper case; it insists on exactly 24 words, every word from the list, and a matching
//! checksum, so a typo is caught rather than turned into someone else's key.

use bip39::Language;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

use crate::identity::ActorSecret;

/// Words in a recovery phrase.
pub const WORD_COUNT: usize = 24;

/// Bits per word.
const WORD_BITS: u32 = 11;

/// The 24 words of `secret`, lower case, separated by single spaces.
///
/// The string holds the secret: wipe it (`zeroize::Zeroize`) once it has been shown.
#[must_use]
pub fn recovery_phrase(secret: &ActorSecret) -> String {
    let words = Language::English.word_list();
    let checksum = Sha256::digest(secret.expose());
    let mut phrase = String::with_capacity(WORD_COUNT * 9);
    // A bit accumulator: at most 10 leftover bits plus 8 new ones.
    let mut acc: u32 = 0;
    let mut bits: u32 = 0;
    for byte in secret.expose().iter().chain(checksum.first()) {
        acc = (acc << 8) | u32::from(*byte);
        bits += 8;
        if bits >= WORD_BITS {
            bits -= WORD_BITS;
            let index = (acc >> bits) & 0x7ff;
            acc &= (1 << bits) - 1;
            // `index < 2048`, the list's length: `get` cannot miss.
            let word = usize::try_from(index)
                .ok()
                .and_then(|i| words.get(i))
                .copied()
                .unwrap_or_default();
            if !phrase.is_empty() {
                phrase.push(' ');
            }
            phrase.push_str(word);
        }
    }
    acc.zeroize();
    phrase
}

/// The secret a recovery phrase writes.
///
/// # Errors
/// [`RecoveryError`]: not 24 words, a word not in the list (its 1-based position is
/// named, the word is not, since it is part of a secret), or a checksum mismatch.
pub fn from_recovery_phrase(phrase: &str) -> Result<ActorSecret, RecoveryError> {
    let count = phrase.split_whitespace().count();
    if count != WORD_COUNT {
        return Err(RecoveryError::WrongWordCount(count));
    }
    // 24 × 11 = 264 bits = 32 bytes of secret and 1 byte of checksum.
    let mut bytes = Zeroizing::new(Vec::with_capacity(33));
    let mut acc: u32 = 0;
    let mut bits: u32 = 0;
    for (i, word) in phrase.split_whitespace().enumerate() {
        let lower = Zeroizing::new(word.to_ascii_lowercase());
        let index = Language::English
            .find_word(&lower)
            .ok_or(RecoveryError::UnknownWord { position: i + 1 })?;
        acc = (acc << WORD_BITS) | u32::from(index);
        bits += WORD_BITS;
        while bits >= 8 {
            bits -= 8;
            let [.., low] = (acc >> bits).to_be_bytes();
            bytes.push(low);
            acc &= (1 << bits) - 1;
        }
    }
    acc.zeroize();
    let Some((checksum, entropy)) = bytes.split_last() else {
        return Err(RecoveryError::Internal("a 24-word phrase gave no bytes"));
    };
    let mut secret = <[u8; 32]>::try_from(entropy)
        .map_err(|_| RecoveryError::Internal("a 24-word phrase is not 33 bytes"))?;
    if Sha256::digest(secret).first() != Some(checksum) {
        secret.zeroize();
        return Err(RecoveryError::BadChecksum);
    }
    let out = ActorSecret::from_bytes(secret);
    secret.zeroize();
    Ok(out)
}

/// Why a string is not a recovery phrase.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecoveryError {
    /// Not 24 words.
    #[error("a recovery phrase is 24 words; this one has {0}")]
    WrongWordCount(usize),
    /// A word that is not in the BIP-39 English list (a typo?).
    #[error("word {position} is not in the recovery word list (check its spelling)")]
    UnknownWord {
        /// Its position, counting from 1.
        position: usize,
    },
    /// Every word is in the list, but the last word's checksum bits do not match: a word
    /// is wrong (but happens to be in the list) or two words are swapped.
    #[error("the words are all valid but do not fit together: one is wrong or two are swapped")]
    BadChecksum,
    /// A bug: an assumption of this code did not hold. Never caused by the input.
    #[error("internal error reading the recovery phrase: {0}")]
    Internal(&'static str),
}
