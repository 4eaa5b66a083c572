//! The mesh machine fed arbitrary operation streams (the same interpreter as the
//! `mesh_machine` fuzz target): no panic, no undecodable frame sent, nothing unverified
//! stored. Frames: every decoded frame re-encodes to the same bytes.

#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    reason = "test code: a panic is a failed test"
)]

use proptest::prelude::*;
use quorate_mesh_proto::mesh::{Frame, MAX_FRAME_SIZE, testing};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn machine_survives_arbitrary_operation_streams(data in prop::collection::vec(any::<u8>(), 0..2_048)) {
        testing::drive(&data);
    }

    #[test]
    fn frame_decode_is_total_and_round_trips(data in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(frame) = Frame::decode(&data, MAX_FRAME_SIZE) {
            prop_assert_eq!(frame.encode().unwrap().to_vec(), data);
        }
    }
}

/// Structured streams: mostly well-formed frames, so deep paths run too.
#[test]
fn machine_survives_structured_streams() {
    for seed in 0u32..64 {
        let data: Vec<u8> = (0..4_096u32)
            .map(|i| {
                (i.wrapping_mul(2_654_435_761)
                    .wrapping_add(seed.wrapping_mul(40_503))
                    >> 11) as u8
            })
            .collect();
        testing::drive(&data);
    }
}

/// Regenerates the frame seeds of the fuzz corpus:
/// `cargo test -p quorate-mesh-proto --test mesh_bytes -- --ignored write_frame_seeds`.
#[test]
#[ignore = "writes fuzz/seeds/frame_decode"]
fn write_frame_seeds() {
    use quorate_mesh_proto::mesh::{BlockFrame, GossipFrame, Head, Topic, TopicIds, WantEntry};
    use quorate_mesh_proto::{Block, payloads::Text};
    let block = Block::encode(&Text {
        body: "seed".into(),
    })
    .unwrap();
    let cid = *block.cid();
    let topic = Topic::global();
    let frames = [
        Frame::Have(vec![cid]),
        Frame::Want(vec![WantEntry {
            cid,
            priority: 9,
            cancel: false,
        }]),
        Frame::Block(BlockFrame {
            cid,
            data: block.bytes().to_vec(),
        }),
        Frame::Gossip(GossipFrame {
            topic: topic.clone(),
            cid,
            hops: 1,
            data: Some(block.bytes().to_vec()),
        }),
        Frame::IHave(TopicIds {
            topic: topic.clone(),
            cids: vec![cid],
        }),
        Frame::Prune(topic.clone()),
        Frame::Subscribe(vec![topic]),
        Frame::Heads(vec![Head {
            name: "feed/x".into(),
            seq: 3,
            cid,
        }]),
        Frame::Ping(7),
        Frame::Bye("bye".into()),
    ];
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/seeds/frame_decode");
    std::fs::create_dir_all(dir).unwrap();
    for (i, f) in frames.iter().enumerate() {
        std::fs::write(format!("{dir}/frame{i}"), f.encode().unwrap()).unwrap();
    }
}
