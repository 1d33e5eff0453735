//! The homomorphic DFT of bootstrapping: the slot matrices of CoeffsToSlots and SlotsToCoeffs.
//!
//! With `n = N/2` slots, slot `j` holds `t(ζ^{5^j})/Δ` (`ζ = e^{iπ/N}`), and since `ζ^{5^j·n} = i`,
//! `w = U·(t_lo + i·t_hi)/Δ` with `U[j][k] = ζ^{5^j·k}` (`t_lo`, `t_hi` the coefficients below and
//! above `n`). `U·U^H = n·I`, so CoeffsToSlots is `U^H/n` and SlotsToCoeffs is `U`. Both are dense
//! here (all `n` diagonals, BSGS); the factored FFT with a level budget is the next step.

use crate::ckks::linear::LinearTransform;
use crate::Result;
use num_complex::Complex64;
use std::f64::consts::PI;

/// `U[j][k] = ζ^{5^j·k}` for `n` slots of a ring of degree `2n`.
fn embedding_matrix(n: usize) -> Vec<Vec<Complex64>> {
    let two_n_ring = 4 * n; // 2N
    let mut rows = Vec::with_capacity(n);
    let mut g = 1usize;
    for _ in 0..n {
        rows.push(
            (0..n)
                .map(|k| {
                    let e = (g * k) % two_n_ring;
                    Complex64::from_polar(1.0, PI * e as f64 / (2 * n) as f64)
                })
                .collect(),
        );
        g = g * 5 % two_n_ring;
    }
    rows
}

/// SlotsToCoeffs: `z ↦ U·z` (full packing, `n = N/2` slots).
pub fn slots_to_coeffs(n: usize) -> Result<LinearTransform> {
    LinearTransform::from_dense(&embedding_matrix(n), None)
}

/// CoeffsToSlots times `factor`: `w ↦ factor·U^H·w / n`.
pub fn coeffs_to_slots(n: usize, factor: f64) -> Result<LinearTransform> {
    let u = embedding_matrix(n);
    let m: Vec<Vec<Complex64>> = (0..n)
        .map(|k| {
            (0..n)
                .map(|j| u[j][k].conj() * (factor / n as f64))
                .collect()
        })
        .collect();
    LinearTransform::from_dense(&m, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedding_matrix_is_scaled_unitary() {
        let n = 16;
        let u = embedding_matrix(n);
        for a in 0..n {
            for b in 0..n {
                let dot: Complex64 = (0..n).map(|k| u[a][k] * u[b][k].conj()).sum();
                let want = if a == b { n as f64 } else { 0.0 };
                assert!((dot - want).norm() < 1e-9, "({a},{b}): {dot}");
            }
        }
    }
}

#[cfg(test)]
mod encoder_agreement {
    use super::*;
    use crate::ckks::{Encoder, Parameters};
    use cachemir_kernels::CpuBackend;
    use std::sync::Arc;

    #[test]
    fn u_maps_the_encoders_coefficients_to_its_slots() {
        let params = Arc::new(Parameters::named("INSECURE_N10").unwrap());
        let enc = Encoder::new(params.clone(), CpuBackend);
        let n = params.max_slots();
        let z: Vec<Complex64> = (0..n)
            .map(|j| Complex64::new((j as f64 * 0.37).sin(), (j as f64 * 0.11).cos()))
            .collect();
        let scale = 2f64.powi(30);
        let pt = enc.encode(&z, 0, scale).unwrap();
        let c = enc.poly_to_coeffs(&pt.poly);
        let coef: Vec<Complex64> = (0..n)
            .map(|k| Complex64::new(c[k], c[n + k]) / scale)
            .collect();
        let u = embedding_matrix(n);
        for j in 0..n {
            let w: Complex64 = (0..n).map(|k| u[j][k] * coef[k]).sum();
            assert!((w - z[j]).norm() < 1e-6, "slot {j}: {w} vs {}", z[j]);
        }
    }
}
