//! Actor keys: one 32-byte secret, two keys derived from it.
//!
//! An actor's whole identity is a 32-byte [`ActorSecret`]. Two keys come out of it with
//! HKDF-SHA256 (RFC 5869), each under its own label, so neither key says anything about
//! the other:
//!
//! - an Ed25519 signing key (profiles, feed entries, presence, votes);
//! - an X25519 encryption key (HPKE envelopes addressed to the actor, group key envelopes).
//!
//! One secret means one thing to back up: the recovery phrase is that secret as 24
//! BIP-39 words, the keystore encrypts those 32 bytes, and the log-in-anywhere backup
//! carries them.

use ed25519_dalek::{SigningKey, VerifyingKey};
use hkdf::Hkdf;
use rand_core::CryptoRngCore;
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::id::ActorId;

const SIGNING_LABEL: &[u8] = b"quorate/actor/signing-key/v1";
const ENCRYPTION_LABEL: &[u8] = b"quorate/actor/encryption-key/v1";

/// The 32 bytes an actor's keys derive from. Wiped on drop; `Debug` does not print it.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct ActorSecret([u8; 32]);

impl ActorSecret {
    /// A fresh secret from `rng` (the caller's seeded or OS generator).
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        ActorSecret(bytes)
    }

    /// Wraps 32 bytes (from a keystore, a backup, a recovery phrase).
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        ActorSecret(bytes)
    }

    /// The secret bytes. Handle with care.
    #[must_use]
    pub const fn expose(&self) -> &[u8; 32] {
        &self.0
    }

    fn derive(&self, label: &[u8]) -> [u8; 32] {
        let mut out = [0u8; 32];
        // HKDF-Expand of 32 bytes cannot fail (the limit is 255 * 32).
        let _ = Hkdf::<Sha256>::new(None, &self.0).expand(label, &mut out);
        out
    }
}

impl core::fmt::Debug for ActorSecret {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("ActorSecret(..)")
    }
}

/// An actor's key pair set, derived from its [`ActorSecret`].
#[derive(Clone)]
pub struct Identity {
    secret: ActorSecret,
    signing: SigningKey,
    encryption: x25519_dalek::StaticSecret,
    id: ActorId,
}

impl Identity {
    /// A new identity from `rng`.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        Identity::from_secret(ActorSecret::generate(rng))
    }

    /// The identity a secret derives.
    #[must_use]
    pub fn from_secret(secret: ActorSecret) -> Self {
        let mut signing_seed = secret.derive(SIGNING_LABEL);
        let mut encryption_seed = secret.derive(ENCRYPTION_LABEL);
        let signing = SigningKey::from_bytes(&signing_seed);
        let encryption = x25519_dalek::StaticSecret::from(encryption_seed);
        signing_seed.zeroize();
        encryption_seed.zeroize();
        let id = ActorId::of(&signing.verifying_key());
        Identity {
            secret,
            signing,
            encryption,
            id,
        }
    }

    /// `SHA-256(signing public key)`.
    #[must_use]
    pub const fn id(&self) -> ActorId {
        self.id
    }

    /// The secret everything derives from.
    #[must_use]
    pub const fn secret(&self) -> &ActorSecret {
        &self.secret
    }

    /// The Ed25519 signing key.
    #[must_use]
    pub const fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    /// The Ed25519 public key.
    #[must_use]
    pub fn verifying_key(&self) -> VerifyingKey {
        self.signing.verifying_key()
    }

    /// The X25519 secret key (HPKE recipient key).
    #[must_use]
    pub const fn encryption_secret(&self) -> &x25519_dalek::StaticSecret {
        &self.encryption
    }

    /// The X25519 public key.
    #[must_use]
    pub fn encryption_public(&self) -> x25519_dalek::PublicKey {
        x25519_dalek::PublicKey::from(&self.encryption)
    }
}

impl core::fmt::Debug for Identity {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Identity")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_deterministic_distinct_and_bound_to_the_id() {
        let a = Identity::from_secret(ActorSecret::from_bytes([1; 32]));
        let again = Identity::from_secret(ActorSecret::from_bytes([1; 32]));
        let b = Identity::from_secret(ActorSecret::from_bytes([2; 32]));
        assert_eq!(a.id(), again.id());
        assert_eq!(a.encryption_public(), again.encryption_public());
        assert_ne!(a.id(), b.id());
        assert_ne!(
            a.verifying_key().as_bytes(),
            a.encryption_public().as_bytes()
        );
        assert!(a.id().is_key_of(&a.verifying_key()));
        assert!(!format!("{:?}", a.secret()).contains('1'));
    }
}
