//! What the demo says: a line per event as it happens (stdout, or stderr with `--json`),
//! each step's duration, a summary table at the end and the machine-readable transcript.

use std::io::Write as _;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

/// One finished step.
#[derive(Debug, Serialize)]
pub(crate) struct StepRecord {
    /// Short name, e.g. `vote`.
    pub(crate) step: &'static str,
    /// What it did, one line.
    pub(crate) title: String,
    /// How long it took.
    pub(crate) ms: u64,
    /// What it produced (ids, tallies, keys).
    pub(crate) facts: Value,
}

/// The narration and the record of the run.
pub(crate) struct Transcript {
    json: bool,
    started: Instant,
    step_started: Instant,
    current: Option<(&'static str, String)>,
    steps: Vec<StepRecord>,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Transcript {
    pub(crate) fn new(json: bool) -> Transcript {
        Transcript {
            json,
            started: Instant::now(),
            step_started: Instant::now(),
            current: None,
            steps: Vec::new(),
        }
    }

    /// Prints a line of narration (stderr when stdout carries the JSON transcript).
    pub(crate) fn say(&self, line: &str) {
        let result = if self.json {
            writeln!(std::io::stderr(), "{line}")
        } else {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{line}").and_then(|()| out.flush())
        };
        if result.is_err() {
            tracing::debug!("narration output is closed");
        }
    }

    /// Starts step `n` named `step`.
    pub(crate) fn begin(&mut self, step: &'static str, title: impl Into<String>) {
        let title = title.into();
        let n = self.steps.len() + 1;
        self.say(&format!("\n[{n:>2}] {title}"));
        self.current = Some((step, title));
        self.step_started = Instant::now();
    }

    /// A detail of the current step, indented.
    pub(crate) fn detail(&self, line: &str) {
        self.say(&format!("     {line}"));
    }

    /// Ends the current step with what it produced.
    pub(crate) fn done(&mut self, facts: Value) {
        let elapsed = self.step_started.elapsed();
        if let Some((step, title)) = self.current.take() {
            self.say(&format!("     ✓ {:.2} s", elapsed.as_secs_f64()));
            self.steps.push(StepRecord {
                step,
                title,
                ms: ms(elapsed),
                facts,
            });
        }
    }

    /// The step under way, for error messages.
    pub(crate) fn current(&self) -> Option<&str> {
        self.current.as_ref().map(|(_, title)| title.as_str())
    }

    /// Total time so far.
    pub(crate) fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// The summary table (timings per step).
    pub(crate) fn summary(&self) {
        self.say("\nSummary");
        for (i, s) in self.steps.iter().enumerate() {
            #[allow(clippy::cast_precision_loss, reason = "display only")]
            let secs = s.ms as f64 / 1000.0;
            self.say(&format!(
                "  {:>2}. {:<14} {secs:>7.2} s  {}",
                i + 1,
                s.step,
                s.title
            ));
        }
        self.say(&format!(
            "  total              {:>7.2} s",
            self.elapsed().as_secs_f64()
        ));
    }

    /// The JSON transcript: every step, then `result`.
    pub(crate) fn to_json(&self, ok: bool, result: Value) -> Value {
        serde_json::json!({
            "ok": ok,
            "total_ms": ms(self.elapsed()),
            "steps": self.steps,
            "result": result,
        })
    }
}
