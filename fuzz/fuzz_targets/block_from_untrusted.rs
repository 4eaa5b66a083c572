//! `Block::from_untrusted` accepts exactly the bytes that hash to the CID asked for.
//!
//! Input layout: `mode || rest`.
//! - `mode & 1 == 0`: the expected CID is the real hash of `rest` (codec raw if
//!   `mode & 2`, DAG-CBOR otherwise). `from_untrusted` must accept.
//! - `mode & 1 == 1`: the expected CID is `rest[..36]` parsed with `Cid::from_bytes`
//!   (input skipped if that fails) and the block bytes are `rest[36..]`; almost always a
//!   mismatch.
//!
//! Asserted, whatever the input:
//! - `Ok(block)` ⇒ `block.bytes() == bytes`, `block.cid() == expected` and
//!   `block.cid() == Cid::of(expected.codec(), bytes)`;
//! - `Err(CidMismatch { expected: e, actual })` ⇒ `e == expected`, `actual` is the real
//!   hash of the bytes and `actual != expected`;
//! - `Err(TooLarge)` only above `MAX_BLOCK_SIZE`;
//! - `from_untrusted_with_limit` with a limit one byte short of the input is `TooLarge`.

#![no_main]
#![allow(clippy::panic, reason = "fuzz target: a panic is a found bug")]

use libfuzzer_sys::fuzz_target;
use quorate_mesh_proto::{Block, BlockError, CID_LEN, Cid, Codec, MAX_BLOCK_SIZE};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let codec = if mode & 2 == 0 {
        Codec::DagCbor
    } else {
        Codec::Raw
    };
    let real_hash = mode & 1 == 0;
    let (expected, bytes) = if real_hash {
        (Cid::of(codec, rest), rest)
    } else {
        let Some((cid_bytes, bytes)) = rest.split_at_checked(CID_LEN) else {
            return;
        };
        let Ok(cid) = Cid::from_bytes(cid_bytes) else {
            return;
        };
        (cid, bytes)
    };

    match Block::from_untrusted(&expected, bytes.to_vec()) {
        Ok(block) => {
            assert_eq!(
                block.bytes().as_ref(),
                bytes,
                "block bytes differ from input"
            );
            assert_eq!(
                *block.cid(),
                expected,
                "block CID differs from the one asked for"
            );
            assert_eq!(
                *block.cid(),
                Cid::of(expected.codec(), bytes),
                "accepted block does not hash to its CID"
            );
            let (cid, owned) = block.into_parts();
            assert_eq!(cid, expected);
            assert_eq!(owned.as_ref(), bytes);
        }
        Err(BlockError::CidMismatch {
            expected: reported,
            actual,
        }) => {
            assert!(!real_hash, "the real hash of the bytes was refused");
            assert_eq!(reported, expected, "mismatch names another expected CID");
            assert_eq!(actual, Cid::of(expected.codec(), bytes));
            assert_ne!(actual, expected, "CidMismatch between equal CIDs");
        }
        Err(BlockError::TooLarge { size, max }) => {
            assert_eq!(size, bytes.len());
            assert_eq!(max, MAX_BLOCK_SIZE);
            assert!(size > max, "TooLarge for a block within the limit");
        }
        Err(other) => panic!("unexpected error {other:?}"),
    }

    // A limit one byte short must refuse before hashing, whatever the CID.
    if let Some(limit) = bytes.len().checked_sub(1) {
        assert!(matches!(
            Block::from_untrusted_with_limit(&expected, bytes.to_vec(), limit),
            Err(BlockError::TooLarge { .. })
        ));
    }
});
