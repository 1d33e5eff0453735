//! The CKKS encoder: complex (or real) slot vectors ↔ plaintext polynomials through the canonical
//! embedding ([`Embedding`]).
//!
//! Slot `j` of a full packing (N/2 slots) is the evaluation of `m(X)/Δ` at `ζ^{5^j}`, `ζ = e^{iπ/N}`.
//! A sparse packing of `n < N/2` slots uses the subring `Z[X^{N/2n}]`: the same slots repeat with
//! period `n`, so rotations act cyclically on the `n` values.

use super::{Embedding, Parameters, Plaintext};
use crate::{Result, RuntimeError};
use cachemir_kernels::{Backend, Modulus, RnsPoly};
use num_complex::Complex64;
use rayon::prelude::*;
use std::sync::Arc;

/// Encodes and decodes slot vectors for one parameter set.
#[derive(Debug, Clone)]
pub struct Encoder<B: Backend> {
    params: Arc<Parameters>,
    backend: B,
    embedding: Embedding,
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
        let embedding = Embedding::new(params.max_slots());
        Self {
            params,
            backend,
            embedding,
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
        self.embedding.to_coefficients(&mut vals);
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
        self.embedding.to_slots(&mut vals);
        vals
    }
}

#[cfg(test)]
mod tests {
    use super::super::Parameters;
    use super::*;
    use cachemir_kernels::CpuBackend;
    use std::f64::consts::PI;

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
