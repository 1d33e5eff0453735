//! Ready-made approximations of the non-linear functions of a Llama decoder, with their intervals
//! and measured error bounds (plaintext, dense grid of 20 001 points; the tests assert them).
//!
//! | function | use | interval | method | depth | max error (plaintext) |
//! |---|---|---|---|---|---|
//! | `exp(x)` | softmax after max-subtraction | [−16, 0] | Chebyshev, degree 15 | 5 | 6·10⁻⁷ abs |
//! | `silu(x) = x/(1+e^{−x})` | MLP gate | [−8, 8] | Chebyshev, degree 31 | 6 | 2·10⁻⁵ abs |
//! | `1/sqrt(x)` | RMSNorm | [1/64, 1] | Chebyshev degree 7 guess + 3 Newton steps | 10 | 10⁻⁶ rel |
//! | `1/x` | softmax normalization | [1, 64] | Chebyshev degree 15 guess + 2 Newton steps | 9 | 2·10⁻⁶ rel |
//!
//! Depth counts the change of variable onto [−1, 1] (one level) and two levels per Newton step.
//! Outside its interval an approximation is meaningless (a polynomial diverges quickly): the
//! compiler scales inputs into range. Other intervals and degrees are one call away
//! ([`Chebyshev::interpolate`], [`NewtonInverse::new`]).

use super::chebyshev::{measure_error, ApproxError, Chebyshev};
use crate::ckks::{Ciphertext, Evaluator};
use crate::{Result, RuntimeError};
use cachemir_kernels::Backend;
use num_complex::Complex64;

/// Interval of [`exp_softmax`].
pub const EXP_INTERVAL: (f64, f64) = (-16.0, 0.0);
/// Interval of [`silu`].
pub const SILU_INTERVAL: (f64, f64) = (-8.0, 8.0);
/// Interval of [`inv_sqrt_rmsnorm`].
pub const INV_SQRT_INTERVAL: (f64, f64) = (1.0 / 64.0, 1.0);
/// Interval of [`reciprocal_softmax`].
pub const RECIPROCAL_INTERVAL: (f64, f64) = (1.0, 64.0);

/// The SiLU activation `x·σ(x)`.
pub fn silu_exact(x: f64) -> f64 {
    x / (1.0 + (-x).exp())
}

/// `exp` on [`EXP_INTERVAL`], Chebyshev degree 15.
pub fn exp_softmax() -> Result<Chebyshev> {
    Chebyshev::interpolate(f64::exp, EXP_INTERVAL.0, EXP_INTERVAL.1, 15)
}

/// SiLU on [`SILU_INTERVAL`], Chebyshev degree 31.
pub fn silu() -> Result<Chebyshev> {
    Chebyshev::interpolate(silu_exact, SILU_INTERVAL.0, SILU_INTERVAL.1, 31)
}

/// Which inverse a [`NewtonInverse`] computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InverseKind {
    /// `1/x`: Newton `y ← y·(2 − x·y)`, relative error squares each step.
    Reciprocal,
    /// `1/sqrt(x)`: Newton `y ← y·(3 − x·y²)/2`, relative error `e ↦ ≈ 1.5·e²` each step.
    InvSqrt,
}

/// `1/x` or `1/sqrt(x)` on `[a, b]` (`0 < a < b`): a Chebyshev initial guess refined by Newton
/// steps, each two levels of ciphertext products.
#[derive(Debug, Clone, PartialEq)]
pub struct NewtonInverse {
    kind: InverseKind,
    initial: Chebyshev,
    steps: usize,
}

/// `1/sqrt(x)` on [`INV_SQRT_INTERVAL`]: degree 7 guess, 3 Newton steps.
pub fn inv_sqrt_rmsnorm() -> Result<NewtonInverse> {
    NewtonInverse::new(
        InverseKind::InvSqrt,
        INV_SQRT_INTERVAL.0,
        INV_SQRT_INTERVAL.1,
        7,
        3,
    )
}

/// `1/x` on [`RECIPROCAL_INTERVAL`]: degree 15 guess, 2 Newton steps.
pub fn reciprocal_softmax() -> Result<NewtonInverse> {
    NewtonInverse::new(
        InverseKind::Reciprocal,
        RECIPROCAL_INTERVAL.0,
        RECIPROCAL_INTERVAL.1,
        15,
        2,
    )
}

impl NewtonInverse {
    /// Interpolates the initial guess of degree `degree` on `[a, b]` and records `steps` Newton steps.
    pub fn new(kind: InverseKind, a: f64, b: f64, degree: usize, steps: usize) -> Result<Self> {
        if a.is_nan() || a <= 0.0 {
            return Err(RuntimeError::InvalidParameters {
                reason: format!("{kind:?} approximation: interval [{a}, {b}] must be positive"),
            });
        }
        let initial = Chebyshev::interpolate(|x| Self::exact_of(kind, x), a, b, degree)?;
        Ok(Self {
            kind,
            initial,
            steps,
        })
    }

    fn exact_of(kind: InverseKind, x: f64) -> f64 {
        match kind {
            InverseKind::Reciprocal => 1.0 / x,
            InverseKind::InvSqrt => 1.0 / x.sqrt(),
        }
    }

    /// The function approximated.
    pub fn exact(&self, x: f64) -> f64 {
        Self::exact_of(self.kind, x)
    }

    /// The kind of inverse.
    pub fn kind(&self) -> InverseKind {
        self.kind
    }

    /// The initial-guess polynomial.
    pub fn initial(&self) -> &Chebyshev {
        &self.initial
    }

    /// Number of Newton steps.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// Levels consumed on ciphertexts: the initial guess (with its change of variable) plus two per step.
    pub fn depth(&self) -> usize {
        crate::ckks::poly_eval::chebyshev_depth(
            self.initial.degree(),
            self.initial.is_unit_interval(),
        ) + 2 * self.steps
    }

    fn newton_plain(&self, x: f64, y: f64) -> f64 {
        match self.kind {
            InverseKind::Reciprocal => y * (2.0 - x * y),
            InverseKind::InvSqrt => 1.5 * y - 0.5 * x * y * y * y,
        }
    }

    /// Plaintext evaluation, the same recurrence as on ciphertexts.
    pub fn eval(&self, x: f64) -> f64 {
        (0..self.steps).fold(self.initial.eval(x), |y, _| self.newton_plain(x, y))
    }

    /// The error against the exact function on a grid of `points` points of the interval.
    pub fn max_error(&self, points: usize) -> ApproxError {
        let (a, b) = self.initial.interval();
        measure_error(|x| self.eval(x), |x| self.exact(x), a, b, points)
    }

    /// Encrypted evaluation: `x` must hold values in the interval. Consumes [`Self::depth`] levels;
    /// the output scale is the input's scale up to the drift of the Newton products.
    pub fn evaluate<B: Backend>(&self, eval: &Evaluator<B>, x: &Ciphertext) -> Result<Ciphertext> {
        let scale = x.scale();
        let mut y = eval.evaluate_chebyshev(x, &self.initial, scale)?;
        let half_x = match self.kind {
            // −x/2 once, one level below x, for every InvSqrt step.
            InverseKind::InvSqrt => Some(eval.mul_const_to_scale(x, -0.5, scale)?),
            InverseKind::Reciprocal => None,
        };
        for _ in 0..self.steps {
            y = match &half_x {
                None => newton_reciprocal(eval, x, &y)?,
                Some(hx) => newton_inv_sqrt(eval, hx, &y)?,
            };
        }
        Ok(y)
    }
}

/// `a·b` relinearized and rescaled, both dropped to the lower level first.
fn product<B: Backend>(eval: &Evaluator<B>, a: &Ciphertext, b: &Ciphertext) -> Result<Ciphertext> {
    let level = a.level().min(b.level());
    eval.mul_relin_rescale(
        &eval.drop_to_level(a, level)?,
        &eval.drop_to_level(b, level)?,
    )
}

/// `y·(2 − x·y)`: two levels below `y`.
fn newton_reciprocal<B: Backend>(
    eval: &Evaluator<B>,
    x: &Ciphertext,
    y: &Ciphertext,
) -> Result<Ciphertext> {
    let xy = product(eval, x, y)?;
    let e = eval.add_const(&eval.neg(&xy), Complex64::new(2.0, 0.0))?;
    product(eval, y, &e)
}

/// `1.5·y + (−x/2)·y³`: two levels below `y` (given `−x/2` at a level ≥ `y`'s).
fn newton_inv_sqrt<B: Backend>(
    eval: &Evaluator<B>,
    half_x: &Ciphertext,
    y: &Ciphertext,
) -> Result<Ciphertext> {
    let y2 = product(eval, y, y)?;
    let hxy = product(eval, half_x, y)?;
    let mut out = product(eval, &y2, &hxy)?;
    let linear = eval.linear_combination_to(&[(1.5, y)], 0.0, out.level(), out.scale())?;
    eval.add_assign(&mut out, &linear)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRID: usize = 20_001;

    #[test]
    fn exp_and_silu_meet_their_documented_bounds() {
        let e = exp_softmax().unwrap().max_error(f64::exp, GRID);
        assert!(e.max_abs < 6e-7, "exp: {e:?}");
        let s = silu().unwrap().max_error(silu_exact, GRID);
        assert!(s.max_abs < 2e-5, "silu: {s:?}");
    }

    #[test]
    fn newton_inverses_meet_their_documented_bounds() {
        let r = inv_sqrt_rmsnorm().unwrap();
        let e = r.max_error(GRID);
        assert!(e.max_rel < 1e-6, "inv sqrt: {e:?}");
        assert_eq!(r.depth(), 10);
        let r = reciprocal_softmax().unwrap();
        let e = r.max_error(GRID);
        assert!(e.max_rel < 2e-6, "reciprocal: {e:?}");
        assert_eq!(r.depth(), 9);
        // Newton really helps: the bare initial guess is far worse.
        let guess = r.initial().max_error(|x| 1.0 / x, GRID);
        assert!(guess.max_rel > 1e-2, "{guess:?}");
        assert!(NewtonInverse::new(InverseKind::InvSqrt, 0.0, 1.0, 7, 1).is_err());
    }
}
