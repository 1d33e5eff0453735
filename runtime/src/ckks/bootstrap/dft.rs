//! The homomorphic DFT of bootstrapping: the slot matrices of CoeffsToSlots and SlotsToCoeffs,
//! factored over a level budget.
//!
//! With `n` slots, slot `j` holds `t(ζ^{5^j})/Δ` on the subring of degree `2n`, and since
//! `ζ^{5^j·n} = i`, `w = U·(t_lo + i·t_hi)/Δ` with `U[j][k] = ζ^{5^j·k}` (`t_lo`, `t_hi` the
//! coefficients below and above `n`). `U·U^H = n·I`.
//!
//! `U = S_n ⋯ S_4·S_2·BitRev`, each butterfly stage `S_len` having three diagonals
//! (`0, ±len/2`), exactly the encoder's special FFT. Bootstrapping never needs the natural order
//! in the middle (EvalMod is slot-wise), so CoeffsToSlots computes `BitRev·U^{−1} = I_2 ⋯ I_n / n`
//! and SlotsToCoeffs `S_n ⋯ S_2`, without the permutation. The `log2 n` stages are merged into
//! `budget` groups (one level each; more levels, fewer rotations), each a BSGS
//! [`LinearTransform`].

use crate::ckks::linear::LinearTransform;
use crate::{Result, RuntimeError};
use num_complex::Complex64;
use std::f64::consts::PI;

/// `U[j][k] = ζ^{5^j·k}` for `n` slots (a ring of degree `2n`): the dense reference.
pub fn embedding_matrix(n: usize) -> Vec<Vec<Complex64>> {
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

/// `ψ_j = exp(2πi·(5^j mod 4·len)/(4·len))` for `j < len/2`.
fn twiddles(len: usize) -> Vec<Complex64> {
    let lenq = 4 * len;
    let mut g = 1usize;
    (0..len / 2)
        .map(|_| {
            let z = Complex64::from_polar(1.0, 2.0 * PI * (g % lenq) as f64 / lenq as f64);
            g = g * 5 % lenq;
            z
        })
        .collect()
}

/// One butterfly stage of size `len` on `n` slots: forward (`S_len`) or inverse (`I_len`, without
/// its factor 1/2).
fn stage(n: usize, len: usize, inverse: bool) -> Result<LinearTransform> {
    let half = len / 2;
    let psi = twiddles(len);
    let zero = Complex64::new(0.0, 0.0);
    let one = Complex64::new(1.0, 0.0);
    let (mut d0, mut dp, mut dm) = (vec![zero; n], vec![zero; n], vec![zero; n]);
    for t in 0..n {
        let p = t % len;
        if p < half {
            d0[t] = one;
            dp[t] = if inverse { one } else { psi[p] };
        } else {
            let w = if inverse {
                psi[p - half].conj()
            } else {
                psi[p - half]
            };
            d0[t] = -w;
            dm[t] = if inverse { w } else { one };
        }
    }
    let mut diagonals = vec![(0i64, d0)];
    if half == n - half {
        // +n/2 and −n/2 are the same diagonal.
        diagonals.push((
            half as i64,
            dp.iter().zip(&dm).map(|(a, b)| a + b).collect(),
        ));
    } else {
        diagonals.push((half as i64, dp));
        diagonals.push((-(half as i64), dm));
    }
    LinearTransform::new(n, diagonals, None)
}

/// Merges the stages (in application order) into `budget` consecutive groups.
fn merge(stages: Vec<LinearTransform>, budget: usize) -> Result<Vec<LinearTransform>> {
    let count = stages.len();
    if budget == 0 || budget > count.max(1) {
        return Err(RuntimeError::InvalidParameters {
            reason: format!("DFT level budget {budget} must be in 1..={}", count.max(1)),
        });
    }
    let mut groups = Vec::with_capacity(budget);
    let mut it = stages.into_iter();
    for g in 0..budget {
        let size = count / budget + usize::from(g < count % budget);
        let mut acc: Option<LinearTransform> = None;
        for s in it.by_ref().take(size) {
            acc = Some(match acc {
                None => s,
                Some(a) => s.compose(&a)?,
            });
        }
        if let Some(a) = acc {
            groups.push(a);
        }
    }
    Ok(groups)
}

fn identity(n: usize) -> Result<LinearTransform> {
    LinearTransform::new(n, [(0, vec![Complex64::new(1.0, 0.0); n])], None)
}

/// SlotsToCoeffs times `factor` on bit-reversed input: `z ↦ factor·U·BitRev(z)`, as `budget`
/// transforms applied in order (`factor` spread evenly over them).
pub fn slots_to_coeffs(n: usize, factor: f64, budget: usize) -> Result<Vec<LinearTransform>> {
    if n == 1 {
        return Ok(vec![identity(1)?.scaled(Complex64::new(factor, 0.0))]);
    }
    let stages = (1..=n.trailing_zeros())
        .map(|e| stage(n, 1 << e, false))
        .collect::<Result<Vec<_>>>()?;
    Ok(spread(merge(stages, budget)?, factor))
}

/// CoeffsToSlots times `factor`, bit-reversed output: `w ↦ factor·BitRev(U^{−1}·w)`, as `budget`
/// transforms applied in order.
pub fn coeffs_to_slots(n: usize, factor: f64, budget: usize) -> Result<Vec<LinearTransform>> {
    if n == 1 {
        return Ok(vec![identity(1)?.scaled(Complex64::new(factor, 0.0))]);
    }
    let stages = (1..=n.trailing_zeros())
        .rev()
        .map(|e| stage(n, 1 << e, true))
        .collect::<Result<Vec<_>>>()?;
    // Each inverse stage carries a 1/2 (1/n in all). That and `factor` are spread evenly over the
    // groups: folded into one, its diagonals would be tiny (2^−20 at n = 2^15) and lose ~15 bits
    // to the rounding of their encoding, which EvalMod then amplifies by `q_0/Δ`.
    Ok(spread(merge(stages, budget)?, factor / n as f64))
}

/// `groups` with `factor` spread evenly over them (each scaled by its `len`-th root).
fn spread(groups: Vec<LinearTransform>, factor: f64) -> Vec<LinearTransform> {
    let per_group = factor.powf(1.0 / groups.len() as f64);
    groups
        .into_iter()
        .map(|g| g.scaled(Complex64::new(per_group, 0.0)))
        .collect()
}

/// The bit-reversal permutation of `0..n`.
pub fn bit_reverse_index(i: usize, n: usize) -> usize {
    if n <= 1 {
        return 0;
    }
    i.reverse_bits() >> (usize::BITS - n.trailing_zeros())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply_all(ts: &[LinearTransform], x: &[Complex64]) -> Vec<Complex64> {
        ts.iter().fold(x.to_vec(), |v, t| t.apply_plain(&v))
    }

    #[test]
    fn factored_dft_matches_the_dense_matrix_for_every_budget() {
        let n = 32;
        let u = embedding_matrix(n);
        let x: Vec<Complex64> = (0..n)
            .map(|k| Complex64::new((k as f64 * 0.7).sin(), (k as f64 * 0.3).cos()))
            .collect();
        let ux: Vec<Complex64> = (0..n)
            .map(|j| (0..n).map(|k| u[j][k] * x[k]).sum())
            .collect();
        let bitrev = |v: &[Complex64]| -> Vec<Complex64> {
            (0..n).map(|i| v[bit_reverse_index(i, n)]).collect()
        };
        for budget in 1..=5 {
            let stc = slots_to_coeffs(n, 0.25, budget).unwrap();
            assert_eq!(stc.len(), budget);
            let got = apply_all(&stc, &bitrev(&x));
            for j in 0..n {
                assert!(
                    (got[j] - 0.25 * ux[j]).norm() < 1e-9,
                    "StC budget {budget} slot {j}"
                );
            }
            let cts = coeffs_to_slots(n, 0.5, budget).unwrap();
            let back = bitrev(&apply_all(&cts, &ux));
            for k in 0..n {
                assert!(
                    (back[k] - 0.5 * x[k]).norm() < 1e-9,
                    "CtS budget {budget} slot {k}"
                );
            }
        }
        assert!(slots_to_coeffs(n, 1.0, 6).is_err() && coeffs_to_slots(n, 1.0, 0).is_err());
    }

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
