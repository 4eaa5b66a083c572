//! Log in anywhere, in the simulator: an actor with 10,000 feed entries logs in on a fresh
//! node with an empty store and only handle + passphrase, while 30% of the other nodes are
//! offline at any time and one node lies about both the backup and the feed head.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stderr,
    clippy::cast_possible_truncation,
    reason = "test code: a panic is a failed test, the summary goes to stderr"
)]

use std::collections::BTreeMap;

use quorate_actor_core::backup::{Locator, LocatorParams, seal_backup};
use quorate_actor_core::feed::{FeedHead, FeedLog, head_name};
use quorate_actor_core::sync::{Config, Event as SyncEvent, Login, drain, feed_event};
use quorate_actor_core::{ActorProfile, Identity};
use quorate_mesh_blockstore::BlockStore;
use quorate_mesh_proto::mesh::{Event, Head, Input};
use quorate_mesh_proto::payloads::Text;
use quorate_mesh_proto::{Block, Duration};
use quorate_mesh_transport::sim::{Sim, SimConfig, seed_from_env};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

const NODES: usize = 40;
const ENTRIES: usize = 10_000;
/// Nodes 1..=REPLICAS hold the actor's blocks and announce its heads.
const REPLICAS: usize = 8;
/// The liar announces a forged feed head and a garbage backup.
const LIAR: usize = REPLICAS + 1;
/// The fresh node the actor logs in on.
const FRESH: usize = NODES - 1;
/// 30% of the other nodes offline at any time.
const OFFLINE: usize = 12;
/// Peers the fresh node keeps.
const FRESH_PEERS: usize = 6;
const HANDLE: &str = "alice";
const PASSPHRASE: &str = "correct horse battery staple, twice over";

/// Everything the actor published: (blocks, heads, log, identity).
fn author(seed: u64) -> (Vec<Block>, Vec<Head>, FeedLog, Identity, Locator) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let id = Identity::generate(&mut rng);
    let mut blocks = Vec::new();
    let profile =
        ActorProfile::publish(&id, BTreeMap::from([("name".into(), "Alice".into())])).unwrap();
    let profile_cid = *profile.cid();
    blocks.push(profile);
    let mut log = FeedLog::new(id.id());
    for i in 0..ENTRIES {
        let post = Block::encode(&Text {
            body: format!("post {i}"),
        })
        .unwrap();
        blocks.push(
            log.append(&id, 1_700_000_000_000 + i as u64, vec![*post.cid()])
                .unwrap(),
        );
        blocks.push(post);
    }
    let publication = log.publish(&id, profile_cid).unwrap();
    blocks.extend(publication.pages);
    let feed_head = publication.feed_head.mesh_head(*publication.head.cid());
    blocks.push(publication.head);
    let locator = Locator::derive(HANDLE, PASSPHRASE, &LocatorParams::V1).unwrap();
    let backup = seal_backup(&id, &locator, &mut rng).unwrap();
    let backup_head = Head {
        name: locator.head_name(),
        seq: 1,
        cid: *backup.cid(),
    };
    blocks.push(backup);
    (blocks, vec![feed_head, backup_head], log, id, locator)
}

#[test]
fn ten_thousand_entries_come_back_from_peers_under_churn_with_only_handle_and_passphrase() {
    let seed = seed_from_env(6);
    let (blocks, heads, log, original, _) = author(seed);
    let mut sim = Sim::new({
        let mut c = SimConfig::new(NODES, seed);
        c.record_events = true;
        c
    });
    sim.connect_random().unwrap();
    // The fresh node joins later, through the liar first.
    sim.take_offline(FRESH).unwrap();
    // The author's node and the replicas hold everything and announce both heads.
    for i in 0..=REPLICAS {
        for block in &blocks {
            sim.seed_block(i, block).unwrap();
        }
        for head in &heads {
            sim.command(i, Input::SetHead(head.clone())).unwrap();
        }
    }
    // The liar: a feed head signed by someone else and a backup that is junk.
    let mallory = Identity::generate(&mut ChaCha20Rng::seed_from_u64(seed ^ 0xbad));
    let fake = FeedHead {
        actor: original.id(),
        seq: 99_999,
        entry: *blocks[0].cid(),
        profile: *blocks[0].cid(),
        pages: vec![*blocks[0].cid(); 98],
    };
    let fake_block = fake.sign(&mallory).unwrap();
    let junk = Block::encode(&Text {
        body: "not a backup".into(),
    })
    .unwrap();
    sim.seed_block(LIAR, &fake_block).unwrap();
    sim.seed_block(LIAR, &junk).unwrap();
    sim.command(
        LIAR,
        Input::SetHead(Head {
            name: head_name(&original.id()),
            seq: 99_999,
            cid: *fake_block.cid(),
        }),
    )
    .unwrap();
    sim.command(
        LIAR,
        Input::SetHead(Head {
            name: heads[1].name.clone(),
            seq: 7,
            cid: *junk.cid(),
        }),
    )
    .unwrap();
    sim.run_for(Duration::from_secs(2)).unwrap();

    // The fresh node: nothing in its store, only handle and passphrase.
    assert!(sim.store(FRESH).unwrap().cids().unwrap().is_empty());
    sim.bring_online(FRESH, 0).unwrap();
    sim.connect(FRESH, LIAR).unwrap();
    sim.run_for(Duration::from_millis(200)).unwrap();
    let started = sim.now();
    let locator = Locator::derive(HANDLE, PASSPHRASE, &LocatorParams::V1).unwrap();
    let mut login = Login::new(Config::default(), locator, started);
    let mut cursor = 0;
    let mut penalized = Vec::new();
    let mut events = Vec::new();
    // For the first second the liar is the fresh node's only peer.
    let mut churn_tick = sim.now() + Duration::from_secs(1);
    while !login.is_complete() {
        assert!(
            sim.now().saturating_duration_since(started) < Duration::from_secs(600),
            "login did not finish; replay with QUORATE_SIM_SEED={seed}"
        );
        // Churn: one node swapped per second, 30% of the others offline.
        if sim.now() >= churn_tick {
            churn_tick = sim.now() + Duration::from_secs(1);
            let offline: Vec<usize> = (0..FRESH).filter(|i| !sim.is_online(*i)).collect();
            if offline.len() >= OFFLINE {
                let back = offline[sim.random_index(offline.len())];
                sim.bring_online(back, 3).unwrap();
            }
            for _ in 0..OFFLINE.saturating_sub(offline.len()).max(1) {
                // The liar stays, so the login must deal with it.
                let online: Vec<usize> = (0..FRESH)
                    .filter(|i| sim.is_online(*i) && *i != LIAR)
                    .collect();
                let gone = online[sim.random_index(online.len())];
                sim.take_offline(gone).unwrap();
            }
            // The fresh node keeps a handful of peers, as a runtime with a rendezvous
            // server or relayed signaling would; which ones hold the data it cannot know.
            for _ in 0..8 {
                if sim.driver(FRESH).unwrap().mesh().peers().len() >= FRESH_PEERS {
                    break;
                }
                let j = sim.random_index(FRESH);
                if sim.is_online(j) {
                    sim.connect(FRESH, j).unwrap();
                }
            }
        }
        sim.run_for(Duration::from_millis(20)).unwrap();
        let now = sim.now();
        let new: Vec<Event> = sim.events(FRESH)[cursor..]
            .iter()
            .map(|(_, e)| e.clone())
            .collect();
        cursor += new.len();
        for event in &new {
            feed_event(&mut login, now, event);
        }
        login.handle_timeout(now);
        let store = sim.store_mut(FRESH).unwrap();
        let drained = drain(&mut login, now, |cid| store.get(cid).ok().flatten());
        for input in drained.mesh {
            if let Input::Penalize { node, .. } = &input {
                penalized.push(*node);
            }
            sim.command(FRESH, input).unwrap();
        }
        events.extend(drained.events);
    }
    let took = sim.now().saturating_duration_since(started);
    let recovered = login.identity().unwrap();
    assert_eq!(recovered.id(), original.id());
    assert_eq!(recovered.secret(), original.secret());
    let snapshot = login.feed().unwrap().snapshot().unwrap();
    assert_eq!(
        snapshot.entries,
        log.entries(),
        "entries identical to the original"
    );
    assert_eq!(snapshot.payloads.len(), ENTRIES);
    assert_eq!(snapshot.profile.metadata["name"], "Alice");
    // Every block the actor published is now in the fresh node's own store.
    let store = sim.store_mut(FRESH).unwrap();
    for block in &blocks {
        assert_eq!(
            store.get(block.cid()).unwrap().as_ref(),
            Some(block),
            "missing {}",
            block.cid()
        );
    }
    let liar = sim.id(LIAR).unwrap();
    // The liar was heard and blamed, for the backup and for the feed head.
    assert!(
        events
            .iter()
            .any(|e| matches!(e, SyncEvent::BackupRejected { from: Some(n), .. } if *n == liar)),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, SyncEvent::HeadRejected { from, .. } if *from == liar))
    );
    assert!(
        penalized.iter().all(|n| *n == liar),
        "only the liar is blamed"
    );
    eprintln!(
        "login: {ENTRIES} entries + payloads in {} ms of virtual time under 30% churn (seed {seed}); liar penalised {} times",
        took.as_micros() / 1000,
        penalized.len()
    );
}
