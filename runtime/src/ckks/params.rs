//! CKKS parameters: the unchecked serde literal shared with the IR and the `.plan`
//! ([`ParametersLiteral`] = `cachemir_ir::CkksParamsLiteral`) validated into checked
//! [`Parameters`] (primes generated, ring built, security assessed), and the named sets we ship.
//!
//! | name | N | Q limbs (bits) | P limbs | scale | log2 QP | secret | 128-bit bound | secure |
//! |---|---|---|---|---|---|---|---|---|
//! | `N16_BOOT` | 2^16 | 25: 60, 9×45 (compute), 3×42 (SlotsToCoeffs), 8×60 (EvalMod), 4×56 (CoeffsToSlots) | 5×61 | 2^45 | 1600 | dense ternary | 1772 | yes |
//! | `N15` | 2^15 | 15: 60, 14×45 | 3×61 | 2^45 | 873 | dense ternary | 881 | yes |
//! | `INSECURE_N12` | 2^12 | 9: 60, 8×40 | 2×61 | 2^40 | 442 | dense ternary | 109 | **no** (tests only) |
//! | `INSECURE_N10` | 2^10 | 4: 50, 3×40 | 1×61 | 2^40 | 231 | dense ternary | 27 | **no** (tests only) |
//!
//! The secure sets use a 2^45 scale: with a dense ternary secret at N = 2^16, a fresh public-key
//! encryption carries ≈ 2^18 of noise in the slots and a rescale ≈ 2^14, so 2^40 would cap the
//! precision of a product near 22 bits; 2^45 gives ≈ 26.
//!
//! Bounds: the Homomorphic Encryption Standard's 128-bit classical limits on log2(QP) for a uniform
//! ternary secret (27, 54, 109, 218, 438, 881 for N = 2^10 … 2^15), extended to 1772 at N = 2^16 as
//! in OpenFHE's `HEStd_128_classic` table. A fixed-Hamming-weight secret is rated secure only where a
//! published estimate covers it: h ≥ 192 at N = 2^16 with log2(QP) ≤ 1546 (Lattigo's default sets).
//! Key switching is hybrid: the Q primes are split into `dnum = ⌈|Q| / |P|⌉` digits of |P| primes.

use crate::{Result, RuntimeError};
use cachemir_kernels::{primes::ntt_primes, Ring};
use std::sync::Arc;

pub use cachemir_ir::params::{CkksParamsLiteral as ParametersLiteral, SecretDistribution};

/// The named parameter sets, as `(name, literal)`.
pub fn named_sets() -> Vec<(&'static str, ParametersLiteral)> {
    let chain = |parts: &[(usize, u32)]| {
        parts
            .iter()
            .flat_map(|&(count, bits)| std::iter::repeat_n(bits, count))
            .collect()
    };
    let lit = |log_n, log_q, log_p, log_default_scale| ParametersLiteral {
        log_n,
        log_q,
        log_p,
        log_default_scale,
        secret: SecretDistribution::Dense,
    };
    vec![
        (
            "N16_BOOT",
            lit(
                16,
                chain(&[(1, 60), (9, 45), (3, 42), (8, 60), (4, 56)]),
                vec![61; 5],
                45,
            ),
        ),
        ("N15", lit(15, chain(&[(1, 60), (14, 45)]), vec![61; 3], 45)),
        (
            "INSECURE_N12",
            lit(12, chain(&[(1, 60), (8, 40)]), vec![61; 2], 40),
        ),
        (
            "INSECURE_N10",
            lit(10, chain(&[(1, 50), (3, 40)]), vec![61], 40),
        ),
    ]
}

/// The largest log2(QP) that is 128-bit secure for this ring degree and secret, if known.
pub fn security_bound(log_n: u32, secret: SecretDistribution) -> Option<u32> {
    match secret {
        SecretDistribution::Dense => match log_n {
            10 => Some(27),
            11 => Some(54),
            12 => Some(109),
            13 => Some(218),
            14 => Some(438),
            15 => Some(881),
            16 => Some(1772),
            _ => None,
        },
        SecretDistribution::FixedHamming(h) if log_n == 16 && h >= 192 => Some(1546),
        SecretDistribution::FixedHamming(_) => None,
    }
}

/// Validated CKKS parameters: primes, ring tables and derived constants.
#[derive(Debug)]
pub struct Parameters {
    literal: ParametersLiteral,
    q: Vec<u64>,
    p: Vec<u64>,
    ring: Arc<Ring>,
    log_qp: f64,
}

impl Parameters {
    /// Validates a literal: generates its primes and builds the ring.
    pub fn new(literal: ParametersLiteral) -> Result<Self> {
        let bad = |reason: String| Err(RuntimeError::InvalidParameters { reason });
        if literal.log_q.is_empty() {
            return bad("at least one Q prime is needed".into());
        }
        if literal.log_p.is_empty() {
            return bad("at least one P prime is needed for key switching".into());
        }
        if literal.log_q.len() > 64 || literal.log_p.len() > 64 {
            return bad(format!(
                "at most 64 Q and 64 P primes (got {} and {})",
                literal.log_q.len(),
                literal.log_p.len()
            ));
        }
        if !(10..=60).contains(&literal.log_default_scale)
            || literal.log_default_scale >= literal.log_q[0]
        {
            return bad(format!(
                "log scale {} must be in 10..=60 and below log q_0 = {}",
                literal.log_default_scale, literal.log_q[0]
            ));
        }
        if let SecretDistribution::FixedHamming(h) = literal.secret {
            if h == 0 || h as u64 > 1u64 << literal.log_n.min(40) {
                return bad(format!(
                    "Hamming weight {h} out of range for N = 2^{}",
                    literal.log_n
                ));
            }
        }
        if !(Ring::MIN_LOG_N..=Ring::MAX_LOG_N).contains(&literal.log_n) {
            return bad(format!(
                "log N = {} outside {}..={}",
                literal.log_n,
                Ring::MIN_LOG_N,
                Ring::MAX_LOG_N
            ));
        }
        let q = ntt_primes(literal.log_n, &literal.log_q, &[])?;
        let p = ntt_primes(literal.log_n, &literal.log_p, &q)?;
        let ring = Arc::new(Ring::new(literal.log_n, &q, &p)?);
        let log_qp = q.iter().chain(&p).map(|&x| (x as f64).log2()).sum();
        Ok(Self {
            literal,
            q,
            p,
            ring,
            log_qp,
        })
    }

    /// A named set from [`named_sets`].
    pub fn named(name: &str) -> Result<Self> {
        let sets = named_sets();
        match sets.iter().find(|(n, _)| *n == name) {
            Some((_, lit)) => Self::new(lit.clone()),
            None => Err(RuntimeError::UnknownParameterSet {
                name: name.to_string(),
                known: sets.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
            }),
        }
    }

    /// The literal these parameters were built from.
    pub fn literal(&self) -> &ParametersLiteral {
        &self.literal
    }

    /// The ring tables.
    pub fn ring(&self) -> &Arc<Ring> {
        &self.ring
    }

    /// log2 N.
    pub fn log_n(&self) -> u32 {
        self.literal.log_n
    }

    /// Ring degree N.
    pub fn n(&self) -> usize {
        1 << self.literal.log_n
    }

    /// Maximum number of slots (N/2).
    pub fn max_slots(&self) -> usize {
        self.n() / 2
    }

    /// The highest level (|Q| − 1).
    pub fn max_level(&self) -> usize {
        self.q.len() - 1
    }

    /// The ciphertext primes.
    pub fn q(&self) -> &[u64] {
        &self.q
    }

    /// The key-switching primes.
    pub fn p(&self) -> &[u64] {
        &self.p
    }

    /// Primes per key-switching digit (= |P|).
    pub fn digit_size(&self) -> usize {
        self.p.len()
    }

    /// Number of key-switching digits at the top level: ⌈|Q| / |P|⌉.
    pub fn dnum(&self) -> usize {
        self.q.len().div_ceil(self.p.len())
    }

    /// The default encoding scale.
    pub fn default_scale(&self) -> f64 {
        2f64.powi(self.literal.log_default_scale as i32)
    }

    /// log2(QP), the quantity the security bound limits.
    pub fn log_qp(&self) -> f64 {
        self.log_qp
    }

    /// Whether log2(QP) is within the 128-bit bound for this degree and secret ([`security_bound`]).
    pub fn is_secure(&self) -> bool {
        security_bound(self.literal.log_n, self.literal.secret)
            .is_some_and(|b| self.log_qp <= b as f64)
    }

    /// A 64-bit fingerprint of the ring and moduli: objects serialized under other parameters are refused.
    pub fn fingerprint(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for x in std::iter::once(self.literal.log_n as u64)
            .chain(self.q.iter().copied())
            .chain(std::iter::once(0))
            .chain(self.p.iter().copied())
        {
            for b in x.to_le_bytes() {
                h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
            }
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_sets_have_the_documented_security() {
        for (name, lit) in named_sets() {
            let p = Parameters::new(lit).unwrap();
            assert_eq!(
                p.is_secure(),
                !name.starts_with("INSECURE_"),
                "{name}: log QP = {}",
                p.log_qp()
            );
        }
        let boot = Parameters::named("N16_BOOT").unwrap();
        assert_eq!((boot.q().len(), boot.p().len(), boot.dnum()), (25, 5, 5));
        assert!((boot.log_qp() - 1600.0).abs() < 1.0, "{}", boot.log_qp());
        assert!((Parameters::named("N15").unwrap().log_qp() - 873.0).abs() < 1.0);
    }

    #[test]
    fn bad_literals_are_typed_errors() {
        let good = named_sets().pop().unwrap().1;
        let cases = [
            ParametersLiteral {
                log_q: vec![],
                ..good.clone()
            },
            ParametersLiteral {
                log_p: vec![],
                ..good.clone()
            },
            ParametersLiteral {
                log_n: 30,
                ..good.clone()
            },
            ParametersLiteral {
                log_q: vec![70],
                ..good.clone()
            },
            ParametersLiteral {
                log_default_scale: 55,
                ..good.clone()
            },
            ParametersLiteral {
                secret: SecretDistribution::FixedHamming(0),
                ..good.clone()
            },
        ];
        for lit in cases {
            assert!(Parameters::new(lit.clone()).is_err(), "{lit:?}");
        }
        assert!(matches!(
            Parameters::named("nope"),
            Err(RuntimeError::UnknownParameterSet { .. })
        ));
    }
}
