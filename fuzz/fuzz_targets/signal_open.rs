//! Signed WebRTC signaling payloads (`webrtc::signaling`): `SignedSignal::peek` and
//! `SignedSignal::open` never panic and agree with each other, and `sign` → `open` gives
//! the message back.
//!
//! Input layout: `mode || rest`.
//! - `mode & 1 == 0` (decode): `rest = from(32) || me(32) || payload`; the payload is
//!   opened as from `from` to `me`, and as from/to whatever `peek` claims.
//! - `mode & 1 == 1` (sign): `rest = secret(32) || to(32) || session(8, BE) || text`; the
//!   body is an offer (`mode & 6 == 0`), an answer (`2`) or the lines of `text` as
//!   candidates (`4`, `6`); `text` is read as lossy UTF-8.
//!
//! Asserted:
//! - `Ok(msg) = open(p, from, me)` ⇒ `msg.from == from`, `msg.to == me`,
//!   `peek(p) == Ok((from, me))`, at most `MAX_CANDIDATES` candidates;
//! - `peek` fails ⇒ `open` fails; `TooLarge` exactly above `MAX_SIGNAL_SIZE`, from both;
//! - `Ok((f, t)) = peek(p)` ⇒ `open(p, f, t)` is `Ok` with those ids or a key/signature
//!   error, never a parse, sender or recipient error;
//! - `WrongSender`/`WrongRecipient` name what `peek` reads;
//! - `sign` succeeds unless there are too many candidates or the text is near
//!   `MAX_SIGNAL_SIZE`, its bytes are at most `MAX_SIGNAL_SIZE`, and they open to the same
//!   message and pass the decode checks above.

#![no_main]
#![allow(clippy::panic, reason = "fuzz target: a panic is a found bug")]

use libfuzzer_sys::fuzz_target;
use quorate_mesh_proto::mesh::{NodeId, NodeKey};
use quorate_mesh_transport::webrtc::signaling::{
    MAX_CANDIDATES, MAX_SIGNAL_SIZE, SignalBody, SignalError, SignalMessage, SignedSignal,
};

/// Room left for everything but the text in a signed signal (ids, signature, tags, CBOR
/// headers): far more than needed.
const OVERHEAD: usize = 512;

fn id(bytes: &[u8]) -> Option<NodeId> {
    Some(NodeId::from_bytes(bytes.try_into().ok()?))
}

fn check_decode(payload: &[u8], from: NodeId, me: NodeId) {
    let peeked = SignedSignal::peek(payload);
    let opened = SignedSignal::open(payload, from, me);
    for e in [&peeked.as_ref().err(), &opened.as_ref().err()]
        .into_iter()
        .flatten()
    {
        let _ = e.to_string();
        assert!(!matches!(e, SignalError::Encode(_)), "decode error {e:?}");
    }
    let too_large = payload.len() > MAX_SIGNAL_SIZE;
    for r in [peeked.as_ref().err(), opened.as_ref().err()] {
        assert_eq!(
            matches!(r, Some(SignalError::TooLarge { .. })),
            too_large,
            "TooLarge for {} bytes: {r:?}",
            payload.len()
        );
    }
    match &opened {
        Ok(msg) => {
            assert_eq!((msg.from, msg.to), (from, me));
            assert_eq!(peeked, Ok((from, me)));
            if let SignalBody::Candidates(c) = &msg.body {
                assert!(c.len() <= MAX_CANDIDATES, "{} candidates", c.len());
            }
        }
        Err(SignalError::WrongSender { expected, claimed }) => {
            assert_eq!(*expected, from);
            assert_ne!(*claimed, from);
            assert_eq!(peeked.as_ref().map(|p| p.0), Ok(*claimed));
        }
        Err(SignalError::WrongRecipient { to }) => {
            assert_ne!(*to, me);
            assert_eq!(peeked, Ok((from, *to)));
        }
        Err(_) => {}
    }
    match peeked {
        Err(_) => assert!(opened.is_err(), "peek refused what open accepted"),
        Ok((f, t)) => match SignedSignal::open(payload, f, t) {
            Ok(msg) => assert_eq!((msg.from, msg.to), (f, t)),
            Err(SignalError::BadSenderKey | SignalError::BadSignature) => {}
            Err(SignalError::Malformed(why)) => {
                assert_eq!(why, "signature is not 64 bytes", "peek parsed it");
            }
            Err(e) => panic!("open as from/to what peek read: {e:?}"),
        },
    }
}

fn check_sign(mode: u8, rest: &[u8]) {
    let (Some(secret), Some(to), Some(session)) = (
        rest.get(..32).and_then(|b| <[u8; 32]>::try_from(b).ok()),
        rest.get(32..64).and_then(id),
        rest.get(64..72).and_then(|b| <[u8; 8]>::try_from(b).ok()),
    ) else {
        return;
    };
    let key = NodeKey::from_secret(secret);
    let text = String::from_utf8_lossy(rest.get(72..).unwrap_or_default()).into_owned();
    let text_len = text.len();
    let body = match mode & 6 {
        0 => SignalBody::Offer(text),
        2 => SignalBody::Answer(text),
        _ => SignalBody::Candidates(text.split('\n').map(String::from).collect()),
    };
    let too_many = matches!(&body, SignalBody::Candidates(c) if c.len() > MAX_CANDIDATES);
    let msg = SignalMessage {
        from: key.id(),
        to,
        session: u64::from_be_bytes(session),
        body,
    };
    match msg.sign(&key) {
        Ok(signed) => {
            assert!(!too_many, "signed more than MAX_CANDIDATES candidates");
            let bytes = signed.as_bytes();
            assert!(bytes.len() <= MAX_SIGNAL_SIZE, "{} bytes", bytes.len());
            assert_eq!(SignedSignal::open(bytes, key.id(), to), Ok(msg));
            assert_eq!(SignedSignal::peek(bytes), Ok((key.id(), to)));
            check_decode(bytes, key.id(), to);
        }
        Err(SignalError::Encode(why)) => assert!(
            too_many || text_len + OVERHEAD > MAX_SIGNAL_SIZE,
            "refused to sign {text_len} bytes of text: {why}"
        ),
        Err(e) => panic!("sign: {e:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 1 {
        check_sign(mode, rest);
        return;
    }
    let (Some(from), Some(me)) = (rest.get(..32).and_then(id), rest.get(32..64).and_then(id))
    else {
        return;
    };
    check_decode(rest.get(64..).unwrap_or_default(), from, me);
});
