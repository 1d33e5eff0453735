//! Chebyshev interpolation of a real function on an interval, in plaintext.
//!
//! `f` on `[a, b]` is sampled at the `d + 1` Chebyshev nodes of the first kind and expanded as
//! `p(x) = Σ_{k ≤ d} c_k T_k(u)` with `u = (2x − a − b)/(b − a) ∈ [−1, 1]`. Interpolation at these
//! nodes is within a factor `2 + (2/π)·ln(d + 1)` of the best (minimax) polynomial of degree `d`,
//! which is why it is the default here. Where only some points of the interval matter (EvalMod's
//! sine is only ever evaluated near integers), [`Chebyshev::least_squares`] fits the coefficients
//! to samples at chosen points instead. The error is never assumed: [`Chebyshev::max_error`]
//! measures it on a dense grid.

use crate::{Result, RuntimeError};
use std::f64::consts::PI;

/// A polynomial on `[a, b]` in the Chebyshev basis of the mapped variable `u ∈ [−1, 1]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Chebyshev {
    a: f64,
    b: f64,
    coeffs: Vec<f64>,
}

/// The measured error of an approximation on its interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ApproxError {
    /// Largest `|p(x) − f(x)|` over the grid.
    pub max_abs: f64,
    /// Largest `|p(x) − f(x)| / |f(x)|` over the grid points where `f(x) ≠ 0`.
    pub max_rel: f64,
    /// The grid point where the absolute error is largest.
    pub worst_x: f64,
}

impl ApproxError {
    /// `−log2(max_abs)`: bits of absolute precision.
    pub fn abs_bits(&self) -> f64 {
        -self.max_abs.log2()
    }
}

fn check_interval(what: &str, a: f64, b: f64) -> Result<()> {
    if !(a.is_finite() && b.is_finite() && a < b) {
        return Err(RuntimeError::InvalidParameters {
            reason: format!("{what}: interval [{a}, {b}] must be finite with a < b"),
        });
    }
    Ok(())
}

/// `n` evenly spaced points covering `[a, b]` including both ends (`n ≥ 2`).
pub fn grid(a: f64, b: f64, n: usize) -> impl Iterator<Item = f64> {
    let n = n.max(2);
    (0..n).map(move |i| a + (b - a) * i as f64 / (n - 1) as f64)
}

/// Measures `p` against `f` on `n` grid points of `[a, b]`.
pub fn measure_error(
    p: impl Fn(f64) -> f64,
    f: impl Fn(f64) -> f64,
    a: f64,
    b: f64,
    n: usize,
) -> ApproxError {
    let mut e = ApproxError {
        max_abs: 0.0,
        max_rel: 0.0,
        worst_x: a,
    };
    for x in grid(a, b, n) {
        let (want, got) = (f(x), p(x));
        let abs = (got - want).abs();
        if abs > e.max_abs || abs.is_nan() {
            e.max_abs = abs;
            e.worst_x = x;
        }
        if want != 0.0 {
            e.max_rel = e.max_rel.max(abs / want.abs());
        }
    }
    e
}

impl Chebyshev {
    /// Interpolates `f` on `[a, b]` at the `degree + 1` Chebyshev nodes.
    pub fn interpolate(f: impl Fn(f64) -> f64, a: f64, b: f64, degree: usize) -> Result<Self> {
        check_interval("chebyshev interpolation", a, b)?;
        let n = degree + 1;
        let nodes: Vec<f64> = (0..n)
            .map(|k| (PI * (k as f64 + 0.5) / n as f64).cos())
            .collect();
        let values: Vec<f64> = nodes
            .iter()
            .map(|&u| f(0.5 * (b - a) * u + 0.5 * (a + b)))
            .collect();
        if let Some(bad) = values.iter().position(|v| !v.is_finite()) {
            return Err(RuntimeError::InvalidParameters {
                reason: format!(
                    "chebyshev interpolation: f is not finite at x = {}",
                    0.5 * (b - a) * nodes[bad] + 0.5 * (a + b)
                ),
            });
        }
        let coeffs = (0..n)
            .map(|j| {
                let s: f64 = (0..n)
                    .map(|k| values[k] * (PI * j as f64 * (k as f64 + 0.5) / n as f64).cos())
                    .sum();
                s * if j == 0 { 1.0 } else { 2.0 } / n as f64
            })
            .collect();
        Ok(Self { a, b, coeffs })
    }

    /// The least-squares fit of degree `degree` to `f` at `points` (more than `degree` distinct
    /// ones, in or slightly beyond `[a, b]`): the coefficients minimizing `Σ (p(x_i) − f(x_i))²`, by
    /// Householder QR of the Chebyshev–Vandermonde matrix (well conditioned when the points spread
    /// over the interval). An error names a degenerate point set.
    pub fn least_squares(
        f: impl Fn(f64) -> f64,
        a: f64,
        b: f64,
        degree: usize,
        points: &[f64],
    ) -> Result<Self> {
        check_interval("chebyshev least squares", a, b)?;
        let invalid = |reason: String| RuntimeError::InvalidParameters { reason };
        let (cols, rows) = (degree + 1, points.len());
        if rows < cols {
            return Err(invalid(format!(
                "chebyshev least squares: {rows} points cannot fix {cols} coefficients"
            )));
        }
        let (alpha, beta) = (2.0 / (b - a), -(a + b) / (b - a));
        // Column-major Vandermonde `v[j][i] = T_j(u_i)` and right-hand side `y_i = f(x_i)`.
        let u: Vec<f64> = points.iter().map(|&x| alpha * x + beta).collect();
        let mut v = vec![vec![1.0; rows], u.clone()];
        for j in 2..cols {
            let next = (0..rows)
                .map(|i| 2.0 * u[i] * v[j - 1][i] - v[j - 2][i])
                .collect();
            v.push(next);
        }
        v.truncate(cols);
        let mut y: Vec<f64> = points.iter().map(|&x| f(x)).collect();
        if let Some(bad) = (0..rows).find(|&i| !(u[i].is_finite() && y[i].is_finite())) {
            return Err(invalid(format!(
                "chebyshev least squares: f is not finite at x = {}",
                points[bad]
            )));
        }
        // Householder QR: column j is reflected onto e_j; the same reflection is applied to the
        // later columns and to y, leaving R in the upper triangle and Qᵀy in y.
        let scale = v.iter().flatten().fold(0.0f64, |m, x| m.max(x.abs()));
        for j in 0..cols {
            let norm = v[j][j..].iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm <= 1e-12 * scale * (rows as f64).sqrt() {
                return Err(invalid(format!(
                    "chebyshev least squares: the points do not determine T_{j} (too few distinct points)"
                )));
            }
            let alpha_j = if v[j][j] > 0.0 { -norm } else { norm };
            let mut h: Vec<f64> = v[j][j..].to_vec();
            h[0] -= alpha_j;
            let hh: f64 = h.iter().map(|x| x * x).sum();
            let reflect = |col: &mut [f64]| {
                let d = 2.0 * h.iter().zip(col.iter()).map(|(a, b)| a * b).sum::<f64>() / hh;
                col.iter_mut().zip(&h).for_each(|(c, hk)| *c -= d * hk);
            };
            for col in v.iter_mut().skip(j + 1) {
                reflect(&mut col[j..]);
            }
            reflect(&mut y[j..]);
            v[j][j] = alpha_j;
        }
        // Back substitution R·c = (Qᵀy)[..cols].
        let mut coeffs = vec![0.0; cols];
        for j in (0..cols).rev() {
            let s: f64 = (j + 1..cols).map(|k| v[k][j] * coeffs[k]).sum();
            coeffs[j] = (y[j] - s) / v[j][j];
        }
        Self::from_coeffs(coeffs, a, b)
    }

    /// A polynomial from explicit Chebyshev coefficients `c_0 … c_d` on `[a, b]`.
    pub fn from_coeffs(coeffs: Vec<f64>, a: f64, b: f64) -> Result<Self> {
        check_interval("chebyshev polynomial", a, b)?;
        if coeffs.is_empty() || coeffs.iter().any(|c| !c.is_finite()) {
            return Err(RuntimeError::InvalidParameters {
                reason: "chebyshev polynomial: coefficients must be finite and non-empty".into(),
            });
        }
        Ok(Self { a, b, coeffs })
    }

    /// The interval `[a, b]`.
    pub fn interval(&self) -> (f64, f64) {
        (self.a, self.b)
    }

    /// The Chebyshev coefficients `c_0 … c_d`.
    pub fn coeffs(&self) -> &[f64] {
        &self.coeffs
    }

    /// The degree (index of the last non-zero coefficient, 0 for a constant).
    pub fn degree(&self) -> usize {
        self.coeffs.iter().rposition(|&c| c != 0.0).unwrap_or(0)
    }

    /// Whether `[a, b]` is already `[−1, 1]` (no change of variable needed).
    pub fn is_unit_interval(&self) -> bool {
        self.a == -1.0 && self.b == 1.0
    }

    /// The affine map `x ↦ u = α·x + β` from `[a, b]` onto `[−1, 1]`, as `(α, β)`.
    pub fn unit_map(&self) -> (f64, f64) {
        let alpha = 2.0 / (self.b - self.a);
        (alpha, -(self.a + self.b) / (self.b - self.a))
    }

    /// Evaluates at `x` (Clenshaw's recurrence on the mapped variable).
    pub fn eval(&self, x: f64) -> f64 {
        let (alpha, beta) = self.unit_map();
        eval_unit(&self.coeffs, alpha * x + beta)
    }

    /// Sets to zero every coefficient of magnitude below `threshold` (e.g. the even ones of an odd
    /// function, which interpolation leaves at rounding level), so that the encrypted evaluation
    /// skips them.
    pub fn prune(mut self, threshold: f64) -> Self {
        for c in &mut self.coeffs {
            if c.abs() < threshold {
                *c = 0.0;
            }
        }
        self
    }

    /// The error against `f` on a grid of `points` points of `[a, b]`.
    pub fn max_error(&self, f: impl Fn(f64) -> f64, points: usize) -> ApproxError {
        measure_error(|x| self.eval(x), f, self.a, self.b, points)
    }
}

/// `Σ c_k T_k(u)` by Clenshaw's recurrence.
pub fn eval_unit(coeffs: &[f64], u: f64) -> f64 {
    let (mut b1, mut b2) = (0.0, 0.0);
    for &c in coeffs.iter().skip(1).rev() {
        let b0 = 2.0 * u * b1 - b2 + c;
        b2 = b1;
        b1 = b0;
    }
    u * b1 - b2 + coeffs.first().copied().unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chebyshev_polynomials_are_reproduced_exactly() {
        // T_3(u) = 4u³ − 3u, independently of the recurrence.
        let p = Chebyshev::interpolate(|x| 4.0 * x * x * x - 3.0 * x, -1.0, 1.0, 5).unwrap();
        for (k, c) in p.coeffs().iter().enumerate() {
            let want = if k == 3 { 1.0 } else { 0.0 };
            assert!((c - want).abs() < 1e-13, "c_{k} = {c}");
        }
        assert_eq!(p.prune(1e-12).degree(), 3);
    }

    #[test]
    fn least_squares_recovers_a_polynomial_and_fits_at_its_points() {
        // Points clustered near the integers of [−5, 5], as EvalMod uses them.
        let points: Vec<f64> = (-5..=5)
            .flat_map(|i| [-1e-3, 0.0, 1e-3].map(|e| i as f64 + e))
            .collect();
        // An exact degree-4 polynomial, written in the monomial basis, is recovered.
        let quartic = |x: f64| 0.5 - x + 0.25 * x * x * x * x / 625.0;
        let p = Chebyshev::least_squares(quartic, -5.0, 5.0, 4, &points).unwrap();
        for &x in &points {
            assert!((p.eval(x) - quartic(x)).abs() < 1e-13, "at {x}");
        }
        // Least squares minimizes the squared residual at the points: no worse than interpolation
        // at Chebyshev nodes of the same degree.
        let f = |x: f64| (2.0 * x).cos();
        let residual = |p: &Chebyshev| {
            points
                .iter()
                .map(|&x| (p.eval(x) - f(x)).powi(2))
                .sum::<f64>()
        };
        let fit = Chebyshev::least_squares(f, -5.0, 5.0, 12, &points).unwrap();
        let interpolant = Chebyshev::interpolate(f, -5.0, 5.0, 12).unwrap();
        assert!(
            residual(&fit) <= residual(&interpolant),
            "{} > {}",
            residual(&fit),
            residual(&interpolant)
        );
    }

    #[test]
    fn least_squares_rejects_degenerate_points() {
        assert!(Chebyshev::least_squares(f64::cos, -1.0, 1.0, 4, &[0.0, 0.5, 1.0]).is_err());
        assert!(Chebyshev::least_squares(f64::cos, -1.0, 1.0, 2, &[0.0, 0.0, 0.0, 0.0]).is_err());
        assert!(Chebyshev::least_squares(f64::ln, -1.0, 1.0, 1, &[-0.5, 0.2, 0.5]).is_err());
    }

    #[test]
    fn bad_intervals_are_errors() {
        assert!(Chebyshev::interpolate(f64::exp, 1.0, 1.0, 4).is_err());
        assert!(Chebyshev::interpolate(f64::ln, -1.0, 1.0, 4).is_err());
        assert!(Chebyshev::from_coeffs(vec![], 0.0, 1.0).is_err());
    }
}
