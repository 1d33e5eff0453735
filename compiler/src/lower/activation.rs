//! Non-linear functions as Chebyshev polynomials (fitted here, on calibrated intervals) followed, for the
//! inverses, by Newton steps written as ciphertext ops.
//!
//! Error targets (measured on 2001 points of the interval): SiLU absolute 1e-4; `exp` absolute
//! 1e-6 · e^(max); the initial guess of `1/√x` relative 2e-2, that of `1/x` a relative residual ≤ 0.5
//! (minimax, see [`reciprocal`]); then Newton steps until the predicted relative error (`e ↦ e²` for
//! `1/x`, `e ↦ 1.5·e²` for `1/√x`) is below 1e-7 (at most [`MAX_NEWTON`]).

use super::chebyshev::{abs_err, fit, reciprocal_minimax, rel_err, Fit};
use super::emit::Emitter;
use cachemir_ir::fhe::ValueId;

/// Largest coefficient count `2^MAX_LOG` tried (depth 7).
pub const MAX_LOG: u32 = 7;

/// Most Newton steps after a polynomial.
pub const MAX_NEWTON: u32 = 12;

/// A polynomial approximation on an interval, with the Newton steps that follow it (inverses only).
#[derive(Debug, Clone, PartialEq)]
pub struct Approx {
    /// The fit.
    pub fit: Fit,
    /// The interval.
    pub interval: (f64, f64),
    /// Newton steps after the polynomial.
    pub newton_steps: u32,
}

fn newton_steps(mut e: f64, factor: f64) -> u32 {
    let mut steps = 0;
    while e > 1e-7 && steps < MAX_NEWTON {
        e = factor * e * e;
        steps += 1;
    }
    steps
}

/// SiLU `x·σ(x)` on `interval`.
pub fn silu(interval: (f64, f64)) -> Approx {
    let f = |x: f64| x / (1.0 + (-x).exp());
    Approx {
        fit: fit(f, interval, 1e-4, MAX_LOG, abs_err),
        interval,
        newton_steps: 0,
    }
}

/// `exp(scale · s)` on `interval` (the softmax numerator over raw scores `s`).
pub fn exp(scale: f64, interval: (f64, f64)) -> Approx {
    let f = move |x: f64| (scale * x).exp();
    let target = 1e-6 * f(interval.1).max(f(interval.0));
    Approx {
        fit: fit(f, interval, target, MAX_LOG, abs_err),
        interval,
        newton_steps: 0,
    }
}

/// `1/x` on `interval` (`0 < a`): the polynomial minimizing the relative residual `|1 − x·p(x)|` (softmax
/// denominators span many orders of magnitude, where an interpolant of `1/x` fails), with as many
/// coefficients as needed for a residual ≤ 0.5 (at most `2^MAX_LOG`), then Newton steps.
pub fn reciprocal(interval: (f64, f64)) -> Approx {
    let mut best = None;
    for k in 2..=MAX_LOG {
        let (coeffs, error) = reciprocal_minimax(interval, 1 << k);
        let done = error <= 0.5;
        best = Some(Fit { coeffs, error });
        if done {
            break;
        }
    }
    let fit = best.expect("at least one size tried");
    let steps = newton_steps(fit.error, 1.0);
    Approx {
        fit,
        interval,
        newton_steps: steps,
    }
}

/// `1/√(s/n + eps)` on `interval` of `s` (the RMSNorm inverse over the sum of squares `s` of `n` entries).
pub fn rsqrt_mean(n: f64, eps: f64, interval: (f64, f64)) -> Approx {
    let f = move |s: f64| 1.0 / (s / n + eps).sqrt();
    let fit = fit(f, interval, 2e-2, MAX_LOG, rel_err);
    let steps = newton_steps(fit.error, 1.5);
    Approx {
        fit,
        interval,
        newton_steps: steps,
    }
}

/// Emits the polynomial of `approx` on `x`.
pub fn poly(em: &mut Emitter, x: ValueId, approx: &Approx) -> ValueId {
    em.poly(x, approx.fit.coeffs.clone(), approx.interval)
}

/// `1/x` refined from `y ≈ 1/x` by `y ← y·(2 − x·y)`.
pub fn newton_reciprocal(em: &mut Emitter, x: ValueId, mut y: ValueId, steps: u32) -> ValueId {
    let neg = em.mul_int(x, -1);
    for _ in 0..steps {
        let t = em.mul(neg, y);
        let t = em.add_scalar(t, 2.0);
        y = em.mul(y, t);
    }
    y
}

/// `1/√m` refined from `y ≈ 1/√m` by `y ← y·(1.5 + h·y²)` where `h = −m/2` is given.
pub fn newton_rsqrt(em: &mut Emitter, half_neg_m: ValueId, mut y: ValueId, steps: u32) -> ValueId {
    for _ in 0..steps {
        let y2 = em.mul(y, y);
        let t = em.mul(half_neg_m, y2);
        let t = em.add_scalar(t, 1.5);
        y = em.mul(y, t);
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lower::chebyshev::evaluate;

    fn refine_recip(x: f64, mut y: f64, steps: u32) -> f64 {
        for _ in 0..steps {
            y *= 2.0 - x * y;
        }
        y
    }

    #[test]
    fn reciprocal_with_newton_is_accurate_over_a_wide_interval() {
        let a = reciprocal((0.005, 20000.0));
        for x in [0.005, 0.9, 3.0, 47.0, 19999.0] {
            let y0 = evaluate(&a.fit.coeffs, a.interval, x);
            let y = refine_recip(x, y0, a.newton_steps);
            assert!((y * x - 1.0).abs() < 1e-6, "x = {x}: {y}");
        }
    }

    #[test]
    fn rsqrt_with_newton_is_accurate() {
        let (n, eps) = (64.0, 1e-5);
        let a = rsqrt_mean(n, eps, (1.0, 500.0));
        for s in [1.0, 7.5, 64.0, 499.0] {
            let m = s / n + eps;
            let mut y = evaluate(&a.fit.coeffs, a.interval, s);
            for _ in 0..a.newton_steps {
                y *= 1.5 - 0.5 * m * y * y;
            }
            assert!((y * m.sqrt() - 1.0).abs() < 1e-6, "s = {s}");
        }
    }

    #[test]
    fn silu_fit_is_within_target() {
        let a = silu((-8.0, 8.0));
        let x = 1.5f64;
        let exact = x / (1.0 + (-x).exp());
        assert!((evaluate(&a.fit.coeffs, a.interval, x) - exact).abs() < 1e-4);
    }
}
