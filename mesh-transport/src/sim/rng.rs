//! The simulator's one source of randomness.

use quorate_mesh_proto::Duration;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

/// Parts per million: probabilities as integers, so draws replay bit for bit.
pub(crate) const PPM: u32 = 1_000_000;

/// A probability in `[0, 1]` as parts per million (out-of-range and NaN clamp).
#[allow(
    clippy::cast_possible_truncation,
    reason = "the value is clamped to [0, 1e6] before the cast"
)]
pub(crate) fn ppm(p: f64) -> u32 {
    if p.is_nan() {
        return 0;
    }
    (p.clamp(0.0, 1.0) * f64::from(PPM)).round() as u32
}

/// ChaCha20 seeded from a `u64`; every random choice of a simulation comes from here, in
/// the order events are processed.
#[derive(Debug, Clone)]
pub(crate) struct SimRng(ChaCha20Rng);

impl SimRng {
    pub(crate) fn new(seed: u64) -> Self {
        SimRng(ChaCha20Rng::seed_from_u64(seed))
    }

    /// Uniform in `0..n` (0 when `n` is 0), without modulo bias.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        let zone = u64::MAX - (u64::MAX % n);
        loop {
            let x = self.0.next_u64();
            if x < zone {
                return x % n;
            }
        }
    }

    /// Uniform index in `0..n`.
    pub(crate) fn index(&mut self, n: usize) -> usize {
        usize::try_from(self.below(n as u64)).unwrap_or(0)
    }

    /// True with probability `ppm / 1e6`. Draws nothing when the probability is 0, so
    /// turning a fault off does not shift the random stream of the other choices.
    pub(crate) fn chance(&mut self, ppm: u32) -> bool {
        ppm > 0 && self.below(u64::from(PPM)) < u64::from(ppm)
    }

    /// Uniform in `[0, max)`, microsecond resolution.
    pub(crate) fn duration_below(&mut self, max: Duration) -> Duration {
        let micros = u64::try_from(max.as_micros()).unwrap_or(u64::MAX);
        Duration::from_micros(self.below(micros))
    }

    pub(crate) fn fill(&mut self, buf: &mut [u8]) {
        self.0.fill_bytes(buf);
    }

    pub(crate) fn bytes32(&mut self) -> [u8; 32] {
        let mut out = [0; 32];
        self.0.fill_bytes(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_replay_and_stay_in_range() {
        let (mut a, mut b) = (SimRng::new(7), SimRng::new(7));
        let xs: Vec<u64> = (0..100).map(|_| a.below(10)).collect();
        let ys: Vec<u64> = (0..100).map(|_| b.below(10)).collect();
        assert_eq!(xs, ys);
        assert!(xs.iter().all(|x| *x < 10));
        assert_eq!(a.below(0), 0);
        assert!(!a.chance(0));
        assert!(a.chance(PPM));
        assert_eq!(ppm(0.05), 50_000);
        assert_eq!(ppm(2.0), PPM);
        assert_eq!(ppm(f64::NAN), 0);
        assert!(a.duration_below(Duration::from_millis(3)) < Duration::from_millis(3));
    }
}
