//! Untrusted bytes against every decoder: a typed error or an exact round trip, never a
//! panic. The fuzz targets in `fuzz/` run the same properties with coverage guidance.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::cast_possible_truncation,
    reason = "test code: a panic is a failed test"
)]

use proptest::prelude::*;
use quorate_mesh_proto::ed25519_dalek::SigningKey;
use quorate_mesh_proto::payloads::{FileManifest, Text};
use quorate_mesh_proto::{Block, BlockPayload, Cid, Codec, DecodeError, MAX_BLOCK_SIZE};

/// Decodes `bytes` as every block type; each success must re-encode to the same bytes.
fn decode_all(bytes: &[u8]) {
    let cid = Cid::of(Codec::DagCbor, bytes);
    let Ok(block) = Block::from_untrusted(&cid, bytes.to_vec()) else {
        assert!(bytes.len() > MAX_BLOCK_SIZE);
        return;
    };
    let _ = block.header();
    round_trips::<Text>(&block);
    round_trips::<FileManifest>(&block);
}

fn round_trips<T: BlockPayload>(block: &Block) {
    if let Ok(env) = block.decode::<T>() {
        assert_eq!(
            env.to_block().unwrap(),
            *block,
            "accepted bytes must be canonical"
        );
        let _ = env.verify();
    }
}

fn arb_text() -> impl Strategy<Value = Text> {
    any::<String>().prop_map(|body| Text { body })
}

fn arb_cid() -> impl Strategy<Value = Cid> {
    (any::<bool>(), any::<[u8; 32]>())
        .prop_map(|(raw, d)| Cid::from_digest(if raw { Codec::Raw } else { Codec::DagCbor }, d))
}

fn arb_manifest() -> impl Strategy<Value = FileManifest> {
    (
        any::<String>(),
        any::<u64>(),
        proptest::option::of("[a-z]{1,8}/[a-z]{1,8}"),
        prop::collection::vec(arb_cid(), 0..8),
    )
        .prop_map(|(name, size, mime, chunks)| FileManifest {
            name,
            size,
            mime,
            chunks,
        })
}

/// A valid encoding of some block, signed or not.
fn arb_valid_bytes() -> impl Strategy<Value = Vec<u8>> {
    let key = SigningKey::from_bytes(&[9; 32]);
    prop_oneof![
        arb_text().prop_map(|t| Block::encode(&t).unwrap().bytes().to_vec()),
        arb_manifest().prop_map(|m| Block::encode(&m).unwrap().bytes().to_vec()),
        arb_text().prop_map(move |t| Block::encode_signed(&t, &key).unwrap().bytes().to_vec()),
    ]
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Truncate(usize),
}

fn arb_mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1..=255u8).prop_map(|(i, x)| Mutation::Flip(i, x)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, x)| Mutation::Insert(i, x)),
        any::<usize>().prop_map(Mutation::Remove),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(mut bytes: Vec<u8>, m: &Mutation) -> Vec<u8> {
    let n = bytes.len().max(1);
    match *m {
        Mutation::Flip(i, x) => {
            if let Some(b) = bytes.get_mut(i % n) {
                *b ^= x;
            }
        }
        Mutation::Insert(i, x) => bytes.insert(i % (bytes.len() + 1), x),
        Mutation::Remove(i) => {
            if !bytes.is_empty() {
                bytes.remove(i % n);
            }
        }
        Mutation::Truncate(i) => bytes.truncate(i % n),
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        decode_all(&bytes);
    }

    #[test]
    fn mutated_valid_blocks_give_typed_errors_or_round_trip(
        bytes in arb_valid_bytes(),
        mutations in prop::collection::vec(arb_mutation(), 1..4),
    ) {
        let mutated = mutations.iter().fold(bytes, mutate);
        decode_all(&mutated);
    }

    #[test]
    fn text_round_trips(text in arb_text()) {
        let block = Block::encode(&text).unwrap();
        let back = Block::from_untrusted(block.cid(), block.bytes().clone()).unwrap();
        prop_assert_eq!(back.decode::<Text>().unwrap().payload, text);
    }

    #[test]
    fn manifest_round_trips(m in arb_manifest()) {
        let block = Block::encode(&m).unwrap();
        prop_assert_eq!(block.decode::<FileManifest>().unwrap().payload, m);
    }

    #[test]
    fn signatures_bind_payload_and_signer(body in any::<String>(), seed in any::<[u8; 32]>()) {
        let key = SigningKey::from_bytes(&seed);
        let block = Block::encode_signed(&Text { body: body.clone() }, &key).unwrap();
        let mut env = block.decode::<Text>().unwrap();
        prop_assert_eq!(env.verify().unwrap(), key.verifying_key());
        env.payload.body.push('!');
        prop_assert!(env.verify().is_err());
    }

    #[test]
    fn cid_text_and_binary_round_trip(cid in arb_cid()) {
        prop_assert_eq!(Cid::from_bytes(&cid.to_bytes()).unwrap(), cid);
        prop_assert_eq!(cid.to_string().parse::<Cid>().unwrap(), cid);
    }

    #[test]
    fn cid_parsers_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64), s in ".{0,80}") {
        let _ = Cid::from_bytes(&bytes);
        let _ = s.parse::<Cid>();
    }
}

// ---- hand-made malformed inputs, one per rule ----

fn dagcbor_block(hex_bytes: &str) -> Block {
    let bytes = hex::decode(hex_bytes).unwrap();
    Block::from_untrusted(&Cid::of(Codec::DagCbor, &bytes), bytes).unwrap()
}

// CBOR pieces of `{"type":"text","payload":{"body":"hi"},"version":1}`. DAG-CBOR sorts
// keys by length, then bytes: type < payload < version.
const TYPE_KV: &str = "6474797065" /* "type" */;
const TEXT: &str = "6474657874" /* "text" */;
const PAYLOAD_K: &str = "677061796c6f6164" /* "payload" */;
const BODY_HI: &str = "a164626f6479626869" /* {"body":"hi"} */;
const VERSION_K: &str = "6776657273696f6e" /* "version" */;

fn cat(parts: &[&str]) -> String {
    parts.concat()
}

fn text_hi() -> String {
    cat(&["a3", TYPE_KV, TEXT, PAYLOAD_K, BODY_HI, VERSION_K, "01"])
}

#[test]
fn canonical_reference_decodes() {
    let env = dagcbor_block(&text_hi()).decode::<Text>().unwrap();
    assert_eq!(env.payload.body, "hi");
    assert_eq!(
        Block::encode(&Text { body: "hi".into() })
            .unwrap()
            .bytes()
            .to_vec(),
        hex::decode(text_hi()).unwrap()
    );
}

#[test]
fn non_minimal_integer_is_rejected() {
    let hex = cat(&["a3", TYPE_KV, TEXT, PAYLOAD_K, BODY_HI, VERSION_K, "1801"]);
    let err = dagcbor_block(&hex).decode::<Text>().unwrap_err();
    assert!(
        matches!(err, DecodeError::NonCanonical | DecodeError::Malformed(_)),
        "{err:?}"
    );
}

#[test]
fn non_minimal_length_is_rejected() {
    // "hi" with a one-byte length prefix (0x78 0x02) instead of 0x62
    let body = "a164626f6479780268 69".replace(' ', "");
    let hex = cat(&["a3", TYPE_KV, TEXT, PAYLOAD_K, &body, VERSION_K, "01"]);
    let err = dagcbor_block(&hex).decode::<Text>().unwrap_err();
    assert!(
        matches!(err, DecodeError::NonCanonical | DecodeError::Malformed(_)),
        "{err:?}"
    );
}

#[test]
fn unsorted_keys_are_rejected() {
    let hex = cat(&["a3", VERSION_K, "01", TYPE_KV, TEXT, PAYLOAD_K, BODY_HI]);
    // The DAG-CBOR parser itself refuses unordered keys; the re-encode check would too.
    let err = dagcbor_block(&hex).decode::<Text>().unwrap_err();
    assert!(
        matches!(&err, DecodeError::Malformed(m) if m.contains("UnorderedKey")),
        "{err:?}"
    );
}

#[test]
fn extra_payload_field_is_rejected() {
    // payload {"x":0,"body":"hi"}: serde ignores "x", the re-encode check does not
    let payload = "a2617800 64626f6479626869".replace(' ', "");
    let hex = cat(&["a3", TYPE_KV, TEXT, PAYLOAD_K, &payload, VERSION_K, "01"]);
    assert_eq!(
        dagcbor_block(&hex).decode::<Text>().unwrap_err(),
        DecodeError::NonCanonical
    );
}

#[test]
fn extra_envelope_field_is_rejected() {
    let hex = cat(&[
        "a4", "617800", TYPE_KV, TEXT, PAYLOAD_K, BODY_HI, VERSION_K, "01",
    ]);
    assert!(matches!(
        dagcbor_block(&hex).decode::<Text>().unwrap_err(),
        DecodeError::Malformed(_)
    ));
}

#[test]
fn null_signature_is_rejected() {
    let hex = cat(&[
        "a4",
        "63736967f6", /* "sig": null */
        TYPE_KV,
        TEXT,
        PAYLOAD_K,
        BODY_HI,
        VERSION_K,
        "01",
    ]);
    assert_eq!(
        dagcbor_block(&hex).decode::<Text>().unwrap_err(),
        DecodeError::NonCanonical
    );
}

#[test]
fn unknown_version_and_wrong_type_are_named() {
    let hex = cat(&["a3", TYPE_KV, TEXT, PAYLOAD_K, BODY_HI, VERSION_K, "02"]);
    assert_eq!(
        dagcbor_block(&hex).decode::<Text>().unwrap_err(),
        DecodeError::UnsupportedVersion {
            kind: "text",
            found: 2,
            supported: 1
        }
    );
    assert_eq!(
        dagcbor_block(&text_hi())
            .decode::<FileManifest>()
            .unwrap_err(),
        DecodeError::WrongType {
            expected: "file",
            found: "text".into()
        }
    );
    assert_eq!(dagcbor_block(&text_hi()).header().unwrap().version, 1);
}

#[test]
fn trailing_bytes_are_rejected() {
    let hex = text_hi() + "00";
    assert!(matches!(
        dagcbor_block(&hex).decode::<Text>().unwrap_err(),
        DecodeError::Malformed(_)
    ));
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    // payload: 100k nested one-element arrays
    let mut bytes = hex::decode(cat(&["a3", TYPE_KV, TEXT, PAYLOAD_K])).unwrap();
    bytes.extend(std::iter::repeat_n(0x81u8, 100_000));
    bytes.push(0x00);
    let block = Block::from_untrusted(&Cid::of(Codec::DagCbor, &bytes), bytes).unwrap();
    assert!(block.decode::<Text>().is_err());
    assert!(block.header().is_err());
}

#[test]
fn huge_length_prefix_does_not_allocate() {
    // payload.chunks claims 2^63 elements
    let chunks = "a166636875 6e6b739b7fffffffffffffff".replace(' ', "");
    let bytes = hex::decode(cat(&[
        "a3",
        TYPE_KV,
        "6466696c65", /* "file" */
        PAYLOAD_K,
        &chunks,
    ]))
    .unwrap();
    let block = Block::from_untrusted(&Cid::of(Codec::DagCbor, &bytes), bytes).unwrap();
    assert!(block.decode::<FileManifest>().is_err());
}
