//! Arbitrary bytes as a mesh wire frame: `Frame::decode` gives a typed error or a frame
//! that re-encodes to exactly the input (one frame, one encoding).

#![no_main]
#![allow(clippy::expect_used, reason = "fuzz target: a panic is a found bug")]

use libfuzzer_sys::fuzz_target;
use quorate_mesh_proto::mesh::{Frame, MAX_FRAME_SIZE};

fuzz_target!(|data: &[u8]| {
    if let Ok(frame) = Frame::decode(data, MAX_FRAME_SIZE) {
        let again = frame.encode().expect("a decoded frame must re-encode");
        assert_eq!(&again[..], data, "accepted frame bytes are not canonical");
        frame
            .check_limits()
            .expect("a decoded frame is within limits");
    }
});
