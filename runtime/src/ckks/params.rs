//! CKKS parameters: the unchecked serde literal shared with the IR and the `.plan`
//! ([`ParametersLiteral`] = `cachemir_ir::CkksParamsLiteral`) validated into checked
//! [`Parameters`] (primes generated, ring built, security assessed). The named sets and their
//! security bounds live beside the literal in `cachemir_ir::params`, so the compiler and the runtime
//! share one table.
//!
//! Key switching is hybrid: the Q primes are split into `dnum = ⌈|Q| / α⌉` digits of `α ≤ |P|`
//! primes, `α` chosen by [`digit_size`] so that every digit stays well below P.

use crate::{Result, RuntimeError};
use cachemir_kernels::{primes::ntt_primes, Ring};
use std::sync::Arc;

pub use cachemir_ir::params::{
    named_sets, security_bound, CkksParamsLiteral as ParametersLiteral, SecretDistribution,
};

/// Validated CKKS parameters: primes, ring tables and derived constants.
#[derive(Debug)]
pub struct Parameters {
    literal: ParametersLiteral,
    q: Vec<u64>,
    p: Vec<u64>,
    ring: Arc<Ring>,
    log_qp: f64,
    digit_size: usize,
}

/// Bits by which every key-switching digit stays below P (see [`digit_size`]).
const DIGIT_MARGIN_BITS: u32 = 20;

/// The key-switching digit size `α`: the largest number of consecutive Q primes such that every
/// digit's product `Q_j` is at least `2^20` below `P` (at most |P| primes, at least one). Key
/// switching adds noise `≈ α·σ·√N·Q_j/P`, so a digit as large as P (e.g. five 60-bit primes
/// against five 61-bit ones) would add `2^{−5}·σ·√N` per coefficient instead of nothing.
pub fn digit_size(log_q: &[u32], log_p: &[u32]) -> usize {
    let log_p_total: u32 = log_p.iter().sum();
    (1..=log_p.len())
        .rev()
        .find(|&alpha| {
            log_q
                .chunks(alpha)
                .all(|digit| digit.iter().sum::<u32>() + DIGIT_MARGIN_BITS <= log_p_total)
        })
        .unwrap_or(1)
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
        let digit_size = digit_size(&literal.log_q, &literal.log_p);
        Ok(Self {
            literal,
            q,
            p,
            ring,
            log_qp,
            digit_size,
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

    /// `P mod q_i` for `i = 0 ..= level` (`P` the product of the key-switching primes).
    pub fn p_mod_q(&self, level: usize) -> Vec<u64> {
        let ring = self.ring();
        (0..=level)
            .map(|i| {
                let m = ring.modulus(i);
                self.p.iter().fold(1, |acc, &p| m.mul(acc, m.reduce(p)))
            })
            .collect()
    }

    /// Primes per key-switching digit, `α` (see [`digit_size`]).
    pub fn digit_size(&self) -> usize {
        self.digit_size
    }

    /// Number of key-switching digits at the top level: ⌈|Q| / α⌉.
    pub fn dnum(&self) -> usize {
        self.q.len().div_ceil(self.digit_size)
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
        assert_eq!((boot.q().len(), boot.p().len(), boot.dnum()), (25, 6, 5));
        assert!((boot.log_qp() - 1661.0).abs() < 1.0, "{}", boot.log_qp());
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
