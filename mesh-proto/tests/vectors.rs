//! Golden vectors: the exact bytes and CIDs of known blocks.
//!
//! A red test here is a wire-format break. Regenerate on purpose only:
//! `QUORATE_BLESS=1 cargo test -p quorate-mesh-proto --test vectors`, and say why in the commit.
//! `interop/js/check-vectors.mjs` checks the same file with the reference JavaScript
//! multiformats and DAG-CBOR implementations.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::cast_possible_truncation,
    reason = "test code: a panic is a failed test"
)]

use quorate_mesh_proto::ed25519_dalek::SigningKey;
use quorate_mesh_proto::payloads::{FileManifest, Text};
use quorate_mesh_proto::{Block, Cid, Codec};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, PartialEq, Debug)]
struct Vector {
    name: String,
    /// `dag-cbor` or `raw`.
    codec: String,
    /// The envelope `type`, for DAG-CBOR vectors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
    hex: String,
    cid: String,
}

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/blocks.json");

fn key() -> SigningKey {
    // RFC 8032 test 1 secret key: a fixed, public key, so signatures are reproducible.
    let sk =
        hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60").unwrap();
    SigningKey::from_bytes(&sk.try_into().unwrap())
}

fn build() -> Vec<(String, Block)> {
    let chunk_a = Block::raw(&b"hello "[..]).unwrap();
    let chunk_b = Block::raw(&b"world"[..]).unwrap();
    vec![
        ("raw-empty".into(), Block::raw(&b""[..]).unwrap()),
        (
            "raw-hello-world".into(),
            Block::raw(&b"hello world"[..]).unwrap(),
        ),
        (
            "text-unsigned".into(),
            Block::encode(&Text {
                body: "hello mesh".into(),
            })
            .unwrap(),
        ),
        (
            "text-signed".into(),
            Block::encode_signed(
                &Text {
                    body: "hello mesh".into(),
                },
                &key(),
            )
            .unwrap(),
        ),
        (
            "text-unicode".into(),
            Block::encode(&Text {
                body: "quorum ≥ 10% — ✓".into(),
            })
            .unwrap(),
        ),
        (
            "file-manifest".into(),
            Block::encode(&FileManifest {
                name: "hello.txt".into(),
                size: 11,
                mime: Some("text/plain".into()),
                chunks: vec![*chunk_a.cid(), *chunk_b.cid()],
            })
            .unwrap(),
        ),
        (
            "file-manifest-no-mime".into(),
            Block::encode(&FileManifest {
                name: String::new(),
                size: 0,
                mime: None,
                chunks: vec![],
            })
            .unwrap(),
        ),
    ]
}

fn to_vector(name: String, block: &Block) -> Vector {
    let (codec, kind) = match block.cid().codec() {
        Codec::DagCbor => ("dag-cbor", Some(block.header().unwrap().kind)),
        _ => ("raw", None),
    };
    Vector {
        name,
        codec: codec.into(),
        kind,
        hex: hex::encode(block.bytes()),
        cid: block.cid().to_string(),
    }
}

#[test]
fn golden_vectors_are_stable() {
    let fresh: Vec<Vector> = build().into_iter().map(|(n, b)| to_vector(n, &b)).collect();
    if std::env::var_os("QUORATE_BLESS").is_some() {
        std::fs::write(PATH, serde_json::to_string_pretty(&fresh).unwrap() + "\n").unwrap();
    }
    let stored: Vec<Vector> =
        serde_json::from_str(&std::fs::read_to_string(PATH).unwrap()).unwrap();
    assert_eq!(
        stored, fresh,
        "wire format changed: see the module docs before blessing"
    );
}

#[test]
fn stored_vectors_decode_and_reencode() {
    let stored: Vec<Vector> =
        serde_json::from_str(&std::fs::read_to_string(PATH).unwrap()).unwrap();
    for v in stored {
        let cid: Cid = v.cid.parse().unwrap();
        assert!(v.cid.starts_with(if v.codec == "raw" {
            "bafkrei"
        } else {
            "bafyrei"
        }));
        let block = Block::from_untrusted(&cid, hex::decode(&v.hex).unwrap()).unwrap();
        match v.kind.as_deref() {
            Some("text") => assert_eq!(block.decode::<Text>().unwrap().to_block().unwrap(), block),
            Some("file") => {
                assert_eq!(
                    block.decode::<FileManifest>().unwrap().to_block().unwrap(),
                    block
                )
            }
            Some(other) => panic!("vector of unknown type {other}"),
            None => assert_eq!(cid.codec(), Codec::Raw),
        }
    }
}

#[test]
fn signed_vector_verifies_under_the_rfc8032_key() {
    let stored: Vec<Vector> =
        serde_json::from_str(&std::fs::read_to_string(PATH).unwrap()).unwrap();
    let v = stored.iter().find(|v| v.name == "text-signed").unwrap();
    let block =
        Block::from_untrusted(&v.cid.parse().unwrap(), hex::decode(&v.hex).unwrap()).unwrap();
    assert_eq!(
        block.decode::<Text>().unwrap().verify().unwrap(),
        key().verifying_key()
    );
}
