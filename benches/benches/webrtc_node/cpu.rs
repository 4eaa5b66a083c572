//! CPU time per thread, from /proc: which thread limits a transfer.

use std::collections::BTreeMap;
use std::time::Duration;

/// CPU time used between [`CpuSnapshot::take`] and [`CpuSnapshot::since`].
#[derive(Clone, Copy, Default)]
pub(crate) struct Cpu {
    /// The whole process.
    pub(crate) process: Duration,
    /// The `quorate-webrtc` IO threads alive throughout, in bind order: A's (the
    /// sender's), then B's.
    pub(crate) io: [Duration; 2],
    /// The bench's own threads: the main one (the raw loop, or the drivers) plus, when
    /// each node has its own thread, A's.
    pub(crate) bench: Duration,
}

/// CPU times of this process and each of its threads, from /proc (10 ms ticks).
pub(crate) struct CpuSnapshot {
    process: Duration,
    threads: BTreeMap<u32, (String, Duration)>,
}

impl CpuSnapshot {
    pub(crate) fn take() -> Self {
        let read = |path: &str| std::fs::read_to_string(path).ok().and_then(|s| times(&s));
        let process = read("/proc/self/stat").map_or(Duration::ZERO, |(_, t)| t);
        let mut threads = BTreeMap::new();
        for entry in std::fs::read_dir("/proc/self/task")
            .into_iter()
            .flatten()
            .flatten()
        {
            let Some(tid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
                continue;
            };
            if let Some(t) = read(&format!("/proc/self/task/{tid}/stat")) {
                threads.insert(tid, t);
            }
        }
        CpuSnapshot { process, threads }
    }

    pub(crate) fn since(&self) -> Cpu {
        let now = CpuSnapshot::take();
        let used = |tid: &u32, t: &Duration| {
            self.threads
                .get(tid)
                .map(|(_, before)| t.saturating_sub(*before))
        };
        let io: Vec<Duration> = now
            .threads
            .iter()
            .filter(|(_, (name, _))| name == "quorate-webrtc")
            .filter_map(|(tid, (_, t))| used(tid, t))
            .collect();
        let main = std::process::id();
        let bench = now
            .threads
            .get(&main)
            .and_then(|(_, t)| used(&main, t))
            .unwrap_or_default();
        Cpu {
            process: now.process.saturating_sub(self.process),
            io: [
                io.first().copied().unwrap_or_default(),
                io.get(1).copied().unwrap_or_default(),
            ],
            bench,
        }
    }
}

/// Name and user + system CPU time from a `stat` file.
pub(crate) fn times(stat: &str) -> Option<(String, Duration)> {
    let (head, tail) = stat.rsplit_once(')')?;
    let name = head.split_once('(')?.1.to_owned();
    let fields: Vec<&str> = tail.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|s| s.parse::<u64>().ok());
    // utime and stime (fields 14, 15 of stat) are 11 and 12 after the command name.
    Some((name, Duration::from_millis((ticks(11)? + ticks(12)?) * 10)))
}
