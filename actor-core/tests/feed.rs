//! The feed and its sync machine, driven against in-memory peers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    reason = "tests"
)]

use std::collections::{BTreeMap, BTreeSet};

use quorate_actor_core::feed::{Equivocation, FeedEntry, FeedError, FeedHead, FeedLog, head_name};
use quorate_actor_core::sync::{Config, Event, FeedSnapshot, FeedSync, Output};
use quorate_actor_core::{ActorProfile, ActorSecret, Identity};
use quorate_mesh_proto::mesh::{Head, NodeId};
use quorate_mesh_proto::payloads::Text;
use quorate_mesh_proto::{Block, Cid, Instant};

/// A peer: the blocks it serves and the heads it announces.
#[derive(Default)]
struct Peer {
    blocks: BTreeMap<Cid, Block>,
    heads: Vec<Head>,
}

struct World {
    peers: Vec<(NodeId, Peer)>,
    local: BTreeMap<Cid, Block>,
    penalized: Vec<(NodeId, String)>,
    events: Vec<Event>,
}

impl World {
    fn new(peers: Vec<Peer>) -> Self {
        let peers = peers
            .into_iter()
            .enumerate()
            .map(|(i, p)| (NodeId::from_bytes([i as u8 + 1; 32]), p))
            .collect();
        World {
            peers,
            local: BTreeMap::new(),
            penalized: Vec::new(),
            events: Vec::new(),
        }
    }

    /// Carries out the machine's outputs until it has none.
    fn run(&mut self, sync: &mut FeedSync) {
        let now = Instant::ZERO;
        let mut pending: Vec<Output> = Vec::new();
        loop {
            while let Some(out) = sync.poll_output() {
                pending.push(out);
            }
            if pending.is_empty() {
                return;
            }
            for out in std::mem::take(&mut pending) {
                match out {
                    Output::QueryHeads(names) => {
                        for (node, peer) in &self.peers {
                            for head in peer.heads.iter().filter(|h| names.contains(&h.name)) {
                                sync.handle_head(now, head, *node);
                            }
                        }
                    }
                    Output::Need { cid, .. } => {
                        if let Some(block) = self.local.get(&cid).cloned() {
                            sync.handle_block(now, &block, None);
                        } else if let Some((node, block)) = self
                            .peers
                            .iter()
                            .find_map(|(n, p)| p.blocks.get(&cid).map(|b| (*n, b.clone())))
                        {
                            self.local.insert(cid, block.clone());
                            sync.handle_block(now, &block, Some(node));
                        }
                    }
                    Output::Penalize { node, reason } => self.penalized.push((node, reason)),
                    Output::Event(e) => self.events.push(e),
                    _ => {}
                }
                while let Some(out) = sync.poll_output() {
                    pending.push(out);
                }
            }
        }
    }

    fn complete(&self) -> Option<&FeedSnapshot> {
        self.events.iter().rev().find_map(|e| match e {
            Event::Complete(s) => Some(&**s),
            _ => None,
        })
    }
}

fn alice() -> Identity {
    Identity::from_secret(ActorSecret::from_bytes([1; 32]))
}

/// An author's feed of `n` entries, each publishing one text block; all blocks in a peer.
fn authored(id: &Identity, n: usize) -> (Peer, FeedLog, Cid) {
    let mut peer = Peer::default();
    let profile = ActorProfile::publish(id, BTreeMap::new()).unwrap();
    let profile_cid = *profile.cid();
    peer.blocks.insert(profile_cid, profile);
    let mut log = FeedLog::new(id.id());
    for i in 0..n {
        let post = Block::encode(&Text {
            body: format!("post {i}"),
        })
        .unwrap();
        // The first entry also names the profile, as `quorate actor new` does: a block
        // that is both the head's profile and a payload.
        let payloads = if i == 0 {
            vec![*post.cid(), profile_cid]
        } else {
            vec![*post.cid()]
        };
        let entry = log.append(id, 1_000 + i as u64, payloads).unwrap();
        peer.blocks.insert(*post.cid(), post);
        peer.blocks.insert(*entry.cid(), entry);
    }
    let publication = log.publish(id, profile_cid).unwrap();
    for page in publication.pages {
        peer.blocks.insert(*page.cid(), page);
    }
    peer.heads
        .push(publication.feed_head.mesh_head(*publication.head.cid()));
    peer.blocks
        .insert(*publication.head.cid(), publication.head);
    (peer, log, profile_cid)
}

#[test]
fn a_feed_of_3000_entries_syncs_from_a_peer_and_matches_the_author() {
    let id = alice();
    let (peer, log, profile) = authored(&id, 3000);
    let mut world = World::new(vec![peer]);
    let mut sync = FeedSync::new(Config::default(), id.id(), Instant::ZERO);
    world.run(&mut sync);
    let snap = world.complete().expect("complete");
    assert_eq!(snap.entries, log.entries());
    assert_eq!(snap.head.profile, profile);
    assert_eq!(snap.payloads.len(), 3001);
    assert_eq!(snap.last.seq, 2999);
    assert!(world.penalized.is_empty());
    assert_eq!(sync.snapshot().as_ref(), Some(snap));
}

#[test]
fn a_second_sync_from_the_local_cache_fetches_only_the_new_pages() {
    let id = alice();
    let (peer, mut log, profile) = authored(&id, 1500);
    let mut world = World::new(vec![peer]);
    let mut sync = FeedSync::new(Config::default(), id.id(), Instant::ZERO);
    world.run(&mut sync);
    assert!(sync.is_complete());
    // 10 more entries; the author publishes a new head.
    let mut fresh = Peer::default();
    for i in 0..10 {
        let entry = log.append(&id, 9_000 + i, vec![]).unwrap();
        fresh.blocks.insert(*entry.cid(), entry);
    }
    let publication = log.publish(&id, profile).unwrap();
    assert_eq!(
        publication.pages.len(),
        1,
        "the full first page is not republished"
    );
    for page in publication.pages {
        fresh.blocks.insert(*page.cid(), page);
    }
    fresh
        .heads
        .push(publication.feed_head.mesh_head(*publication.head.cid()));
    fresh
        .blocks
        .insert(*publication.head.cid(), publication.head);
    let fetched_before = world.local.len();
    world.peers.push((NodeId::from_bytes([9; 32]), fresh));
    sync.handle_timeout(Instant::from_millis(60_000));
    world.run(&mut sync);
    let snap = world.complete().unwrap();
    assert_eq!(
        snap.entries.len(),
        1510,
        "{:?}",
        &world.events[world.events.len().saturating_sub(5)..]
    );
    // head + one page + ten entries came over the network; everything else was reused.
    assert_eq!(world.local.len() - fetched_before, 12);
}

#[test]
fn a_peer_announcing_a_forged_head_is_penalised_and_the_honest_one_used() {
    let id = alice();
    let mallory = Identity::from_secret(ActorSecret::from_bytes([6; 32]));
    let (honest, log, profile) = authored(&id, 50);
    // Mallory signs a head that names Alice as the actor, with a higher seq.
    let fake = FeedHead {
        actor: id.id(),
        seq: 10_000,
        entry: profile,
        profile,
        pages: vec![profile; 10],
    };
    let fake_block = fake.sign(&mallory).unwrap();
    let mut liar = Peer::default();
    liar.heads.push(Head {
        name: head_name(&id.id()),
        seq: 10_000,
        cid: *fake_block.cid(),
    });
    liar.blocks.insert(*fake_block.cid(), fake_block);
    // A second liar points the head name at a block that is not a head at all.
    let junk = Block::encode(&Text {
        body: "junk".into(),
    })
    .unwrap();
    let mut junker = Peer::default();
    junker.heads.push(Head {
        name: head_name(&id.id()),
        seq: 20_000,
        cid: *junk.cid(),
    });
    junker.blocks.insert(*junk.cid(), junk);
    let mut world = World::new(vec![liar, junker, honest]);
    let mut sync = FeedSync::new(Config::default(), id.id(), Instant::ZERO);
    world.run(&mut sync);
    let (liar_id, junker_id) = (world.peers[0].0, world.peers[1].0);
    let penalized: BTreeSet<NodeId> = world.penalized.iter().map(|(n, _)| *n).collect();
    assert_eq!(penalized, BTreeSet::from([liar_id, junker_id]));
    let rejected: Vec<_> = world
        .events
        .iter()
        .filter_map(|e| match e {
            Event::HeadRejected { from, reason } => Some((*from, reason.clone())),
            _ => None,
        })
        .collect();
    assert!(
        rejected.contains(&(liar_id, FeedError::WrongActor)),
        "{rejected:?}"
    );
    assert_eq!(world.complete().unwrap().entries, log.entries());
}

#[test]
fn tampered_and_forged_entries_are_rejected() {
    let id = alice();
    let entry = FeedEntry::sign(&id, 0, None, 5, vec![]).unwrap();
    assert_eq!(entry.verify(), Ok(()));
    // Tampered content, same signature.
    let mut tampered = entry.clone();
    tampered.timestamp = 6;
    assert_eq!(tampered.verify(), Err(FeedError::BadSignature));
    let block = tampered.to_block().unwrap();
    assert_eq!(
        FeedEntry::verify_block(&block).unwrap_err(),
        FeedError::BadSignature
    );
    // Forged signature bytes.
    let mut forged = entry.clone();
    forged.signature[10] ^= 1;
    assert_eq!(forged.verify(), Err(FeedError::BadSignature));
    // Someone else's key with Alice's id.
    let mallory = Identity::from_secret(ActorSecret::from_bytes([6; 32]));
    let mut theirs = FeedEntry::sign(&mallory, 0, None, 5, vec![]).unwrap();
    theirs.actor = id.id();
    assert_eq!(theirs.verify(), Err(FeedError::WrongActor));
    // seq 0 with a prev, seq 1 without.
    assert!(matches!(
        FeedEntry::sign(&id, 1, None, 5, vec![]),
        Err(FeedError::Malformed(_))
    ));
    assert!(matches!(
        FeedEntry::sign(&id, 0, Some(*block.cid()), 5, vec![]),
        Err(FeedError::Malformed(_))
    ));
}

/// A feed whose author signed a broken chain: entry 3 names a wrong prev.
#[test]
fn a_broken_prev_chain_is_reported_as_an_invalid_feed() {
    let id = alice();
    let (mut peer, log, profile) = authored(&id, 5);
    // Re-sign entry 3 with a prev pointing at entry 1, and rebuild a head around it.
    let mut cids = log.entries().to_vec();
    let bad = FeedEntry::sign(&id, 3, Some(cids[1]), 1_003, vec![]).unwrap();
    let bad_block = bad.to_block().unwrap();
    cids[3] = *bad_block.cid();
    peer.blocks.insert(cids[3], bad_block);
    let page = quorate_actor_core::feed::FeedPage {
        actor: id.id(),
        first: 0,
        entries: cids.clone(),
    };
    let page_block = page.to_block().unwrap();
    let head = FeedHead {
        actor: id.id(),
        seq: 4,
        entry: cids[4],
        profile,
        pages: vec![*page_block.cid()],
    };
    let head_block = head.sign(&id).unwrap();
    peer.blocks.insert(*page_block.cid(), page_block);
    peer.heads = vec![head.mesh_head(*head_block.cid())];
    peer.blocks.insert(*head_block.cid(), head_block);
    let mut world = World::new(vec![peer]);
    let mut sync = FeedSync::new(Config::default(), id.id(), Instant::ZERO);
    world.run(&mut sync);
    assert!(world.complete().is_none());
    let invalid: Vec<_> = world
        .events
        .iter()
        .filter_map(|e| match e {
            Event::InvalidFeed { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect();
    assert!(
        matches!(invalid.as_slice(), [FeedError::BrokenChain { seq: 3 | 4 }]),
        "{invalid:?}"
    );
    // Nobody relayed anything the actor did not sign: no peer is blamed.
    assert!(world.penalized.is_empty());
}

#[test]
fn a_forked_feed_yields_verifiable_equivocation_evidence() {
    let id = alice();
    let (peer_a, log, profile) = authored(&id, 8);
    // The actor forks at seq 8: two different successors of the same feed.
    let mut fork_peers = Vec::new();
    for variant in 0..2u64 {
        let mut branch = log.clone();
        let mut peer = Peer::default();
        let entry = branch.append(&id, 50_000 + variant, vec![]).unwrap();
        peer.blocks.insert(*entry.cid(), entry);
        let publication = branch.publish(&id, profile).unwrap();
        for page in publication.pages {
            peer.blocks.insert(*page.cid(), page);
        }
        peer.heads
            .push(publication.feed_head.mesh_head(*publication.head.cid()));
        peer.blocks
            .insert(*publication.head.cid(), publication.head);
        fork_peers.push(peer);
    }
    // Peer A serves the common history to both branches.
    let mut peers = vec![peer_a];
    peers.extend(fork_peers);
    let mut world = World::new(peers);
    let mut sync = FeedSync::new(Config::default(), id.id(), Instant::ZERO);
    world.run(&mut sync);
    let evidence: Vec<&Equivocation> = world
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Equivocation(ev) => Some(&**ev),
            _ => None,
        })
        .collect();
    assert_eq!(evidence.len(), 1, "{:?}", world.events);
    assert!(evidence[0].verify());
    assert_eq!((evidence[0].actor(), evidence[0].seq()), (id.id(), 8));
    // Evidence does not verify once either entry is altered.
    let mut altered = evidence[0].clone();
    altered.b.timestamp += 1;
    assert!(!altered.verify());
    // The feed itself still completes on one branch (highest seq, then smaller CID).
    assert_eq!(world.complete().unwrap().entries.len(), 9);
}
