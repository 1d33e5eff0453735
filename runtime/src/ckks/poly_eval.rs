//! Encrypted polynomial evaluation in the Chebyshev basis, baby-step giant-step.
//!
//! # Algorithm
//! The input `x ∈ [a, b]` is first mapped to `u = α·x + β ∈ [−1, 1]` (one level, skipped when the
//! interval is already `[−1, 1]`). A lazily filled [`PowerBasis`] holds `T_i(u)`: `T_{2k} = 2T_k² − 1`
//! and `T_{a+b} = 2T_aT_b − T_{a−b}` with `a = 2^{⌈log2 i⌉−1}`, so `T_i` sits exactly `⌈log2 i⌉` levels
//! below `u`. Only the powers a polynomial actually uses are computed, which is the odd/even
//! specialization for free: an odd polynomial never builds an even baby step (only the `T_{2^k}`).
//!
//! `p` is split recursively as `p = q·T_m + r` (Chebyshev division, `m` the largest power of two
//! ≤ deg p) until the pieces have degree ≤ `g = 2^{⌈log2(d+1)/2⌉}` (the baby steps); a piece is then a
//! "leaf", a linear combination `Σ c_i T_i + c_0` computed with integer multiplications and one
//! rescale. When a leaf would need one level more than its branch has (the leading branch of the
//! tree), it is split further at a smaller power of two, so the whole evaluation consumes exactly
//! `⌈log2(deg + 1)⌉` levels (+1 for the change of interval).
//!
//! # Scales
//! Every addition needs equal scales; prime moduli are not exactly the scale, so products drift.
//! The evaluation fixes the output scale `S` and propagates the needed scale backwards, as Lattigo's
//! polynomial evaluator does: for `q·T_m` landing at level `L` with scale `S`, `q` is evaluated at
//! level `L + 1` with scale `S·q_{L+1} / scale(T_m)`; `r` directly at `(L, S)`. A leaf reaches any
//! target scale `S'` exactly: each `T_i` (scale `s_i`, dropped to level `L + 1`) is multiplied by the
//! integer `K_i = round(c_i·S'·q_{L+1}/s_i)`, the sum is declared at scale `S'·q_{L+1}` and rescaled.
//! Declaring the scale is justified: it is the statement that the constant encoded is `K_i·s_i /
//! (S'·q_{L+1})`, i.e. `c_i` up to an absolute rounding error ≤ `s_i / (2·S'·q_{L+1}) ≈ 2^{−41}` at
//! the test sets, far below the noise. The same device aligns the subtrahend of the power basis
//! recurrence: `T_aT_b − T_{a−b}/2` is formed before the product's rescale (`T_{a−b}` times an integer,
//! declared at the product's scale), so each power costs one rescale. Every product is rescaled by
//! its relinearization's ModDown, which divides by `P·q_l` at once
//! ([`Evaluator::mul_relin_rescale`]).

use super::encoder::residue_of;
use super::{Ciphertext, Evaluator};
use crate::approx::Chebyshev;
use crate::{Result, RuntimeError};
use cachemir_kernels::Backend;
use num_complex::Complex64;
use std::collections::BTreeMap;

/// `⌈log2 i⌉` for `i ≥ 1`: the depth of `T_i` above `T_1`.
fn ceil_log2(i: usize) -> usize {
    (usize::BITS - (i.max(1) - 1).leading_zeros()) as usize
}

/// Levels consumed by [`Evaluator::evaluate_chebyshev`] for a polynomial of this degree: `⌈log2(d + 1)⌉`,
/// plus one when the interval is not `[−1, 1]` (the change of variable).
pub fn chebyshev_depth(degree: usize, unit_interval: bool) -> usize {
    ceil_log2(degree + 1) + usize::from(!unit_interval)
}

/// The Chebyshev powers `T_i(u)` of one ciphertext `u` (values in `[−1, 1]`), computed on demand
/// and kept, so several polynomials of the same input share them.
#[derive(Debug, Clone)]
pub struct PowerBasis {
    powers: BTreeMap<usize, Ciphertext>,
    top_level: usize,
    products: usize,
}

impl PowerBasis {
    /// The basis of `u` (`T_1 = u`); `u` must have degree 1.
    pub fn new(u: Ciphertext) -> Self {
        let top_level = u.level();
        Self {
            powers: BTreeMap::from([(1, u)]),
            top_level,
            products: 0,
        }
    }

    /// `T_i` if computed.
    pub fn get(&self, i: usize) -> Option<&Ciphertext> {
        self.powers.get(&i)
    }

    /// The level `T_i` has (or will have): `level(u) − ⌈log2 i⌉`, `None` if below level 0.
    pub fn level_of(&self, i: usize) -> Option<usize> {
        self.top_level.checked_sub(ceil_log2(i))
    }

    /// Non-scalar products (ct × ct) spent building the basis so far.
    pub fn products(&self) -> usize {
        self.products
    }
}

/// Chebyshev division by `T_m` for `deg p < 2m`: `p = q·T_m + r`, `deg r < m`.
fn split(coeffs: &[f64], m: usize) -> (Vec<f64>, Vec<f64>) {
    let mut r = coeffs[..m.min(coeffs.len())].to_vec();
    let mut q = vec![0.0; coeffs.len().saturating_sub(m)];
    for (j, qj) in q.iter_mut().enumerate() {
        let c = coeffs[m + j];
        if j == 0 {
            *qj = c;
        } else {
            *qj = 2.0 * c;
            r[m - j] -= c;
        }
    }
    (q, r)
}

fn degree(coeffs: &[f64]) -> usize {
    coeffs.iter().rposition(|&c| c != 0.0).unwrap_or(0)
}

/// Statistics of one polynomial evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PolyEvalStats {
    /// Non-scalar products (ct × ct with relinearization) in the giant-step tree.
    pub tree_products: usize,
    /// Non-scalar products spent on the power basis.
    pub basis_products: usize,
}

impl<B: Backend> Evaluator<B> {
    /// `c·ct` landing exactly at `target_scale`, one level down: multiplies by the integer
    /// `round(c·target_scale·q_l / ct.scale)`, declares the scale `target_scale·q_l` and rescales.
    /// The constant is thereby `c` up to an absolute error of `ct.scale / (2·target_scale·q_l)`.
    pub fn mul_const_to_scale(
        &self,
        ct: &Ciphertext,
        c: f64,
        target_scale: f64,
    ) -> Result<Ciphertext> {
        self.linear_combination_to(&[(c, ct)], 0.0, ct.level().saturating_sub(1), target_scale)
    }

    /// `Σ c_i·ct_i + c_0` at exactly `(level, target_scale)`: every `ct_i` is dropped to `level + 1`,
    /// multiplied by an integer constant (see [`Evaluator::mul_const_to_scale`]), summed and rescaled
    /// once. Needs at least one term, all at level ≥ `level + 1` with equal slot counts.
    pub fn linear_combination_to(
        &self,
        terms: &[(f64, &Ciphertext)],
        constant: f64,
        level: usize,
        target_scale: f64,
    ) -> Result<Ciphertext> {
        let work = level + 1;
        let q_work = *self.params.q().get(work).ok_or(RuntimeError::LevelTooLow {
            op: "linear_combination_to",
            needed: work,
            level: self.params.max_level(),
        })? as f64;
        let mut acc = self.integer_combination(terms, work, target_scale * q_work)?;
        if constant != 0.0 {
            acc = self.add_const(&acc, Complex64::new(constant, 0.0))?;
        }
        self.rescale_assign(&mut acc)?;
        acc.scale = target_scale;
        Ok(acc)
    }

    /// `Σ c_i·ct_i` at `level` declared at scale `declared`, no rescale: each `ct_i` (at level ≥
    /// `level`) is multiplied by the integer `round(c_i·declared/scale_i)`, so `c_i` is exact up to
    /// an absolute `scale_i/(2·declared)`.
    fn integer_combination(
        &self,
        terms: &[(f64, &Ciphertext)],
        level: usize,
        declared: f64,
    ) -> Result<Ciphertext> {
        let ring = self.params.ring();
        let mut acc: Option<Ciphertext> = None;
        for &(c, ct) in terms {
            if ct.level() < level {
                return Err(RuntimeError::LevelTooLow {
                    op: "integer_combination",
                    needed: level,
                    level: ct.level(),
                });
            }
            let k = c * declared / ct.scale;
            let residues: Vec<u64> = (0..=level)
                .map(|i| residue_of(k, ring.modulus(i)))
                .collect();
            match &mut acc {
                None => {
                    let mut term = self.drop_to_level(ct, level)?;
                    term.polys
                        .iter_mut()
                        .for_each(|p| self.backend.mul_scalar_assign(ring, p, &residues));
                    term.scale = declared;
                    acc = Some(term);
                }
                // Later terms accumulate straight from their limbs: no copy, one pass.
                Some(a) => {
                    if a.slots != ct.slots {
                        return Err(RuntimeError::SlotMismatch {
                            op: "integer_combination",
                            left: a.slots,
                            right: ct.slots,
                        });
                    }
                    if a.polys.len() != ct.polys.len() {
                        return Err(RuntimeError::Degree {
                            op: "integer_combination",
                            degree: ct.polys.len() - 1,
                            expected: a.polys.len() - 1,
                        });
                    }
                    for (x, y) in a.polys.iter_mut().zip(&ct.polys) {
                        self.backend.mul_scalar_add_assign(ring, x, y, &residues);
                    }
                }
            }
        }
        acc.ok_or_else(|| RuntimeError::InvalidParameters {
            reason: "integer_combination: no ciphertext term".into(),
        })
    }

    /// Makes sure `T_i` is in the basis.
    fn ensure_power(&self, basis: &mut PowerBasis, i: usize) -> Result<()> {
        if basis.powers.contains_key(&i) {
            return Ok(());
        }
        let level = basis.level_of(i).ok_or(RuntimeError::LevelTooLow {
            op: "chebyshev power basis",
            needed: ceil_log2(i),
            level: basis.top_level,
        })?;
        let a = 1usize << (ceil_log2(i) - 1);
        let b = i - a;
        self.ensure_power(basis, a)?;
        self.ensure_power(basis, b)?;
        if a != b {
            self.ensure_power(basis, a - b)?;
        }
        let ta = self.drop_to_level(&basis.powers[&a], level + 1)?;
        let tb = self.drop_to_level(&basis.powers[&b], level + 1)?;
        let mut product = self.relinearize_extended(&self.mul(&ta, &tb)?)?;
        basis.products += 1;
        if a != b {
            // T_aT_b − T_{a−b}/2 before the rescale (which the relinearization's ModDown does).
            let half = self.integer_combination(
                &[(-0.5, &basis.powers[&(a - b)])],
                level + 1,
                product.scale,
            )?;
            self.add_to_extended(&mut product, &half)?;
        }
        let mut t = self.mul_int(&self.rescale_extended(product)?, 2);
        if a == b {
            t = self.add_const(&t, Complex64::new(-1.0, 0.0))?;
        }
        basis.powers.insert(i, t);
        Ok(())
    }

    /// Evaluates `Σ c_k T_k(u)` exactly at `(level, scale)`, `u` the basis input.
    fn eval_tree(
        &self,
        basis: &mut PowerBasis,
        coeffs: &[f64],
        level: usize,
        scale: f64,
        giant: usize,
        stats: &mut PolyEvalStats,
    ) -> Result<Ciphertext> {
        let d = degree(coeffs);
        let leaf_fits = (1..=d)
            .filter(|&i| coeffs[i] != 0.0)
            .all(|i| basis.level_of(i).is_some_and(|l| l > level));
        if d == 0 || (d <= giant && leaf_fits) {
            let nonzero: Vec<usize> = (1..=d).filter(|&i| coeffs[i] != 0.0).collect();
            for &i in &nonzero {
                self.ensure_power(basis, i)?;
            }
            let terms: Vec<(f64, &Ciphertext)> = if nonzero.is_empty() {
                vec![(0.0, &basis.powers[&1])]
            } else {
                nonzero
                    .iter()
                    .map(|&i| (coeffs[i], &basis.powers[&i]))
                    .collect()
            };
            return self.linear_combination_to(&terms, coeffs[0], level, scale);
        }
        let m = 1usize << (usize::BITS - 1 - d.leading_zeros());
        self.ensure_power(basis, m)?;
        let (q, r) = split(&coeffs[..=d], m);
        let mut out = if degree(&q) == 0 {
            self.linear_combination_to(&[(q[0], &basis.powers[&m])], 0.0, level, scale)?
        } else {
            let t_m = self.drop_to_level(&basis.powers[&m], level + 1)?;
            let q_scale = scale * self.params.q()[level + 1] as f64 / t_m.scale;
            let q_ct = self.eval_tree(basis, &q, level + 1, q_scale, giant, stats)?;
            let mut prod = self.mul_relin_rescale(&q_ct, &t_m)?;
            stats.tree_products += 1;
            prod.scale = scale; // equal up to floating-point rounding of the division above
            prod
        };
        if degree(&r) == 0 {
            if r[0] != 0.0 {
                out = self.add_const(&out, Complex64::new(r[0], 0.0))?;
            }
        } else {
            let r_ct = self.eval_tree(basis, &r, level, scale, giant, stats)?;
            self.add_assign(&mut out, &r_ct)?;
        }
        Ok(out)
    }

    /// Evaluates `Σ c_k T_k(u)` on the basis input `u` (already in `[−1, 1]`), output exactly at
    /// `target_scale` and at level `level(u) − ⌈log2(d + 1)⌉`.
    pub fn evaluate_chebyshev_basis(
        &self,
        basis: &mut PowerBasis,
        coeffs: &[f64],
        target_scale: f64,
    ) -> Result<(Ciphertext, PolyEvalStats)> {
        let d = degree(coeffs);
        let depth = ceil_log2(d + 1).max(1);
        let level = basis
            .top_level
            .checked_sub(depth)
            .ok_or(RuntimeError::LevelTooLow {
                op: "evaluate_chebyshev",
                needed: depth,
                level: basis.top_level,
            })?;
        let giant = 1usize << ceil_log2(d + 1).div_ceil(2);
        let before = basis.products;
        let mut stats = PolyEvalStats::default();
        let out = self.eval_tree(basis, &coeffs[..=d], level, target_scale, giant, &mut stats)?;
        stats.basis_products = basis.products - before;
        Ok((out, stats))
    }

    /// The change of variable `u = α·x + β` mapping `poly`'s interval onto `[−1, 1]` (one level,
    /// scale kept), or `x` itself for `[−1, 1]`.
    pub fn chebyshev_input(&self, x: &Ciphertext, poly: &Chebyshev) -> Result<Ciphertext> {
        if poly.is_unit_interval() {
            return Ok(x.clone());
        }
        let (alpha, beta) = poly.unit_map();
        let level = x.level().checked_sub(1).ok_or(RuntimeError::LevelTooLow {
            op: "chebyshev change of variable",
            needed: 1,
            level: 0,
        })?;
        self.linear_combination_to(&[(alpha, x)], beta, level, x.scale)
    }

    /// `poly(x)` slot-wise, at exactly `target_scale`, consuming [`chebyshev_depth`] levels.
    pub fn evaluate_chebyshev(
        &self,
        x: &Ciphertext,
        poly: &Chebyshev,
        target_scale: f64,
    ) -> Result<Ciphertext> {
        let mut basis = PowerBasis::new(self.chebyshev_input(x, poly)?);
        Ok(self
            .evaluate_chebyshev_basis(&mut basis, poly.coeffs(), target_scale)?
            .0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chebyshev_division_is_exact() {
        let p = [0.3, -1.0, 0.5, 2.0, -0.25, 0.125, 1.5];
        let (q, r) = split(&p, 4);
        // Evaluate both sides at a few points with the closed form T_k(cos θ) = cos(kθ).
        for theta in [0.1f64, 0.7, 1.9, 2.8] {
            let t = |k: usize| (k as f64 * theta).cos();
            let lhs: f64 = p.iter().enumerate().map(|(k, c)| c * t(k)).sum();
            let qv: f64 = q.iter().enumerate().map(|(k, c)| c * t(k)).sum();
            let rv: f64 = r.iter().enumerate().map(|(k, c)| c * t(k)).sum();
            assert!((lhs - (qv * t(4) + rv)).abs() < 1e-12);
        }
        assert!(r.len() == 4);
    }

    #[test]
    fn depth_formula() {
        assert_eq!(chebyshev_depth(1, true), 1);
        assert_eq!(chebyshev_depth(7, true), 3);
        assert_eq!(chebyshev_depth(8, true), 4);
        assert_eq!(chebyshev_depth(31, false), 6);
    }
}
