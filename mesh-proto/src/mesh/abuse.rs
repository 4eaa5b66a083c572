//! Rate limiting and peer scores: integer arithmetic on virtual time, so runs replay.

use crate::Instant;

/// A token bucket: `rate` tokens per second, holding at most `burst`.
#[derive(Clone, Debug)]
pub(crate) struct TokenBucket {
    /// Tokens in millionths, to refill exactly per microsecond.
    micro_tokens: u128,
    rate_per_sec: u64,
    burst: u64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket; bursts up to twice the rate.
    pub(crate) fn new(rate_per_sec: u64, now: Instant) -> Self {
        let burst = rate_per_sec.saturating_mul(2).max(1);
        TokenBucket {
            micro_tokens: u128::from(burst) * 1_000_000,
            rate_per_sec,
            burst,
            last: now,
        }
    }

    /// A full bucket holding at most `burst` tokens.
    pub(crate) fn with_burst(rate_per_sec: u64, burst: u64, now: Instant) -> Self {
        let burst = burst.max(1);
        TokenBucket {
            micro_tokens: u128::from(burst) * 1_000_000,
            rate_per_sec,
            burst,
            last: now,
        }
    }

    /// Most tokens the bucket ever holds.
    pub(crate) fn burst(&self) -> u64 {
        self.burst
    }

    /// When `n` tokens will be available (`now` if they are; never for a zero rate).
    pub(crate) fn ready_at(&self, now: Instant, n: u64) -> Option<Instant> {
        let elapsed = now.saturating_duration_since(self.last).as_micros();
        let cap = u128::from(self.burst) * 1_000_000;
        let have = (self.micro_tokens + elapsed * u128::from(self.rate_per_sec)).min(cap);
        let need = u128::from(n.min(self.burst)) * 1_000_000;
        if have >= need {
            return Some(now);
        }
        if self.rate_per_sec == 0 {
            return None;
        }
        let micros = (need - have).div_ceil(u128::from(self.rate_per_sec));
        let micros = u64::try_from(micros).unwrap_or(u64::MAX);
        Some(now + crate::Duration::from_micros(micros))
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_micros();
        self.last = self.last.max(now);
        let cap = u128::from(self.burst) * 1_000_000;
        self.micro_tokens = (self.micro_tokens + elapsed * u128::from(self.rate_per_sec)).min(cap);
    }

    /// Takes `n` tokens if available.
    pub(crate) fn take(&mut self, now: Instant, n: u64) -> bool {
        self.refill(now);
        let need = u128::from(n) * 1_000_000;
        if self.micro_tokens >= need {
            self.micro_tokens -= need;
            true
        } else {
            false
        }
    }
}

/// What a peer did, for scoring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Deed {
    /// First delivery of a message or a wanted block.
    Useful,
    /// An eager push after we pruned the peer on that topic.
    Duplicate,
    /// A frame over a rate limit.
    RateLimited,
    /// A frame that does not parse or breaks a limit.
    Malformed,
    /// A protocol violation (frame in the wrong state, unsolicited block).
    Violation,
    /// A block whose bytes do not match its CID.
    Forged,
    /// Content the application found invalid (a forged feed head, a bad signature).
    Invalid,
}

impl Deed {
    pub(crate) fn points(self) -> i32 {
        match self {
            Deed::Useful => 1,
            Deed::Duplicate => -2,
            Deed::RateLimited => -5,
            Deed::Malformed => -25,
            Deed::Violation => -10,
            Deed::Forged => -60,
            Deed::Invalid => -40,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_refills_at_rate_and_caps_at_burst() {
        let t0 = Instant::from_millis(0);
        let mut b = TokenBucket::new(10, t0);
        assert!((0..20).all(|_| b.take(t0, 1)), "burst of 2x rate");
        assert!(!b.take(t0, 1));
        let t1 = Instant::from_millis(100); // +1 token
        assert!(b.take(t1, 1));
        assert!(!b.take(t1, 1));
        let t2 = Instant::from_millis(1_000_000);
        assert!(b.take(t2, 20));
        assert!(!b.take(t2, 1));
        assert!(!b.take(t0, 1), "time going backwards adds nothing");
    }

    #[test]
    fn ready_at_predicts_the_refill() {
        let t0 = Instant::from_millis(0);
        let mut b = TokenBucket::with_burst(1_000, 100, t0);
        assert_eq!(b.ready_at(t0, 100), Some(t0));
        assert!(b.take(t0, 100));
        let at = b.ready_at(t0, 10).unwrap();
        assert_eq!(at, Instant::from_millis(10));
        assert!(!b.take(Instant::from_micros(9_999), 10));
        assert!(b.take(at, 10));
        // More than the burst is capped to the burst (it could never be had otherwise).
        assert_eq!(b.ready_at(at, 10_000), Some(Instant::from_millis(110)));
        let mut never = TokenBucket::with_burst(0, 1, t0);
        assert!(never.take(t0, 1));
        assert_eq!(never.ready_at(t0, 1), None, "a zero rate never refills");
    }
}
