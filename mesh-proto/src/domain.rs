//! Domain separation: the one table of signature contexts.
//!
//! Every Ed25519 signature in Quorate is over `domain_tag || canonical_bytes`, where the
//! tag comes from [`Domain`]. A signature made for one purpose (say a handshake) can then
//! never be replayed as another (say a vote), even when the signed bytes happen to match.
//! Tags are ASCII, unique, and end in a NUL byte that occurs nowhere else in a tag, so no
//! tag is a prefix of another and `tag || bytes` splits one way only.
//!
//! Adding a signature anywhere in the project means adding a variant here — nowhere else.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

/// A signature context: every Ed25519 signature in Quorate is over `tag || bytes`.
///
/// A signature made for one purpose (say a handshake) can never be replayed as another
/// (say a vote), even when the signed bytes happen to match. Tags are ASCII, unique, and
/// end in their only NUL byte, so no tag is a prefix of another. Adding a signature
/// anywhere in the project means adding a variant here, nowhere else.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Domain {
    /// Object-level signature of a block [`Envelope`](crate::Envelope)
    /// (`type`, `version`, `payload`; the block type is inside the signed bytes).
    Envelope,
    /// Mesh handshake: node id, protocol versions, advertised limits.
    MeshHandshake,
    /// WebRTC signaling payloads (SDP offers/answers, ICE) signed by the node key.
    Signaling,
    /// Actor feed entries.
    FeedEntry,
    /// Global rendezvous envelopes.
    GlobalEnvelope,
    /// Governance votes: `hash(proposalId || voteValue || epoch)`.
    Vote,
    /// Group attestations under the group key `PK_G`.
    GroupAttestation,
    /// FROST committee protocol messages (DKG, signing, resharing) signed by a member.
    Committee,
    /// Encrypted group messages, signed by their author.
    GroupMessage,
    /// Co-admin certificates of a group, signed by the granter.
    CoAdmin,
}

impl Domain {
    /// Every domain, in table order.
    pub const ALL: [Domain; 10] = [
        Domain::Envelope,
        Domain::MeshHandshake,
        Domain::Signaling,
        Domain::FeedEntry,
        Domain::GlobalEnvelope,
        Domain::Vote,
        Domain::GroupAttestation,
        Domain::Committee,
        Domain::GroupMessage,
        Domain::CoAdmin,
    ];

    /// The tag prefixed to the signed bytes.
    #[must_use]
    pub const fn tag(self) -> &'static [u8] {
        match self {
            Domain::Envelope => b"quorate/envelope/v1\0",
            Domain::MeshHandshake => b"quorate/mesh-handshake/v1\0",
            Domain::Signaling => b"quorate/signaling/v1\0",
            Domain::FeedEntry => b"quorate/feed-entry/v1\0",
            Domain::GlobalEnvelope => b"quorate/global-envelope/v1\0",
            Domain::Vote => b"quorate/vote/v1\0",
            Domain::GroupAttestation => b"quorate/group-attestation/v1\0",
            Domain::Committee => b"quorate/committee/v1\0",
            Domain::GroupMessage => b"quorate/group-message/v1\0",
            Domain::CoAdmin => b"quorate/co-admin/v1\0",
        }
    }

    /// `tag || bytes`: the exact message that is signed.
    #[must_use]
    pub fn message(self, bytes: &[u8]) -> Vec<u8> {
        let tag = self.tag();
        let mut msg = Vec::with_capacity(tag.len() + bytes.len());
        msg.extend_from_slice(tag);
        msg.extend_from_slice(bytes);
        msg
    }

    /// Signs `tag || bytes`.
    #[must_use]
    pub fn sign(self, key: &SigningKey, bytes: &[u8]) -> Signature {
        key.sign(&self.message(bytes))
    }

    /// Verifies a signature over `tag || bytes` with RFC 8032 strict rules
    /// (no small-order keys, canonical `S`).
    ///
    /// # Errors
    /// [`SignatureError`] if the signature does not verify.
    pub fn verify(
        self,
        key: &VerifyingKey,
        bytes: &[u8],
        signature: &Signature,
    ) -> Result<(), SignatureError> {
        key.verify_strict(&self.message(bytes), signature)
            .map_err(|_| SignatureError { domain: self })
    }
}

/// A signature did not verify under the given key and domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("signature does not verify in domain {domain:?}")]
pub struct SignatureError {
    /// The domain that was checked.
    pub domain: Domain,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_unique_prefix_free_and_nul_terminated() {
        for (i, a) in Domain::ALL.iter().enumerate() {
            let tag = a.tag();
            assert_eq!(tag.last(), Some(&0), "{a:?} must end in NUL");
            assert_eq!(tag.iter().filter(|b| **b == 0).count(), 1, "{a:?}: one NUL");
            assert!(tag.iter().all(|b| b.is_ascii()), "{a:?}: ASCII");
            for b in Domain::ALL.iter().skip(i + 1) {
                assert!(
                    !b.tag().starts_with(tag) && !tag.starts_with(b.tag()),
                    "{a:?} {b:?}"
                );
            }
        }
    }

    #[test]
    fn a_signature_does_not_cross_domains() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let sig = Domain::Vote.sign(&key, b"same bytes");
        assert!(
            Domain::Vote
                .verify(&key.verifying_key(), b"same bytes", &sig)
                .is_ok()
        );
        for other in Domain::ALL.into_iter().filter(|d| *d != Domain::Vote) {
            assert_eq!(
                other.verify(&key.verifying_key(), b"same bytes", &sig),
                Err(SignatureError { domain: other })
            );
        }
        assert!(
            Domain::Vote
                .verify(&key.verifying_key(), b"other bytes", &sig)
                .is_err()
        );
    }
}
