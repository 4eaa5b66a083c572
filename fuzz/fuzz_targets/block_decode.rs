//! Arbitrary bytes as a DAG-CBOR block: every decoder gives a typed error or an exact
//! round trip.
//!
//! The input is taken as the bytes of a DAG-CBOR block (`Cid::of(Codec::DagCbor, data)`,
//! then `Block::from_untrusted`, which must accept). Then, never panicking:
//! - `block.header()`;
//! - `block.decode::<T>()` for every block type in mesh-proto (`payloads::Text`,
//!   `payloads::FileManifest`). Each `Ok(envelope)` must re-encode to the very same block
//!   (`envelope.to_block().unwrap() == block`: same bytes, same CID), its header must read
//!   back as `T::TYPE` / `T::VERSION`, and `envelope.verify()` must return (Ok or Err).

#![no_main]
#![allow(clippy::expect_used, reason = "fuzz target: a panic is a found bug")]

use libfuzzer_sys::fuzz_target;
use quorate_mesh_proto::payloads::{FileManifest, Text};
use quorate_mesh_proto::{Block, BlockPayload, Cid, Codec, Header, MAX_BLOCK_SIZE};

fuzz_target!(|data: &[u8]| {
    let cid = Cid::of(Codec::DagCbor, data);
    let block = match Block::from_untrusted(&cid, data.to_vec()) {
        Ok(block) => block,
        Err(e) => {
            assert!(data.len() > MAX_BLOCK_SIZE, "own hash refused: {e}");
            return;
        }
    };
    let header = block.header();
    round_trips::<Text>(&block, header.as_ref().ok());
    round_trips::<FileManifest>(&block, header.as_ref().ok());
});

fn round_trips<T: BlockPayload>(block: &Block, header: Option<&Header>) {
    let Ok(envelope) = block.decode::<T>() else {
        return;
    };
    let again = envelope
        .to_block()
        .expect("a decoded envelope must re-encode");
    assert_eq!(again, *block, "accepted bytes are not canonical");
    assert_eq!(again.bytes(), block.bytes());
    let header = header.expect("decode accepted a block whose header does not parse");
    assert_eq!(header.kind, T::TYPE);
    assert_eq!(header.version, T::VERSION);
    let _ = envelope.verify();
}
