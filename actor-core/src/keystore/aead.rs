//! XChaCha20-Poly1305 around one 32-byte [`ActorSecret`]: the keystore and the key backup
//! both seal exactly that.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::{Zeroize, Zeroizing};

use crate::identity::ActorSecret;

/// Nonce length (XChaCha20-Poly1305): random nonces never collide in practice.
pub(crate) const NONCE_LEN: usize = 24;
/// Poly1305 tag length.
pub(crate) const TAG_LEN: usize = 16;
/// A sealed secret: 32 bytes of ciphertext, then the tag.
pub(crate) const SEALED_LEN: usize = 32 + TAG_LEN;

fn cipher(key: &[u8; 32]) -> Result<XChaCha20Poly1305, &'static str> {
    // The cipher wipes its copy of the key on drop.
    XChaCha20Poly1305::new_from_slice(key).map_err(|_| "XChaCha20-Poly1305 refused a 32-byte key")
}

/// Encrypts `secret` under `key` with `nonce`, authenticating `aad`.
pub(crate) fn seal(
    key: &[u8; 32],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    secret: &ActorSecret,
) -> Result<[u8; SEALED_LEN], &'static str> {
    let payload = Payload {
        msg: secret.expose(),
        aad,
    };
    let sealed = cipher(key)?
        .encrypt(&XNonce::from(*nonce), payload)
        .map_err(|_| "XChaCha20-Poly1305 refused to encrypt 32 bytes")?;
    <[u8; SEALED_LEN]>::try_from(sealed.as_slice())
        .map_err(|_| "XChaCha20-Poly1305 output is not 48 bytes")
}

/// Decrypts a sealed secret; `Ok(None)` if the tag does not verify (wrong key, or any
/// byte of `aad`, `nonce` or `sealed` changed).
pub(crate) fn open(
    key: &[u8; 32],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    sealed: &[u8; SEALED_LEN],
) -> Result<Option<ActorSecret>, &'static str> {
    let payload = Payload { msg: sealed, aad };
    let Ok(plain) = cipher(key)?.decrypt(&XNonce::from(*nonce), payload) else {
        return Ok(None);
    };
    let plain = Zeroizing::new(plain);
    let mut bytes = <[u8; 32]>::try_from(plain.as_slice())
        .map_err(|_| "XChaCha20-Poly1305 plaintext is not 32 bytes")?;
    let secret = ActorSecret::from_bytes(bytes);
    bytes.zeroize();
    Ok(Some(secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_only_under_the_same_key_nonce_and_aad() {
        let secret = ActorSecret::from_bytes([9; 32]);
        let sealed = seal(&[1; 32], &[2; 24], b"aad", &secret).unwrap();
        assert_eq!(
            open(&[1; 32], &[2; 24], b"aad", &sealed).unwrap(),
            Some(secret)
        );
        assert_eq!(open(&[3; 32], &[2; 24], b"aad", &sealed).unwrap(), None);
        assert_eq!(open(&[1; 32], &[3; 24], b"aad", &sealed).unwrap(), None);
        assert_eq!(open(&[1; 32], &[2; 24], b"aaD", &sealed).unwrap(), None);
        let mut flipped = sealed;
        flipped[47] ^= 1;
        assert_eq!(open(&[1; 32], &[2; 24], b"aad", &flipped).unwrap(), None);
    }
}
