//! The mesh machine driven by an arbitrary operation stream
//! (`quorate_mesh_proto::mesh::testing::drive`): raw and well-formed frames from a real,
//! handshaken peer, clock jumps, application commands, backpressure and reconnects. The
//! interpreter asserts after every step that the machine sent only decodable frames,
//! stored and delivered only blocks matching their CIDs, and kept within its peer limit.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    quorate_mesh_proto::mesh::testing::drive(data);
});
