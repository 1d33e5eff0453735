//! Samplers for RLWE: uniform residues, ternary secrets (dense or of fixed Hamming weight) and the
//! rounded Gaussian error (σ = 3.2), from a ChaCha20 CSPRNG seeded by the operating system (or by an
//! explicit seed, to regenerate the uniform half of a key from 32 bytes).

use crate::{Form, Ring, RnsPoly};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rayon::prelude::*;

/// Standard deviation of the RLWE error.
pub const ERROR_SIGMA: f64 = 3.2;
/// Errors are cut at this many standard deviations.
pub const ERROR_BOUND_SIGMAS: f64 = 6.0;

/// A cryptographically secure sampler of ring elements.
pub struct Sampler {
    rng: ChaCha20Rng,
}

impl std::fmt::Debug for Sampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sampler(ChaCha20)")
    }
}

impl Sampler {
    /// A sampler seeded from the operating system's entropy.
    pub fn from_os() -> Self {
        Self {
            rng: ChaCha20Rng::from_os_rng(),
        }
    }

    /// A deterministic sampler (for regenerating public uniform polynomials from a seed).
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self {
            rng: ChaCha20Rng::from_seed(seed),
        }
    }

    /// 32 fresh random bytes (a seed for [`Sampler::from_seed`]).
    pub fn seed(&mut self) -> [u8; 32] {
        let mut s = [0u8; 32];
        self.rng.fill_bytes(&mut s);
        s
    }

    /// A uniformly random polynomial over `primes`, directly in evaluation form (the NTT of a
    /// uniform polynomial is uniform).
    pub fn uniform(&mut self, ring: &Ring, primes: &[usize]) -> RnsPoly {
        let n = ring.n();
        let mut data = vec![0; n * primes.len()];
        for (limb, &p) in data.chunks_exact_mut(n).zip(primes) {
            fill_uniform(&mut self.rng, ring.modulus(p).value(), limb);
        }
        RnsPoly::from_raw(n, primes.to_vec(), data, Form::Eval)
    }

    /// The uniform polynomial number `index` of `seed` over `primes` (evaluation form). Limb `k`
    /// comes from its own ChaCha20 stream, numbered by `index` and the prime `primes[k]`: limbs
    /// are drawn in parallel, and a polynomial over fewer primes has the same limbs on the
    /// primes it keeps. Whoever holds the seed regenerates the polynomial (seeded key halves).
    pub fn uniform_from_seed(ring: &Ring, seed: [u8; 32], index: u32, primes: &[usize]) -> RnsPoly {
        let n = ring.n();
        let mut data = vec![0; n * primes.len()];
        data.par_chunks_mut(n)
            .zip(primes.par_iter())
            .for_each(|(limb, &p)| {
                let mut rng = ChaCha20Rng::from_seed(seed);
                rng.set_stream((u64::from(index) << 32) | p as u64);
                fill_uniform(&mut rng, ring.modulus(p).value(), limb);
            });
        RnsPoly::from_raw(n, primes.to_vec(), data, Form::Eval)
    }

    /// `n` reals uniform in `[lo, hi)`: test vectors and benchmark inputs (seed with
    /// [`Sampler::from_seed`] to reproduce them).
    pub fn uniform_reals(&mut self, n: usize, lo: f64, hi: f64) -> Vec<f64> {
        (0..n)
            .map(|_| lo + (hi - lo) * self.rng.random::<f64>())
            .collect()
    }

    /// Dense ternary coefficients: each of −1, 0, 1 with probability 1/3.
    pub fn ternary(&mut self, n: usize) -> Vec<i64> {
        (0..n)
            .map(|_| loop {
                let x = self.rng.next_u32() >> 30; // 0..4, reject 3
                if x < 3 {
                    break x as i64 - 1;
                }
            })
            .collect()
    }

    /// Ternary coefficients with exactly `weight` non-zero entries (±1 with equal probability).
    pub fn ternary_fixed_weight(&mut self, n: usize, weight: usize) -> Vec<i64> {
        assert!(
            weight <= n,
            "Hamming weight {weight} exceeds the degree {n}"
        );
        let mut out = vec![0i64; n];
        // Partial Fisher–Yates over the positions.
        let mut positions: Vec<usize> = (0..n).collect();
        for i in 0..weight {
            let j = self.rng.random_range(i..n);
            positions.swap(i, j);
            out[positions[i]] = if self.rng.random::<bool>() { 1 } else { -1 };
        }
        out
    }

    /// Rounded Gaussian coefficients of standard deviation [`ERROR_SIGMA`], cut at
    /// [`ERROR_BOUND_SIGMAS`] standard deviations (Box–Muller from the CSPRNG).
    pub fn gaussian(&mut self, n: usize) -> Vec<i64> {
        let bound = ERROR_SIGMA * ERROR_BOUND_SIGMAS;
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let u1: f64 = 1.0 - self.rng.random::<f64>(); // (0, 1]
            let u2: f64 = self.rng.random::<f64>();
            let r = ERROR_SIGMA * (-2.0 * u1.ln()).sqrt();
            let theta = std::f64::consts::TAU * u2;
            for z in [r * theta.cos(), r * theta.sin()] {
                if z.abs() <= bound && out.len() < n {
                    out.push(z.round() as i64);
                }
            }
        }
        out
    }
}

/// Fills `limb` with uniform residues mod `q`: the top `bits(q)` bits of each 64-bit draw,
/// rejected when `≥ q` (no division; NTT primes sit just below a power of two, so rejections are
/// rare).
fn fill_uniform(rng: &mut ChaCha20Rng, q: u64, limb: &mut [u64]) {
    let shift = q.leading_zeros();
    for x in limb {
        *x = loop {
            let candidate = rng.next_u64() >> shift;
            if candidate < q {
                break candidate;
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ternary_is_balanced_and_fixed_weight_is_exact() {
        let mut s = Sampler::from_os();
        let t = s.ternary(1 << 15);
        let counts =
            [-1, 0, 1].map(|v| t.iter().filter(|&&x| x == v).count() as f64 / t.len() as f64);
        for c in counts {
            assert!((c - 1.0 / 3.0).abs() < 0.02, "{counts:?}");
        }
        let h = s.ternary_fixed_weight(1 << 12, 192);
        assert_eq!(h.iter().filter(|&&x| x != 0).count(), 192);
        assert!(h.iter().all(|&x| (-1..=1).contains(&x)));
    }

    #[test]
    fn gaussian_has_the_stated_deviation() {
        let e = Sampler::from_os().gaussian(1 << 16);
        let mean = e.iter().sum::<i64>() as f64 / e.len() as f64;
        let var = e.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / e.len() as f64;
        // Rounding adds 1/12 to the variance.
        assert!(mean.abs() < 0.1, "{mean}");
        assert!(
            (var.sqrt() - (ERROR_SIGMA.powi(2) + 1.0 / 12.0).sqrt()).abs() < 0.1,
            "{}",
            var.sqrt()
        );
        assert!(e
            .iter()
            .all(|&x| (x.abs() as f64) <= ERROR_SIGMA * ERROR_BOUND_SIGMAS + 0.5));
    }

    #[test]
    fn uniform_residues_are_reduced_and_seeds_reproduce() {
        let q = crate::primes::ntt_primes(6, &[40, 50], &[]).unwrap();
        let ring = Ring::new(6, &q, &[]).unwrap();
        let seed = Sampler::from_os().seed();
        let a = Sampler::from_seed(seed).uniform(&ring, &[0, 1]);
        let b = Sampler::from_seed(seed).uniform(&ring, &[0, 1]);
        assert_eq!(a, b);
        for (k, &qk) in q.iter().enumerate() {
            assert!(a.limb(k).iter().all(|&x| x < qk));
        }
        // Seeded polynomials: reproducible, distinct per index, the same limb on the same prime.
        let c = Sampler::uniform_from_seed(&ring, seed, 0, &[0, 1]);
        assert_eq!(c, Sampler::uniform_from_seed(&ring, seed, 0, &[0, 1]));
        assert_ne!(c, Sampler::uniform_from_seed(&ring, seed, 1, &[0, 1]));
        assert_eq!(
            Sampler::uniform_from_seed(&ring, seed, 0, &[1]).limb(0),
            c.limb(1)
        );
        for (k, &qk) in q.iter().enumerate() {
            assert!(c.limb(k).iter().all(|&x| x < qk));
        }
    }

    /// Uniform residues have the mean and variance of the uniform law on `[0, q)`, per limb.
    #[test]
    fn uniform_residues_have_uniform_moments() {
        let q = crate::primes::ntt_primes(12, &[45, 61], &[]).unwrap();
        let ring = Ring::new(12, &q, &[]).unwrap();
        let seed = Sampler::from_os().seed();
        for a in [
            Sampler::from_seed(seed).uniform(&ring, &[0, 1]),
            Sampler::uniform_from_seed(&ring, seed, 7, &[0, 1]),
        ] {
            for (k, &qk) in q.iter().enumerate() {
                let xs: Vec<f64> = a.limb(k).iter().map(|&x| x as f64 / qk as f64).collect();
                let mean = xs.iter().sum::<f64>() / xs.len() as f64;
                let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
                // 4096 draws: the mean's deviation is 0.0045, the variance's 0.0013.
                assert!((mean - 0.5).abs() < 0.03, "limb {k}: mean {mean}");
                assert!((var - 1.0 / 12.0).abs() < 0.01, "limb {k}: variance {var}");
            }
        }
    }
}
