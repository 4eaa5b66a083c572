//! The conformance suite every [`BlockStore`] must pass (feature `test-util`).
//!
//! Each case takes a factory that makes an **empty** store for a given [`StoreConfig`] and
//! panics (with the case name) on failure, so it works under any test harness: native
//! `#[test]`s through [`conformance_tests!`](crate::conformance_tests), or
//! `wasm-bindgen-test` in a browser through [`run_all`].
//!
//! ```
//! quorate_mesh_blockstore::conformance_tests!(memory, |config| {
//!     quorate_mesh_blockstore::MemoryStore::new(config)
//! });
//! ```

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers: a panic is a failed case"
)]

use quorate_mesh_proto::payloads::Text;
use quorate_mesh_proto::{Block, Cid, Duration, Instant, PinClass};

use crate::{BlockStore, PutOptions, PutOutcome, StoreConfig, StoreError, StoreStats};

/// A factory of empty stores.
pub type Factory<'a, S> = &'a mut dyn FnMut(StoreConfig) -> S;

/// A text block whose encoding is exactly `size` bytes (`size` ≥ 40), distinct per `tag`.
#[must_use]
pub fn block_of_size(tag: u32, size: usize) -> Block {
    let head = format!("{tag}:");
    let overhead = Block::encode(&Text { body: head.clone() }).unwrap().len();
    // The body's CBOR length prefix grows at 24 and 256 bytes; adjust until exact.
    let mut pad = size.saturating_sub(overhead);
    loop {
        let body = format!("{head}{}", "x".repeat(pad));
        let block = Block::encode(&Text { body }).unwrap();
        match block.len().cmp(&size) {
            core::cmp::Ordering::Equal => return block,
            core::cmp::Ordering::Greater if pad > 0 => pad -= 1,
            core::cmp::Ordering::Less => pad += 1,
            core::cmp::Ordering::Greater => return block,
        }
    }
}

fn config(max_bytes: u64) -> StoreConfig {
    StoreConfig::with_max_bytes(max_bytes)
}

fn t(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

/// Every case, by name.
pub const CASES: &[&str] = &[
    "put_get_round_trip",
    "missing_blocks_are_not_errors",
    "put_is_idempotent",
    "raw_and_dag_cbor_blocks",
    "pin_beats_cache_on_re_put",
    "ttl_expires_cache_blocks_only",
    "ttl_merge_keeps_the_later_deadline",
    "lru_evicts_least_recently_used",
    "eviction_frees_enough_for_a_large_block",
    "pinned_blocks_are_never_evicted",
    "full_store_changes_nothing",
    "per_block_limit",
    "remove_works_for_any_class",
    "list_by_class_is_sorted",
    "stats_account_every_byte",
    "put_many_reports_per_block",
    "retained_is_never_evicted",
    "retained_expires_at_its_deadline_not_before",
    "retained_merge_rules",
    "retained_without_deadline_is_rejected",
    "retained_bytes_are_pinned_until_expired",
];

/// Runs one case by name.
///
/// # Panics
/// If the case fails or the name is unknown.
pub fn run_case<S: BlockStore>(name: &str, make: Factory<'_, S>) {
    match name {
        "put_get_round_trip" => put_get_round_trip(make),
        "missing_blocks_are_not_errors" => missing_blocks_are_not_errors(make),
        "put_is_idempotent" => put_is_idempotent(make),
        "raw_and_dag_cbor_blocks" => raw_and_dag_cbor_blocks(make),
        "pin_beats_cache_on_re_put" => pin_beats_cache_on_re_put(make),
        "ttl_expires_cache_blocks_only" => ttl_expires_cache_blocks_only(make),
        "ttl_merge_keeps_the_later_deadline" => ttl_merge_keeps_the_later_deadline(make),
        "lru_evicts_least_recently_used" => lru_evicts_least_recently_used(make),
        "eviction_frees_enough_for_a_large_block" => eviction_frees_enough_for_a_large_block(make),
        "pinned_blocks_are_never_evicted" => pinned_blocks_are_never_evicted(make),
        "full_store_changes_nothing" => full_store_changes_nothing(make),
        "per_block_limit" => per_block_limit(make),
        "remove_works_for_any_class" => remove_works_for_any_class(make),
        "list_by_class_is_sorted" => list_by_class_is_sorted(make),
        "stats_account_every_byte" => stats_account_every_byte(make),
        "put_many_reports_per_block" => put_many_reports_per_block(make),
        "retained_is_never_evicted" => retained_is_never_evicted(make),
        "retained_expires_at_its_deadline_not_before" => {
            retained_expires_at_its_deadline_not_before(make);
        }
        "retained_merge_rules" => retained_merge_rules(make),
        "retained_without_deadline_is_rejected" => retained_without_deadline_is_rejected(make),
        "retained_bytes_are_pinned_until_expired" => retained_bytes_are_pinned_until_expired(make),
        other => panic!("unknown conformance case {other}"),
    }
}

/// Runs every case.
///
/// # Panics
/// On the first failing case.
pub fn run_all<S: BlockStore>(make: Factory<'_, S>) {
    for name in CASES {
        run_case(name, make);
    }
}

/// Expands to a module with one `#[test]` per conformance case.
#[macro_export]
macro_rules! conformance_tests {
    ($module:ident, $factory:expr) => {
        #[cfg(test)]
        mod $module {
            #[allow(unused_imports, reason = "the factory may name crate items")]
            use super::*;
            $crate::conformance_tests!(@cases $factory;
                put_get_round_trip missing_blocks_are_not_errors put_is_idempotent
                raw_and_dag_cbor_blocks pin_beats_cache_on_re_put ttl_expires_cache_blocks_only
                ttl_merge_keeps_the_later_deadline lru_evicts_least_recently_used
                eviction_frees_enough_for_a_large_block pinned_blocks_are_never_evicted
                full_store_changes_nothing per_block_limit remove_works_for_any_class
                list_by_class_is_sorted stats_account_every_byte put_many_reports_per_block
                retained_is_never_evicted retained_expires_at_its_deadline_not_before
                retained_merge_rules retained_without_deadline_is_rejected
                retained_bytes_are_pinned_until_expired);
            #[test]
            fn every_case_has_a_test() {
                assert_eq!($crate::conformance::CASES.len(), 21);
            }
        }
    };
    (@cases $factory:expr; $($case:ident)*) => {
        $(
            #[test]
            fn $case() {
                let mut make = $factory;
                $crate::conformance::run_case(stringify!($case), &mut make);
            }
        )*
    };
}

fn put_get_round_trip<S: BlockStore>(make: Factory<'_, S>) {
    let mut s = make(config(1 << 20));
    let b = block_of_size(1, 100);
    assert_eq!(
        s.put(&b, PutOptions::cache()).unwrap(),
        PutOutcome::Stored { evicted: vec![] }
    );
    assert!(s.has(b.cid()).unwrap());
    assert_eq!(s.get(b.cid()).unwrap(), Some(b.clone()));
    let meta = s.meta(b.cid()).unwrap().unwrap();
    assert_eq!(
        (meta.size, meta.class, meta.expires_at),
        (100, PinClass::Cache, None)
    );
}

fn missing_blocks_are_not_errors<S: BlockStore>(make: Factory<'_, S>) {
    let mut s = make(config(1 << 20));
    let cid = *block_of_size(1, 64).cid();
    assert_eq!(s.get(&cid).unwrap(), None);
    assert!(!s.has(&cid).unwrap());
    assert_eq!(s.meta(&cid).unwrap(), None);
    assert!(!s.remove(&cid).unwrap());
    assert_eq!(s.expire(t(1_000_000)).unwrap(), Vec::<Cid>::new());
}

fn put_is_idempotent<S: BlockStore>(make: Factory<'_, S>) {
    let mut s = make(config(1 << 20));
    let b = block_of_size(1, 200);
    s.put(&b, PutOptions::cache()).unwrap();
    let before = s.stats();
    assert_eq!(
        s.put(&b, PutOptions::cache()).unwrap(),
        PutOutcome::AlreadyPresent
    );
    assert_eq!(s.stats(), before);
    assert_eq!(before.blocks, 1);
    assert_eq!(before.bytes, 200);
}

fn raw_and_dag_cbor_blocks<S: BlockStore>(make: Factory<'_, S>) {
    let mut s = make(config(1 << 20));
    let raw = Block::raw(vec![7u8; 1000]).unwrap();
    let empty = Block::raw(Vec::new()).unwrap();
    let env = block_of_size(2, 64);
    for b in [&raw, &empty, &env] {
        s.put(b, PutOptions::cache()).unwrap();
    }
    for b in [&raw, &empty, &env] {
        assert_eq!(s.get(b.cid()).unwrap().as_ref(), Some(b));
    }
}

fn pin_beats_cache_on_re_put<S: BlockStore>(make: Factory<'_, S>) {
    let mut s = make(config(1 << 20));
    let a = block_of_size(1, 100);
    s.put(&a, PutOptions::cache().ttl(t(0), Duration::from_secs(1)))
        .unwrap();
    s.put(&a, PutOptions::pinned(PinClass::Vote)).unwrap();
    let m = s.meta(a.cid()).unwrap().unwrap();
    assert_eq!((m.class, m.expires_at), (PinClass::Vote, None));
    // A later cache put does not unpin.
    s.put(&a, PutOptions::cache()).unwrap();
    assert_eq!(s.meta(a.cid()).unwrap().unwrap().class, PinClass::Vote);
    assert_eq!(s.expire(t(10_000)).unwrap(), Vec::<Cid>::new());
    assert!(s.has(a.cid()).unwrap());
    assert_eq!(s.stats().pinned_bytes, 100);
}

fn ttl_expires_cache_blocks_only<S: BlockStore>(make: Factory<'_, S>) {
    let mut s = make(config(1 << 20));
    let soon = block_of_size(1, 64);
    let late = block_of_size(2, 64);
    let never = block_of_size(3, 64);
    let pinned = block_of_size(4, 64);
    s.put(
        &soon,
        PutOptions::cache().ttl(t(0), Duration::from_secs(10)),
    )
    .unwrap();
    s.put(
        &late,
        PutOptions::cache().ttl(t(0), Duration::from_secs(20)),
    )
    .unwrap();
    s.put(&never, PutOptions::cache()).unwrap();
    s.put(
        &pinned,
        PutOptions::pinned(PinClass::FeedEntry).ttl(t(0), Duration::from_secs(1)),
    )
    .unwrap();
    assert_eq!(s.expire(t(9_999)).unwrap(), Vec::<Cid>::new());
    assert_eq!(s.expire(t(10_000)).unwrap(), vec![*soon.cid()]);
    assert_eq!(s.get(soon.cid()).unwrap(), None);
    assert_eq!(s.expire(t(1_000_000)).unwrap(), vec![*late.cid()]);
    for kept in [&never, &pinned] {
        assert_eq!(s.get(kept.cid()).unwrap().as_ref(), Some(kept));
    }
    assert_eq!(s.stats().blocks, 2);
}

fn ttl_merge_keeps_the_later_deadline<S: BlockStore>(make: Factory<'_, S>) {
    let mut s = make(config(1 << 20));
    let a = block_of_size(1, 64);
    let b = block_of_size(2, 64);
    s.put(&a, PutOptions::cache().ttl(t(0), Duration::from_secs(5)))
        .unwrap();
    s.put(&a, PutOptions::cache().ttl(t(0), Duration::from_secs(50)))
        .unwrap();
    s.put(&a, PutOptions::cache().ttl(t(0), Duration::from_secs(1)))
        .unwrap();
    assert_eq!(
        s.meta(a.cid()).unwrap().unwrap().expires_at,
        Some(t(50_000))
    );
    s.put(&b, PutOptions::cache().ttl(t(0), Duration::from_secs(5)))
        .unwrap();
    s.put(&b, PutOptions::cache()).unwrap();
    assert_eq!(s.meta(b.cid()).unwrap().unwrap().expires_at, None);
    assert_eq!(s.expire(t(49_999)).unwrap(), Vec::<Cid>::new());
    assert_eq!(s.expire(t(50_000)).unwrap(), vec![*a.cid()]);
}

fn lru_evicts_least_recently_used<S: BlockStore>(make: Factory<'_, S>) {
    let mut s = make(config(300));
    let [a, b, c, d] = [1, 2, 3, 4].map(|i| block_of_size(i, 100));
    for x in [&a, &b, &c] {
        s.put(x, PutOptions::cache()).unwrap();
    }
    s.get(a.cid()).unwrap(); // a is now more recent than b
    assert_eq!(
        s.put(&d, PutOptions::cache()).unwrap(),
        PutOutcome::Stored {
            evicted: vec![*b.cid()]
        }
    );
    assert!(!s.has(b.cid()).unwrap());
    s.put(&a, PutOptions::cache()).unwrap(); // re-put is a use too: c is now oldest
    let e = block_of_size(5, 100);
    assert_eq!(
        s.put(&e, PutOptions::cache()).unwrap(),
        PutOutcome::Stored {
            evicted: vec![*c.cid()]
        }
    );
    assert_eq!(s.stats().bytes, 300);
}

fn eviction_frees_enough_for_a_large_block<S: BlockStore>(make: Factory<'_, S>) {
    let mut s = make(config(400));
    let small: Vec<Block> = (0..4).map(|i| block_of_size(i, 100)).collect();
    for b in &small {
        s.put(b, PutOptions::cache()).unwrap();
    }
    let big = block_of_size(99, 250);
    let evicted = match s.put(&big, PutOptions::cache()).unwrap() {
        PutOutcome::Stored { evicted } => evicted,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        evicted,
        vec![*small[0].cid(), *small[1].cid(), *small[2].cid()]
    );
    assert_eq!(s.stats().bytes, 350);
}

fn pinned_blocks_are_never_evicted<S: BlockStore>(make: Factory<'_, S>) {
    // One block of every class that is pinned for good (`Retained` has its own cases).
    let classes: Vec<PinClass> = PinClass::ALL
        .into_iter()
        .filter(|c| c.is_pinned() && !c.expires())
        .collect();
    let n = classes.len() as u64;
    let mut s = make(config(100 * n + 100));
    let pinned: Vec<Block> = (0..)
        .map(|i| block_of_size(i, 100))
        .take(classes.len())
        .collect();
    for (b, class) in pinned.iter().zip(classes) {
        s.put(b, PutOptions::pinned(class)).unwrap();
    }
    // Cache blocks churn through the remaining 100 bytes; pins stay.
    for i in 100..110 {
        s.put(&block_of_size(i, 100), PutOptions::cache()).unwrap();
    }
    for b in &pinned {
        assert_eq!(s.get(b.cid()).unwrap().as_ref(), Some(b));
    }
    assert_eq!(s.stats().pinned_bytes, 100 * n);
    assert_eq!(s.stats().bytes, 100 * n + 100);
}

fn full_store_changes_nothing<S: BlockStore>(make: Factory<'_, S>) {
    let mut s = make(config(250));
    s.put(
        &block_of_size(1, 100),
        PutOptions::pinned(PinClass::GroupEpoch),
    )
    .unwrap();
    s.put(&block_of_size(2, 100), PutOptions::cache()).unwrap();
    let before = s.stats();
    let big = block_of_size(3, 200);
    for opts in [
        PutOptions::cache(),
        PutOptions::pinned(PinClass::Membership),
    ] {
        match s.put(&big, opts) {
            Err(StoreError::Full {
                needed: 200,
                available: 150,
                max: 250,
                ..
            }) => {}
            other => panic!("expected Full, got {other:?}"),
        }
    }
    assert_eq!(s.stats(), before);
    assert!(!s.has(big.cid()).unwrap());
    assert!(
        s.has(block_of_size(2, 100).cid()).unwrap(),
        "nothing evicted by a failed put"
    );
}

fn per_block_limit<S: BlockStore>(make: Factory<'_, S>) {
    let mut s = make(StoreConfig {
        max_bytes: 1 << 20,
        max_block_size: 128,
    });
    assert!(s.put(&block_of_size(1, 128), PutOptions::cache()).is_ok());
    match s.put(&block_of_size(2, 129), PutOptions::pinned(PinClass::User)) {
        Err(StoreError::TooLarge {
            size: 129,
            max: 128,
            ..
        }) => {}
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert_eq!(s.stats().blocks, 1);
}

fn remove_works_for_any_class<S: BlockStore>(make: Factory<'_, S>) {
    let mut s = make(config(1 << 20));
    let a = block_of_size(1, 100);
    let b = block_of_size(2, 100);
    s.put(&a, PutOptions::pinned(PinClass::FeedHead)).unwrap();
    s.put(&b, PutOptions::cache().ttl(t(0), Duration::from_secs(1)))
        .unwrap();
    assert!(s.remove(a.cid()).unwrap());
    assert!(s.remove(b.cid()).unwrap());
    assert!(!s.remove(a.cid()).unwrap());
    assert_eq!(
        s.stats(),
        StoreStats {
            blocks: 0,
            bytes: 0,
            pinned_bytes: 0,
            max_bytes: 1 << 20
        }
    );
    assert_eq!(
        s.expire(t(5_000)).unwrap(),
        Vec::<Cid>::new(),
        "removed blocks do not expire"
    );
    s.put(&b, PutOptions::cache()).unwrap();
    assert_eq!(
        s.get(b.cid()).unwrap(),
        Some(b),
        "removed blocks can come back"
    );
}

fn list_by_class_is_sorted<S: BlockStore>(make: Factory<'_, S>) {
    let mut s = make(config(1 << 20));
    let votes: Vec<Block> = (0..5).map(|i| block_of_size(i, 64)).collect();
    let cache: Vec<Block> = (10..13).map(|i| block_of_size(i, 64)).collect();
    for b in &votes {
        s.put(b, PutOptions::pinned(PinClass::Vote)).unwrap();
    }
    for b in &cache {
        s.put(b, PutOptions::cache()).unwrap();
    }
    let mut expect: Vec<Cid> = votes.iter().map(|b| *b.cid()).collect();
    expect.sort();
    assert_eq!(s.list(PinClass::Vote).unwrap(), expect);
    assert_eq!(s.list(PinClass::Cache).unwrap().len(), 3);
    assert!(s.list(PinClass::Attestation).unwrap().is_empty());
}

fn stats_account_every_byte<S: BlockStore>(make: Factory<'_, S>) {
    let mut s = make(config(10_000));
    let mut bytes = 0;
    let mut pinned = 0;
    for i in 0..20u32 {
        let size = 64 + (i as usize) * 10;
        let class = if i % 3 == 0 {
            PinClass::Membership
        } else {
            PinClass::Cache
        };
        s.put(
            &block_of_size(i, size),
            PutOptions {
                class,
                expires_at: None,
            },
        )
        .unwrap();
        bytes += size as u64;
        if class.is_pinned() {
            pinned += size as u64;
        }
    }
    assert_eq!(
        s.stats(),
        StoreStats {
            blocks: 20,
            bytes,
            pinned_bytes: pinned,
            max_bytes: 10_000
        }
    );
}

fn put_many_reports_per_block<S: BlockStore>(make: Factory<'_, S>) {
    let mut s = make(StoreConfig {
        max_bytes: 300,
        max_block_size: 150,
    });
    let a = block_of_size(1, 100);
    let huge = block_of_size(2, 151);
    let b = block_of_size(3, 100);
    let c = block_of_size(4, 100);
    let d = block_of_size(5, 100);
    let batch = vec![
        (a.clone(), PutOptions::cache()),
        (huge.clone(), PutOptions::cache()),
        (a.clone(), PutOptions::pinned(PinClass::User)),
        (b.clone(), PutOptions::cache()),
        (c.clone(), PutOptions::cache()),
        (d.clone(), PutOptions::cache()),
    ];
    let results = s.put_many(&batch).unwrap();
    assert_eq!(results.len(), 6);
    assert!(matches!(results[0], Ok(PutOutcome::Stored { ref evicted }) if evicted.is_empty()));
    assert!(matches!(results[1], Err(StoreError::TooLarge { .. })));
    assert!(matches!(results[2], Ok(PutOutcome::AlreadyPresent)));
    assert!(results[3].is_ok() && results[4].is_ok());
    // a is pinned by item 2, so d evicts b, the oldest cache block.
    assert!(
        matches!(&results[5], Ok(PutOutcome::Stored { evicted }) if evicted == &vec![*b.cid()])
    );
    assert_eq!(s.meta(a.cid()).unwrap().unwrap().class, PinClass::User);
    assert!(!s.has(huge.cid()).unwrap() && !s.has(b.cid()).unwrap());
    assert!(s.has(c.cid()).unwrap() && s.has(d.cid()).unwrap());
    assert_eq!(s.put_many(&[]).unwrap().len(), 0);
}

fn retained_is_never_evicted<S: BlockStore>(make: Factory<'_, S>) {
    let mut s = make(config(300));
    let held: Vec<Block> = (0..2).map(|i| block_of_size(i, 100)).collect();
    for b in &held {
        s.put(b, PutOptions::retained(t(1_000))).unwrap();
    }
    // Cache blocks churn through the remaining 100 bytes; retained blocks stay.
    for i in 10..20 {
        let evicted = match s.put(&block_of_size(i, 100), PutOptions::cache()).unwrap() {
            PutOutcome::Stored { evicted } => evicted,
            other => panic!("{other:?}"),
        };
        assert!(held.iter().all(|b| !evicted.contains(b.cid())));
    }
    match s.put(&block_of_size(30, 200), PutOptions::cache()) {
        Err(StoreError::Full {
            needed: 200,
            available: 100,
            ..
        }) => {}
        other => panic!("expected Full, got {other:?}"),
    }
    for b in &held {
        assert_eq!(s.get(b.cid()).unwrap().as_ref(), Some(b));
    }
    // Once the deadline passes, their room is free again.
    let mut expect: Vec<Cid> = held.iter().map(|b| *b.cid()).collect();
    expect.sort();
    assert_eq!(s.expire(t(1_000)).unwrap(), expect);
    assert!(s.put(&block_of_size(30, 200), PutOptions::cache()).is_ok());
}

fn retained_expires_at_its_deadline_not_before<S: BlockStore>(make: Factory<'_, S>) {
    let mut s = make(config(1 << 20));
    let [first, via_ttl, cached, last, member, vote] =
        [1, 2, 3, 4, 5, 6].map(|i| block_of_size(i, 64));
    s.put(&first, PutOptions::retained(t(10_000))).unwrap();
    // `ttl` sets the deadline of a Retained put too.
    s.put(
        &via_ttl,
        PutOptions::pinned(PinClass::Retained).ttl(t(0), Duration::from_secs(12)),
    )
    .unwrap();
    s.put(
        &cached,
        PutOptions::cache().ttl(t(0), Duration::from_secs(15)),
    )
    .unwrap();
    s.put(&last, PutOptions::retained(t(20_000))).unwrap();
    // A group member's copy is pinned for good: a deadline is ignored.
    s.put(
        &member,
        PutOptions::pinned(PinClass::GroupMessage).ttl(t(0), Duration::from_secs(1)),
    )
    .unwrap();
    s.put(&vote, PutOptions::pinned(PinClass::Vote)).unwrap();
    let m = s.meta(via_ttl.cid()).unwrap().unwrap();
    assert_eq!(
        (m.class, m.expires_at),
        (PinClass::Retained, Some(t(12_000)))
    );
    let m = s.meta(member.cid()).unwrap().unwrap();
    assert_eq!((m.class, m.expires_at), (PinClass::GroupMessage, None));

    assert_eq!(s.expire(t(9_999)).unwrap(), Vec::<Cid>::new());
    assert_eq!(s.get(first.cid()).unwrap().as_ref(), Some(&first));
    assert_eq!(s.expire(t(10_000)).unwrap(), vec![*first.cid()]);
    assert_eq!(s.get(first.cid()).unwrap(), None);
    assert_eq!(
        s.expire(t(19_999)).unwrap(),
        vec![*via_ttl.cid(), *cached.cid()]
    );
    assert!(s.has(last.cid()).unwrap());
    assert_eq!(s.expire(t(1_000_000)).unwrap(), vec![*last.cid()]);
    for kept in [&member, &vote] {
        assert_eq!(s.get(kept.cid()).unwrap().as_ref(), Some(kept));
    }
    assert_eq!(s.stats().blocks, 2);
    assert!(s.list(PinClass::Retained).unwrap().is_empty());
}

fn retained_merge_rules<S: BlockStore>(make: Factory<'_, S>) {
    let mut s = make(config(1 << 20));
    let [
        pin_after,
        pin_before,
        over_cache,
        cache_after,
        later,
        earlier,
    ] = [1, 2, 3, 4, 5, 6].map(|i| block_of_size(i, 64));
    let class_and_deadline = |s: &S, b: &Block| {
        let m = s.meta(b.cid()).unwrap().unwrap();
        (m.class, m.expires_at)
    };
    // A real pin beats Retained and clears the deadline, whichever comes first.
    s.put(&pin_after, PutOptions::retained(t(1_000))).unwrap();
    assert_eq!(
        s.put(&pin_after, PutOptions::pinned(PinClass::GroupMessage))
            .unwrap(),
        PutOutcome::AlreadyPresent
    );
    s.put(&pin_before, PutOptions::pinned(PinClass::GroupEpoch))
        .unwrap();
    s.put(&pin_before, PutOptions::retained(t(1_000))).unwrap();
    // Retained beats Cache, and the Cache TTL plays no part.
    s.put(
        &over_cache,
        PutOptions::cache().ttl(t(0), Duration::from_secs(50)),
    )
    .unwrap();
    s.put(&over_cache, PutOptions::retained(t(2_000))).unwrap();
    // A Cache put over Retained keeps Retained and its deadline.
    s.put(&cache_after, PutOptions::retained(t(3_000))).unwrap();
    s.put(&cache_after, PutOptions::cache()).unwrap();
    s.put(
        &cache_after,
        PutOptions::cache().ttl(t(0), Duration::from_secs(60)),
    )
    .unwrap();
    // Retained + Retained keeps the later deadline, in either order.
    s.put(&later, PutOptions::retained(t(4_000))).unwrap();
    s.put(&later, PutOptions::retained(t(6_000))).unwrap();
    s.put(&earlier, PutOptions::retained(t(6_000))).unwrap();
    s.put(&earlier, PutOptions::retained(t(4_000))).unwrap();

    assert_eq!(
        class_and_deadline(&s, &pin_after),
        (PinClass::GroupMessage, None)
    );
    assert_eq!(
        class_and_deadline(&s, &pin_before),
        (PinClass::GroupEpoch, None)
    );
    assert_eq!(
        class_and_deadline(&s, &over_cache),
        (PinClass::Retained, Some(t(2_000)))
    );
    assert_eq!(
        class_and_deadline(&s, &cache_after),
        (PinClass::Retained, Some(t(3_000)))
    );
    for b in [&later, &earlier] {
        assert_eq!(
            class_and_deadline(&s, b),
            (PinClass::Retained, Some(t(6_000)))
        );
    }
    assert_eq!(s.stats().pinned_bytes, 6 * 64);
    // The merged deadlines are the ones `expire` goes by.
    assert_eq!(s.expire(t(1_999)).unwrap(), Vec::<Cid>::new());
    assert_eq!(s.expire(t(2_000)).unwrap(), vec![*over_cache.cid()]);
    assert_eq!(s.expire(t(5_999)).unwrap(), vec![*cache_after.cid()]);
    let mut both = vec![*later.cid(), *earlier.cid()];
    both.sort();
    assert_eq!(s.expire(t(1_000_000)).unwrap(), both);
    assert!(s.has(pin_after.cid()).unwrap() && s.has(pin_before.cid()).unwrap());
}

fn retained_without_deadline_is_rejected<S: BlockStore>(make: Factory<'_, S>) {
    let mut s = make(config(1 << 20));
    let a = block_of_size(1, 64);
    let b = block_of_size(2, 64);
    let undated = PutOptions::pinned(PinClass::Retained);
    match s.put(&a, undated) {
        Err(StoreError::RetainedWithoutDeadline { cid }) => assert_eq!(cid, *a.cid()),
        other => panic!("expected RetainedWithoutDeadline, got {other:?}"),
    }
    assert!(!s.has(a.cid()).unwrap());
    // Nor does it change a stored block.
    s.put(&b, PutOptions::cache()).unwrap();
    let before = s.stats();
    assert!(matches!(
        s.put(&b, undated),
        Err(StoreError::RetainedWithoutDeadline { .. })
    ));
    assert_eq!(s.stats(), before);
    assert_eq!(s.meta(b.cid()).unwrap().unwrap().class, PinClass::Cache);
    // In a batch, only that item fails.
    let results = s
        .put_many(&[
            (a.clone(), undated),
            (a.clone(), PutOptions::retained(t(1))),
        ])
        .unwrap();
    assert!(matches!(
        results[0],
        Err(StoreError::RetainedWithoutDeadline { .. })
    ));
    assert!(matches!(results[1], Ok(PutOutcome::Stored { .. })));
    assert_eq!(s.meta(a.cid()).unwrap().unwrap().expires_at, Some(t(1)));
}

fn retained_bytes_are_pinned_until_expired<S: BlockStore>(make: Factory<'_, S>) {
    let mut s = make(config(10_000));
    let mut held: Vec<Cid> = Vec::new();
    for i in 0..6u32 {
        let size = 64 + (i as usize) * 10;
        let block = block_of_size(i, size);
        let opts = match i % 3 {
            0 => PutOptions::retained(t(1_000)),
            1 => PutOptions::pinned(PinClass::GroupMessage),
            _ => PutOptions::cache(),
        };
        s.put(&block, opts).unwrap();
        if i % 3 == 0 {
            held.push(*block.cid());
        }
    }
    // Sizes 64..=114: retained 64 + 94, group messages 74 + 104, cache 84 + 114.
    assert_eq!(
        s.stats(),
        StoreStats {
            blocks: 6,
            bytes: 534,
            pinned_bytes: 336,
            max_bytes: 10_000
        }
    );
    held.sort();
    assert_eq!(s.list(PinClass::Retained).unwrap(), held);
    assert_eq!(s.list(PinClass::GroupMessage).unwrap().len(), 2);
    assert_eq!(s.expire(t(1_000)).unwrap(), held);
    assert_eq!(
        s.stats(),
        StoreStats {
            blocks: 4,
            bytes: 376,
            pinned_bytes: 178,
            max_bytes: 10_000
        }
    );
}
