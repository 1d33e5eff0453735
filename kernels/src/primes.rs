//! Generation of NTT-friendly primes: `p ≡ 1 (mod 2N)` of a requested bit size, so the ring
//! `Z_p[X]/(X^N + 1)` has a primitive 2N-th root of unity.

use crate::{KernelError, Modulus, Result};

/// Deterministic Miller–Rabin for 64-bit integers (the witness set below is exact for all `u64`).
pub fn is_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    for p in [2u64, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37] {
        if n.is_multiple_of(p) {
            return n == p;
        }
    }
    let (mut d, mut s) = (n - 1, 0);
    while d % 2 == 0 {
        d /= 2;
        s += 1;
    }
    let mulmod = |a: u64, b: u64| (a as u128 * b as u128 % n as u128) as u64;
    let powmod = |mut b: u64, mut e: u64| {
        let mut acc = 1u64;
        while e > 0 {
            if e & 1 == 1 {
                acc = mulmod(acc, b);
            }
            b = mulmod(b, b);
            e >>= 1;
        }
        acc
    };
    'witness: for a in [2u64, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37] {
        let mut x = powmod(a, d);
        if x == 1 || x == n - 1 {
            continue;
        }
        for _ in 1..s {
            x = mulmod(x, x);
            if x == n - 1 {
                continue 'witness;
            }
        }
        return false;
    }
    true
}

/// Distinct primes `p ≡ 1 (mod 2N)`, one per requested bit size, each as close to `2^bits` as the
/// congruence allows and below `2^61` (see [`Modulus::MAX_BITS`]). `exclude` lists primes already taken.
pub fn ntt_primes(log_n: u32, bit_sizes: &[u32], exclude: &[u64]) -> Result<Vec<u64>> {
    let step = 2u64 << log_n;
    let mut taken: Vec<u64> = exclude.to_vec();
    let mut out = Vec::with_capacity(bit_sizes.len());
    for (i, &bits) in bit_sizes.iter().enumerate() {
        if !(log_n + 2..=Modulus::MAX_BITS).contains(&bits) {
            return Err(KernelError::PrimeBits {
                bits,
                log_n,
                max: Modulus::MAX_BITS,
            });
        }
        let center = 1u64 << bits;
        let (floor, limit) = (1u64 << (bits - 1), 1u64 << Modulus::MAX_BITS);
        // Candidates alternate just below and just above 2^bits (odd indices prefer above), so
        // products of primes stay near a power of two and CKKS scales drift little.
        let found = (1u64..)
            .map_while(|k| {
                let below = center
                    .checked_sub(k * step)
                    .map(|c| c + 1)
                    .filter(|&c| c > floor);
                let above = Some(center + 1 + (k - 1) * step).filter(|&c| c < limit);
                (below.is_some() || above.is_some()).then_some(if i % 2 == 1 {
                    [above, below]
                } else {
                    [below, above]
                })
            })
            .flatten()
            .flatten()
            .find(|c| !taken.contains(c) && is_prime(*c))
            .ok_or(KernelError::NoPrime {
                bits,
                log_n,
                index: i,
            })?;
        taken.push(found);
        out.push(found);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primality_matches_trial_division() {
        let trial = |n: u64| {
            n >= 2
                && (2..)
                    .take_while(|d| d * d <= n)
                    .all(|d| !n.is_multiple_of(d))
        };
        for n in 0..20_000u64 {
            assert_eq!(is_prime(n), trial(n), "{n}");
        }
        // Strong pseudoprimes to several bases, and a large known prime (2^61 - 1).
        assert!(!is_prime(3_215_031_751));
        assert!(!is_prime(3_825_123_056_546_413_051));
        assert!(is_prime((1 << 61) - 1));
    }

    #[test]
    fn primes_are_ntt_friendly_distinct_and_sized() {
        let sizes = [60, 40, 40, 40, 61, 61];
        let ps = ntt_primes(16, &sizes, &[]).unwrap();
        for (p, bits) in ps.iter().zip(sizes) {
            assert!(is_prime(*p));
            assert_eq!(p % (1 << 17), 1);
            assert!((*p as f64).log2() - bits as f64 <= 0.01);
        }
        let mut sorted = ps.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), ps.len());
    }

    #[test]
    fn bad_sizes_are_errors() {
        assert!(ntt_primes(16, &[62], &[]).is_err());
        assert!(ntt_primes(16, &[10], &[]).is_err());
    }
}
