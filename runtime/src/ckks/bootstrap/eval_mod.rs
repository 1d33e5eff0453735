//! EvalMod: removes the multiple of `q_0` that ModRaise adds, slot-wise on real values.
//!
//! After CoeffsToSlots a slot holds `t = x/K` where `x = ε + I`, `ε = Δ·m_k/q_0` tiny and `I` an
//! integer with `|I| ≤ K` (CoeffsToSlots folds the `1/K` into its matrices, so no level is spent on
//! a change of variable). `sin(2πx)/(2π) ≈ ε`. It is evaluated as `cos(2π(K·t − 1/4)/2^r)` by a
//! Chebyshev polynomial on `[−1, 1]` followed by `r` double-angle steps `cos 2θ = 2cos²θ − 1`; the
//! `1/(2π)` is folded into the output scale. Scales are planned backwards so the output lands
//! exactly on the requested scale: before a squaring at level `l` the scale must be `sqrt(S·q_l)`.
//!
//! The polynomial only ever meets points within `|ε| ≤ 2^{−log_message_ratio}` of an integer, so it
//! is fitted there (least squares at a few points around each integer, the idea of Han and Ki's
//! "Better bootstrapping", 2019) rather than interpolated on all of `[−K, K]`. At `K = 13` with
//! `r = 3` (8 levels) degree 31 then reaches 5e-13 near the integers, where interpolation on the
//! interval reaches only 7e-12 and needed degree 63 with `r = 2` for 1e-13 (measured in
//! `tests/bootstrap.rs`). Errors are amplified by `q_0/(2πΔ)` and SlotsToCoeffs, so 1e-12 is the
//! scale that matters.

use crate::approx::Chebyshev;
use crate::ckks::{Ciphertext, Evaluator};
use crate::Result;
use cachemir_kernels::Backend;
use num_complex::Complex64;
use std::f64::consts::PI;

/// EvalMod settings.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalMod {
    /// `K`: the integers `I` lie in `[−K, K]` (the slots hold `x/K`).
    pub k: f64,
    /// Double-angle steps `r`.
    pub double_angle: usize,
    /// The Chebyshev approximation of `cos(2π(K·t − 1/4)/2^r)` on `[−1, 1]`.
    pub poly: Chebyshev,
}

/// Fitting points per integer: Chebyshev nodes of `[I − e, I + e]`.
const POINTS_PER_INTEGER: usize = 4;

impl EvalMod {
    /// Fits the scaled cosine of degree `degree` with `double_angle` steps near every integer
    /// `|I| ≤ k`, within `2^{−log_message_ratio}` of it.
    pub fn new(k: u32, degree: usize, double_angle: usize, log_message_ratio: u32) -> Result<Self> {
        let r = 2f64.powi(double_angle as i32);
        let kf = f64::from(k);
        let e = 2f64.powi(-(log_message_ratio as i32));
        let points: Vec<f64> = (-(k as i64)..=k as i64)
            .flat_map(|i| {
                (0..POINTS_PER_INTEGER).map(move |j| {
                    let node = (PI * (j as f64 + 0.5) / POINTS_PER_INTEGER as f64).cos();
                    (i as f64 + e * node) / kf
                })
            })
            .collect();
        let cosine = |t: f64| (2.0 * PI * (kf * t - 0.25) / r).cos();
        let poly = Chebyshev::least_squares(cosine, -1.0, 1.0, degree, &points)?;
        Ok(Self {
            k: kf,
            double_angle,
            poly,
        })
    }

    /// Levels consumed: the polynomial and the double-angle steps.
    pub fn depth(&self) -> usize {
        crate::ckks::poly_eval::chebyshev_depth(self.poly.degree(), true) + self.double_angle
    }

    /// Plaintext model: `sin(2πx)` as computed (without the `1/(2π)`), for `x` near an integer
    /// `|I| ≤ K`.
    pub fn eval_plain(&self, x: f64) -> f64 {
        (0..self.double_angle).fold(self.poly.eval(x / self.k), |y, _| 2.0 * y * y - 1.0)
    }

    /// Evaluates on `x/K` (real slots in `[−1, 1]`); the result holds `sin(2πx)` at exactly
    /// `target_scale`, [`Self::depth`] levels below `x`.
    pub fn evaluate<B: Backend>(
        &self,
        eval: &Evaluator<B>,
        x: &Ciphertext,
        target_scale: f64,
    ) -> Result<Ciphertext> {
        let out_level = x.level().saturating_sub(self.depth());
        // Scale needed before each squaring, from the last one backwards.
        let mut scale = target_scale;
        for step in (0..self.double_angle).rev() {
            let level = out_level + self.double_angle - step; // level of the squaring's input
            scale = (scale * eval.params().q()[level] as f64).sqrt();
        }
        let mut y = eval.evaluate_chebyshev(x, &self.poly, scale)?;
        for _ in 0..self.double_angle {
            let sq = eval.mul_relin_rescale(&y, &y)?;
            y = eval.add_const(&eval.mul_int(&sq, 2), Complex64::new(-1.0, 0.0))?;
        }
        y.set_scale(target_scale); // equal up to floating-point rounding of the square roots
        Ok(y)
    }
}
