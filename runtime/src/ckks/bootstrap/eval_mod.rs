//! EvalMod: removes the multiple of `q_0` that ModRaise adds, slot-wise on real values.
//!
//! After CoeffsToSlots a slot holds `t = x/K` where `x = ε + I`, `ε = Δ·m_k/q_0` tiny and `I` an
//! integer with `|x| ≤ K` (CoeffsToSlots folds the `1/K` into its matrices, so no level is spent on
//! a change of variable). `sin(2πx)/(2π) ≈ ε`. It is evaluated as `cos(2π(K·t − 1/4)/2^r)` by a
//! Chebyshev polynomial on `[−1, 1]` followed by `r` double-angle steps `cos 2θ = 2cos²θ − 1`; the
//! `1/(2π)` is folded into the output scale. Scales are planned backwards so the output lands
//! exactly on the requested scale: before a squaring at level `l` the scale must be `sqrt(S·q_l)`.
//!
//! Degree 63 with `r = 2` (8 levels) approximates `sin(2πx)` on `[−17, 17]` to 1.3e-13; degree 31
//! with `r = 3` (also 8 levels) only to 2.9e-8, which EvalMod's error amplification `q_0/(2πΔ)`
//! and SlotsToCoeffs would turn into ~10 bits.

use crate::approx::Chebyshev;
use crate::ckks::{Ciphertext, Evaluator};
use crate::Result;
use cachemir_kernels::Backend;
use num_complex::Complex64;
use std::f64::consts::PI;

/// EvalMod settings.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalMod {
    /// `K`: the inputs `x` lie in `[−K, K]` (the slots hold `x/K`).
    pub k: f64,
    /// Double-angle steps `r`.
    pub double_angle: usize,
    /// The Chebyshev approximation of `cos(2π(K·t − 1/4)/2^r)` on `[−1, 1]`.
    pub poly: Chebyshev,
}

impl EvalMod {
    /// Interpolates the scaled cosine of degree `degree` for `|x| ≤ k` with `double_angle` steps.
    pub fn new(k: f64, degree: usize, double_angle: usize) -> Result<Self> {
        let r = 2f64.powi(double_angle as i32);
        let poly =
            Chebyshev::interpolate(|t| (2.0 * PI * (k * t - 0.25) / r).cos(), -1.0, 1.0, degree)?;
        Ok(Self {
            k,
            double_angle,
            poly,
        })
    }

    /// Levels consumed: the polynomial and the double-angle steps.
    pub fn depth(&self) -> usize {
        crate::ckks::poly_eval::chebyshev_depth(self.poly.degree(), true) + self.double_angle
    }

    /// Plaintext model: `sin(2πx)` as computed (without the `1/(2π)`), for `|x| ≤ K`.
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
