//! Chebyshev interpolation of a real function on an interval, in plaintext.
//!
//! `f` on `[a, b]` is sampled at the `d + 1` Chebyshev nodes of the first kind and expanded as
//! `p(x) = Σ_{k ≤ d} c_k T_k(u)` with `u = (2x − a − b)/(b − a) ∈ [−1, 1]`. Interpolation at these
//! nodes is within a factor `2 + (2/π)·ln(d + 1)` of the best (minimax) polynomial of degree `d`,
//! which is why it is the default here. The error is never assumed: [`Chebyshev::max_error`]
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
    fn bad_intervals_are_errors() {
        assert!(Chebyshev::interpolate(f64::exp, 1.0, 1.0, 4).is_err());
        assert!(Chebyshev::interpolate(f64::ln, -1.0, 1.0, 4).is_err());
        assert!(Chebyshev::from_coeffs(vec![], 0.0, 1.0).is_err());
    }
}
