//! DataChannel framing (`webrtc::framing`): `Reassembler::push` over a stream of messages
//! behaves exactly like a plain model and never yields a frame over its limit; `fragment`
//! then `push` gives a frame back.
//!
//! Input layout: `max || chunk || rest`.
//! - Round trip: `rest` is one frame, cut by `fragment` into messages of at most `chunk`
//!   payload bytes (0 means 1). Every message but the last has header `MORE`, the count is
//!   `max(1, ceil(len / chunk))`, and pushing them with a limit of `rest.len()` yields the
//!   frame once, at the last message; with a limit one byte short the last is `TooLarge`.
//! - Stream: `rest` is also a sequence of `len(1) || message` (the last may be short),
//!   pushed with a limit of `max` bytes. Each answer equals the model's: an empty message
//!   or a header other than `MORE`/`LAST` is `BadHeader` and changes nothing; a frame that
//!   would exceed `max` is `TooLarge` and dropped; otherwise bodies accumulate until
//!   `LAST`. A returned frame is at most `max` bytes.

#![no_main]
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "fuzz target: a panic is a found bug"
)]

use libfuzzer_sys::fuzz_target;
use quorate_mesh_transport::webrtc::framing::{FramingError, LAST, MORE, Reassembler, fragment};

fn round_trip(frame: &[u8], chunk: usize) {
    let mut msgs = Vec::new();
    let mut offset = Some(0);
    while let Some(o) = offset {
        let (msg, next) = fragment(frame, o, chunk);
        assert!(
            msg.len() <= chunk.max(1) + 1,
            "message of {} bytes",
            msg.len()
        );
        assert_eq!(msg[0], if next.is_some() { MORE } else { LAST });
        if let Some(n) = next {
            assert!(n > o && n < frame.len(), "offset {o} -> {n}");
        }
        msgs.push(msg);
        offset = next;
    }
    assert_eq!(msgs.len(), frame.len().div_ceil(chunk.max(1)).max(1));

    let mut r = Reassembler::default();
    let (last, init) = msgs.split_last().unwrap();
    for m in init {
        assert_eq!(r.push(m, frame.len()), Ok(None));
    }
    let whole = r.push(last, frame.len()).unwrap().unwrap();
    assert_eq!(&whole[..], frame);

    if let Some(short) = frame.len().checked_sub(1) {
        let mut r = Reassembler::default();
        for m in init {
            assert_eq!(r.push(m, short), Ok(None));
        }
        assert_eq!(r.push(last, short), Err(FramingError::TooLarge));
    }
}

fn stream(mut rest: &[u8], max: usize) {
    let mut r = Reassembler::default();
    let mut model: Vec<u8> = Vec::new();
    while let Some((&len, tail)) = rest.split_first() {
        let (msg, after) = tail.split_at(usize::from(len).min(tail.len()));
        rest = after;
        let expected = match msg.split_first() {
            Some((&h, body)) if h == MORE || h == LAST => {
                if model.len() + body.len() > max {
                    model.clear();
                    Err(FramingError::TooLarge)
                } else {
                    model.extend_from_slice(body);
                    Ok((h == LAST).then(|| std::mem::take(&mut model)))
                }
            }
            _ => Err(FramingError::BadHeader),
        };
        let got = r.push(msg, max).map(|f| f.map(|b| b.to_vec()));
        if let Ok(Some(frame)) = &got {
            assert!(frame.len() <= max, "frame of {} > {max}", frame.len());
        }
        assert_eq!(got, expected, "message {msg:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let [max, chunk, rest @ ..] = data else {
        return;
    };
    round_trip(rest, usize::from(*chunk));
    stream(rest, usize::from(*max));
});
