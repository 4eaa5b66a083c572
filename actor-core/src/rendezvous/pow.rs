//! Hashcash-style proof of work on envelopes.
//!
//! `SHA-256("quorate/pow/v1" || B || nonce as u64 big-endian)` must start with at least
//! `difficulty` zero bits, where `B` is the canonical DAG-CBOR of the envelope payload
//! (the [`GlobalEnvelope`] map) with `pow` and `signature` both absent. The nonce therefore
//! commits to the tag, the ciphertext and the expiry; the outer signature is made after
//! it and covers it.

use quorate_mesh_proto::EncodeError;
use sha2::{Digest, Sha256};

use super::envelope::{EnvelopeError, GlobalEnvelope};

/// The highest difficulty [`mint_pow`] accepts (expected cost `2^difficulty` hashes).
pub const MAX_POW_DIFFICULTY: u8 = 64;

const POW_LABEL: &[u8] = b"quorate/pow/v1";

/// Why no proof of work was minted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PowError {
    /// Above [`MAX_POW_DIFFICULTY`].
    #[error("difficulty {difficulty} exceeds {MAX_POW_DIFFICULTY}")]
    TooDifficult {
        /// The difficulty asked for.
        difficulty: u8,
    },
    /// The envelope is already signed, and the signature covers `pow`: mint first.
    #[error("mint the proof of work before signing the envelope")]
    AlreadySigned,
    /// No nonce in `0..=u64::MAX` works (practically impossible below the maximum).
    #[error("no nonce meets the difficulty")]
    Exhausted,
    /// The envelope cannot be encoded.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

fn prefix(envelope: &GlobalEnvelope) -> Result<Sha256, EncodeError> {
    let mut h = Sha256::new();
    h.update(POW_LABEL);
    envelope.write_unsigned(true, HashWriter(&mut h))?;
    Ok(h)
}

/// Feeds an encoder's output straight into a hash.
struct HashWriter<'a>(&'a mut Sha256);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn leading_zero_bits(hash: &[u8]) -> u32 {
    let mut bits = 0;
    for byte in hash {
        bits += byte.leading_zeros();
        if *byte != 0 {
            break;
        }
    }
    bits
}

fn bits_with(prefix: &Sha256, nonce: u64) -> u32 {
    let mut h = prefix.clone();
    h.update(nonce.to_be_bytes());
    leading_zero_bits(&h.finalize())
}

/// The proof-of-work hash of `envelope` with `nonce` (whatever its `pow` field says).
///
/// # Errors
/// [`EncodeError`] if the envelope cannot be encoded.
pub fn pow_hash(envelope: &GlobalEnvelope, nonce: u64) -> Result<[u8; 32], EncodeError> {
    let mut h = prefix(envelope)?;
    h.update(nonce.to_be_bytes());
    Ok(h.finalize().into())
}

/// Finds the smallest nonce meeting `difficulty` (searching up from 0, so the result is
/// deterministic), stores it in `envelope.pow` and returns it. Expected cost:
/// `2^difficulty` hashes of a few dozen bytes each (the envelope is hashed once).
///
/// # Errors
/// [`PowError::AlreadySigned`] if `envelope.signature` is set, [`PowError::TooDifficult`]
/// above [`MAX_POW_DIFFICULTY`].
pub fn mint_pow(envelope: &mut GlobalEnvelope, difficulty: u8) -> Result<u64, PowError> {
    if envelope.signature.is_some() {
        return Err(PowError::AlreadySigned);
    }
    if difficulty > MAX_POW_DIFFICULTY {
        return Err(PowError::TooDifficult { difficulty });
    }
    let prefix = prefix(envelope)?;
    let need = u32::from(difficulty);
    let nonce = (0..=u64::MAX)
        .find(|n| bits_with(&prefix, *n) >= need)
        .ok_or(PowError::Exhausted)?;
    envelope.pow = Some(nonce);
    Ok(nonce)
}

/// Checks the proof of work against `difficulty`. Difficulty 0 accepts anything without
/// hashing; otherwise this costs one encoding of the envelope, streamed into one hash.
///
/// # Errors
/// [`EnvelopeError::MissingPow`] or [`EnvelopeError::InsufficientPow`].
pub fn check_pow(envelope: &GlobalEnvelope, difficulty: u8) -> Result<(), EnvelopeError> {
    if difficulty == 0 {
        return Ok(());
    }
    let Some(nonce) = envelope.pow else {
        return Err(EnvelopeError::MissingPow {
            required: difficulty,
        });
    };
    let prefix = prefix(envelope)
        .map_err(|_| EnvelopeError::Internal("re-encoding a decoded envelope failed"))?;
    let found = bits_with(&prefix, nonce);
    if found < u32::from(difficulty) {
        return Err(EnvelopeError::InsufficientPow {
            required: difficulty,
            found,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope() -> GlobalEnvelope {
        GlobalEnvelope {
            to_tag: [1; 32],
            ciphertext: vec![2; 64],
            expires_at_ms: 3,
            pow: None,
            signature: None,
        }
    }

    #[test]
    fn leading_zero_bits_counts_across_bytes() {
        assert_eq!(leading_zero_bits(&[0x80]), 0);
        assert_eq!(leading_zero_bits(&[0x01]), 7);
        assert_eq!(leading_zero_bits(&[0, 0, 0x10, 0]), 19);
        assert_eq!(leading_zero_bits(&[0; 32]), 256);
    }

    #[test]
    fn the_preimage_is_label_payload_without_pow_and_nonce() {
        let mut env = envelope();
        env.pow = Some(99);
        let mut stripped = envelope();
        stripped.pow = None;
        let mut preimage = POW_LABEL.to_vec();
        preimage.extend(serde_ipld_dagcbor::to_vec(&stripped).unwrap());
        preimage.extend(7u64.to_be_bytes());
        let expected: [u8; 32] = Sha256::digest(&preimage).into();
        assert_eq!(pow_hash(&env, 7).unwrap(), expected);
    }

    #[test]
    fn minted_nonce_is_the_first_that_works_and_checks() {
        let mut env = envelope();
        let nonce = mint_pow(&mut env, 8).unwrap();
        assert_eq!(env.pow, Some(nonce));
        assert!(leading_zero_bits(&pow_hash(&env, nonce).unwrap()) >= 8);
        for earlier in 0..nonce {
            assert!(leading_zero_bits(&pow_hash(&env, earlier).unwrap()) < 8);
        }
        assert_eq!(check_pow(&env, 8), Ok(()));
        // The nonce is independent of the pow field already present.
        assert_eq!(mint_pow(&mut env, 8), Ok(nonce));
        assert_eq!(check_pow(&env, 0), Ok(()));
        env.pow = None;
        assert_eq!(
            check_pow(&env, 1),
            Err(EnvelopeError::MissingPow { required: 1 })
        );
        assert_eq!(check_pow(&env, 0), Ok(()));
    }

    #[test]
    fn misuse_is_refused() {
        let mut env = envelope();
        assert_eq!(
            mint_pow(&mut env, 65),
            Err(PowError::TooDifficult { difficulty: 65 })
        );
        env.signature = Some(quorate_mesh_proto::ObjectSig {
            key: [0; 32],
            sig: [0; 64],
        });
        assert_eq!(mint_pow(&mut env, 1), Err(PowError::AlreadySigned));
    }
}
