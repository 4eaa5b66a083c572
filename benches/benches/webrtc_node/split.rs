//! Each node on its own thread, as two node processes would run: a slow store write on
//! the fetching node no longer holds up the serving one.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant as StdInstant};

use quorate_mesh_blockstore::BlockStore;
use quorate_mesh_proto::Cid;
use quorate_mesh_proto::mesh::{self, Event};
use quorate_mesh_transport::DriverEvent;

use crate::cpu::times;
use crate::pair::{NAP, Node, Nodes, TIMEOUT, micros};

/// Pumps `node` whenever its transport has news, until `stop`. Returns the time spent
/// pumping, this thread's CPU time and any events it did not expect.
fn serve<S: BlockStore>(
    node: &mut Node<S>,
    clock: StdInstant,
    stop: &AtomicBool,
) -> (Duration, Duration, Vec<String>) {
    let (mut busy, mut odd) = (Duration::ZERO, Vec::new());
    let start = StdInstant::now();
    while !stop.load(Ordering::Relaxed) && start.elapsed() < TIMEOUT {
        let t = StdInstant::now();
        let handled = node.pump(micros(clock));
        busy += t.elapsed();
        while let Some(e) = node.poll_event() {
            if !matches!(e, DriverEvent::Mesh(Event::OutboxFull { .. })) {
                odd.push(format!("a: {e:?}"));
            }
        }
        if handled == 0 {
            node.transport().wait(nap(node, clock));
        }
    }
    // This thread is new: all its CPU time is the serving loop's.
    let cpu = std::fs::read_to_string("/proc/thread-self/stat")
        .ok()
        .and_then(|s| times(&s))
        .map_or(Duration::ZERO, |(_, t)| t);
    (busy, cpu, odd)
}

/// How long a driver may sleep: until its machine's next timer, at most [`NAP`].
fn nap<S: BlockStore>(node: &Node<S>, clock: StdInstant) -> Duration {
    node.poll_timeout().map_or(NAP, |at| {
        let now = micros(clock).as_micros();
        Duration::from_micros(at.as_micros().saturating_sub(now)).min(NAP)
    })
}

impl<S: BlockStore + Send> Nodes<S> {
    /// `b` wants `cids` and fetches them on this thread while `a` serves on another
    /// (both connected already; no signals move). Returns A's thread CPU time.
    pub(crate) fn fetch_split(&mut self, cids: &[Cid]) -> Duration {
        let target = self.seen.fetched + cids.len();
        let clock = self.clock;
        let stop = AtomicBool::new(false);
        let (a, b, seen, busy) = (&mut self.a, &mut self.b, &mut self.seen, &mut self.busy);
        let (served, cpu, odd) = std::thread::scope(|scope| {
            let server = std::thread::Builder::new()
                .name("quorate-serve".into())
                .spawn_scoped(scope, || serve(a, clock, &stop))
                .unwrap();
            let now = micros(clock);
            for cid in cids {
                let want = mesh::Input::Want {
                    cid: *cid,
                    priority: 1,
                };
                b.handle(now, want).unwrap();
            }
            let start = StdInstant::now();
            while seen.fetched < target && start.elapsed() < TIMEOUT {
                let t = StdInstant::now();
                let handled = b.pump(micros(clock));
                busy.b += t.elapsed();
                while let Some(e) = b.poll_event() {
                    match e {
                        DriverEvent::Mesh(Event::Fetched { .. }) => {
                            seen.fetched += 1;
                            seen.last_fetched = Some(StdInstant::now());
                        }
                        DriverEvent::Mesh(Event::HeadUpdated { .. }) => {}
                        other => seen.anomalies.push(format!("b: {other:?}")),
                    }
                }
                if handled == 0 {
                    let t = StdInstant::now();
                    b.transport().wait(nap(b, clock));
                    busy.waiting += t.elapsed();
                }
            }
            stop.store(true, Ordering::Relaxed);
            server.join().unwrap()
        });
        self.busy.a += served;
        self.seen.anomalies.extend(odd);
        assert!(self.seen.fetched >= target, "stuck: {}", self.diag());
        cpu
    }
}
