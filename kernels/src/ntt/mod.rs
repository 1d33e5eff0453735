//! Negacyclic NTT per prime, and the order of its evaluation points.
//!
//! Written by hand because key switching, and so every rotation, product and bootstrap, is about
//! half NTTs. Cooley–Tukey forward and Gentleman–Sande inverse with Harvey butterflies: Shoup
//! twiddles (`w`, `⌊w·2^64/q⌋`) and lazy reduction (values stay in `[0, 4q)` between stages, so
//! `q < 2^62` is required; moduli are below `2^61`). Twiddles are the powers of a primitive `2N`-th
//! root `ψ` in bit-reversed order, so the forward output is in bit-reversed order and
//! [`NttTable::point_exponents`] says which point each index holds: automorphisms `X → X^g` become
//! index permutations in evaluation form.
//!
//! The butterflies run on the vector path [`Simd::detected`] picks: eight lanes with AVX-512
//! ([`avx512`]: IFMA products for primes below 2^50, 64-bit low products above), four with AVX2
//! ([`avx2`], the 64×64-bit products emulated with 32-bit multiplies), or the portable loop, which
//! the tests hold the others to. `cargo bench -p cachemir-kernels --bench ntt` times each path
//! beside `tfhe-ntt` 0.7.

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;

use crate::{KernelError, Modulus, Result, Simd};
use std::collections::HashMap;

/// Forward/inverse negacyclic NTT of size N for one prime.
#[derive(Debug)]
pub struct NttTable {
    modulus: Modulus,
    /// `ψ^{rev(k)}` at index `k` (`rev` reverses `log2 N` bits); index 0 unused.
    roots: Vec<u64>,
    /// Shoup companions of `roots`.
    roots_shoup: Vec<u64>,
    /// `ψ^{−rev(k)}`, with the last inverse stage's twiddle `ψ^{−rev(1)}·N^{−1}` at index 0.
    inv_roots: Vec<u64>,
    /// Shoup companions of `inv_roots`.
    inv_roots_shoup: Vec<u64>,
    /// `N^{−1}` and its Shoup companion (the last inverse stage's sums).
    n_inv: (u64, u64),
    /// The vector path the butterflies take (supported by this CPU).
    simd: Simd,
}

impl NttTable {
    /// Plans the NTT of size `n` modulo `q` (`q` prime, `q ≡ 1 mod 2n`, `q < 2^61`, `n ≥ 16` a
    /// power of two) on the vector path [`Simd::detected`] picks.
    pub fn new(n: usize, q: u64) -> Result<Self> {
        Self::with_simd(n, q, Simd::detected())
    }

    /// [`NttTable::new`] on a chosen vector path, which this CPU must support.
    pub fn with_simd(n: usize, q: u64, simd: Simd) -> Result<Self> {
        if !simd.is_supported() {
            return Err(KernelError::UnsupportedSimd { simd: simd.name() });
        }
        let not_friendly = KernelError::NotNttFriendly { q, n };
        if n < 16
            || !n.is_power_of_two()
            || !(3..1 << Modulus::MAX_BITS).contains(&q)
            || q % (2 * n as u64) != 1
            || !crate::primes::is_prime(q)
        {
            return Err(not_friendly);
        }
        let modulus = Modulus::new(q);
        let psi = primitive_root(&modulus, n).ok_or(not_friendly)?;
        let psi_inv = modulus.inv(psi).expect("a root of unity is invertible");
        let bits = n.trailing_zeros();
        let rev = |k: usize| k.reverse_bits() >> (usize::BITS - bits);
        let powers = |base: u64| {
            let natural: Vec<u64> = std::iter::successors(Some(1), |&p| Some(modulus.mul(p, base)))
                .take(n)
                .collect();
            (0..n).map(|k| natural[rev(k)]).collect::<Vec<u64>>()
        };
        let roots = powers(psi);
        let mut inv_roots = powers(psi_inv);
        let n_inv = modulus
            .inv(n as u64)
            .expect("n is invertible mod an odd prime");
        inv_roots[0] = modulus.mul(inv_roots[1], n_inv);
        let shoup = |v: &[u64]| v.iter().map(|&w| modulus.shoup(w)).collect();
        Ok(Self {
            roots_shoup: shoup(&roots),
            inv_roots_shoup: shoup(&inv_roots),
            roots,
            inv_roots,
            n_inv: (n_inv, modulus.shoup(n_inv)),
            modulus,
            simd,
        })
    }

    /// Coefficients → evaluations (output in this table's evaluation order). Inputs below `4q`;
    /// outputs reduced.
    pub fn forward(&self, a: &mut [u64]) {
        assert_eq!(a.len(), self.roots.len(), "limb of the wrong size");
        match self.simd {
            // SAFETY: `simd` is a path this CPU supports (checked in `with_simd`).
            #[cfg(target_arch = "x86_64")]
            Simd::Avx512 => unsafe { avx512::forward(self, a) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            Simd::Avx2 => unsafe { avx2::forward(self, a) },
            _ => self.forward_portable(a),
        }
    }

    /// Evaluations → coefficients (normalized: `inverse(forward(a)) = a`). Inputs below `2q`;
    /// outputs reduced.
    pub fn inverse(&self, a: &mut [u64]) {
        assert_eq!(a.len(), self.roots.len(), "limb of the wrong size");
        match self.simd {
            // SAFETY: `simd` is a path this CPU supports (checked in `with_simd`).
            #[cfg(target_arch = "x86_64")]
            Simd::Avx512 => unsafe { avx512::inverse(self, a) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            Simd::Avx2 => unsafe { avx2::inverse(self, a) },
            _ => self.inverse_portable(a),
        }
    }

    /// The vector path the butterflies take.
    pub fn simd(&self) -> Simd {
        self.simd
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
        let n = self.roots.len();
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

    /// The forward transform one butterfly at a time (CPUs without vector paths; the tests' oracle).
    fn forward_portable(&self, a: &mut [u64]) {
        let m = &self.modulus;
        let q = m.value();
        let two_q = 2 * q;
        let n = a.len();
        let mut half = n;
        let mut groups = 1;
        while groups < n {
            half /= 2;
            for (g, block) in a.chunks_exact_mut(2 * half).enumerate() {
                let (w, ws) = (self.roots[groups + g], self.roots_shoup[groups + g]);
                let (xs, ys) = block.split_at_mut(half);
                for (x, y) in xs.iter_mut().zip(ys) {
                    let u = reduce_once(*x, two_q);
                    let v = m.mul_shoup_lazy(*y, w, ws);
                    *x = u + v;
                    *y = u + two_q - v;
                }
            }
            groups *= 2;
        }
        for x in a.iter_mut() {
            *x = reduce_once(reduce_once(*x, two_q), q);
        }
    }

    /// The inverse transform one butterfly at a time, `N^{−1}` folded into the last stage.
    fn inverse_portable(&self, a: &mut [u64]) {
        let m = &self.modulus;
        let q = m.value();
        let two_q = 2 * q;
        let n = a.len();
        let mut half = 1;
        let mut groups = n / 2;
        while groups > 1 {
            for (g, block) in a.chunks_exact_mut(2 * half).enumerate() {
                let (w, ws) = (self.inv_roots[groups + g], self.inv_roots_shoup[groups + g]);
                let (xs, ys) = block.split_at_mut(half);
                for (x, y) in xs.iter_mut().zip(ys) {
                    let (u, v) = (*x, *y);
                    *x = reduce_once(u + v, two_q);
                    *y = m.mul_shoup_lazy(u + two_q - v, w, ws);
                }
            }
            half *= 2;
            groups /= 2;
        }
        let (w, ws) = (self.inv_roots[0], self.inv_roots_shoup[0]);
        let (xs, ys) = a.split_at_mut(half);
        for (x, y) in xs.iter_mut().zip(ys) {
            let (u, v) = (*x, *y);
            *x = reduce_once(m.mul_shoup_lazy(u + v, self.n_inv.0, self.n_inv.1), q);
            *y = reduce_once(m.mul_shoup_lazy(u + two_q - v, w, ws), q);
        }
    }
}

/// A primitive `2n`-th root of unity mod the prime `q ≡ 1 mod 2n`.
fn primitive_root(m: &Modulus, n: usize) -> Option<u64> {
    let q = m.value();
    let cofactor = (q - 1) / (2 * n as u64);
    // ψ = g^cofactor has order dividing 2n; it is exactly 2n iff ψ^n = −1.
    (2..q.min(1 << 16))
        .map(|g| m.pow(g, cofactor))
        .find(|&psi| m.pow(psi, n as u64) == q - 1)
}

/// `x − m` if `x ≥ m`.
#[inline(always)]
fn reduce_once(x: u64, m: u64) -> u64 {
    if x >= m {
        x - m
    } else {
        x
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
    fn vector_and_portable_butterflies_agree() {
        // Every vector path this CPU runs against the portable loop, on random limbs and on the
        // lazy bounds' edge (every input q − 1, or 4q − 1 for the forward's tolerated range), with
        // primes on both sides of the AVX-512 IFMA product's 2^50 bound.
        let paths: Vec<Simd> = Simd::supported()
            .into_iter()
            .filter(|&s| s != Simd::Portable)
            .collect();
        eprintln!("vector paths checked: {paths:?}");
        for (log_n, bits) in [
            (4u32, 61u32),
            (5, 30),
            (6, 49),
            (8, 50),
            (9, 51),
            (11, 61),
            (12, 40),
            (13, 45),
        ] {
            let n = 1usize << log_n;
            let q = ntt_primes(log_n, &[bits], &[]).unwrap()[0];
            let oracle = NttTable::with_simd(n, q, Simd::Portable).unwrap();
            let random: Vec<u64> = (0..n as u64)
                .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % q)
                .collect();
            for &simd in &paths {
                let t = NttTable::with_simd(n, q, simd).unwrap();
                for input in [random.clone(), vec![q - 1; n], vec![4 * q - 1; n]] {
                    let (mut fast, mut slow) = (input.clone(), input.clone());
                    t.forward(&mut fast);
                    oracle.forward(&mut slow);
                    assert_eq!(fast, slow, "{simd:?} forward, n = {n}, q = {q}");
                    assert!(fast.iter().all(|&v| v < q));
                    let reduced: Vec<u64> = input.iter().map(|&v| v % q).collect();
                    for inverse_input in [reduced.iter().map(|&v| v + q).collect(), reduced] {
                        let (mut fast, mut slow) = (inverse_input.clone(), inverse_input);
                        t.inverse(&mut fast);
                        oracle.inverse(&mut slow);
                        assert_eq!(fast, slow, "{simd:?} inverse, n = {n}, q = {q}");
                        assert!(fast.iter().all(|&v| v < q));
                    }
                }
            }
        }
    }

    #[test]
    fn rejects_moduli_without_a_negacyclic_ntt() {
        let q = ntt_primes(6, &[40], &[]).unwrap()[0];
        assert!(NttTable::new(64, q).is_ok());
        assert!(NttTable::new(128 * 1024, q).is_err(), "q ≢ 1 mod 2n");
        assert!(NttTable::new(8, q).is_err(), "n below 16");
        assert!(NttTable::new(64, 129).is_err(), "129 = 3·43 is not prime");
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
