//! Argon2id cost parameters, their sane bounds, and the one Argon2id call the crate makes.

use core::fmt;

use argon2::{Algorithm, Argon2, Params, Version};
use zeroize::Zeroizing;

/// Argon2id cost parameters (RFC 9106): memory in KiB, passes, lanes.
///
/// A keystore file stores them, so they can grow later without a format change. Any
/// parameters read from a file go through [`KdfParams::validate`] before Argon2id runs, so
/// a file cannot ask for 4 GiB of memory or a billion passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KdfParams {
    /// Memory cost `m` in KiB.
    pub m_cost_kib: u32,
    /// Time cost `t`: passes over the memory.
    pub t_cost: u32,
    /// Parallelism `p`: lanes. This crate computes lanes one after another; `p` changes
    /// the result, not the speed.
    pub p_cost: u8,
}

impl KdfParams {
    /// What [`Keystore::seal`](super::Keystore::seal) should be given for a real key:
    /// `m = 65536` KiB (64 MiB), `t = 3`, `p = 1`. That is well above the OWASP Password
    /// Storage Cheat Sheet's floor for Argon2id (19 MiB, `t = 2`, `p = 1`) and RFC 9106's
    /// second recommended option (64 MiB, `t = 3`) with one lane instead of four, since
    /// this crate computes lanes one after another.
    pub const DEFAULT: KdfParams = KdfParams::new(64 * 1024, 3, 1);

    /// The cheapest parameters Argon2id allows (`m = 8` KiB, `t = 1`, `p = 1`), for tests
    /// and fuzzing. **Never** for a real key: a guess costs microseconds.
    pub const TESTING: KdfParams = KdfParams::new(8, 1, 1);

    /// The smallest memory cost accepted, in KiB (Argon2's own floor, per lane).
    pub const MIN_M_COST_KIB: u32 = 8;
    /// The largest memory cost accepted: 1 GiB (16 times [`KdfParams::DEFAULT`]).
    pub const MAX_M_COST_KIB: u32 = 1024 * 1024;
    /// The largest time cost accepted.
    pub const MAX_T_COST: u32 = 16;
    /// The largest parallelism accepted.
    pub const MAX_P_COST: u8 = 16;

    /// The largest parameters [`KdfParams::validate`] accepts, each at its maximum: the
    /// default limit of [`Keystore::open`](super::Keystore::open).
    pub const MAX: KdfParams =
        KdfParams::new(Self::MAX_M_COST_KIB, Self::MAX_T_COST, Self::MAX_P_COST);

    /// Parameters from their three costs (not validated: see [`KdfParams::validate`]).
    #[must_use]
    pub const fn new(m_cost_kib: u32, t_cost: u32, p_cost: u8) -> Self {
        KdfParams {
            m_cost_kib,
            t_cost,
            p_cost,
        }
    }

    /// Checks each cost against its bounds: `1 ≤ p ≤ 16`, `8·p ≤ m ≤ 1 GiB` (in KiB),
    /// `1 ≤ t ≤ 16`.
    ///
    /// # Errors
    /// [`ParamsError`] naming the first cost out of bounds.
    pub const fn validate(&self) -> Result<(), ParamsError> {
        if self.p_cost == 0 || self.p_cost > Self::MAX_P_COST {
            return Err(ParamsError::Parallelism {
                p_cost: self.p_cost,
            });
        }
        let floor = Self::MIN_M_COST_KIB * self.p_cost as u32;
        if self.m_cost_kib < floor || self.m_cost_kib > Self::MAX_M_COST_KIB {
            return Err(ParamsError::Memory {
                m_cost_kib: self.m_cost_kib,
            });
        }
        if self.t_cost == 0 || self.t_cost > Self::MAX_T_COST {
            return Err(ParamsError::Time {
                t_cost: self.t_cost,
            });
        }
        Ok(())
    }

    /// True if no cost exceeds the same cost in `limit`.
    #[must_use]
    pub const fn within(&self, limit: &KdfParams) -> bool {
        self.m_cost_kib <= limit.m_cost_kib
            && self.t_cost <= limit.t_cost
            && self.p_cost <= limit.p_cost
    }
}

impl fmt::Display for KdfParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Argon2id m={} KiB, t={}, p={}",
            self.m_cost_kib, self.t_cost, self.p_cost
        )
    }
}

/// An Argon2id cost outside the bounds of [`KdfParams::validate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParamsError {
    /// The memory cost is under 8 KiB per lane or over 1 GiB.
    #[error("memory cost {m_cost_kib} KiB is outside 8 KiB per lane ..= 1 GiB")]
    Memory {
        /// The memory cost asked for, in KiB.
        m_cost_kib: u32,
    },
    /// The time cost is 0 or over 16.
    #[error("time cost {t_cost} is outside 1..=16")]
    Time {
        /// The time cost asked for.
        t_cost: u32,
    },
    /// The parallelism is 0 or over 16.
    #[error("parallelism {p_cost} is outside 1..=16")]
    Parallelism {
        /// The parallelism asked for.
        p_cost: u8,
    },
}

/// Argon2id (version 0x13) of `passphrase` under `salt`, 32 bytes out.
///
/// `params` must have passed [`KdfParams::validate`]; the caller checks, so the error
/// here only says which internal assumption broke.
pub(crate) fn argon2id(
    passphrase: &[u8],
    salt: &[u8],
    params: &KdfParams,
) -> Result<Zeroizing<[u8; 32]>, &'static str> {
    params
        .validate()
        .map_err(|_| "Argon2id parameters were not validated")?;
    let params = Params::new(
        params.m_cost_kib,
        params.t_cost,
        u32::from(params.p_cost),
        Some(32),
    )
    .map_err(|_| "Argon2id refused validated parameters")?;
    let mut out = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase, salt, out.as_mut())
        .map_err(|_| "Argon2id refused its input")?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_inclusive_and_each_cost_is_named() {
        for ok in [
            KdfParams::DEFAULT,
            KdfParams::TESTING,
            KdfParams::MAX,
            KdfParams::new(128, 16, 16),
        ] {
            assert_eq!(ok.validate(), Ok(()), "{ok}");
        }
        let bad = [
            (
                KdfParams::new(7, 1, 1),
                ParamsError::Memory { m_cost_kib: 7 },
            ),
            (
                KdfParams::new(15, 1, 2),
                ParamsError::Memory { m_cost_kib: 15 },
            ),
            (
                KdfParams::new(4 * 1024 * 1024, 1, 1),
                ParamsError::Memory {
                    m_cost_kib: 4 * 1024 * 1024,
                },
            ),
            (KdfParams::new(8, 0, 1), ParamsError::Time { t_cost: 0 }),
            (
                KdfParams::new(8, 1_000_000_000, 1),
                ParamsError::Time {
                    t_cost: 1_000_000_000,
                },
            ),
            (
                KdfParams::new(8, 1, 0),
                ParamsError::Parallelism { p_cost: 0 },
            ),
            (
                KdfParams::new(1024, 1, 17),
                ParamsError::Parallelism { p_cost: 17 },
            ),
        ];
        for (params, err) in bad {
            assert_eq!(params.validate(), Err(err), "{params}");
            assert!(argon2id(b"pw", &[0; 16], &params).is_err());
        }
        assert!(KdfParams::TESTING.within(&KdfParams::DEFAULT));
        assert!(!KdfParams::DEFAULT.within(&KdfParams::TESTING));
    }

    #[test]
    fn argon2id_is_deterministic_and_sensitive_to_each_input() {
        let a = argon2id(b"pw", &[1; 16], &KdfParams::TESTING).unwrap();
        assert_eq!(a, argon2id(b"pw", &[1; 16], &KdfParams::TESTING).unwrap());
        assert_ne!(a, argon2id(b"pW", &[1; 16], &KdfParams::TESTING).unwrap());
        assert_ne!(a, argon2id(b"pw", &[2; 16], &KdfParams::TESTING).unwrap());
        assert_ne!(
            a,
            argon2id(b"pw", &[1; 16], &KdfParams::new(8, 2, 1)).unwrap()
        );
    }
}
