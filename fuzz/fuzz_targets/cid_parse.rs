//! The CID parsers accept only what they can print back.
//!
//! - Binary: if `Cid::from_bytes(data)` is Ok, `cid.to_bytes() == data` (exactly one
//!   accepted binary form per CID: no trailing bytes, no non-minimal varints), and the
//!   text form of that CID parses back to it.
//! - Text: if `data` is UTF-8 and `data.parse::<Cid>()` is Ok, parsing its `to_string()`
//!   gives the same CID, and so does `Cid::from_bytes` of its `to_bytes()`. (Any multibase
//!   is accepted on input, so the printed text need not equal `data`.)

#![no_main]
#![allow(clippy::unwrap_used, reason = "fuzz target: a panic is a found bug")]

use libfuzzer_sys::fuzz_target;
use quorate_mesh_proto::Cid;

fuzz_target!(|data: &[u8]| {
    if let Ok(cid) = Cid::from_bytes(data) {
        assert_eq!(
            cid.to_bytes().as_slice(),
            data,
            "binary CID does not round trip"
        );
        assert_eq!(cid.to_string().parse::<Cid>().unwrap(), cid);
    }
    if let Ok(text) = core::str::from_utf8(data)
        && let Ok(cid) = text.parse::<Cid>()
    {
        let printed = cid.to_string();
        assert_eq!(
            printed.parse::<Cid>().unwrap(),
            cid,
            "printed CID {printed} parses to another CID"
        );
        assert_eq!(Cid::from_bytes(&cid.to_bytes()).unwrap(), cid);
    }
});
