//! Transport-neutral WebRTC signaling: signed offer/answer/candidate messages, no IO.
//!
//! A [`SignalMessage`] says who sends (`from`), to whom (`to`), for which connection attempt
//! (`session`, chosen at random by the dialer) and what ([`SignalBody`]: an SDP offer, an
//! SDP answer, or trickled ICE candidates). [`SignalMessage::sign`] turns it into opaque
//! bytes that can travel over anything — the rendezvous server, the mesh's own relayed
//! signaling (`Input::SendSignal` / `Event::Signal`), or copy-paste — and
//! [`SignedSignal::open`] checks them at the other end.
//!
//! # Wire format
//! Canonical DAG-CBOR, the project's one encoding (the same strict decoder, the same
//! "decode, re-encode, byte-compare" rule as blocks and mesh frames; JSON would need its own
//! canonical form and a second parser). The payload is a two-field map
//!
//! ```text
//! { "p": bytes(signed), "s": bytes(64) }
//! signed = { "t": "quorate/webrtc-signal", "v": 1, "from": bytes(32), "to": bytes(32),
//!            "session": u64, "body": { "offer": sdp } | { "answer": sdp }
//!                                    | { "candidates": [candidate-line, …] } }
//! s      = Ed25519(from, Domain::Signaling.tag() || signed)
//! ```
//!
//! The signed bytes are carried as a byte string, so the signature is checked over exactly
//! the bytes received **before** they are parsed (as [`Block::from_untrusted`] hashes before
//! parsing). The whole payload is at most [`MAX_SIGNAL_SIZE`] (16 KiB, the mesh's
//! `MAX_SIGNAL_PAYLOAD`), so it always fits one relayed mesh signal.
//!
//! # Security
//! The SDP carries the DTLS certificate fingerprint; DTLS then proves that the peer holds
//! the certificate. Signing the SDP with the node key binds that certificate to the node
//! id, so a signaling server or relay that substitutes SDP (to sit in the middle of DTLS)
//! is caught here, and the mesh handshake inside the channel proves the node key again.
//! `to` is signed, so a signal cannot be redirected to another node; `session` is signed,
//! so an answer cannot be replayed into another attempt. A signal can still be *replayed*
//! verbatim: the adapters drop offers whose `(from, session)` they have seen, and an old
//! answer matches no pending session. The signing domain is the project's
//! [`Domain::Signaling`], which the mesh also uses for its relay frames; the two signed
//! structures cannot be confused because ours is a map with a `"t"` tag that a mesh
//! `Frame` never has.
//!
//! [`Block::from_untrusted`]: quorate_mesh_proto::Block::from_untrusted

use ed25519_dalek::Signature;
use quorate_mesh_proto::Domain;
use quorate_mesh_proto::mesh::{MAX_SIGNAL_PAYLOAD, NodeId, NodeKey};
use serde::{Deserialize, Serialize};

/// Largest signed signal payload: the mesh's relayed-signal limit (16 KiB).
pub const MAX_SIGNAL_SIZE: usize = MAX_SIGNAL_PAYLOAD;
/// Most candidate lines in one [`SignalBody::Candidates`].
pub const MAX_CANDIDATES: usize = 32;
/// The type tag inside the signed bytes.
const TYPE_TAG: &str = "quorate/webrtc-signal";
/// The format version.
const VERSION: u32 = 1;

/// What a signal carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum SignalBody {
    /// An SDP offer (the dialer's first message). Its host candidates are inside.
    #[serde(rename = "offer")]
    Offer(String),
    /// The SDP answer to the offer of the same session.
    #[serde(rename = "answer")]
    Answer(String),
    /// Trickled ICE candidates (`candidate:…` lines) for the session.
    #[serde(rename = "candidates")]
    Candidates(Vec<String>),
}

/// One signaling message, before signing or after verification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignalMessage {
    /// The sending node.
    pub from: NodeId,
    /// The node it is for.
    pub to: NodeId,
    /// The connection attempt, chosen at random by the dialer and echoed by the answerer.
    pub session: u64,
    /// The content.
    pub body: SignalBody,
}

/// Why a signal payload was refused. Everything but [`SignalError::Encode`] is the fault of
/// whoever produced the bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignalError {
    /// Larger than [`MAX_SIGNAL_SIZE`]; not parsed.
    #[error("signal of {size} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Size of the payload.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// Not a well-formed signal (bad DAG-CBOR, not canonical, wrong tag or version, too
    /// many candidates).
    #[error("malformed signal: {0}")]
    Malformed(&'static str),
    /// The claimed sender's id is not a valid Ed25519 key.
    #[error("sender id is not a valid key")]
    BadSenderKey,
    /// The signature does not verify under the expected sender's key.
    #[error("signal signature does not verify")]
    BadSignature,
    /// Validly signed by `expected`, but the signed `from` names another node.
    #[error("signal says it is from {claimed:?}, expected {expected:?}")]
    WrongSender {
        /// The sender the caller expected.
        expected: NodeId,
        /// The sender named inside.
        claimed: NodeId,
    },
    /// Addressed to another node.
    #[error("signal is for {to:?}, not us")]
    WrongRecipient {
        /// The node it is addressed to.
        to: NodeId,
    },
    /// Our own message could not be encoded (too large an SDP, say).
    #[error("signal cannot be encoded: {0}")]
    Encode(&'static str),
}

#[derive(Serialize, Deserialize)]
struct Signed {
    t: String,
    v: u32,
    from: NodeId,
    to: NodeId,
    session: u64,
    body: SignalBody,
}

#[derive(Serialize, Deserialize)]
struct Outer {
    #[serde(with = "serde_bytes")]
    p: Vec<u8>,
    #[serde(with = "serde_bytes")]
    s: Vec<u8>,
}

/// A signed, encoded signal: the bytes that travel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedSignal(Vec<u8>);

impl SignedSignal {
    /// The payload bytes (at most [`MAX_SIGNAL_SIZE`]).
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The payload bytes, owned.
    #[must_use]
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    /// Checks a payload received from `from` and addressed to `me`: size, encoding,
    /// signature by `from`'s key (before parsing the signed part), then sender and
    /// recipient. Never panics on any input.
    ///
    /// # Errors
    /// A [`SignalError`] naming the first check that failed.
    pub fn open(payload: &[u8], from: NodeId, me: NodeId) -> Result<SignalMessage, SignalError> {
        let outer = decode_outer(payload)?;
        let key = from.verifying_key().ok_or(SignalError::BadSenderKey)?;
        let sig = <[u8; 64]>::try_from(outer.s.as_slice())
            .map_err(|_| SignalError::Malformed("signature is not 64 bytes"))?;
        Domain::Signaling
            .verify(&key, &outer.p, &Signature::from_bytes(&sig))
            .map_err(|_| SignalError::BadSignature)?;
        let msg = decode_signed(&outer.p)?;
        if msg.from != from {
            return Err(SignalError::WrongSender {
                expected: from,
                claimed: msg.from,
            });
        }
        if msg.to != me {
            return Err(SignalError::WrongRecipient { to: msg.to });
        }
        Ok(msg)
    }

    /// Reads the claimed sender and recipient **without verifying anything**: for a
    /// carrier that does not know who sent a payload (copy-paste). Pass the sender to
    /// [`SignedSignal::open`], which does verify, and decide yourself whether you want to
    /// talk to that node.
    ///
    /// # Errors
    /// A [`SignalError`] if the payload does not parse.
    pub fn peek(payload: &[u8]) -> Result<(NodeId, NodeId), SignalError> {
        let outer = decode_outer(payload)?;
        let msg = decode_signed(&outer.p)?;
        Ok((msg.from, msg.to))
    }
}

impl SignalMessage {
    /// Encodes and signs with `key` (whose id must be `self.from`, else the receiver
    /// rejects it).
    ///
    /// # Errors
    /// [`SignalError::Encode`] if encoding fails or the result exceeds [`MAX_SIGNAL_SIZE`].
    pub fn sign(&self, key: &NodeKey) -> Result<SignedSignal, SignalError> {
        if let SignalBody::Candidates(c) = &self.body
            && c.len() > MAX_CANDIDATES
        {
            return Err(SignalError::Encode("too many candidates"));
        }
        let signed = Signed {
            t: TYPE_TAG.into(),
            v: VERSION,
            from: self.from,
            to: self.to,
            session: self.session,
            body: self.body.clone(),
        };
        let p = serde_ipld_dagcbor::to_vec(&signed).map_err(|_| SignalError::Encode("body"))?;
        let s = Domain::Signaling
            .sign(key.signing_key(), &p)
            .to_bytes()
            .to_vec();
        let bytes = serde_ipld_dagcbor::to_vec(&Outer { p, s })
            .map_err(|_| SignalError::Encode("envelope"))?;
        if bytes.len() > MAX_SIGNAL_SIZE {
            return Err(SignalError::Encode("larger than MAX_SIGNAL_SIZE"));
        }
        Ok(SignedSignal(bytes))
    }
}

fn decode_outer(payload: &[u8]) -> Result<Outer, SignalError> {
    if payload.len() > MAX_SIGNAL_SIZE {
        return Err(SignalError::TooLarge {
            size: payload.len(),
            max: MAX_SIGNAL_SIZE,
        });
    }
    let outer: Outer = serde_ipld_dagcbor::from_slice(payload)
        .map_err(|_| SignalError::Malformed("not a signal envelope"))?;
    let again = serde_ipld_dagcbor::to_vec(&outer)
        .map_err(|_| SignalError::Malformed("envelope does not re-encode"))?;
    if again != payload {
        return Err(SignalError::Malformed("envelope is not canonical"));
    }
    Ok(outer)
}

fn decode_signed(bytes: &[u8]) -> Result<SignalMessage, SignalError> {
    let signed: Signed = serde_ipld_dagcbor::from_slice(bytes)
        .map_err(|_| SignalError::Malformed("not a signal"))?;
    let again = serde_ipld_dagcbor::to_vec(&signed)
        .map_err(|_| SignalError::Malformed("signal does not re-encode"))?;
    if again != bytes {
        return Err(SignalError::Malformed("signal is not canonical"));
    }
    if signed.t != TYPE_TAG || signed.v != VERSION {
        return Err(SignalError::Malformed("unknown signal type or version"));
    }
    if let SignalBody::Candidates(c) = &signed.body
        && c.len() > MAX_CANDIDATES
    {
        return Err(SignalError::Malformed("too many candidates"));
    }
    Ok(SignalMessage {
        from: signed.from,
        to: signed.to,
        session: signed.session,
        body: signed.body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> NodeKey {
        NodeKey::from_secret([n; 32])
    }

    fn offer(from: &NodeKey, to: &NodeKey) -> SignalMessage {
        SignalMessage {
            from: from.id(),
            to: to.id(),
            session: 42,
            body: SignalBody::Offer("v=0\r\n".into()),
        }
    }

    #[test]
    fn round_trip_and_rejections() {
        let (a, b, c) = (key(1), key(2), key(3));
        let msg = offer(&a, &b);
        let signed = msg.sign(&a).unwrap();
        assert_eq!(
            SignedSignal::open(signed.as_bytes(), a.id(), b.id()),
            Ok(msg.clone())
        );
        assert_eq!(SignedSignal::peek(signed.as_bytes()), Ok((a.id(), b.id())));
        // Wrong recipient, wrong expected sender.
        assert_eq!(
            SignedSignal::open(signed.as_bytes(), a.id(), c.id()),
            Err(SignalError::WrongRecipient { to: b.id() })
        );
        assert_eq!(
            SignedSignal::open(signed.as_bytes(), c.id(), b.id()),
            Err(SignalError::BadSignature)
        );
        // Re-signed by someone else, claiming to be `a`.
        let forged = msg.sign(&c).unwrap();
        assert_eq!(
            SignedSignal::open(forged.as_bytes(), a.id(), b.id()),
            Err(SignalError::BadSignature)
        );
        // Re-signed by `c` and presented as from `c`: the inside still says `a`.
        assert_eq!(
            SignedSignal::open(forged.as_bytes(), c.id(), b.id()),
            Err(SignalError::WrongSender {
                expected: c.id(),
                claimed: a.id()
            })
        );
        // Every single-byte flip is rejected, without panicking.
        let bytes = signed.as_bytes();
        for i in 0..bytes.len() {
            let mut bad = bytes.to_vec();
            bad[i] ^= 0x01;
            assert!(
                SignedSignal::open(&bad, a.id(), b.id()).is_err(),
                "byte {i}"
            );
        }
        // Truncations and garbage.
        for n in 0..bytes.len() {
            assert!(SignedSignal::open(&bytes[..n], a.id(), b.id()).is_err());
        }
        assert!(SignedSignal::open(&[0xff; 100], a.id(), b.id()).is_err());
        assert_eq!(
            SignedSignal::open(&vec![0; MAX_SIGNAL_SIZE + 1], a.id(), b.id()),
            Err(SignalError::TooLarge {
                size: MAX_SIGNAL_SIZE + 1,
                max: MAX_SIGNAL_SIZE
            })
        );
    }

    #[test]
    fn oversize_bodies_are_refused_when_signing() {
        let (a, b) = (key(1), key(2));
        let mut msg = offer(&a, &b);
        msg.body = SignalBody::Answer("x".repeat(MAX_SIGNAL_SIZE));
        assert!(matches!(msg.sign(&a), Err(SignalError::Encode(_))));
        msg.body = SignalBody::Candidates(vec!["c".into(); MAX_CANDIDATES + 1]);
        assert!(matches!(msg.sign(&a), Err(SignalError::Encode(_))));
        msg.body = SignalBody::Candidates(vec!["candidate:1 1 udp 1 127.0.0.1 9 typ host".into()]);
        let signed = msg.sign(&a).unwrap();
        assert_eq!(
            SignedSignal::open(signed.as_bytes(), a.id(), b.id()),
            Ok(msg)
        );
    }
}
