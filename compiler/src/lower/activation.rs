//! Non-linear functions as Chebyshev polynomials (fitted here, on calibrated intervals) followed, for the
//! inverses, by Newton steps written as ciphertext ops.
//!
//! Error targets (measured on 2001 points of the interval): SiLU absolute 1e-4; `exp` absolute
//! 1e-6 · e^(max). Inverses (`1/x`, `1/√x`) reach a relative error of [`INVERSE_ERROR`], or
//! [`ROUGH_INVERSE_ERROR`] where their common factor cancels later (softmax rounds before the last). Their
//! initial polynomial (minimax for `1/x`, see [`reciprocal`]) and Newton steps (predicted error
//! `e ↦ e²` for `1/x`, `e ↦ 1.5·e²` for `1/√x`, [`NEWTON_DEPTH`] levels each) are the combination with
//! the fewest levels in total: levels are what bootstraps pay for.

use super::chebyshev::{abs_err, fit, fit_with, reciprocal_minimax, rel_err, Fit};
use super::emit::Emitter;
use cachemir_ir::fhe::{Op, ValueId};

/// Largest coefficient count `2^MAX_LOG` tried (depth 7).
pub const MAX_LOG: u32 = 7;

/// Most Newton steps after a polynomial.
pub const MAX_NEWTON: u32 = 12;

/// Relative error of an inverse whose value is used as is (RMSNorm, the softmax's last normalization).
pub const INVERSE_ERROR: f64 = 1e-4;

/// Relative error of a normalization whose common factor the next one cancels (a softmax round before the
/// last): it only has to keep the next sum inside its interval.
pub const ROUGH_INVERSE_ERROR: f64 = 0.25;

/// Levels one Newton step consumes: `y ← y·(2 − x·y)` and `y ← 1.5·y + (h·y)·(y·y)`.
pub const NEWTON_DEPTH: u32 = 2;

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

impl Approx {
    /// The change of variable `x ↦ scale·x + shift` taking the interval onto `[−1, 1]`. The evaluator
    /// spends a level on it unless a caller folds it into a plaintext product before the polynomial
    /// ([`poly_mapped`]).
    pub fn unit_map(&self) -> (f64, f64) {
        let (a, b) = self.interval;
        (2.0 / (b - a), -(a + b) / (b - a))
    }
}

/// Newton steps taking the relative error `e` below `target` (`e ↦ factor·e²` per step), if at most
/// [`MAX_NEWTON`] do.
fn newton_steps(mut e: f64, factor: f64, target: f64) -> Option<u32> {
    let mut steps = 0;
    while e > target {
        if steps == MAX_NEWTON {
            return None;
        }
        e = factor * e * e;
        steps += 1;
    }
    Some(steps)
}

/// Among the fits with `2^k` coefficients (`2 ≤ k ≤ MAX_LOG`, from `fit_k`), the one whose polynomial
/// depth plus Newton steps reaches `target` in the fewest levels (ties: the smaller polynomial).
fn cheapest_inverse(
    fit_k: impl Fn(usize) -> Fit,
    interval: (f64, f64),
    factor: f64,
    target: f64,
) -> Approx {
    let mut best: Option<(u32, Approx)> = None;
    for k in 2..=MAX_LOG {
        let fit = fit_k(1 << k);
        let Some(steps) = newton_steps(fit.error, factor, target) else {
            continue;
        };
        let depth = Op::poly_depth(fit.coeffs.len(), interval) + NEWTON_DEPTH * steps;
        if best.as_ref().is_none_or(|(d, _)| depth < *d) {
            let approx = Approx {
                fit,
                interval,
                newton_steps: steps,
            };
            best = Some((depth, approx));
        }
    }
    best.map(|(_, a)| a).unwrap_or_else(|| {
        // No size converges (a degenerate interval): the largest polynomial and the most steps.
        let fit = fit_k(1 << MAX_LOG);
        Approx {
            fit,
            interval,
            newton_steps: MAX_NEWTON,
        }
    })
}

/// SiLU of a scaled input: `t ↦ silu(unit·t)` on `interval` (of `t`; `unit = 1` is SiLU itself).
pub fn silu(unit: f64, interval: (f64, f64)) -> Approx {
    let f = move |t: f64| {
        let x = unit * t;
        x / (1.0 + (-x).exp())
    };
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

/// `1/x` on `interval` (`0 < a`) to a relative error `target`: the polynomial minimizing the relative
/// residual `|1 − x·p(x)|` (softmax denominators span many orders of magnitude, where an interpolant of
/// `1/x` fails), then Newton steps ([`cheapest_inverse`]).
pub fn reciprocal(interval: (f64, f64), target: f64) -> Approx {
    let fit_k = |n| {
        let (coeffs, error) = reciprocal_minimax(interval, n);
        Fit { coeffs, error }
    };
    cheapest_inverse(fit_k, interval, 1.0, target)
}

/// `1/√(s/n + eps)` on `interval` of `s` (the RMSNorm inverse over the sum of squares `s` of `n` entries),
/// to a relative error of [`INVERSE_ERROR`].
pub fn rsqrt_mean(n: f64, eps: f64, interval: (f64, f64)) -> Approx {
    let f = move |s: f64| 1.0 / (s / n + eps).sqrt();
    let fit_k = |k| fit_with(f, interval, k, rel_err);
    cheapest_inverse(fit_k, interval, 1.5, INVERSE_ERROR)
}

/// Emits the polynomial of `approx` on `x`.
pub fn poly(em: &mut Emitter, x: ValueId, approx: &Approx) -> ValueId {
    em.poly(x, approx.fit.coeffs.clone(), approx.interval)
}

/// Emits the polynomial of `approx` on `t`, already mapped onto `[−1, 1]` by [`Approx::unit_map`].
pub fn poly_mapped(em: &mut Emitter, t: ValueId, approx: &Approx) -> ValueId {
    em.poly(t, approx.fit.coeffs.clone(), (-1.0, 1.0))
}

/// The polynomial of `approx` on `x`, its change of variable folded into `x`'s plaintext product when
/// `x` is one ([`Emitter::affine_of_plain_product`]): a level less than [`poly`].
pub fn poly_folded(em: &mut Emitter, x: ValueId, approx: &Approx) -> ValueId {
    let (scale, shift) = approx.unit_map();
    match em.affine_of_plain_product(x, scale, shift) {
        Some(t) => poly_mapped(em, t, approx),
        None => poly(em, x, approx),
    }
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

/// `1/√m` refined from `y ≈ 1/√m` by `y ← 1.5·y + (h·y)·(y·y)` where `h = −m/2` is given (two levels per
/// step: the two inner products are independent), or, `chained`, by `y ← 1.5·y + ((h·y)·y)·y` (three
/// levels, but no `y·y`, which grows as `1/m`).
pub fn newton_rsqrt(
    em: &mut Emitter,
    half_neg_m: ValueId,
    mut y: ValueId,
    steps: u32,
    chained: bool,
) -> ValueId {
    for _ in 0..steps {
        let hy = em.mul(half_neg_m, y);
        let t = if chained {
            let hyy = em.mul(hy, y);
            em.mul(hyy, y)
        } else {
            let y2 = em.mul(y, y);
            em.mul(hy, y2)
        };
        let y15 = em.mul_scalar(y, 1.5);
        y = em.add(y15, t);
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
        let a = reciprocal((0.005, 20000.0), INVERSE_ERROR);
        for x in [0.005, 0.9, 3.0, 47.0, 19999.0] {
            let y0 = evaluate(&a.fit.coeffs, a.interval, x);
            let y = refine_recip(x, y0, a.newton_steps);
            assert!((y * x - 1.0).abs() < INVERSE_ERROR, "x = {x}: {y}");
        }
    }

    #[test]
    fn a_rough_reciprocal_is_one_polynomial_within_its_residual() {
        let interval = (0.5 / 128.0, 2.0);
        let a = reciprocal(interval, ROUGH_INVERSE_ERROR);
        assert_eq!(a.newton_steps, 0);
        for i in 0..=1000 {
            let x = interval.0 + (interval.1 - interval.0) * f64::from(i) / 1000.0;
            let y = evaluate(&a.fit.coeffs, a.interval, x);
            assert!((y * x - 1.0).abs() <= ROUGH_INVERSE_ERROR, "x = {x}: {y}");
        }
    }

    #[test]
    fn the_cheapest_inverse_uses_no_more_levels_than_any_other_size() {
        let interval = (0.5 / std::f64::consts::E, 256.0 * std::f64::consts::E);
        let chosen = reciprocal(interval, INVERSE_ERROR);
        let levels = |n: usize, steps: u32| Op::poly_depth(n, interval) + NEWTON_DEPTH * steps;
        let best = levels(chosen.fit.coeffs.len(), chosen.newton_steps);
        for k in 2..=MAX_LOG {
            let (_, e) = reciprocal_minimax(interval, 1 << k);
            // Newton on 1/x squares the residual: count the steps independently of `newton_steps`.
            let (mut e, mut steps) = (e, 0);
            while e > INVERSE_ERROR && e < 1.0 {
                e *= e;
                steps += 1;
            }
            if e <= INVERSE_ERROR {
                assert!(
                    best <= levels(1 << k, steps),
                    "2^{k} coefficients are cheaper"
                );
            }
        }
    }

    #[test]
    fn rsqrt_with_newton_is_accurate() {
        let (n, eps) = (64.0, 1e-5);
        let a = rsqrt_mean(n, eps, (1.0, 500.0));
        for s in [1.0, 7.5, 64.0, 233.3, 499.0] {
            let m = s / n + eps;
            let mut y = evaluate(&a.fit.coeffs, a.interval, s);
            for _ in 0..a.newton_steps {
                y = 1.5 * y + (-0.5 * m * y) * (y * y);
            }
            assert!((y * m.sqrt() - 1.0).abs() < INVERSE_ERROR, "s = {s}");
        }
    }

    #[test]
    fn a_polynomial_folded_into_its_plaintext_product_spends_a_level_less_for_the_same_values() {
        use crate::lower::{manage_for_tests, params};
        use cachemir_ir::fhe::interp::{Interpreter, KvState};
        use cachemir_ir::fhe::Layout;
        let p = params::by_name("INSECURE_N12").unwrap();
        let layout = Layout::Strided { len: 64, stride: 1 };
        let mut em = Emitter::new(p.literal.clone(), 64, p.working_level);
        let a = exp(1.0, (-1.0, 2.5));
        let w: Vec<f64> = (0..64).map(|i| f64::from(i) / 32.0 - 0.9).collect();
        em.weight("w", || vec![w.clone()]);
        let x = em.input("x", layout.clone());
        let m = em.mul_plain(x, "w", 0, layout);
        let plain = poly(&mut em, m, &a);
        let folded = poly_folded(&mut em, m, &a);
        em.output("plain", plain);
        em.output("folded", folded);
        let mut module = em.module;
        manage_for_tests(&mut module, p.working_level);
        let level_of = |name: &str| {
            module
                .op_ids()
                .find_map(|id| match &module.op(id).op {
                    Op::Output { name: n, value } if n == name => module.value_type(*value),
                    _ => None,
                })
                .and_then(|t| t.as_ct().map(|c| c.level.0))
                .unwrap()
        };
        assert_eq!(level_of("folded"), level_of("plain") + 1);
        let xs: Vec<f64> = (0..64).map(|i| 1.0 - f64::from(i) / 40.0).collect();
        let inputs = [("x".to_string(), xs.clone())].into_iter().collect();
        let out = Interpreter::new(&module, &em.weights)
            .unwrap()
            .run(&inputs, &mut KvState::default())
            .unwrap();
        for i in 0..64 {
            let want = (xs[i] * w[i]).exp();
            assert!((out["plain"][i] - want).abs() < 1e-5 * want, "slot {i}");
            assert!((out["folded"][i] - want).abs() < 1e-5 * want, "slot {i}");
        }
    }

    #[test]
    fn silu_fit_is_within_target() {
        let a = silu(1.0, (-8.0, 8.0));
        let x = 1.5f64;
        let exact = x / (1.0 + (-x).exp());
        assert!((evaluate(&a.fit.coeffs, a.interval, x) - exact).abs() < 1e-4);
    }
}
