//! Frames over DataChannel messages: a one-byte fragmentation header.
//!
//! A mesh frame can be up to `MAX_FRAME_SIZE` (≈ 2 MiB); DataChannel messages should stay
//! far smaller (SCTP implementations advertise 64–256 KiB as `max-message-size`, browsers
//! 256 KiB, and str0m's SCTP spends most of its CPU on large in-flight windows). So every
//! frame is cut into messages of at most `chunk size` payload bytes, each prefixed with
//!
//! ```text
//! 0x00  more fragments of this frame follow
//! 0x01  last (or only) fragment of this frame
//! ```
//!
//! The channel is reliable and ordered, so reassembly is concatenation until a `0x01`
//! message. An empty frame is the single message `[0x01]`. Any other header byte, an empty
//! message, or a frame growing past the receiver's limit is a protocol violation: the
//! adapter closes the connection (the peer does not speak this framing).

use bytes::Bytes;

/// Header byte: more fragments follow.
pub const MORE: u8 = 0x00;
/// Header byte: the last fragment of a frame.
pub const LAST: u8 = 0x01;

/// The next message of `frame` starting at `offset` (at most `chunk` payload bytes plus the
/// header), and the offset of the message after it (`None` once this was the last).
#[must_use]
pub fn fragment(frame: &[u8], offset: usize, chunk: usize) -> (Vec<u8>, Option<usize>) {
    let chunk = chunk.max(1);
    let rest = frame.get(offset..).unwrap_or_default();
    let take = rest.len().min(chunk);
    let last = take == rest.len();
    let mut msg = Vec::with_capacity(take + 1);
    msg.push(if last { LAST } else { MORE });
    msg.extend_from_slice(rest.get(..take).unwrap_or_default());
    (msg, (!last).then_some(offset + take))
}

/// A framing violation by the peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FramingError {
    /// Empty message or unknown header byte.
    #[error("empty message or unknown fragment header")]
    BadHeader,
    /// The frame being reassembled exceeds the limit.
    #[error("reassembled frame exceeds the limit")]
    TooLarge,
}

/// Reassembles frames from the messages of one channel, in order.
#[derive(Debug, Default)]
pub struct Reassembler {
    buf: Vec<u8>,
}

impl Reassembler {
    /// Takes one message; returns a whole frame when this message completes one.
    ///
    /// # Errors
    /// [`FramingError`] on a bad header, or when the frame would exceed `max` bytes (the
    /// partial frame is dropped).
    pub fn push(&mut self, msg: &[u8], max: usize) -> Result<Option<Bytes>, FramingError> {
        let Some((&header, body)) = msg.split_first() else {
            return Err(FramingError::BadHeader);
        };
        if header != MORE && header != LAST {
            return Err(FramingError::BadHeader);
        }
        if self.buf.len() + body.len() > max {
            self.buf = Vec::new();
            return Err(FramingError::TooLarge);
        }
        if header == LAST && self.buf.is_empty() {
            return Ok(Some(Bytes::copy_from_slice(body)));
        }
        self.buf.extend_from_slice(body);
        if header == LAST {
            return Ok(Some(Bytes::from(std::mem::take(&mut self.buf))));
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(frame: &[u8], chunk: usize) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut offset = Some(0);
        while let Some(o) = offset {
            let (msg, next) = fragment(frame, o, chunk);
            out.push(msg);
            offset = next;
        }
        out
    }

    #[test]
    fn round_trips() {
        for len in [0usize, 1, 5, 16, 17, 100] {
            let frame: Vec<u8> = (0..len).map(|i| u8::try_from(i % 256).unwrap()).collect();
            let msgs = split(&frame, 16);
            assert_eq!(msgs.len(), len.div_ceil(16).max(1));
            let mut r = Reassembler::default();
            let mut got = Vec::new();
            for m in &msgs {
                got.extend(r.push(m, 1000).unwrap());
            }
            assert_eq!(got, vec![Bytes::from(frame)]);
        }
    }

    #[test]
    fn violations() {
        let mut r = Reassembler::default();
        assert_eq!(r.push(&[], 10), Err(FramingError::BadHeader));
        assert_eq!(r.push(&[2, 1], 10), Err(FramingError::BadHeader));
        assert_eq!(r.push(&[MORE; 8], 10), Ok(None));
        assert_eq!(r.push(&[LAST; 5], 10), Err(FramingError::TooLarge));
        assert_eq!(r.push(&[LAST, 9], 10), Ok(Some(Bytes::from_static(&[9]))));
    }
}
