//! What only a persistent store must do: survive reopen, SIGKILL and corrupt files.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::cast_possible_truncation,
    reason = "test code: a panic is a failed test"
)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use quorate_mesh_blockstore::conformance::block_of_size;
use quorate_mesh_blockstore::{
    BlockStore, PinClass, PutOptions, RedbStore, StoreConfig, StoreError,
};
use quorate_mesh_proto::{Block, Duration, Instant};

fn open(path: &Path) -> Result<RedbStore, StoreError> {
    RedbStore::open(path, StoreConfig::default())
}

/// Block number `i` of the crash stream: sizes vary from 100 B to ~64 KiB.
fn stream_block(i: u32) -> Block {
    let size = 100 + ((i as usize * 7919) % 65_000);
    block_of_size(i, size)
}

#[test]
fn reopen_keeps_blocks_classes_ttls_and_stats() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    let pinned = block_of_size(1, 500);
    let cached = block_of_size(2, 300);
    let raw = Block::raw(vec![1u8; 4096]).unwrap();
    let stats = {
        let mut s = open(&path).unwrap();
        s.put(&pinned, PutOptions::pinned(PinClass::Attestation))
            .unwrap();
        s.put(
            &cached,
            PutOptions::cache().ttl(Instant::ZERO, Duration::from_secs(60)),
        )
        .unwrap();
        s.put(&raw, PutOptions::cache()).unwrap();
        s.stats()
    };
    let mut s = open(&path).unwrap();
    assert_eq!(s.stats(), stats);
    assert_eq!(s.get(pinned.cid()).unwrap(), Some(pinned.clone()));
    assert_eq!(s.get(raw.cid()).unwrap(), Some(raw));
    assert_eq!(
        s.meta(pinned.cid()).unwrap().unwrap().class,
        PinClass::Attestation
    );
    assert_eq!(s.list(PinClass::Attestation).unwrap(), vec![*pinned.cid()]);
    assert_eq!(
        s.expire(Instant::from_millis(60_000)).unwrap(),
        vec![*cached.cid()]
    );
    drop(s);
    assert_eq!(
        open(&path).unwrap().stats().blocks,
        2,
        "expiry is persisted"
    );
}

#[test]
fn reopen_keeps_retained_deadlines_and_group_messages() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    let config = StoreConfig::with_max_bytes(1_000);
    let held = block_of_size(1, 300);
    let member = block_of_size(2, 200);
    let upgraded = block_of_size(3, 100);
    let deadline = Instant::from_millis(90_000);
    let stats = {
        let mut s = RedbStore::open(&path, config).unwrap();
        s.put(&held, PutOptions::retained(Instant::from_millis(60_000)))
            .unwrap();
        // A merge that only moves the deadline is persisted too.
        s.put(&held, PutOptions::retained(deadline)).unwrap();
        s.put(&member, PutOptions::pinned(PinClass::GroupMessage))
            .unwrap();
        s.put(&upgraded, PutOptions::retained(deadline)).unwrap();
        s.put(&upgraded, PutOptions::pinned(PinClass::GroupEpoch))
            .unwrap();
        s.stats()
    };
    assert_eq!(stats.pinned_bytes, 600);
    let mut s = RedbStore::open(&path, config).unwrap();
    assert_eq!(s.stats(), stats);
    let class_and_deadline = |s: &RedbStore, b: &Block| {
        let m = s.meta(b.cid()).unwrap().unwrap();
        (m.class, m.expires_at)
    };
    assert_eq!(
        class_and_deadline(&s, &held),
        (PinClass::Retained, Some(deadline))
    );
    assert_eq!(
        class_and_deadline(&s, &member),
        (PinClass::GroupMessage, None)
    );
    assert_eq!(
        class_and_deadline(&s, &upgraded),
        (PinClass::GroupEpoch, None)
    );
    // Still pinned after the reopen: cache pressure cannot move it.
    match s.put(&block_of_size(4, 500), PutOptions::cache()) {
        Err(StoreError::Full { available: 400, .. }) => {}
        other => panic!("expected Full, got {other:?}"),
    }
    assert_eq!(s.expire(Instant::from_millis(89_999)).unwrap(), vec![]);
    assert_eq!(s.expire(deadline).unwrap(), vec![*held.cid()]);
    drop(s);
    let s = RedbStore::open(&path, config).unwrap();
    assert!(!s.has(held.cid()).unwrap(), "expiry is persisted");
    assert_eq!(s.stats().pinned_bytes, 300);
}

#[test]
fn lru_order_survives_reopen_as_write_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    let [a, b, c] = [1, 2, 3].map(|i| block_of_size(i, 100));
    {
        let mut s = RedbStore::open(&path, StoreConfig::with_max_bytes(300)).unwrap();
        for x in [&a, &b, &c] {
            s.put(x, PutOptions::cache()).unwrap();
        }
    }
    let mut s = RedbStore::open(&path, StoreConfig::with_max_bytes(300)).unwrap();
    let d = block_of_size(4, 100);
    let out = s.put(&d, PutOptions::cache()).unwrap();
    assert_eq!(
        out,
        quorate_mesh_blockstore::PutOutcome::Stored {
            evicted: vec![*a.cid()]
        }
    );
}

#[test]
fn a_second_open_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    let _first = open(&path).unwrap();
    let err = open(&path).unwrap_err();
    assert!(err.to_string().contains("already open"), "{err}");
}

// ---- crash safety ----

const CHILD_DIR: &str = "QUORATE_CRASH_CHILD_DIR";
const CHILD_START: &str = "QUORATE_CRASH_CHILD_START";

/// The child side of the crash test: puts blocks forever, printing `ok N` after each
/// acknowledged put (single puts and batches of 4 alternate). Does nothing when run
/// without the environment the parent sets.
#[test]
#[ignore = "run by sigkill_mid_stream_loses_no_acknowledged_put as a child process"]
fn crash_child() {
    let (Some(dir), Some(start)) = (std::env::var_os(CHILD_DIR), std::env::var_os(CHILD_START))
    else {
        return;
    };
    let start: u32 = start.to_str().unwrap().parse().unwrap();
    let mut store = open(&PathBuf::from(dir).join("crash.redb")).unwrap();
    let mut out = std::io::stdout().lock();
    let mut i = start;
    loop {
        if i.is_multiple_of(2) {
            store
                .put(&stream_block(i), PutOptions::pinned(PinClass::FeedEntry))
                .unwrap();
            writeln!(out, "ok {i}").unwrap();
            i += 1;
        } else {
            let batch: Vec<_> = (i..i + 4)
                .map(|j| (stream_block(j), PutOptions::pinned(PinClass::FeedEntry)))
                .collect();
            for r in store.put_many(&batch).unwrap() {
                r.unwrap();
            }
            for j in i..i + 4 {
                writeln!(out, "ok {j}").unwrap();
            }
            i += 4;
        }
        out.flush().unwrap();
    }
}

#[test]
fn sigkill_mid_stream_loses_no_acknowledged_put() {
    let dir = tempfile::tempdir().unwrap();
    let mut next = 0u32;
    let mut acked: Vec<u32> = Vec::new();
    for round in 0..6u32 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "crash_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_DIR, dir.path())
            .env(CHILD_START, next.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let want = 10 + round * 17; // kill at different points of the stream
        let mut seen = 0;
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if let Some(n) = line.strip_prefix("ok ") {
                acked.push(n.parse().unwrap());
                seen += 1;
                if seen >= want {
                    break;
                }
            }
        }
        child.kill().unwrap(); // SIGKILL on Unix: no destructors, no flush
        child.wait().unwrap();

        let mut store = open(&dir.path().join("crash.redb"))
            .unwrap_or_else(|e| panic!("round {round}: store must reopen after SIGKILL: {e}"));
        for &i in &acked {
            let block = stream_block(i);
            assert_eq!(
                store.get(block.cid()).unwrap().as_ref(),
                Some(&block),
                "round {round}: acknowledged put {i} lost"
            );
        }
        // The child may have written more than it acknowledged; start after all of it.
        next = acked.iter().max().map_or(0, |m| m + 1) + 1_000;
    }
    assert!(acked.len() >= 6 * 10);
}

// ---- corrupt files ----

fn populated(dir: &Path) -> PathBuf {
    let path = dir.join("s.redb");
    let mut s = open(&path).unwrap();
    for i in 0..50 {
        s.put(&block_of_size(i, 2_000), PutOptions::pinned(PinClass::Vote))
            .unwrap();
    }
    path
}

/// Opening must fail cleanly (or, if redb can read the file, every read is checked) and
/// the file must be left exactly as it was.
fn assert_rejected_without_damage(path: &Path, what: &str) {
    let before = std::fs::read(path).unwrap();
    match open(path) {
        Err(e) => {
            let msg = e.to_string();
            assert!(
                msg.contains(&path.display().to_string()) || matches!(e, StoreError::Corrupt(_)),
                "{what}: {msg}"
            );
        }
        Ok(mut s) => {
            // redb found a consistent state; every block it serves must still be genuine.
            for i in 0..50 {
                let b = block_of_size(i, 2_000);
                if let Ok(Some(got)) = s.get(b.cid()) {
                    assert_eq!(got, b, "{what}");
                }
            }
            return;
        }
    }
    assert_eq!(
        std::fs::read(path).unwrap(),
        before,
        "{what}: a failed open modified the file"
    );
}

#[test]
fn garbage_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    std::fs::write(&path, b"this is a text file, not a database\n".repeat(100)).unwrap();
    let err = open(&path).unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err}");
    assert_rejected_without_damage(&path, "text file");
    let noise: Vec<u8> = (0..100_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&path, noise).unwrap();
    assert!(open(&path).is_err());
    assert_rejected_without_damage(&path, "random bytes");
}

#[test]
fn truncated_file_is_a_clear_error() {
    for keep in [10usize, 100, 511, 4096] {
        let dir = tempfile::tempdir().unwrap();
        let path = populated(dir.path());
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..keep.min(bytes.len())]).unwrap();
        let err = open(&path).expect_err("a truncated store must not open as if whole");
        assert!(matches!(err, StoreError::Open { .. }), "keep {keep}: {err}");
        assert_rejected_without_damage(&path, "truncated");
    }
}

#[test]
fn flipped_bytes_never_panic_or_serve_wrong_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = populated(dir.path());
    let pristine = std::fs::read(&path).unwrap();
    let len = pristine.len();
    for k in 0..40usize {
        let mut bytes = pristine.clone();
        let at = (k * 7_919 + 13) % len;
        bytes[at] ^= 0xA5;
        bytes[(at + len / 2) % len] ^= 0x5A;
        std::fs::write(&path, &bytes).unwrap();
        assert_rejected_without_damage(&path, &format!("flip at {at}"));
    }
}
