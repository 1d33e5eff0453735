//! Chebyshev interpolation of the non-linear functions the lowering turns into [`Op::PolyEval`]
//! (`cachemir_ir::fhe::Op::PolyEval`): coefficients in the basis the IR uses
//! (`p(x) = Σ c_k T_k((2x − a − b)/(b − a))`, `c_0` already halved), and the choice of the smallest
//! power-of-two coefficient count that meets an error target on the interval.

/// Chebyshev coefficients (lowest degree first) of the degree `n − 1` polynomial interpolating `f` at the
/// `n` Chebyshev nodes of `[a, b]`. `n ≥ 1`, `a < b`.
pub fn interpolate(f: impl Fn(f64) -> f64, (a, b): (f64, f64), n: usize) -> Vec<f64> {
    let n = n.max(1);
    let nodes: Vec<f64> = (0..n)
        .map(|j| (std::f64::consts::PI * (j as f64 + 0.5) / n as f64).cos())
        .collect();
    let values: Vec<f64> = nodes
        .iter()
        .map(|&y| f(0.5 * (b - a) * y + 0.5 * (a + b)))
        .collect();
    (0..n)
        .map(|k| {
            let s: f64 = (0..n)
                .map(|j| {
                    values[j]
                        * (std::f64::consts::PI * k as f64 * (j as f64 + 0.5) / n as f64).cos()
                })
                .sum();
            let c = 2.0 * s / n as f64;
            if k == 0 {
                c / 2.0
            } else {
                c
            }
        })
        .collect()
}

/// Evaluates the series at `x` (Clenshaw), with the same convention as the IR interpreter.
pub fn evaluate(coeffs: &[f64], (a, b): (f64, f64), x: f64) -> f64 {
    let y = (2.0 * x - a - b) / (b - a);
    let (mut b1, mut b2) = (0.0, 0.0);
    for &c in coeffs.iter().skip(1).rev() {
        let b0 = 2.0 * y * b1 - b2 + c;
        b2 = b1;
        b1 = b0;
    }
    y * b1 - b2 + coeffs.first().copied().unwrap_or(0.0)
}

/// Largest error of `coeffs` against `f` measured by `err(approx, exact)` on 2001 evenly spaced points.
pub fn max_error(
    f: &impl Fn(f64) -> f64,
    coeffs: &[f64],
    (a, b): (f64, f64),
    err: &impl Fn(f64, f64) -> f64,
) -> f64 {
    (0..=2000)
        .map(|i| {
            let x = a + (b - a) * i as f64 / 2000.0;
            err(evaluate(coeffs, (a, b), x), f(x))
        })
        .fold(0.0, f64::max)
}

/// A fitted approximation.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    /// Chebyshev coefficients (a power-of-two count, so the IR depth `log2(len)` (+1 for the interval map) is tight).
    pub coeffs: Vec<f64>,
    /// Largest measured error on the interval (in the measure the caller gave).
    pub error: f64,
}

/// The fit with `n` coefficients (Chebyshev interpolation), its error measured by `err(approx, exact)`.
pub fn fit_with(
    f: impl Fn(f64) -> f64,
    interval: (f64, f64),
    n: usize,
    err: impl Fn(f64, f64) -> f64,
) -> Fit {
    let coeffs = interpolate(&f, interval, n);
    let error = max_error(&f, &coeffs, interval, &err);
    Fit { coeffs, error }
}

/// The smallest fit with `2^k` coefficients (`2 ≤ k ≤ max_log`) whose error is at most `target`, or the
/// largest one tried if none meets it.
pub fn fit(
    f: impl Fn(f64) -> f64,
    interval: (f64, f64),
    target: f64,
    max_log: u32,
    err: impl Fn(f64, f64) -> f64,
) -> Fit {
    let mut best = None;
    for k in 2..=max_log.max(2) {
        let candidate = fit_with(&f, interval, 1 << k, &err);
        let done = candidate.error <= target;
        best = Some(candidate);
        if done {
            break;
        }
    }
    best.unwrap_or(Fit {
        coeffs: vec![0.0],
        error: f64::INFINITY,
    })
}

/// Chebyshev value `T_n(y)` for any real `y` (also outside `[−1, 1]`).
pub fn chebyshev_t(n: usize, y: f64) -> f64 {
    if y.abs() <= 1.0 {
        (n as f64 * y.acos()).cos()
    } else {
        let sign = if y < 0.0 && n % 2 == 1 { -1.0 } else { 1.0 };
        sign * (n as f64 * y.abs().acosh()).cosh()
    }
}

/// The degree `n − 1` polynomial `p` minimizing `max |1 − x·p(x)|` on `[a, b]` (`0 < a < b`): the
/// residual is `T_n(L(x)) / T_n(L(0))` with `L` mapping `[a, b]` onto `[−1, 1]`, so
/// `x·p(x) ∈ [1 − e, 1 + e]` with `e = 1 / |T_n(L(0))|` (returned). A safe start for Newton's `1/x`
/// iteration over intervals far too wide for an interpolant (every step squares `e`).
pub fn reciprocal_minimax(interval: (f64, f64), n: usize) -> (Vec<f64>, f64) {
    let (a, b) = interval;
    let l = |x: f64| (2.0 * x - a - b) / (b - a);
    let t0 = chebyshev_t(n, l(0.0));
    let p = |x: f64| (1.0 - chebyshev_t(n, l(x)) / t0) / x;
    (interpolate(p, interval, n), 1.0 / t0.abs())
}

/// Absolute error.
pub fn abs_err(approx: f64, exact: f64) -> f64 {
    (approx - exact).abs()
}

/// Relative error.
pub fn rel_err(approx: f64, exact: f64) -> f64 {
    ((approx - exact) / exact).abs()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reproduces_a_polynomial_exactly() {
        // 3x³ − 2x + 1 on [−2, 5], independent of the Chebyshev basis.
        let p = |x: f64| 3.0 * x * x * x - 2.0 * x + 1.0;
        let c = interpolate(p, (-2.0, 5.0), 4);
        for x in [-2.0, -1.3, 0.0, 0.7, 2.5, 5.0] {
            assert!(
                (evaluate(&c, (-2.0, 5.0), x) - p(x)).abs() < 1e-9,
                "x = {x}"
            );
        }
    }

    #[test]
    fn t2_has_a_single_coefficient() {
        // On [−1, 1], 2x² − 1 is T_2: coefficients (0, 0, 1).
        let c = interpolate(|x| 2.0 * x * x - 1.0, (-1.0, 1.0), 3);
        assert!(c[0].abs() < 1e-12 && c[1].abs() < 1e-12 && (c[2] - 1.0).abs() < 1e-12);
    }

    #[test]
    fn reciprocal_minimax_bounds_the_relative_residual() {
        let (a, b) = (0.01, 5000.0);
        let (c, e) = reciprocal_minimax((a, b), 64);
        assert!(e < 1.0);
        for i in 0..=1000 {
            let x = a * (b / a).powf(i as f64 / 1000.0);
            let r = 1.0 - x * evaluate(&c, (a, b), x);
            assert!(r.abs() <= e + 1e-9, "x = {x}: residual {r} above {e}");
        }
    }

    #[test]
    fn exp_fit_meets_its_target() {
        let f = fit(f64::exp, (-4.0, 4.0), 1e-8, 7, abs_err);
        assert!(f.error <= 1e-8);
        assert!(f.coeffs.len().is_power_of_two() && f.coeffs.len() <= 32);
        assert!((evaluate(&f.coeffs, (-4.0, 4.0), 1.0) - std::f64::consts::E).abs() < 1e-8);
    }
}
