//! The CKKS encoder: complex (or real) slot vectors ↔ plaintext polynomials through the canonical
//! embedding, computed with the "special FFT" over the rotation group `5^j mod 2N`.
//!
//! Slot `j` of a full packing (N/2 slots) is the evaluation of `m(X)/Δ` at `ζ^{5^j}`, `ζ = e^{iπ/N}`.
//! A sparse packing of `n < N/2` slots uses the subring `Z[X^{N/2n}]`: the same slots repeat with
//! period `n`, so rotations act cyclically on the `n` values.

use super::{Parameters, Plaintext};
use crate::{Result, RuntimeError};
use cachemir_kernels::{Backend, Modulus, RnsPoly};
use num_complex::Complex64;
use rayon::prelude::*;
use std::f64::consts::PI;
use std::sync::Arc;

/// Encodes and decodes slot vectors for one parameter set.
#[derive(Debug, Clone)]
pub struct Encoder<B: Backend> {
    params: Arc<Parameters>,
    backend: B,
    /// `5^j mod 2N` for `j < N/2`.
    rot_group: Vec<usize>,
    /// `e^{2πik/2N}` for `k ≤ 2N`.
    roots: Vec<Complex64>,
}

/// The residue of the integer nearest to `v` modulo `m`, exact for any finite `v` (values beyond
/// 2^63 are split into a 53-bit mantissa and a power of two).
pub(crate) fn residue_of(v: f64, m: &Modulus) -> u64 {
    let r = v.round();
    if r.abs() < 9.2e18 {
        return m.reduce_i64(r as i64);
    }
    let bits = r.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i64 - 1075;
    let mantissa = ((bits & ((1 << 52) - 1)) | (1 << 52)) as i64;
    let signed = if r < 0.0 { -mantissa } else { mantissa };
    m.mul(m.reduce_i64(signed), m.pow(2, exponent as u64))
}

/// Rounds real coefficients into an evaluation-form polynomial over `q_0 … q_level`.
pub(crate) fn coeffs_to_poly<B: Backend>(
    params: &Parameters,
    backend: &B,
    coeffs: &[f64],
    level: usize,
) -> RnsPoly {
    coeffs_to_poly_over(params, backend, coeffs, params.ring().q_indices(level))
}

/// [`coeffs_to_poly`] over any primes of the ring (e.g. `Q_l ∪ P`).
pub(crate) fn coeffs_to_poly_over<B: Backend>(
    params: &Parameters,
    backend: &B,
    coeffs: &[f64],
    primes: Vec<usize>,
) -> RnsPoly {
    let ring = params.ring();
    let n = params.n();
    let mut data = vec![0u64; n * primes.len()];
    data.par_chunks_mut(n)
        .zip(primes.par_iter())
        .for_each(|(limb, &p)| {
            let m = ring.modulus(p);
            limb.iter_mut()
                .zip(coeffs)
                .for_each(|(r, &c)| *r = residue_of(c, m));
        });
    let mut poly = RnsPoly::from_raw(n, primes, data, cachemir_kernels::Form::Coeff);
    backend.to_eval(ring, &mut poly);
    poly
}

impl<B: Backend> Encoder<B> {
    /// An encoder for `params`, running ring operations on `backend`.
    pub fn new(params: Arc<Parameters>, backend: B) -> Self {
        let m = 2 * params.n();
        let mut rot_group = Vec::with_capacity(params.max_slots());
        let mut g = 1usize;
        for _ in 0..params.max_slots() {
            rot_group.push(g);
            g = g * 5 % m;
        }
        let roots = (0..=m)
            .map(|k| Complex64::from_polar(1.0, 2.0 * PI * k as f64 / m as f64))
            .collect();
        Self {
            params,
            backend,
            rot_group,
            roots,
        }
    }

    /// The parameters.
    pub fn params(&self) -> &Arc<Parameters> {
        &self.params
    }

    fn check_slots(&self, slots: usize) -> Result<()> {
        let max = self.params.max_slots();
        if slots == 0 || !slots.is_power_of_two() || slots > max {
            return Err(RuntimeError::InvalidSlots { slots, max });
        }
        Ok(())
    }

    /// Slot values → the coefficients of the embedding preimage (inverse special FFT, in place).
    fn special_ifft(&self, vals: &mut [Complex64]) {
        let size = vals.len();
        let m = 2 * self.params.n();
        let mut len = size;
        while len >= 2 {
            let (half, lenq) = (len / 2, 4 * len);
            for block in vals.chunks_exact_mut(len) {
                for j in 0..half {
                    let idx = (lenq - self.rot_group[j] % lenq) * (m / lenq);
                    let u = block[j] + block[j + half];
                    let v = (block[j] - block[j + half]) * self.roots[idx];
                    block[j] = u;
                    block[j + half] = v;
                }
            }
            len /= 2;
        }
        bit_reverse(vals);
        let inv = 1.0 / size as f64;
        vals.iter_mut().for_each(|v| *v *= inv);
    }

    /// Coefficients of the embedding preimage → slot values (special FFT, in place).
    fn special_fft(&self, vals: &mut [Complex64]) {
        let size = vals.len();
        let m = 2 * self.params.n();
        bit_reverse(vals);
        let mut len = 2;
        while len <= size {
            let (half, lenq) = (len / 2, 4 * len);
            for block in vals.chunks_exact_mut(len) {
                for j in 0..half {
                    let idx = (self.rot_group[j] % lenq) * (m / lenq);
                    let u = block[j];
                    let v = block[j + half] * self.roots[idx];
                    block[j] = u + v;
                    block[j + half] = u - v;
                }
            }
            len *= 2;
        }
    }

    /// Encodes `values` (a power-of-two count ≤ N/2) at `level` and `scale`.
    pub fn encode(&self, values: &[Complex64], level: usize, scale: f64) -> Result<Plaintext> {
        let coeffs = self.coefficients(values, level, scale)?;
        Ok(Plaintext {
            poly: coeffs_to_poly(&self.params, &self.backend, &coeffs, level),
            scale,
            slots: values.len(),
        })
    }

    /// Encodes `values` like [`Self::encode`], over `Q_level ∪ P` (the factors of double-hoisted
    /// linear transforms).
    pub(crate) fn encode_extended(
        &self,
        values: &[Complex64],
        level: usize,
        scale: f64,
    ) -> Result<RnsPoly> {
        let coeffs = self.coefficients(values, level, scale)?;
        let primes = self.params.ring().qp_indices(level);
        Ok(coeffs_to_poly_over(
            &self.params,
            &self.backend,
            &coeffs,
            primes,
        ))
    }

    /// The scaled, unrounded polynomial coefficients whose slots are `values`.
    fn coefficients(&self, values: &[Complex64], level: usize, scale: f64) -> Result<Vec<f64>> {
        let slots = values.len();
        self.check_slots(slots)?;
        if level > self.params.max_level() {
            return Err(RuntimeError::LevelTooLow {
                op: "encode",
                needed: level,
                level: self.params.max_level(),
            });
        }
        let mut vals = values.to_vec();
        self.special_ifft(&mut vals);
        let n = self.params.n();
        let gap = n / 2 / slots;
        let mut coeffs = vec![0f64; n];
        for (i, v) in vals.iter().enumerate() {
            let (re, im) = (v.re * scale, v.im * scale);
            for x in [re, im] {
                if !x.is_finite() || x.abs() >= 2f64.powi(1000) {
                    return Err(RuntimeError::EncodeOverflow {
                        value: x / scale,
                        log_scale: scale.log2(),
                    });
                }
            }
            coeffs[i * gap] = re;
            coeffs[n / 2 + i * gap] = im;
        }
        Ok(coeffs)
    }

    /// Encodes real `values` (imaginary parts zero).
    pub fn encode_real(&self, values: &[f64], level: usize, scale: f64) -> Result<Plaintext> {
        let complex: Vec<Complex64> = values.iter().map(|&x| Complex64::new(x, 0.0)).collect();
        self.encode(&complex, level, scale)
    }

    /// The centered coefficients of an evaluation-form polynomial, as floats (CRT over the first two
    /// primes, exact for magnitudes below `q_0·q_1/2`).
    pub(crate) fn poly_to_coeffs(&self, poly: &RnsPoly) -> Vec<f64> {
        let ring = self.params.ring();
        // Two primes carry the message: transform only those.
        let mut p = poly.select_limbs(&(0..poly.limb_count().min(2)).collect::<Vec<_>>());
        self.backend.to_coeff(ring, &mut p);
        let m0 = ring.modulus(p.primes()[0]);
        if p.limb_count() == 1 {
            return p.limb(0).iter().map(|&x| m0.center(x) as f64).collect();
        }
        let m1 = ring.modulus(p.primes()[1]);
        let (q0, q1) = (m0.value() as u128, m1.value() as u128);
        let q0_inv = m1.inv(m0.value() % m1.value()).expect("distinct primes");
        let big = q0 * q1;
        p.limb(0)
            .iter()
            .zip(p.limb(1))
            .map(|(&x0, &x1)| {
                let t = m1.mul(m1.sub(x1, m1.reduce(x0)), q0_inv);
                let x = x0 as u128 + q0 * t as u128;
                if x > big / 2 {
                    -((big - x) as f64)
                } else {
                    x as f64
                }
            })
            .collect()
    }

    /// Decodes a plaintext back to its slot values.
    pub fn decode(&self, pt: &Plaintext) -> Vec<Complex64> {
        let coeffs = self.poly_to_coeffs(&pt.poly);
        let n = self.params.n();
        let gap = n / 2 / pt.slots;
        let mut vals: Vec<Complex64> = (0..pt.slots)
            .map(|i| Complex64::new(coeffs[i * gap], coeffs[n / 2 + i * gap]) / pt.scale)
            .collect();
        self.special_fft(&mut vals);
        vals
    }
}

fn bit_reverse(vals: &mut [Complex64]) {
    let n = vals.len();
    let bits = n.trailing_zeros();
    if bits == 0 {
        return;
    }
    for i in 0..n {
        let j = i.reverse_bits() >> (usize::BITS - bits);
        if i < j {
            vals.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Parameters;
    use super::*;
    use cachemir_kernels::CpuBackend;

    fn encoder() -> Encoder<CpuBackend> {
        Encoder::new(
            Arc::new(Parameters::named("INSECURE_N10").unwrap()),
            CpuBackend,
        )
    }

    fn random_slots(n: usize, seed: u8) -> Vec<Complex64> {
        let parts =
            cachemir_kernels::Sampler::from_seed([seed; 32]).uniform_reals(2 * n, -1.0, 1.0);
        parts
            .chunks(2)
            .map(|p| Complex64::new(p[0], p[1]))
            .collect()
    }

    /// The oracle: slot j = m(ζ^{5^j}) / Δ evaluated naively from the integer coefficients.
    #[test]
    fn encoding_is_the_canonical_embedding() {
        let enc = encoder();
        let n = enc.params().n();
        for slots in [1usize, 4, n / 2] {
            let z = random_slots(slots, slots.trailing_zeros() as u8);
            let scale = 2f64.powi(30);
            let pt = enc.encode(&z, 2, scale).unwrap();
            let coeffs = enc.poly_to_coeffs(&pt.poly);
            for (j, zj) in z.iter().enumerate() {
                let exponent = (0..j).fold(1u64, |g, _| g * 5 % (2 * n as u64));
                let value: Complex64 = coeffs
                    .iter()
                    .enumerate()
                    .map(|(k, &c)| {
                        c * Complex64::from_polar(
                            1.0,
                            PI * (k as u64 * exponent % (2 * n as u64)) as f64 / n as f64,
                        )
                    })
                    .sum::<Complex64>()
                    / scale;
                assert!(
                    (value - zj).norm() < 1e-6,
                    "slots {slots}, slot {j}: {value} vs {zj}"
                );
            }
            let back = enc.decode(&pt);
            let err = back
                .iter()
                .zip(&z)
                .map(|(a, b)| (a - b).norm())
                .fold(0.0, f64::max);
            assert!(err < 2f64.powi(-25), "round trip error {err}");
        }
    }

    #[test]
    fn huge_scales_encode_exactly_and_bad_inputs_are_errors() {
        let enc = encoder();
        let z = random_slots(8, 3);
        let pt = enc.encode(&z, 3, 2f64.powi(70)).unwrap();
        let back = enc.decode(&pt);
        assert!(back.iter().zip(&z).all(|(a, b)| (a - b).norm() < 1e-9));
        assert!(matches!(
            enc.encode(&z[..3], 0, 1e9),
            Err(RuntimeError::InvalidSlots { .. })
        ));
        assert!(enc
            .encode(&[Complex64::new(f64::NAN, 0.0); 2], 0, 1e9)
            .is_err());
        assert!(enc.encode(&z, 9, 1e9).is_err());
    }
}
