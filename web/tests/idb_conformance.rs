//! `IdbStore` in a real browser (headless Chromium via `scripts/test-web`): the block
//! stores' conformance suite, with every case's final state checked against what a fresh
//! open reads back from IndexedDB; persistence across reopen; corrupt records; and a
//! batched-flush throughput figure (printed, never asserted).

#![cfg(target_arch = "wasm32")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests: a panic is a failed test"
)]

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Promise, Reflect, Uint8Array};
use quorate_mesh_blockstore::conformance::{self, block_of_size};
use quorate_mesh_blockstore::{
    BlockMeta, BlockStore, PinClass, PutOptions, PutOutcome, StoreConfig, StoreError, StoreStats,
};
use quorate_mesh_proto::{Block, Cid, Duration, Instant};
use quorate_web::idb::{Durability, IdbStore, LoadReport, RecordError, StoredRecords};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{console_log, wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::{EventTarget, IdbDatabase, IdbFactory, IdbTransactionMode};

wasm_bindgen_test_configure!(run_in_browser);

/// A database name no other test (or earlier run) uses.
fn fresh_name(what: &str) -> String {
    format!(
        "quorate-test-{what}-{:.0}-{:.0}",
        js_sys::Date::now(),
        js_sys::Math::random() * 1e9
    )
}

fn t(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

/// Milliseconds from `performance.now()`.
fn now_ms() -> f64 {
    let perf = Reflect::get(&js_sys::global(), &"performance".into()).unwrap();
    let now: Function = Reflect::get(&perf, &"now".into()).unwrap().unchecked_into();
    now.call0(&perf).unwrap().as_f64().unwrap()
}

/// Everything observable about a store's contents (recency aside).
#[derive(Debug, PartialEq, Eq)]
struct State {
    stats: StoreStats,
    blocks: Vec<(Cid, u32, PinClass, Option<Instant>, Block)>,
}

fn state(s: &mut impl BlockStore) -> State {
    let mut blocks = Vec::new();
    for class in PinClass::ALL {
        for cid in s.list(class).unwrap() {
            let BlockMeta {
                size,
                class,
                expires_at,
                ..
            } = s.meta(&cid).unwrap().unwrap();
            let block = s.get(&cid).unwrap().unwrap();
            blocks.push((cid, size, class, expires_at, block));
        }
    }
    State {
        stats: s.stats(),
        blocks,
    }
}

// ---- the conformance suite ----------------------------------------------------------

/// The suite's factories are synchronous; this hands the case a store it shares with the
/// test, which flushes and reopens it afterwards.
struct Shared(Rc<RefCell<Option<IdbStore>>>);

impl Shared {
    fn with<R>(&self, f: impl FnOnce(&mut IdbStore) -> R) -> R {
        f(self.0.borrow_mut().as_mut().expect("store in slot"))
    }
}

impl BlockStore for Shared {
    fn get(&mut self, cid: &Cid) -> Result<Option<Block>, StoreError> {
        self.with(|s| s.get(cid))
    }
    fn has(&self, cid: &Cid) -> Result<bool, StoreError> {
        self.with(|s| s.has(cid))
    }
    fn meta(&self, cid: &Cid) -> Result<Option<BlockMeta>, StoreError> {
        self.with(|s| s.meta(cid))
    }
    fn put(&mut self, block: &Block, opts: PutOptions) -> Result<PutOutcome, StoreError> {
        self.with(|s| s.put(block, opts))
    }
    fn put_many(
        &mut self,
        blocks: &[(Block, PutOptions)],
    ) -> Result<Vec<Result<PutOutcome, StoreError>>, StoreError> {
        self.with(|s| s.put_many(blocks))
    }
    fn remove(&mut self, cid: &Cid) -> Result<bool, StoreError> {
        self.with(|s| s.remove(cid))
    }
    fn list(&self, class: PinClass) -> Result<Vec<Cid>, StoreError> {
        self.with(|s| s.list(class))
    }
    fn expire(&mut self, now: Instant) -> Result<Vec<Cid>, StoreError> {
        self.with(|s| s.expire(now))
    }
    fn stats(&self) -> StoreStats {
        self.with(|s| s.stats())
    }
}

/// Runs one conformance case on a fresh database, then flushes, reopens and checks that
/// IndexedDB holds exactly what the store held (evictions, removals and expiries included).
async fn conformance_case(case: &str) {
    let name = fresh_name(case);
    let mut records = Some(StoredRecords::read(&name).await.unwrap());
    assert!(records.as_ref().unwrap().is_empty());
    let slot = Rc::new(RefCell::new(None));
    let mut make = |config| {
        let store = records
            .take()
            .expect("one store per case")
            .into_store(config)
            .unwrap();
        *slot.borrow_mut() = Some(store);
        Shared(slot.clone())
    };
    conformance::run_case(case, &mut make);

    let mut store = slot.borrow_mut().take().expect("the case made a store");
    store.flush().await.unwrap();
    assert_eq!(store.pending_ops(), 0);
    let config = store.config();
    let expected = state(&mut store);
    drop(store);
    let mut reopened = IdbStore::open(&name, config).await.unwrap();
    assert_eq!(reopened.load_report().skipped, vec![]);
    assert_eq!(reopened.load_report().dropped, vec![]);
    assert_eq!(
        state(&mut reopened),
        expected,
        "IndexedDB must mirror the store after {case}"
    );
    drop(reopened);
    IdbStore::delete_database(&name).await.unwrap();
}

macro_rules! conformance_suite {
    ($($case:ident)*) => {
        mod conformance_suite {
            use super::*;
            $(
                #[wasm_bindgen_test]
                async fn $case() {
                    conformance_case(stringify!($case)).await;
                }
            )*
            #[wasm_bindgen_test]
            fn every_case_has_a_test() {
                let mut ours = vec![$(stringify!($case)),*];
                let mut theirs = conformance::CASES.to_vec();
                ours.sort_unstable();
                theirs.sort_unstable();
                assert_eq!(ours, theirs);
            }
        }
    };
}

conformance_suite!(
    put_get_round_trip missing_blocks_are_not_errors put_is_idempotent
    raw_and_dag_cbor_blocks pin_beats_cache_on_re_put ttl_expires_cache_blocks_only
    ttl_merge_keeps_the_later_deadline lru_evicts_least_recently_used
    eviction_frees_enough_for_a_large_block pinned_blocks_are_never_evicted
    full_store_changes_nothing per_block_limit remove_works_for_any_class
    list_by_class_is_sorted stats_account_every_byte put_many_reports_per_block
    retained_is_never_evicted retained_expires_at_its_deadline_not_before
    retained_merge_rules retained_without_deadline_is_rejected
    retained_bytes_are_pinned_until_expired
);

// ---- persistence ----------------------------------------------------------------------

#[wasm_bindgen_test]
async fn reopen_restores_blocks_pins_ttls_and_stats() {
    let name = fresh_name("reopen");
    let config = StoreConfig::with_max_bytes(10_000);
    let mut s = IdbStore::open(&name, config).await.unwrap();
    assert_eq!(s.load_report(), &LoadReport::default());
    let vote = block_of_size(1, 100);
    let key = block_of_size(2, 120);
    let ttl = block_of_size(3, 80);
    let plain = block_of_size(4, 90);
    let removed = block_of_size(5, 70);
    let raw = Block::raw(vec![1, 2, 3]).unwrap();
    s.put(&vote, PutOptions::pinned(PinClass::Vote)).unwrap();
    s.put(&key, PutOptions::pinned(PinClass::ActorKey)).unwrap();
    s.put(&ttl, PutOptions::cache().ttl(t(0), Duration::from_secs(10)))
        .unwrap();
    s.put(&plain, PutOptions::cache()).unwrap();
    s.put(&removed, PutOptions::cache()).unwrap();
    s.put(&raw, PutOptions::cache()).unwrap();
    assert!(s.remove(removed.cid()).unwrap());
    assert_eq!(
        s.flush().await.unwrap(),
        6,
        "5 puts and 1 delete, coalesced"
    );
    assert_eq!(s.flush().await.unwrap(), 0);
    let expected = state(&mut s);
    // Durability comes with flush: a put after the last flush is lost with the tab.
    let late = block_of_size(6, 50);
    s.put(&late, PutOptions::cache()).unwrap();
    assert_eq!(s.pending_ops(), 1);
    drop(s);

    let mut s = IdbStore::open(&name, config).await.unwrap();
    assert_eq!(s.load_report().loaded, 5);
    assert_eq!(state(&mut s), expected);
    assert!(!s.has(late.cid()).unwrap() && !s.has(removed.cid()).unwrap());
    assert_eq!(s.list(PinClass::Vote).unwrap(), vec![*vote.cid()]);
    assert_eq!(
        s.stats(),
        StoreStats {
            blocks: 5,
            bytes: 100 + 120 + 80 + 90 + 3,
            pinned_bytes: 220,
            max_bytes: 10_000
        }
    );
    // The TTL survived; the expiry is persisted by the next flush.
    assert_eq!(s.expire(t(10_000)).unwrap(), vec![*ttl.cid()]);
    assert_eq!(s.flush().await.unwrap(), 1);
    drop(s);

    let s = IdbStore::open(&name, config).await.unwrap();
    assert!(!s.has(ttl.cid()).unwrap());
    assert_eq!(s.stats().blocks, 4);
    drop(s);
    IdbStore::delete_database(&name).await.unwrap();
}

/// LRU order is write order across reloads, and writes of a later session are newer than
/// every write of an earlier one.
#[wasm_bindgen_test]
async fn lru_write_order_survives_reopen() {
    let name = fresh_name("lru");
    let config = StoreConfig::with_max_bytes(300);
    let [a, b, c, d, e] = [1, 2, 3, 4, 5].map(|i| block_of_size(i, 100));

    let mut s = IdbStore::open(&name, config).await.unwrap();
    for x in [&a, &b, &c, &c, &c] {
        s.put(x, PutOptions::cache()).unwrap();
    }
    s.flush().await.unwrap();
    drop(s);

    // Session 2: b is re-put, so the order is now a, c, b.
    let mut s = IdbStore::open(&name, config).await.unwrap();
    assert_eq!(
        s.put(&b, PutOptions::cache()).unwrap(),
        PutOutcome::AlreadyPresent
    );
    s.flush().await.unwrap();
    drop(s);

    let mut s = IdbStore::open(&name, config).await.unwrap();
    assert_eq!(
        s.put(&d, PutOptions::cache()).unwrap(),
        PutOutcome::Stored {
            evicted: vec![*a.cid()]
        }
    );
    assert_eq!(
        s.put(&e, PutOptions::cache()).unwrap(),
        PutOutcome::Stored {
            evicted: vec![*c.cid()]
        }
    );
    s.flush().await.unwrap();
    drop(s);

    let s = IdbStore::open(&name, config).await.unwrap();
    let mut expect = vec![*b.cid(), *d.cid(), *e.cid()];
    expect.sort();
    assert_eq!(s.list(PinClass::Cache).unwrap(), expect);
    drop(s);
    IdbStore::delete_database(&name).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_smaller_cap_drops_the_oldest_cache_blocks_and_refuses_to_drop_pins() {
    let name = fresh_name("shrink");
    let pinned = block_of_size(1, 100);
    let [old, mid, new] = [2, 3, 4].map(|i| block_of_size(i, 100));
    let mut s = IdbStore::open(&name, StoreConfig::with_max_bytes(1_000))
        .await
        .unwrap();
    s.put(&pinned, PutOptions::pinned(PinClass::FeedHead))
        .unwrap();
    for x in [&old, &mid, &new] {
        s.put(x, PutOptions::cache()).unwrap();
    }
    s.flush().await.unwrap();
    drop(s);

    match IdbStore::open(&name, StoreConfig::with_max_bytes(50)).await {
        Err(quorate_web::idb::IdbError::DoesNotFit { cid, .. }) => assert_eq!(cid, *pinned.cid()),
        other => panic!("expected DoesNotFit, got {other:?}"),
    }
    let s = IdbStore::open(&name, StoreConfig::with_max_bytes(300))
        .await
        .unwrap();
    assert_eq!(s.load_report().dropped, vec![*old.cid()]);
    assert_eq!(s.load_report().loaded, 3);
    drop(s);
    assert_eq!(
        raw_count(&name).await,
        3,
        "the dropped block is deleted at open"
    );
    IdbStore::delete_database(&name).await.unwrap();
}

// ---- corruption -----------------------------------------------------------------------

/// A record in the layout of version 1, built by hand.
fn raw_record(bytes: &[u8], class: u32, seq: JsValue) -> JsValue {
    let record = js_sys::Object::new();
    let set = |k: &str, v: &JsValue| Reflect::set(&record, &k.into(), v).unwrap();
    set("v", &1.into());
    set("bytes", &Uint8Array::from(bytes).into());
    set("class", &class.into());
    set("expires_at", &JsValue::NULL);
    set("seq", &seq);
    record.into()
}

fn cid_key(cid: &Cid) -> JsValue {
    Uint8Array::from(&cid.to_bytes()[..]).into()
}

#[wasm_bindgen_test]
async fn corrupt_records_are_skipped_and_deleted_on_open() {
    let name = fresh_name("corrupt");
    let good = block_of_size(1, 100);
    let mut s = IdbStore::open(&name, StoreConfig::default()).await.unwrap();
    s.put(&good, PutOptions::pinned(PinClass::User)).unwrap();
    s.flush().await.unwrap();
    drop(s);

    let injected_ok = block_of_size(2, 64);
    let [x, y, z, w, v] = [10, 11, 12, 13, 14].map(|i| block_of_size(i, 64));
    let seq = || JsValue::from(5u64);
    let wrong_version = raw_record(z.bytes(), 0, seq());
    Reflect::set(&wrong_version, &"v".into(), &2.into()).unwrap();
    raw_put(
        &name,
        vec![
            // Hand-written but valid: loads.
            (
                cid_key(injected_ok.cid()),
                raw_record(injected_ok.bytes(), 7, seq()),
            ),
            // Bytes of another block under x's CID.
            (cid_key(x.cid()), raw_record(y.bytes(), 0, seq())),
            (cid_key(y.cid()), JsValue::from_str("not a record")),
            (
                Uint8Array::from(&[1u8, 2, 3][..]).into(),
                raw_record(y.bytes(), 0, seq()),
            ),
            (
                JsValue::from_str("a string key"),
                raw_record(y.bytes(), 0, seq()),
            ),
            (cid_key(z.cid()), wrong_version),
            (cid_key(w.cid()), raw_record(w.bytes(), 42, seq())),
            // seq as a plain number, not a BigInt.
            (cid_key(v.cid()), raw_record(v.bytes(), 0, JsValue::from(5))),
        ],
    )
    .await;
    assert_eq!(raw_count(&name).await, 9, "1 flushed + 8 injected");

    let mut s = IdbStore::open(&name, StoreConfig::default()).await.unwrap();
    let report = s.load_report().clone();
    assert_eq!(report.loaded, 2);
    assert_eq!(report.skipped.len(), 7, "{report:#?}");
    let reasons: Vec<&RecordError> = report.skipped.iter().map(|r| &r.reason).collect();
    assert!(reasons.iter().any(|r| matches!(r, RecordError::Block(_))));
    assert!(reasons.iter().any(|r| matches!(r, RecordError::NotARecord)));
    assert_eq!(
        reasons
            .iter()
            .filter(|r| matches!(r, RecordError::BadKey(_)))
            .count(),
        2
    );
    assert!(
        reasons
            .iter()
            .any(|r| matches!(r, RecordError::UnknownVersion(_)))
    );
    assert!(
        reasons
            .iter()
            .any(|r| matches!(r, RecordError::BadField("class")))
    );
    assert!(
        reasons
            .iter()
            .any(|r| matches!(r, RecordError::BadField("seq")))
    );
    assert_eq!(s.get(good.cid()).unwrap(), Some(good.clone()));
    assert_eq!(s.get(injected_ok.cid()).unwrap(), Some(injected_ok.clone()));
    assert_eq!(
        s.meta(injected_ok.cid()).unwrap().unwrap().class,
        PinClass::Vote
    );
    assert!(
        !s.has(x.cid()).unwrap(),
        "never serve bytes under the wrong CID"
    );
    assert_eq!(s.pending_ops(), 0, "open flushed the deletions");
    drop(s);
    assert_eq!(raw_count(&name).await, 2, "corrupt records are deleted");
    let s = IdbStore::open(&name, StoreConfig::default()).await.unwrap();
    assert!(s.load_report().skipped.is_empty());
    drop(s);
    IdbStore::delete_database(&name).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_foreign_database_version_is_an_open_error() {
    let name = fresh_name("version");
    let db = raw_open(&name, 7).await;
    db.close();
    match IdbStore::open(&name, StoreConfig::default()).await {
        Err(quorate_web::idb::IdbError::Open { reason, .. }) => {
            assert!(reason.contains("VersionError"), "{reason}");
        }
        other => panic!("expected Open, got {other:?}"),
    }
    IdbStore::delete_database(&name).await.unwrap();
}

// ---- throughput -----------------------------------------------------------------------

/// Puts `blocks`, flushes once; returns (put ms, flush ms).
async fn timed_batch(name: &str, blocks: &[Block], durability: Durability) -> (f64, f64) {
    let mut s = IdbStore::open(name, StoreConfig::default()).await.unwrap();
    s.set_durability(durability);
    let t0 = now_ms();
    for b in blocks {
        s.put(b, PutOptions::cache()).unwrap();
    }
    let t1 = now_ms();
    assert_eq!(s.pending_ops(), blocks.len());
    assert_eq!(s.flush().await.unwrap(), blocks.len());
    let t2 = now_ms();
    (t1 - t0, t2 - t1)
}

fn per_second(count: usize, ms: f64) -> f64 {
    f64::from(u32::try_from(count).unwrap()) * 1000.0 / ms.max(0.001)
}

#[wasm_bindgen_test]
async fn batched_flush_of_1000_small_blocks() {
    const N: usize = 1000;
    const SINGLES: usize = 50;
    let blocks: Vec<Block> = (0..N)
        .map(|i| Block::raw(format!("small block {i:04} {}", "x".repeat(80)).into_bytes()).unwrap())
        .collect();
    let size = blocks[0].len();

    let strict = fresh_name("bench-strict");
    let (put_ms, strict_ms) = timed_batch(&strict, &blocks, Durability::Strict).await;
    let relaxed = fresh_name("bench-relaxed");
    let (_, relaxed_ms) = timed_batch(&relaxed, &blocks, Durability::Relaxed).await;

    // Baseline in the same run: one transaction per block.
    let singles = fresh_name("bench-single");
    let mut s = IdbStore::open(&singles, StoreConfig::default())
        .await
        .unwrap();
    let t0 = now_ms();
    for b in &blocks[..SINGLES] {
        s.put(b, PutOptions::cache()).unwrap();
        assert_eq!(s.flush().await.unwrap(), 1);
    }
    let single_ms = now_ms() - t0;
    drop(s);

    // Baseline in the same run: the same records, pre-encoded, put straight through the
    // IndexedDB API in one transaction (what a flush costs at best).
    let raw = fresh_name("bench-raw");
    drop(IdbStore::open(&raw, StoreConfig::default()).await.unwrap());
    let entries: Vec<(JsValue, JsValue)> = blocks
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let seq = JsValue::from(u64::try_from(i).unwrap());
            (cid_key(b.cid()), raw_record(b.bytes(), 0, seq))
        })
        .collect();
    let db = raw_open(&raw, 1).await;
    let t0 = now_ms();
    raw_write(&db, &entries).await;
    let raw_ms = now_ms() - t0;
    db.close();

    let t0 = now_ms();
    let s = IdbStore::open(&strict, StoreConfig::default())
        .await
        .unwrap();
    let open_ms = now_ms() - t0;
    assert_eq!(s.load_report().loaded, N);
    assert_eq!(s.stats().blocks, N);
    drop(s);

    let batched = per_second(N, strict_ms);
    let single = per_second(SINGLES, single_ms);
    console_log!(
        "IndexedDB, {N} blocks of {size} B: in-memory puts {:.0} blocks/s; batched flush \
         (1 transaction) strict {strict_ms:.1} ms = {batched:.0} blocks/s, relaxed \
         {relaxed_ms:.1} ms = {:.0} blocks/s; one transaction per block (strict, {SINGLES} \
         blocks) {single:.0} blocks/s, batched/single = {:.1}x; raw IndexedDB puts of \
         pre-encoded records (1 transaction, default durability) {raw_ms:.1} ms = {:.0} \
         blocks/s, flush/raw time = {:.2}x; open + verify {open_ms:.1} ms = {:.0} blocks/s",
        per_second(N, put_ms),
        per_second(N, relaxed_ms),
        batched / single,
        per_second(N, raw_ms),
        strict_ms / raw_ms.max(0.001),
        per_second(N, open_ms),
    );
    for name in [strict, relaxed, singles, raw] {
        IdbStore::delete_database(&name).await.unwrap();
    }
}

// ---- raw IndexedDB access, bypassing the store ---------------------------------------

/// Resolves on `ok`, panics on `error`/`abort`/`blocked`.
async fn raw_wait(target: &EventTarget, ok: &str) {
    let promise = Promise::new(&mut |resolve, reject| {
        let ok_cb = Closure::<dyn FnMut(JsValue)>::new(move |_| {
            resolve.call0(&JsValue::NULL).unwrap();
        })
        .into_js_value();
        target
            .add_event_listener_with_callback(ok, ok_cb.unchecked_ref())
            .unwrap();
        for bad in ["error", "abort", "blocked"] {
            let reject = reject.clone();
            let cb = Closure::<dyn FnMut(JsValue)>::new(move |_| {
                reject.call1(&JsValue::NULL, &bad.into()).unwrap();
            })
            .into_js_value();
            target
                .add_event_listener_with_callback(bad, cb.unchecked_ref())
                .unwrap();
        }
    });
    if let Err(e) = JsFuture::from(promise).await {
        panic!("raw IndexedDB request failed: {e:?}");
    }
}

async fn raw_open(name: &str, version: u32) -> IdbDatabase {
    let factory: IdbFactory = Reflect::get(&js_sys::global(), &"indexedDB".into())
        .unwrap()
        .unchecked_into();
    let request = factory.open_with_u32(name, version).unwrap();
    raw_wait(&request, "success").await;
    request.result().unwrap().unchecked_into()
}

async fn raw_put(name: &str, entries: Vec<(JsValue, JsValue)>) {
    let db = raw_open(name, 1).await;
    raw_write(&db, &entries).await;
    db.close();
}

/// Puts `entries` in one readwrite transaction (default durability).
async fn raw_write(db: &IdbDatabase, entries: &[(JsValue, JsValue)]) {
    let tx = db
        .transaction_with_str_and_mode("blocks", IdbTransactionMode::Readwrite)
        .unwrap();
    let store = tx.object_store("blocks").unwrap();
    for (key, value) in entries {
        store.put_with_key(value, key).unwrap();
    }
    raw_wait(&tx, "complete").await;
}

async fn raw_count(name: &str) -> u32 {
    let db = raw_open(name, 1).await;
    let tx = db.transaction_with_str("blocks").unwrap();
    let request = tx.object_store("blocks").unwrap().count().unwrap();
    raw_wait(&tx, "complete").await;
    let count = request.result().unwrap().as_f64().unwrap();
    db.close();
    format!("{count}").parse().unwrap()
}
