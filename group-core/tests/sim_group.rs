//! Twenty members in the simulator, under churn and 2% frame loss: everyone online
//! converges; a member offline for the whole conversation catches up completely from
//! blind caches alone; a removed member reads nothing after its removal; a newcomer reads
//! nothing from before it joined.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stderr,
    reason = "test code: a panic is a failed test, the summary goes to stderr"
)]

use std::collections::{BTreeMap, BTreeSet};

use quorate_actor_core::sync::drain;
use quorate_actor_core::{ActorSecret, Identity};
use quorate_group_core::ops::{self, EpochChange};
use quorate_group_core::sync::{Event as GroupEvent, GroupSync, SyncConfig, group_event};
use quorate_group_core::{GroupId, Member};
use quorate_mesh_blockstore::{BlockStore, PutOptions};
use quorate_mesh_proto::mesh::Event;
use quorate_mesh_proto::{Cid, Duration, PinClass};
use quorate_mesh_transport::sim::{Sim, SimConfig, seed_from_env};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

const MEMBERS: usize = 20;
const CACHES: usize = 5;
/// Node index of the newcomer (joins at the removal).
const NEWCOMER: usize = MEMBERS + CACHES;
const NODES: usize = NEWCOMER + 1;
const ADMIN: usize = 0;
/// Removed in the middle of the conversation.
const REMOVED: usize = 7;
/// Offline for the whole conversation.
const LATE: usize = MEMBERS - 1;
/// Members offline at any time during the conversation (besides `LATE`).
const CHURN: usize = 4;
const T0: u64 = 1_700_000_000_000;

fn person(i: usize) -> Identity {
    Identity::from_secret(ActorSecret::from_bytes([u8::try_from(i + 1).unwrap(); 32]))
}

fn is_cache(i: usize) -> bool {
    (MEMBERS..MEMBERS + CACHES).contains(&i)
}

struct World {
    sim: Sim,
    machines: BTreeMap<usize, GroupSync>,
    cursors: BTreeMap<usize, usize>,
    group: GroupId,
    rng: ChaCha20Rng,
}

impl World {
    fn start(&mut self, i: usize) {
        let me = (!is_cache(i)).then(|| person(i));
        let now = self.sim.now();
        let machine = GroupSync::new(SyncConfig::default(), self.group, me, now);
        self.sim.subscribe(i, machine.topic()).unwrap();
        self.cursors.insert(i, self.sim.events(i).len());
        self.machines.insert(i, machine);
    }

    /// One 20 ms tick: every online node's machine takes its new mesh events and timers.
    fn tick(&mut self) {
        self.sim.run_for(Duration::from_millis(20)).unwrap();
        let now = self.sim.now();
        for (&i, machine) in &mut self.machines {
            if !self.sim.is_online(i) {
                continue;
            }
            let cursor = self.cursors.entry(i).or_default();
            let events: Vec<Event> = self.sim.events(i)[*cursor..]
                .iter()
                .map(|(_, e)| e.clone())
                .collect();
            *cursor += events.len();
            for event in &events {
                group_event(machine, now, event);
            }
            if machine.poll_timeout().is_some_and(|t| t <= now) {
                machine.handle_timeout(now);
            }
            let store = self.sim.store_mut(i).unwrap();
            let drained = drain(machine, now, |cid| store.get(cid).ok().flatten());
            for event in drained.events {
                // Members pin their group's blocks; caches hold them for a retention time.
                if let GroupEvent::Accepted { cid, class } = event {
                    let options = if is_cache(i) {
                        PutOptions::retained(now + Duration::from_secs(3600))
                    } else {
                        PutOptions::pinned(class)
                    };
                    if let Some(block) = store.get(&cid).unwrap() {
                        store.put(&block, options).unwrap();
                    }
                }
            }
            for input in drained.mesh {
                self.sim.command(i, input).unwrap();
            }
        }
    }

    fn run(&mut self, d: Duration) {
        let until = self.sim.now() + d;
        while self.sim.now() < until {
            self.tick();
        }
    }

    fn post(&mut self, i: usize, text: &str) -> Option<Cid> {
        let machine = self.machines.get_mut(&i)?;
        let block =
            ops::compose(&person(i), machine.state(), text.as_bytes(), &mut self.rng).ok()?;
        let now = self.sim.now();
        machine.insert_local(now, block.clone());
        let topic = machine.topic().clone();
        self.sim.publish(i, &topic, block).ok()
    }

    fn bring_online(&mut self, i: usize) {
        self.sim.bring_online(i, 3).unwrap();
        let now = self.sim.now();
        self.cursors.insert(i, self.sim.events(i).len());
        if let Some(m) = self.machines.get_mut(&i) {
            m.resume(now);
        }
    }

    /// (CID, readable) of every message node `i` holds, in display order.
    fn view(&self, i: usize) -> Vec<(Cid, bool)> {
        self.machines[&i]
            .state()
            .messages()
            .map(|m| (m.cid, m.plaintext.is_some()))
            .collect()
    }
}

#[test]
fn twenty_members_converge_under_churn_and_the_late_member_catches_up_from_caches() {
    let seed = seed_from_env(11);
    let mut sim = Sim::new({
        let mut c = SimConfig::new(NODES, seed);
        c.record_events = true;
        c.net.loss = 0.02;
        c
    });
    sim.connect_random().unwrap();
    sim.take_offline(LATE).unwrap();
    sim.take_offline(NEWCOMER).unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let members = (1..MEMBERS).map(|i| Member::of(&person(i))).collect();
    let created =
        ops::create_group(&person(ADMIN), "sim", members, Vec::new(), T0, &mut rng).unwrap();
    let mut world = World {
        sim,
        machines: BTreeMap::new(),
        cursors: BTreeMap::new(),
        group: created.id,
        rng,
    };
    for i in (0..NODES).filter(|i| *i != LATE && *i != NEWCOMER) {
        world.start(i);
    }
    world.run(Duration::from_secs(1));
    let topic = created.id.topic();
    let now = world.sim.now();
    for block in created.blocks() {
        world
            .machines
            .get_mut(&ADMIN)
            .unwrap()
            .insert_local(now, block.clone());
        world.sim.publish(ADMIN, &topic, block.clone()).unwrap();
    }
    world.run(Duration::from_secs(2));

    let mut posted: Vec<Cid> = Vec::new();
    let mut before_removal = BTreeSet::new();
    let mut removal_epoch = None;
    let started = world.sim.now();
    for step in 0..80 {
        // Churn every second: one member back, one other away (never the admin).
        if step % 4 == 0 {
            let offline: Vec<usize> = (1..MEMBERS)
                .filter(|i| *i != LATE && !world.sim.is_online(*i))
                .collect();
            if offline.len() >= CHURN {
                let back = offline[world.sim.random_index(offline.len())];
                world.bring_online(back);
            }
            let online: Vec<usize> = (1..MEMBERS)
                .filter(|i| *i != LATE && *i != REMOVED && world.sim.is_online(*i))
                .collect();
            let gone = online[world.sim.random_index(online.len())];
            world.sim.take_offline(gone).unwrap();
        }
        // Halfway: remove one member and add the newcomer, with a fresh key.
        if step == 40 {
            let admin_state = world.machines[&ADMIN].state();
            let change = EpochChange {
                add: vec![Member::of(&person(NEWCOMER))],
                remove: vec![person(REMOVED).id()],
                co_admins: None,
                ..EpochChange::default()
            };
            let epoch =
                ops::next_epoch(&person(ADMIN), admin_state, &change, T0, &mut world.rng).unwrap();
            before_removal = posted.iter().copied().collect();
            removal_epoch = Some(*epoch.state.cid());
            let now = world.sim.now();
            let admin = world.machines.get_mut(&ADMIN).unwrap();
            admin
                .state_mut()
                .add_key(*epoch.state.cid(), epoch.key.clone());
            for block in epoch.blocks() {
                admin.insert_local(now, block.clone());
                world.sim.publish(ADMIN, &topic, block.clone()).unwrap();
            }
            world.sim.bring_online(NEWCOMER, 3).unwrap();
            world.start(NEWCOMER);
        }
        // Someone online talks every 250 ms.
        let online: Vec<usize> = (0..MEMBERS)
            .chain([NEWCOMER])
            .filter(|i| world.sim.is_online(*i) && world.machines.contains_key(i))
            .collect();
        let author = online[world.sim.random_index(online.len())];
        if let Some(cid) = world.post(author, &format!("message {step} from {author}")) {
            posted.push(cid);
        }
        world.run(Duration::from_millis(250));
    }
    // Churn stops; everyone but the late member comes back and the group settles.
    for i in (1..MEMBERS).filter(|i| *i != LATE) {
        if !world.sim.is_online(i) {
            world.bring_online(i);
        }
    }
    let settling = world.sim.now();
    let everyone = |w: &World| {
        let n = posted.len();
        (0..MEMBERS)
            .chain(MEMBERS..NODES)
            .filter(|i| *i != LATE)
            .all(|i| w.view(i).len() == n)
    };
    while !everyone(&world) {
        assert!(
            world.sim.now().saturating_duration_since(settling) < Duration::from_secs(60),
            "no convergence; QUORATE_SIM_SEED={seed}"
        );
        world.tick();
    }
    let settled = world.sim.now().saturating_duration_since(settling);
    world.run(Duration::from_secs(1));
    let talk = world.sim.now().saturating_duration_since(started);
    let removal_epoch = removal_epoch.unwrap();
    assert!(
        posted.len() > 60,
        "only {} messages were posted",
        posted.len()
    );

    // Every member online has every message, in the same order, and reads it all.
    let reference = world.view(ADMIN);
    let all: BTreeSet<Cid> = posted.iter().copied().collect();
    assert_eq!(
        reference.iter().map(|(c, _)| *c).collect::<BTreeSet<_>>(),
        all,
        "seed {seed}"
    );
    for i in (0..MEMBERS).filter(|i| *i != LATE && *i != REMOVED) {
        assert_eq!(
            world.view(i),
            reference,
            "member {i} diverged; QUORATE_SIM_SEED={seed}"
        );
        assert!(reference.iter().all(|(_, readable)| *readable));
    }
    // The removed member holds everything, reads what came before its removal, nothing
    // after; the newcomer the opposite.
    let removed = world.machines[&REMOVED].state();
    assert!(removed.key(&removal_epoch).is_none());
    for m in removed.messages() {
        assert_eq!(
            m.plaintext.is_some(),
            m.epoch_state != removal_epoch,
            "removed member and message {}",
            m.cid
        );
    }
    // (Messages posted after the removal by members who had not yet heard of it are in
    // the old epoch: readable by the old members, like any message sent in an epoch.)
    let newcomer = world.machines[&NEWCOMER].state();
    assert_eq!(newcomer.message_count(), posted.len());
    let mut lagging = 0;
    for m in newcomer.messages() {
        assert_eq!(m.plaintext.is_some(), m.epoch_state == removal_epoch);
        if before_removal.contains(&m.cid) {
            assert!(m.plaintext.is_none());
        } else if m.epoch_state != removal_epoch {
            lagging += 1;
        }
    }
    // Caches hold every message and read none.
    for c in MEMBERS..MEMBERS + CACHES {
        let cache = world.machines[&c].state();
        assert_eq!(cache.message_count(), posted.len(), "cache {c}");
        assert!(cache.messages().all(|m| m.plaintext.is_none()));
        let store = world.sim.store(c).unwrap();
        let meta = store.meta(&posted[0]).unwrap().unwrap();
        assert_eq!(meta.class, PinClass::Retained);
    }

    // Everyone else goes away; the late member comes online to the caches alone.
    for i in (0..MEMBERS).chain([NEWCOMER]) {
        if world.sim.is_online(i) {
            world.sim.take_offline(i).unwrap();
        }
    }
    world.sim.bring_online(LATE, 0).unwrap();
    for c in MEMBERS..MEMBERS + CACHES {
        world.sim.connect(LATE, c).unwrap();
    }
    world.start(LATE);
    let back = world.sim.now();
    while world.view(LATE).len() < posted.len() || !world.view(LATE).iter().all(|(_, r)| *r) {
        assert!(
            world.sim.now().saturating_duration_since(back) < Duration::from_secs(300),
            "late member stuck at {}/{}; QUORATE_SIM_SEED={seed}",
            world.view(LATE).len(),
            posted.len()
        );
        world.tick();
    }
    let caught_up = world.sim.now().saturating_duration_since(back);
    assert_eq!(world.view(LATE), reference);
    eprintln!(
        "group: {} messages, 20 members + newcomer, 2% loss, {CHURN} offline at a time: \
         {} ms of conversation, everyone online had everything {} ms after churn stopped; the late member caught up from {CACHES} caches \
         in {} ms; {lagging} messages after the removal were still sent in the old epoch \
         by members who had not heard of it yet (seed {seed})",
        posted.len(),
        talk.as_micros() / 1000,
        settled.as_micros() / 1000,
        caught_up.as_micros() / 1000,
    );
}
