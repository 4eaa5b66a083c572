//! `GroupHost` — a node's whole group layer — over the simulated mesh: create, invite (the
//! invitee's profile fetched from the mesh, the invitation sealed on the rendezvous
//! topic), accept, automatic admission by the admin's host, messages, a blind cache that
//! retains ciphertext, removal, typed errors, an invite that times out, and a restart
//! that rebuilds the group from the store and the heads it announced.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

mod common;

use std::collections::BTreeMap;

use quorate_actor_core::feed::FeedLog;
use quorate_actor_core::{ActorProfile, Identity};
use quorate_group_core::GroupId;
use quorate_group_core::host::{GroupHost, HostConfig, HostError, HostOutput, InviteTicket, Keep};
use quorate_group_core::ops::OpError;
use quorate_mesh_blockstore::{BlockStore, PutOptions};
use quorate_mesh_proto::mesh::Input;
use quorate_mesh_proto::{Cid, Duration};
use quorate_mesh_transport::sim::{Sim, SimConfig, seed_from_env};
use rand_chacha::ChaCha20Rng;

use common::{T0, person, rng};

const ALICE: usize = 0;
const BOB: usize = 1;
const CACHE: usize = 2;
const NODES: usize = 3;

struct World {
    sim: Sim,
    hosts: BTreeMap<usize, GroupHost>,
    cursors: BTreeMap<usize, usize>,
    invited: BTreeMap<InviteTicket, Result<Cid, HostError>>,
    admitted: usize,
    /// (node, keep) of every block a host asked to keep.
    kept: Vec<(usize, Keep)>,
    rng: ChaCha20Rng,
}

impl World {
    fn new(seed: u64) -> World {
        let mut sim = Sim::new({
            let mut c = SimConfig::new(NODES, seed);
            c.record_events = true;
            c
        });
        for a in 0..NODES {
            for b in a + 1..NODES {
                sim.connect(a, b).unwrap();
            }
        }
        let mut world = World {
            sim,
            hosts: BTreeMap::new(),
            cursors: BTreeMap::new(),
            invited: BTreeMap::new(),
            admitted: 0,
            kept: Vec::new(),
            rng: rng(seed),
        };
        for i in 0..NODES {
            world.start(i);
        }
        world.run(Duration::from_millis(500));
        world
    }

    fn start(&mut self, i: usize) {
        let host = GroupHost::new(HostConfig::default(), self.sim.id(i).unwrap());
        self.cursors.insert(i, self.sim.events(i).len());
        self.hosts.insert(i, host);
    }

    fn ms(&self) -> u64 {
        T0 + self.sim.now().as_micros() / 1000
    }

    fn tick(&mut self) {
        self.sim.run_for(Duration::from_millis(20)).unwrap();
        let now = self.sim.now();
        let now_ms = self.ms();
        for (&i, host) in &mut self.hosts {
            let cursor = self.cursors.entry(i).or_default();
            let events: Vec<_> = self.sim.events(i)[*cursor..]
                .iter()
                .map(|(_, e)| e.clone())
                .collect();
            *cursor += events.len();
            for event in &events {
                host.on_event(now, now_ms, event);
            }
            let store = self.sim.store_mut(i).unwrap();
            host.pump(
                now,
                now_ms,
                |cid| store.get(cid).ok().flatten(),
                &mut self.rng,
            );
            while let Some(output) = host.poll_output() {
                match output {
                    // The simulator tracks what is published, to check what nodes store.
                    HostOutput::Mesh(Input::Publish { topic, block }) => {
                        self.sim.publish(i, &topic, block).unwrap();
                    }
                    HostOutput::Mesh(input) => self.sim.command(i, input).unwrap(),
                    HostOutput::Keep { block, keep } => {
                        let options = match keep {
                            Keep::Pin(class) => PutOptions::pinned(class),
                            Keep::Retain { until } => PutOptions::retained(until),
                        };
                        self.sim.store_mut(i).unwrap().put(&block, options).unwrap();
                        self.kept.push((i, keep));
                    }
                    HostOutput::Invited { ticket, result } => {
                        self.invited.insert(ticket, result);
                    }
                    HostOutput::Admitted { .. } => self.admitted += 1,
                    _ => {}
                }
            }
        }
    }

    fn run(&mut self, d: Duration) {
        let until = self.sim.now() + d;
        while self.sim.now() < until {
            self.tick();
        }
    }

    fn host(&mut self, i: usize) -> &mut GroupHost {
        self.hosts.get_mut(&i).unwrap()
    }

    /// Publishes `who`'s profile and a one-entry feed from node `i`, as an actor's node does.
    fn publish_profile(&mut self, i: usize, who: &Identity) {
        let profile = ActorProfile::publish(who, BTreeMap::new()).unwrap();
        let mut log = FeedLog::new(who.id());
        let entry = log.append(who, self.ms(), vec![*profile.cid()]).unwrap();
        let publication = log.publish(who, *profile.cid()).unwrap();
        let head = publication.feed_head.mesh_head(*publication.head.cid());
        for block in [&profile, &entry, &publication.head]
            .into_iter()
            .chain(&publication.pages)
        {
            self.sim.seed_block(i, block).unwrap();
        }
        self.sim.command(i, Input::SetHead(head)).unwrap();
    }

    fn act_as(&mut self, i: usize, who: Identity) {
        let (now, ms) = (self.sim.now(), self.ms());
        self.host(i).act_as(who, now, ms);
    }

    fn texts(&mut self, i: usize, group: &GroupId) -> Vec<Option<String>> {
        let messages = self.host(i).messages(group, 100).unwrap();
        messages.into_iter().map(|m| m.text).collect()
    }
}

#[test]
fn a_host_creates_invites_admits_talks_caches_removes_and_restores() {
    let mut w = World::new(seed_from_env(5));
    let (alice, bob, carol) = (person(1), person(2), person(3));
    w.publish_profile(BOB, &bob);
    w.act_as(ALICE, alice.clone());
    w.act_as(BOB, bob.clone());

    // Commands without an actor or a group fail with typed errors.
    let (now, ms) = (w.sim.now(), w.ms());
    let mut r = w.rng.clone();
    assert_eq!(
        w.host(CACHE).create("x", now, ms, &mut r),
        Err(HostError::NoActor)
    );
    let nowhere = GroupId::from_bytes([9; 32]);
    assert_eq!(
        w.host(ALICE).send(nowhere, "hi", now, &mut r),
        Err(HostError::NotFollowed(nowhere))
    );

    let group = w.host(ALICE).create("club", now, ms, &mut r).unwrap();
    w.run(Duration::from_secs(1));
    let cache_view = w.host(CACHE).list();
    assert_eq!(
        cache_view.len(),
        1,
        "the cache follows the group it heard of"
    );
    assert!(!cache_view[0].member && !cache_view[0].admin);
    assert_eq!(cache_view[0].name, "club");
    assert_eq!(
        w.host(BOB).accept(group, now, ms),
        Err(HostError::NoInvitation(group))
    );

    // Invite: Bob's profile comes from the mesh, the invitation through the rendezvous topic.
    let now = w.sim.now();
    let ticket = w
        .host(ALICE)
        .invite(group, bob.id(), "join us", now, Duration::from_secs(10))
        .unwrap();
    w.run(Duration::from_secs(2));
    let invite = w.invited[&ticket].clone().expect("invited");
    let invitations = w.host(BOB).invitations();
    assert_eq!(invitations.len(), 1);
    assert_eq!(invitations[0].invite, invite.to_string());
    assert_eq!(invitations[0].note, "join us");
    assert_eq!(invitations[0].from, alice.id().to_string());

    // Accept: Alice's host admits Bob with epoch 1 on its own.
    let (now, ms) = (w.sim.now(), w.ms());
    w.host(BOB).accept(group, now, ms).unwrap();
    w.run(Duration::from_secs(2));
    assert_eq!(w.admitted, 1);
    for i in [ALICE, BOB, CACHE] {
        let view = &w.host(i).list()[0];
        assert_eq!(view.epoch, Some(1), "node {i}");
        assert_eq!(view.members.len(), 2, "node {i}");
    }
    assert!(w.host(BOB).list()[0].member);
    assert!(w.host(ALICE).list()[0].admin && !w.host(BOB).list()[0].admin);

    // Messages both ways; the cache holds them and reads nothing.
    let now = w.sim.now();
    w.host(BOB).send(group, "hello alice", now, &mut r).unwrap();
    w.run(Duration::from_millis(300));
    let now = w.sim.now();
    w.host(ALICE).send(group, "hello bob", now, &mut r).unwrap();
    w.run(Duration::from_secs(1));
    let expected = vec![Some("hello alice".to_owned()), Some("hello bob".to_owned())];
    assert_eq!(w.texts(ALICE, &group), expected);
    assert_eq!(w.texts(BOB, &group), expected);
    assert_eq!(w.texts(CACHE, &group), vec![None, None]);
    assert!(
        w.kept
            .iter()
            .any(|(i, k)| *i == CACHE && matches!(k, Keep::Retain { .. })),
        "the cache retains the group's blocks"
    );
    assert!(
        !w.kept
            .iter()
            .any(|(i, k)| *i == CACHE && matches!(k, Keep::Pin(_))),
        "a cache pins nothing"
    );
    assert!(
        w.kept
            .iter()
            .any(|(i, k)| *i == BOB && matches!(k, Keep::Pin(_)))
    );

    // An invitee nobody publishes a profile for: the invite fails when its time runs out.
    let now = w.sim.now();
    let late = w
        .host(ALICE)
        .invite(group, carol.id(), "", now, Duration::from_secs(1))
        .unwrap();
    w.run(Duration::from_millis(1500));
    assert_eq!(w.invited[&late], Err(HostError::ProfileTimeout(carol.id())));

    // Removal: a new epoch Bob holds but cannot read, and cannot post in.
    let (now, ms) = (w.sim.now(), w.ms());
    assert_eq!(
        w.host(BOB).remove(group, alice.id(), now, ms, &mut r),
        Err(HostError::Op(OpError::NotAdmin))
    );
    let epoch = w
        .host(ALICE)
        .remove(group, bob.id(), now, ms, &mut r)
        .unwrap();
    assert_eq!(epoch.epoch, 2);
    w.run(Duration::from_millis(500));
    let now = w.sim.now();
    w.host(ALICE).send(group, "after bob", now, &mut r).unwrap();
    w.run(Duration::from_secs(1));
    assert_eq!(w.texts(BOB, &group).last(), Some(&None));
    assert_eq!(
        w.texts(ALICE, &group).last(),
        Some(&Some("after bob".into()))
    );
    assert!(!w.host(BOB).list()[0].member);
    let now = w.sim.now();
    assert_eq!(
        w.host(BOB).send(group, "still here?", now, &mut r),
        Err(HostError::Op(OpError::NotAMember))
    );

    // Restart Alice's host: the heads it announced and the store rebuild everything.
    let heads: Vec<_> = w.host(ALICE).heads().cloned().collect();
    assert_eq!(heads.len(), 2, "epoch and messages heads");
    let before = w.texts(ALICE, &group);
    w.start(ALICE);
    w.act_as(ALICE, alice);
    let now = w.sim.now();
    w.host(ALICE).restore(now, heads);
    w.run(Duration::from_millis(200));
    assert_eq!(w.texts(ALICE, &group), before);
    assert_eq!(w.host(ALICE).list()[0].epoch, Some(2));
}
