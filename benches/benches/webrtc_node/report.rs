//! Results: statistics, the markdown tables for `BENCHMARKS.md`, and a JSON copy.

use std::fmt::Write as _;
use std::time::Duration;

use crate::cpu::Cpu;
use crate::pair::Busy;

const MIB: f64 = 1024.0 * 1024.0;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// The middle element (upper middle for an even count) of a sorted copy.
fn median<T: Copy + Ord>(v: &[T]) -> T {
    let mut s = v.to_vec();
    s.sort_unstable();
    s[s.len() / 2]
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// One transfer case: every run's wall time, CPU time and (nodes) thread breakdown.
pub(crate) struct Throughput {
    stack: &'static str,
    case: &'static str,
    bytes: usize,
    runs: Vec<(Duration, Cpu, Option<Busy>)>,
}

impl Throughput {
    pub(crate) fn new(stack: &'static str, case: &'static str, bytes: usize) -> Self {
        Throughput {
            stack,
            case,
            bytes,
            runs: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, wall: Duration, cpu: Cpu, busy: Option<Busy>) {
        self.runs.push((wall, cpu, busy));
    }

    /// The median run (by wall time).
    fn mid(&self) -> (Duration, Cpu, Option<Busy>) {
        let mut runs = self.runs.clone();
        runs.sort_by_key(|r| r.0);
        runs[runs.len() / 2]
    }

    fn rate(&self, wall: Duration) -> f64 {
        self.bytes as f64 / MIB / wall.as_secs_f64()
    }

    fn is_raw(&self) -> bool {
        self.case.starts_with("raw")
    }
}

/// Round-trip samples of one case.
pub(crate) struct Latency {
    stack: &'static str,
    case: &'static str,
    sorted: Vec<Duration>,
}

impl Latency {
    pub(crate) fn new(stack: &'static str, case: &'static str, mut samples: Vec<Duration>) -> Self {
        samples.sort_unstable();
        Latency {
            stack,
            case,
            sorted: samples,
        }
    }

    fn p(&self, p: f64) -> Duration {
        percentile(&self.sorted, p)
    }
}

/// Phases of each start-to-first-block run.
pub(crate) struct First {
    stack: &'static str,
    /// bind both, dial → open at both ends, open → PeerUp at both, PeerUp → Fetched, total.
    runs: Vec<[Duration; 5]>,
}

impl First {
    pub(crate) fn new(stack: &'static str) -> Self {
        First {
            stack,
            runs: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, phases: [Duration; 5]) {
        self.runs.push(phases);
    }

    fn phase(&self, i: usize) -> Vec<Duration> {
        self.runs.iter().map(|r| r[i]).collect()
    }
}

#[derive(Default)]
pub(crate) struct Report {
    pub(crate) first: Vec<First>,
    pub(crate) throughput: Vec<Throughput>,
    pub(crate) latency: Vec<Latency>,
}

impl Report {
    pub(crate) fn print(&self) {
        let mut t = String::new();
        let c = quorate_mesh_transport::webrtc::Config::default();
        let m = crate::pair::mesh_config(crate::pair::fresh_key());
        let _ = writeln!(
            t,
            "Transport: `webrtc::Config::default()` (chunk {} KiB, SCTP buffer {} KiB, send \
             buffer {} MiB). Mesh: `mesh::Config::new` defaults everywhere (outbox {} MiB, \
             want window {}, receive limit {} MiB/s per peer). Node rows run each node on its \
             own thread unless marked \"one thread for both\".",
            c.chunk_size / 1024,
            c.sctp_buffer / 1024,
            c.send_buffer / (1024 * 1024),
            m.outbox_max_bytes / (1024 * 1024),
            m.want_window,
            m.limits.bytes_per_sec / (1024 * 1024),
        );
        self.throughput_table(&mut t);
        self.latency_table(&mut t);
        self.first_table(&mut t);
        println!("{t}");
    }

    fn throughput_table(&self, t: &mut String) {
        let reps = self.throughput.first().map_or(0, |c| c.runs.len());
        let _ = writeln!(
            t,
            "\n#### Throughput: 64 MiB one way (median of {reps} runs)\n\n\
             | stack | case | MiB/s | vs raw 1 MiB frames | vs raw 64 KiB frames | \
             CPU ms/MiB (process) |\n|---|---|---|---|---|---|"
        );
        for c in &self.throughput {
            let raw = |case: &str| {
                self.throughput
                    .iter()
                    .find(|r| r.stack == c.stack && r.case == case)
                    .map(|r| r.rate(r.mid().0))
            };
            let (wall, cpu, _) = c.mid();
            let rate = c.rate(wall);
            let vs = |base: Option<f64>| {
                base.map_or(String::new(), |b| format!("{:.0}%", rate / b * 100.0))
            };
            let _ = writeln!(
                t,
                "| {} | {} | {rate:.1} | {} | {} | {:.1} |",
                c.stack,
                c.case,
                vs(raw("raw, 1 MiB frames")),
                vs(raw("raw, 64 KiB frames")),
                ms(cpu.process) / (c.bytes as f64 / MIB),
            );
        }
        let _ = writeln!(
            t,
            "\n#### Where the time goes (same median runs)\n\n\
             | stack | case | wall | CPU % of wall: A's IO thread / B's IO thread / drivers | \
             drivers: A pumping / B pumping / B asleep | frames dropped by A's outbox |\n\
             |---|---|---|---|---|---|"
        );
        for c in &self.throughput {
            let (wall, cpu, busy) = c.mid();
            let pct = |d: Duration| d.as_secs_f64() / wall.as_secs_f64() * 100.0;
            let (busy, dropped) = busy.map_or((String::new(), String::new()), |b| {
                let split = format!("{:.0} / {:.0} / {:.0} ms", ms(b.a), ms(b.b), ms(b.waiting));
                (split, b.dropped.to_string())
            });
            let _ = writeln!(
                t,
                "| {} | {} | {:.0} ms | {:.0} / {:.0} / {:.0} | {busy} | {dropped} |",
                c.stack,
                c.case,
                ms(wall),
                pct(cpu.io[0]),
                pct(cpu.io[1]),
                pct(cpu.bench),
            );
        }
    }

    fn latency_table(&self, t: &mut String) {
        let n = self.latency.first().map_or(0, |c| c.sorted.len());
        let _ = writeln!(
            t,
            "\n#### Round trip, 1 KiB ({n} samples each)\n\n\
             | stack | case | p50 | p99 | min | max | p50 vs raw | p99 vs raw |\n\
             |---|---|---|---|---|---|---|---|"
        );
        for c in &self.latency {
            let raw = self
                .latency
                .iter()
                .find(|r| r.stack == c.stack && r.case.starts_with("raw"));
            let vs = |p: f64| {
                raw.map_or(String::new(), |r| {
                    format!("{:.2}x", us(c.p(p)) / us(r.p(p)))
                })
            };
            let _ = writeln!(
                t,
                "| {} | {} | {:.0} µs | {:.0} µs | {:.0} µs | {:.0} µs | {} | {} |",
                c.stack,
                c.case,
                us(c.p(50.0)),
                us(c.p(99.0)),
                us(c.sorted[0]),
                us(c.sorted[c.sorted.len() - 1]),
                vs(50.0),
                vs(99.0),
            );
        }
    }

    fn first_table(&self, t: &mut String) {
        let n = self.first.first().map_or(0, |c| c.runs.len());
        let _ = writeln!(
            t,
            "\n#### Start to first block ({n} runs each, fresh keys; phase medians)\n\n\
             | stack | bind both | dial → channel open (both) | open → PeerUp (both) | \
             PeerUp → Fetched | total median | total min | total max |\n\
             |---|---|---|---|---|---|---|---|"
        );
        for f in &self.first {
            let total = f.phase(4);
            let _ = writeln!(
                t,
                "| {} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms |",
                f.stack,
                ms(median(&f.phase(0))),
                ms(median(&f.phase(1))),
                ms(median(&f.phase(2))),
                ms(median(&f.phase(3))),
                ms(median(&total)),
                ms(*total.iter().min().unwrap()),
                ms(*total.iter().max().unwrap()),
            );
        }
    }

    /// Writes every run's numbers to `<target dir>/quorate-bench/webrtc_node.json`.
    pub(crate) fn write_json(&self, took: Duration) {
        let mut rows = Vec::new();
        for c in &self.throughput {
            let runs: Vec<String> = c
                .runs
                .iter()
                .map(|(wall, cpu, busy)| {
                    let busy = busy.map_or(String::new(), |b| {
                        format!(
                            ", \"serving_ms\": {:.3}, \"fetching_ms\": {:.3}, \"asleep_ms\": {:.3}, \"outbox_dropped\": {}",
                            ms(b.a),
                            ms(b.b),
                            ms(b.waiting),
                            b.dropped
                        )
                    });
                    format!(
                        "{{\"wall_ms\": {:.3}, \"mib_per_s\": {:.2}, \"cpu_ms\": {:.1}, \
                         \"cpu_io_a_ms\": {:.1}, \"cpu_io_b_ms\": {:.1}, \"cpu_bench_ms\": {:.1}{busy}}}",
                        ms(*wall),
                        c.rate(*wall),
                        ms(cpu.process),
                        ms(cpu.io[0]),
                        ms(cpu.io[1]),
                        ms(cpu.bench)
                    )
                })
                .collect();
            rows.push(format!(
                "{{\"section\": \"throughput\", \"stack\": \"{}\", \"case\": \"{}\", \"bytes\": {}, \"raw\": {}, \"runs\": [{}]}}",
                c.stack,
                c.case,
                c.bytes,
                c.is_raw(),
                runs.join(", ")
            ));
        }
        for c in &self.latency {
            rows.push(format!(
                "{{\"section\": \"round_trip\", \"stack\": \"{}\", \"case\": \"{}\", \"samples\": {}, \"p50_us\": {:.1}, \"p90_us\": {:.1}, \"p99_us\": {:.1}, \"min_us\": {:.1}, \"max_us\": {:.1}}}",
                c.stack,
                c.case,
                c.sorted.len(),
                us(c.p(50.0)),
                us(c.p(90.0)),
                us(c.p(99.0)),
                us(c.sorted[0]),
                us(c.sorted[c.sorted.len() - 1]),
            ));
        }
        for f in &self.first {
            let runs: Vec<String> = f
                .runs
                .iter()
                .map(|r| {
                    format!(
                        "{{\"bind_ms\": {:.3}, \"open_ms\": {:.3}, \"handshake_ms\": {:.3}, \"fetch_ms\": {:.3}, \"total_ms\": {:.3}}}",
                        ms(r[0]),
                        ms(r[1]),
                        ms(r[2]),
                        ms(r[3]),
                        ms(r[4])
                    )
                })
                .collect();
            rows.push(format!(
                "{{\"section\": \"first_block\", \"stack\": \"{}\", \"runs\": [{}]}}",
                f.stack,
                runs.join(", ")
            ));
        }
        let json = format!(
            "{{\"bench\": \"webrtc_node\", \"wall_s\": {:.1}, \"results\": [\n  {}\n]}}\n",
            took.as_secs_f64(),
            rows.join(",\n  ")
        );
        let dir = target_dir().join("quorate-bench");
        let path = dir.join("webrtc_node.json");
        match std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, json)) {
            Ok(()) => println!("JSON: {}", path.display()),
            Err(e) => println!("JSON not written to {}: {e}", path.display()),
        }
    }
}

/// The target directory: `CARGO_TARGET_DIR`, else three levels above this executable
/// (`<target>/release/deps/webrtc_node-…`).
fn target_dir() -> std::path::PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return dir.into();
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.parent()?.to_path_buf()))
        .unwrap_or_else(|| "target".into())
}
