//! Rate limiting: a generic cell rate algorithm (GCRA), the token bucket in one timestamp.

use std::time::Duration;

use tokio::time::Instant;

/// Allows `burst` events at once and one more every `interval` after that.
///
/// Equivalent to a token bucket of `burst` tokens refilled one per `interval`, kept as one
/// "theoretical arrival time" so there is no fractional arithmetic to get wrong.
#[derive(Debug, Clone)]
pub(crate) struct Gcra {
    interval: Duration,
    tolerance: Duration,
    tat: Instant,
}

impl Gcra {
    /// `per_sec` events per second on average, `burst` at once (both at least 1).
    pub(crate) fn per_second(per_sec: u32, burst: u32, now: Instant) -> Self {
        let interval = Duration::from_secs(1)
            .checked_div(per_sec.max(1))
            .unwrap_or(Duration::from_secs(1));
        Self::every(interval, burst, now)
    }

    /// One event per `interval` on average, `burst` at once (at least 1).
    pub(crate) fn every(interval: Duration, burst: u32, now: Instant) -> Self {
        let tolerance = interval.saturating_mul(burst.max(1).saturating_sub(1));
        Self {
            interval,
            tolerance,
            tat: now,
        }
    }

    /// Takes one token if there is one.
    pub(crate) fn allow(&mut self, now: Instant) -> bool {
        let tat = self.tat.max(now);
        if tat.saturating_duration_since(now) > self.tolerance {
            return false;
        }
        match tat.checked_add(self.interval) {
            Some(next) => {
                self.tat = next;
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_rate() {
        let t0 = Instant::now();
        let mut g = Gcra::per_second(20, 40, t0);
        assert_eq!((0..100).filter(|_| g.allow(t0)).count(), 40);
        // 50 ms later exactly one more token.
        let t1 = t0 + Duration::from_millis(50);
        assert!(g.allow(t1));
        assert!(!g.allow(t1));
        // Idle for a long time refills to the burst, not beyond.
        let t2 = t1 + Duration::from_secs(3600);
        assert_eq!((0..100).filter(|_| g.allow(t2)).count(), 40);
    }

    #[test]
    fn slow_intervals() {
        let t0 = Instant::now();
        let mut g = Gcra::every(Duration::from_secs(5), 3, t0);
        assert_eq!((0..10).filter(|_| g.allow(t0)).count(), 3);
        assert!(!g.allow(t0 + Duration::from_secs(4)));
        assert!(g.allow(t0 + Duration::from_secs(5)));
    }

    #[test]
    fn zero_parameters_still_allow_one() {
        let t0 = Instant::now();
        let mut g = Gcra::per_second(0, 0, t0);
        assert!(g.allow(t0));
        assert!(!g.allow(t0));
    }
}
