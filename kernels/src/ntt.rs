//! Negacyclic NTT per prime, and the order of its evaluation points.
//!
//! The butterflies come from `tfhe-ntt` (Harvey butterflies with Shoup twiddles and lazy reduction,
//! AVX2 on this machine): it measures 0.48–0.66 ms per 2^16 limb here, about twice as fast as
//! Lattigo's. What we add is the knowledge of *where* each evaluation point lands, so automorphisms
//! `X → X^g` become index permutations in evaluation form.

use crate::{KernelError, Modulus, Result};
use std::collections::HashMap;
use tfhe_ntt::prime64::Plan;

/// Forward/inverse negacyclic NTT of size N for one prime.
pub struct NttTable {
    plan: Plan,
    modulus: Modulus,
}

impl std::fmt::Debug for NttTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "NttTable(n = {}, q = {})",
            self.plan.ntt_size(),
            self.modulus.value()
        )
    }
}

impl NttTable {
    /// Plans the NTT of size `n` modulo `q` (`q` prime, `q ≡ 1 mod 2n`, `n ≥ 16` a power of two).
    pub fn new(n: usize, q: u64) -> Result<Self> {
        let plan = Plan::try_new(n, q).ok_or(KernelError::NotNttFriendly { q, n })?;
        Ok(Self {
            plan,
            modulus: Modulus::new(q),
        })
    }

    /// Coefficients → evaluations (output in this table's evaluation order).
    #[inline]
    pub fn forward(&self, a: &mut [u64]) {
        self.plan.fwd(a);
    }

    /// Evaluations → coefficients (normalized: `inverse(forward(a)) = a`).
    #[inline]
    pub fn inverse(&self, a: &mut [u64]) {
        self.plan.inv(a);
        self.plan.normalize(a);
    }

    /// The prime.
    pub fn modulus(&self) -> &Modulus {
        &self.modulus
    }

    /// The exponent `f_i` (odd, in `[1, 2N)`) of every evaluation index `i`: slot `i` of a forward
    /// transform holds `a(r^{f_i})` for one fixed primitive 2N-th root `r` (the point of index 0 has
    /// `f_0 = 1`). Derived by transforming the monomial `X`, so it is exact whatever order the
    /// butterflies produce.
    pub fn point_exponents(&self) -> Vec<u32> {
        let n = self.plan.ntt_size();
        let m = &self.modulus;
        let mut x = vec![0u64; n];
        x[1] = 1;
        self.forward(&mut x);
        let r = x[0];
        let mut log_table = HashMap::with_capacity(n);
        let r2 = m.mul(r, r);
        let mut power = r;
        for f in (1..2 * n as u32).step_by(2) {
            log_table.insert(power, f);
            power = m.mul(power, r2);
        }
        x.iter().map(|v| log_table[v]).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primes::ntt_primes;
    use proptest::prelude::*;

    /// O(n²) negacyclic product: the oracle.
    fn naive_negacyclic(a: &[u64], b: &[u64], m: &Modulus) -> Vec<u64> {
        let n = a.len();
        let mut out = vec![0u64; n];
        for (i, &ai) in a.iter().enumerate() {
            for (j, &bj) in b.iter().enumerate() {
                let p = m.mul(ai, bj);
                let k = (i + j) % n;
                out[k] = if i + j < n {
                    m.add(out[k], p)
                } else {
                    m.sub(out[k], p)
                };
            }
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        #[test]
        fn ntt_product_equals_negacyclic_convolution(seed in any::<u64>(), log_n in 4u32..9, bits in prop::sample::select(vec![30u32, 40, 50, 60, 61])) {
            let n = 1usize << log_n;
            let q = ntt_primes(log_n, &[bits], &[]).unwrap()[0];
            let t = NttTable::new(n, q).unwrap();
            let m = t.modulus();
            let mut state = seed | 1;
            let mut next = || { state ^= state << 13; state ^= state >> 7; state ^= state << 17; state % q };
            let a: Vec<u64> = (0..n).map(|_| next()).collect();
            let b: Vec<u64> = (0..n).map(|_| next()).collect();
            let expect = naive_negacyclic(&a, &b, m);
            let (mut fa, mut fb) = (a.clone(), b.clone());
            t.forward(&mut fa);
            t.forward(&mut fb);
            let mut prod: Vec<u64> = fa.iter().zip(&fb).map(|(x, y)| m.mul(*x, *y)).collect();
            t.inverse(&mut prod);
            prop_assert_eq!(prod, expect);
            t.inverse(&mut fa);
            prop_assert_eq!(fa, a);
        }
    }

    #[test]
    fn point_exponents_describe_the_evaluation_points() {
        let n = 64;
        let q = ntt_primes(6, &[50], &[]).unwrap()[0];
        let t = NttTable::new(n, q).unwrap();
        let m = t.modulus();
        let f = t.point_exponents();
        let mut x = vec![0u64; n];
        x[1] = 1;
        t.forward(&mut x);
        let r = x[0];
        // A random polynomial evaluated naively at r^{f_i} equals slot i of its transform.
        let a: Vec<u64> = (0..n as u64).map(|i| (i * 7919 + 3) % q).collect();
        let mut fa = a.clone();
        t.forward(&mut fa);
        for (i, &fi) in f.iter().enumerate() {
            let point = m.pow(r, fi as u64);
            let value = a
                .iter()
                .rev()
                .fold(0, |acc, &c| m.add(m.mul(acc, point), c));
            assert_eq!(fa[i], value, "index {i}");
        }
        let mut sorted = f.clone();
        sorted.sort();
        assert_eq!(sorted, (1..2 * n as u32).step_by(2).collect::<Vec<_>>());
    }
}
