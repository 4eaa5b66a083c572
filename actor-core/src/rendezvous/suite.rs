//! The one HPKE suite of the rendezvous topic (RFC 9180, base mode):
//! DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / ChaCha20-Poly1305.
//!
//! A sealed message is `enc || ct`: the 32-byte encapsulated key (the sender's ephemeral
//! X25519 public key), then the AEAD ciphertext with its 16-byte tag. Single-shot: one
//! message per encapsulation, sequence number 0.

use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem as _, OpModeR, OpModeS, Serializable};
use rand_core::{CryptoRng, CryptoRngCore, RngCore};
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::{Zeroize, Zeroizing};

type Kem = X25519HkdfSha256;
type Kdf = HkdfSha256;
type Aead = ChaCha20Poly1305;

/// RFC 9180 `kem_id` of DHKEM(X25519, HKDF-SHA256).
pub const KEM_ID: u16 = 0x0020;
/// RFC 9180 `kdf_id` of HKDF-SHA256.
pub const KDF_ID: u16 = 0x0001;
/// RFC 9180 `aead_id` of ChaCha20-Poly1305.
pub const AEAD_ID: u16 = 0x0003;
/// Length of `enc`, the encapsulated key.
pub const ENC_LEN: usize = 32;
/// Length of the AEAD tag.
pub const TAG_LEN: usize = 16;
/// What sealing adds to a plaintext: `enc` and the tag.
pub const OVERHEAD: usize = ENC_LEN + TAG_LEN;

/// Why sealing or opening failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SuiteError {
    /// The recipient key gives an all-zero shared secret (a small-order point): nobody
    /// holds its private key, so sealing to it is refused (RFC 9180 §7.1.4).
    #[error("recipient X25519 key is a small-order point")]
    BadRecipientKey,
    /// Shorter than `enc` plus the AEAD tag.
    #[error("sealed message is shorter than {OVERHEAD} bytes")]
    TooShort,
    /// Decapsulation or the AEAD check failed: wrong key, wrong `info` or `aad`, or the
    /// bytes were changed.
    #[error("HPKE open failed")]
    Open,
    /// The AEAD refused to encrypt (a plaintext beyond its limit).
    #[error("HPKE seal failed")]
    Seal,
}

/// Seals `plaintext` to `recipient`: returns `enc || ct`. Draws 32 bytes from `rng` for
/// the ephemeral key.
///
/// # Errors
/// [`SuiteError::BadRecipientKey`] for a small-order recipient key.
pub fn seal(
    recipient: &PublicKey,
    info: &[u8],
    aad: &[u8],
    plaintext: &[u8],
    rng: &mut impl CryptoRngCore,
) -> Result<Vec<u8>, SuiteError> {
    let mut ikm = Zeroizing::new([0u8; 32]);
    rng.fill_bytes(ikm.as_mut());
    seal_with_ikm(recipient, info, aad, plaintext, &ikm)
}

/// [`seal`] with the ephemeral key derived from `ikm_e` (RFC 9180 `DeriveKeyPair`, which is
/// what `GenerateKeyPair` does with 32 random bytes).
///
/// For known-answer tests and reproducible fixtures. `ikm_e` must be 32 fresh, secret,
/// random bytes: sealing two plaintexts to one recipient with the same `ikm_e` reuses the
/// AEAD key and nonce, which gives both plaintexts away.
///
/// # Errors
/// [`SuiteError::BadRecipientKey`] for a small-order recipient key.
pub fn seal_with_ikm(
    recipient: &PublicKey,
    info: &[u8],
    aad: &[u8],
    plaintext: &[u8],
    ikm_e: &[u8; 32],
) -> Result<Vec<u8>, SuiteError> {
    let pk = <Kem as hpke::Kem>::PublicKey::from_bytes(recipient.as_bytes())
        .map_err(|_| SuiteError::BadRecipientKey)?;
    let mut rng = IkmRng(*ikm_e);
    let result = hpke::single_shot_seal::<Aead, Kdf, Kem, _>(
        &OpModeS::Base,
        &pk,
        info,
        plaintext,
        aad,
        &mut rng,
    );
    rng.0.zeroize();
    let (enc, ct) = result.map_err(|e| match e {
        hpke::HpkeError::EncapError => SuiteError::BadRecipientKey,
        _ => SuiteError::Seal,
    })?;
    let mut out = Vec::with_capacity(ENC_LEN + ct.len());
    out.extend_from_slice(&enc.to_bytes());
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Opens `enc || ct` with the recipient's secret key.
///
/// # Errors
/// [`SuiteError::TooShort`] or [`SuiteError::Open`].
pub fn open(
    recipient: &StaticSecret,
    info: &[u8],
    aad: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, SuiteError> {
    if sealed.len() < OVERHEAD {
        return Err(SuiteError::TooShort);
    }
    let (enc, ct) = sealed
        .split_at_checked(ENC_LEN)
        .ok_or(SuiteError::TooShort)?;
    let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(enc).map_err(|_| SuiteError::Open)?;
    let secret = Zeroizing::new(recipient.to_bytes());
    let sk = <Kem as hpke::Kem>::PrivateKey::from_bytes(secret.as_ref())
        .map_err(|_| SuiteError::Open)?;
    hpke::single_shot_open::<Aead, Kdf, Kem>(&OpModeR::Base, &sk, &enc, info, ct, aad)
        .map(Zeroizing::new)
        .map_err(|_| SuiteError::Open)
}

/// Public key of the key pair RFC 9180 `DeriveKeyPair` makes from `ikm` (for tests that
/// check this suite against the RFC's vectors).
#[must_use]
pub fn derive_public(ikm: &[u8]) -> PublicKey {
    let (_, pk) = Kem::derive_keypair(ikm);
    let mut bytes = [0u8; 32];
    bytes.copy_from_slice(&pk.to_bytes());
    PublicKey::from(bytes)
}

/// An "RNG" that yields one fixed 32-byte string, then zeros: hpke's `GenerateKeyPair`
/// reads exactly `Nsk` = 32 bytes and runs `DeriveKeyPair` on them.
struct IkmRng([u8; 32]);

impl RngCore for IkmRng {
    fn next_u32(&mut self) -> u32 {
        rand_core::impls::next_u32_via_fill(self)
    }

    fn next_u64(&mut self) -> u64 {
        rand_core::impls::next_u64_via_fill(self)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for (d, s) in dest.iter_mut().zip(self.0.iter_mut()) {
            *d = *s;
            *s = 0;
        }
        if let Some(rest) = dest.get_mut(self.0.len()..) {
            rest.fill(0);
        }
        let used = self.0.len().min(dest.len());
        self.0.rotate_left(used);
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for IkmRng {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_the_rfc_9180_code_points_of_the_types_used() {
        assert_eq!(<Kem as hpke::Kem>::KEM_ID, KEM_ID);
        assert_eq!(<Kdf as hpke::kdf::Kdf>::KDF_ID, KDF_ID);
        assert_eq!(<Aead as hpke::aead::Aead>::AEAD_ID, AEAD_ID);
    }

    #[test]
    fn ikm_rng_yields_its_bytes_once() {
        let mut rng = IkmRng([7; 32]);
        let mut a = [0u8; 40];
        rng.fill_bytes(&mut a);
        assert_eq!(a[..32], [7; 32]);
        assert_eq!(a[32..], [0; 8]);
        let mut b = [1u8; 4];
        rng.fill_bytes(&mut b);
        assert_eq!(b, [0; 4]);
    }

    #[test]
    fn small_order_recipients_and_short_inputs_are_refused() {
        let zero = PublicKey::from([0; 32]);
        assert_eq!(
            seal_with_ikm(&zero, b"", b"", b"x", &[1; 32]),
            Err(SuiteError::BadRecipientKey)
        );
        let sk = StaticSecret::from([3; 32]);
        assert_eq!(
            open(&sk, b"", b"", &[0; OVERHEAD - 1]).map(|v| v.to_vec()),
            Err(SuiteError::TooShort)
        );
        // enc = 0 is a small-order point: decapsulation refuses it.
        assert_eq!(
            open(&sk, b"", b"", &[0; OVERHEAD]).map(|v| v.to_vec()),
            Err(SuiteError::Open)
        );
    }
}
