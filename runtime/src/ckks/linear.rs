//! Linear transforms `y = M·x` on the slots, by the diagonal method with baby-step giant-step.
//!
//! `M` (n × n, n the slot count) is given by its non-zero generalized diagonals
//! `d_k[i] = M[i][(i + k) mod n]`, so that `M·x = Σ_k d_k ⊙ rot_k(x)` (`rot_k` rotates left by `k`).
//! Writing `k = j·g + i` (`0 ≤ i < g`):
//!
//! `M·x = Σ_j rot_{j·g}( Σ_i rot_{−j·g}(d_{j·g+i}) ⊙ rot_i(x) )`
//!
//! The baby rotations `rot_i(x)` share one key-switching decomposition; the pre-rotated diagonals are
//! plaintexts; one giant rotation per non-empty `j`. Rotations are double hoisted (see
//! [`super::keyswitch`]): the baby rotations, the plaintext products and the giant rotations all stay
//! over `Q_l ∪ P` (the diagonals are encoded there), and the sum is divided by `P` once, so no baby
//! step pays a ModDown and each giant step pays one for `c_1` alone. The cost is
//! `|{i}| + |{j}|` rotations instead of one per diagonal; `g` is the power of two minimising
//! `|{i}| + 4·|{j}|` (a giant step costs more than a baby step, see [`GIANT_STEP_COST`]) unless given. Diagonals are encoded at the ciphertext's level with scale `q_level`, products are summed
//! before a single rescale, so the output keeps the input's scale exactly and consumes one level. That
//! rescale and the final division by `P` are one ModDown by `P·q_l`.
//! [`LinearTransform::rotation_steps`] lists the rotation keys needed.

use super::keyswitch::Extended;
use super::{Ciphertext, Encoder, Evaluator};
use crate::{Result, RuntimeError};
use cachemir_kernels::{Backend, Modulus, RnsPoly};
use num_complex::Complex64;
use rayon::prelude::*;
use std::collections::BTreeMap;

/// A slot matrix by its non-zero diagonals, with its baby-step/giant-step split.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearTransform {
    slots: usize,
    diagonals: BTreeMap<usize, Vec<Complex64>>,
    giant: usize,
}

/// `M·x` before its rescale: over `Q_l ∪ P` when rotations made it so, else over `Q_l`.
enum Unrescaled {
    Extended(Extended),
    Reduced(Ciphertext),
}

/// A [`LinearTransform`] encoded for one level: pre-rotated diagonals over `Q_level ∪ P`, grouped by
/// giant step.
#[derive(Debug, Clone)]
pub struct EncodedLinearTransform {
    slots: usize,
    level: usize,
    /// Scale the diagonals are encoded at.
    scale: f64,
    giant: usize,
    /// `j·g → [(i, rot_{−j·g}(d_{j·g+i}))]`.
    groups: BTreeMap<usize, Vec<(usize, RnsPoly)>>,
}

impl EncodedLinearTransform {
    /// The level the diagonals are encoded at (the input ciphertext's level).
    pub fn level(&self) -> usize {
        self.level
    }

    /// The giant step `g` of the split.
    pub fn giant(&self) -> usize {
        self.giant
    }

    /// Heap bytes of the encoded diagonals.
    pub fn byte_size(&self) -> usize {
        self.groups
            .values()
            .flatten()
            .map(|(_, d)| d.data().len() * 8)
            .sum()
    }
}

fn groups_of(diagonals: impl Iterator<Item = usize>, g: usize) -> BTreeMap<usize, Vec<usize>> {
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for k in diagonals {
        groups.entry(k - k % g).or_default().push(k % g);
    }
    groups
}

/// What a giant rotation costs in baby rotations. Baby steps are double hoisted (an inner product and
/// an automorphism each); a giant step pays a ModDown of `c_1`, a decomposition and an inner product:
/// about 10× a baby at `N16_BOOT`'s top levels (`cachemir-run bench bootstrap`). The weight is kept
/// lower because every extra baby step is one more rotation key (~160 MB at `N16_BOOT`).
const GIANT_STEP_COST: usize = 4;

/// Cost of a split in baby rotations: non-zero baby steps plus [`GIANT_STEP_COST`] per non-zero
/// giant step.
fn cost(diagonals: &BTreeMap<usize, Vec<Complex64>>, g: usize) -> usize {
    let groups = groups_of(diagonals.keys().copied(), g);
    let babies: std::collections::BTreeSet<usize> = groups.values().flatten().copied().collect();
    babies.iter().filter(|&&i| i != 0).count()
        + GIANT_STEP_COST * groups.keys().filter(|&&j| j != 0).count()
}

impl LinearTransform {
    /// A transform on `slots` slots (a power of two) from diagonals `k → d_k` (`k` taken modulo
    /// `slots`, negative allowed; each `d_k` has `slots` entries). `giant` forces the giant step
    /// (a power of two ≤ `slots`); `None` picks the cheapest (see [`GIANT_STEP_COST`]).
    pub fn new(
        slots: usize,
        diagonals: impl IntoIterator<Item = (i64, Vec<Complex64>)>,
        giant: Option<usize>,
    ) -> Result<Self> {
        if slots == 0 || !slots.is_power_of_two() {
            return Err(RuntimeError::InvalidSlots { slots, max: slots });
        }
        let mut map = BTreeMap::new();
        for (k, d) in diagonals {
            if d.len() != slots {
                return Err(RuntimeError::SlotMismatch {
                    op: "linear transform diagonal",
                    left: d.len(),
                    right: slots,
                });
            }
            let k = k.rem_euclid(slots as i64) as usize;
            if map.insert(k, d).is_some() {
                return Err(RuntimeError::InvalidParameters {
                    reason: format!("linear transform: diagonal {k} given twice"),
                });
            }
        }
        let giant = match giant {
            Some(g) if g.is_power_of_two() && g <= slots => g,
            Some(g) => {
                return Err(RuntimeError::InvalidParameters {
                    reason: format!(
                        "linear transform: giant step {g} is not a power of two ≤ {slots}"
                    ),
                })
            }
            None => (0..=slots.trailing_zeros())
                .map(|e| 1usize << e)
                .min_by_key(|&g| (cost(&map, g), g))
                .unwrap_or(1),
        };
        Ok(Self {
            slots,
            diagonals: map,
            giant,
        })
    }

    /// The transform of a dense `slots × slots` matrix (rows), keeping its non-zero diagonals.
    pub fn from_dense(matrix: &[Vec<Complex64>], giant: Option<usize>) -> Result<Self> {
        let n = matrix.len();
        if let Some(row) = matrix.iter().find(|r| r.len() != n) {
            return Err(RuntimeError::SlotMismatch {
                op: "linear transform from dense matrix",
                left: row.len(),
                right: n,
            });
        }
        let diagonals = (0..n).filter_map(|k| {
            let d: Vec<Complex64> = (0..n).map(|i| matrix[i][(i + k) % n]).collect();
            d.iter()
                .any(|z| *z != Complex64::new(0.0, 0.0))
                .then_some((k as i64, d))
        });
        Self::new(n, diagonals.collect::<Vec<_>>(), giant)
    }

    /// Number of slots.
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// The giant step `g`.
    pub fn giant(&self) -> usize {
        self.giant
    }

    /// The non-zero diagonal indices, ascending.
    pub fn diagonal_indices(&self) -> impl Iterator<Item = usize> + '_ {
        self.diagonals.keys().copied()
    }

    /// The rotation steps whose keys [`Evaluator::linear_transform`] needs: baby steps then giant
    /// steps, ascending, without 0.
    pub fn rotation_steps(&self) -> Vec<i64> {
        let groups = groups_of(self.diagonals.keys().copied(), self.giant);
        let babies: std::collections::BTreeSet<usize> =
            groups.values().flatten().copied().collect();
        babies
            .into_iter()
            .chain(groups.keys().copied())
            .filter(|&s| s != 0)
            .map(|s| s as i64)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect()
    }

    /// `self ∘ first` (apply `first`, then `self`) on the same slots, by diagonals:
    /// `B·(A·x) = Σ_{k,l} (b_k ⊙ rot_k(a_l)) ⊙ rot_{k+l}(x)`. The giant step is re-chosen.
    pub fn compose(&self, first: &LinearTransform) -> Result<LinearTransform> {
        if self.slots != first.slots {
            return Err(RuntimeError::SlotMismatch {
                op: "linear transform compose",
                left: self.slots,
                right: first.slots,
            });
        }
        let n = self.slots;
        let mut out: BTreeMap<usize, Vec<Complex64>> = BTreeMap::new();
        for (&k, b) in &self.diagonals {
            for (&l, a) in &first.diagonals {
                let d = out
                    .entry((k + l) % n)
                    .or_insert_with(|| vec![Complex64::new(0.0, 0.0); n]);
                for t in 0..n {
                    d[t] += b[t] * a[(t + k) % n];
                }
            }
        }
        Self::new(n, out.into_iter().map(|(k, d)| (k as i64, d)), None)
    }

    /// On `2n` slots holding a replicated input `[x, x]` (an `n`-slot ciphertext seen as `2n` slots):
    /// `[x, x] ↦ [M·x, f·M·x]`. Same diagonals, the rows of the second half scaled by `f`.
    pub fn lift_replicated(&self, f: Complex64) -> Result<LinearTransform> {
        let diagonals = self.diagonals.iter().map(|(&k, d)| {
            let lifted = d.iter().copied().chain(d.iter().map(|z| z * f)).collect();
            (k as i64, lifted)
        });
        Self::new(2 * self.slots, diagonals.collect::<Vec<_>>(), None)
    }

    /// On `2n` slots `[a, b]`: `[a, b] ↦ [M·(a + f·b), M·(a + f·b)]`, a replicated output (an
    /// `n`-slot ciphertext again). Each diagonal `k` of `M` becomes diagonals `k` and `k + n`.
    pub fn fold_halves(&self, f: Complex64) -> Result<LinearTransform> {
        let (n, m) = (self.slots, 2 * self.slots);
        let zero = Complex64::new(0.0, 0.0);
        let mut out: BTreeMap<usize, Vec<Complex64>> = BTreeMap::new();
        for (&k, d) in &self.diagonals {
            for i in 0..m {
                let column = (i + k) % n; // in the block that is read
                for (block, weight) in [(0, Complex64::new(1.0, 0.0)), (n, f)] {
                    let big_k = (block + column + m - i) % m;
                    out.entry(big_k).or_insert_with(|| vec![zero; m])[i] += weight * d[i % n];
                }
            }
        }
        Self::new(
            m,
            out.into_iter()
                .map(|(k, d)| (k as i64, d))
                .collect::<Vec<_>>(),
            None,
        )
    }

    /// `factor·M`.
    pub fn scaled(mut self, factor: Complex64) -> Self {
        self.diagonals
            .values_mut()
            .flatten()
            .for_each(|z| *z *= factor);
        self
    }

    /// `M·x` in cleartext, by diagonals (the reference model of [`Evaluator::linear_transform`]).
    pub fn apply_plain(&self, x: &[Complex64]) -> Vec<Complex64> {
        let n = self.slots;
        let mut y = vec![Complex64::new(0.0, 0.0); n];
        for (&k, d) in &self.diagonals {
            for t in 0..n {
                y[t] += d[t] * x[(t + k) % n];
            }
        }
        y
    }

    /// Encodes the pre-rotated diagonals at `level`, scale `q_level` (so [`Evaluator::linear_transform`]
    /// keeps the input's scale).
    pub fn encode<B: Backend>(
        &self,
        encoder: &Encoder<B>,
        level: usize,
    ) -> Result<EncodedLinearTransform> {
        let params = encoder.params();
        let q = *params.q().get(level).ok_or(RuntimeError::LevelTooLow {
            op: "linear transform encode",
            needed: level,
            level: params.max_level(),
        })? as f64;
        self.encode_at(encoder, level, q)
    }

    /// Encodes the pre-rotated diagonals at `level` and `scale`.
    pub fn encode_at<B: Backend>(
        &self,
        encoder: &Encoder<B>,
        level: usize,
        scale: f64,
    ) -> Result<EncodedLinearTransform> {
        let n = self.slots;
        let mut groups: BTreeMap<usize, Vec<(usize, RnsPoly)>> = BTreeMap::new();
        for (&k, d) in &self.diagonals {
            let (j, i) = (k - k % self.giant, k % self.giant);
            let rotated: Vec<Complex64> = (0..n).map(|t| d[(t + n - j) % n]).collect();
            let pt = encoder.encode_extended(&rotated, level, scale)?;
            groups.entry(j).or_default().push((i, pt));
        }
        Ok(EncodedLinearTransform {
            slots: n,
            level,
            scale,
            giant: self.giant,
            groups,
        })
    }
}

impl<B: Backend> Evaluator<B> {
    /// `M·x` for a transform encoded by [`LinearTransform::encode`]: one level consumed, scale kept.
    /// `x` must be at the encoded level with the transform's slot count, and every
    /// [`LinearTransform::rotation_steps`] key present.
    pub fn linear_transform(
        &self,
        x: &Ciphertext,
        m: &EncodedLinearTransform,
    ) -> Result<Ciphertext> {
        let mut out = self.linear_transform_rescaled(x, m)?;
        // x.scale·q_l / q_l, exact up to floating-point rounding.
        out.set_scale(x.scale());
        Ok(out)
    }

    /// `M·x` rescaled: one level down, scale `x.scale · m.scale / q_l` (the rescale shares the
    /// transform's ModDown).
    pub fn linear_transform_rescaled(
        &self,
        x: &Ciphertext,
        m: &EncodedLinearTransform,
    ) -> Result<Ciphertext> {
        match self.transform(x, m)? {
            Unrescaled::Extended(e) => self.rescale_extended(e),
            Unrescaled::Reduced(c) => self.rescale(&c),
        }
    }

    /// `M·x` before the rescale: level kept, scale `x.scale · m.scale`.
    pub fn linear_transform_unrescaled(
        &self,
        x: &Ciphertext,
        m: &EncodedLinearTransform,
    ) -> Result<Ciphertext> {
        Ok(match self.transform(x, m)? {
            Unrescaled::Extended(e) => self.mod_down_extended(e),
            Unrescaled::Reduced(c) => c,
        })
    }

    fn transform(&self, x: &Ciphertext, m: &EncodedLinearTransform) -> Result<Unrescaled> {
        if x.slots() != m.slots {
            return Err(RuntimeError::SlotMismatch {
                op: "linear_transform",
                left: x.slots(),
                right: m.slots,
            });
        }
        if x.level() != m.level {
            return Err(RuntimeError::LevelMismatch {
                op: "linear_transform",
                left: x.level(),
                right: m.level,
            });
        }
        let babies: Vec<usize> = m
            .groups
            .values()
            .flatten()
            .map(|(i, _)| *i)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let scale = x.scale() * m.scale;
        if m.groups.is_empty() {
            // No diagonal: M = 0, at the scale the products would have.
            let mut zero = self.mul_int(x, 0);
            zero.set_scale(scale);
            return Ok(Unrescaled::Reduced(zero));
        }
        if babies.iter().all(|&i| i == 0) && m.groups.keys().all(|&j| j == 0) {
            return Ok(Unrescaled::Reduced(self.diagonal_product(x, m, scale)));
        }
        let steps: Vec<i64> = babies.iter().map(|&i| i as i64).collect();
        let rotated: BTreeMap<usize, Extended> = babies
            .into_iter()
            .zip(self.rotate_hoisted_extended(x, &steps)?)
            .collect();
        // Giant steps are independent until their sum: with two threads or more they run side by
        // side, summed as they finish.
        let total = m
            .groups
            .par_iter()
            .map(|(&j, terms)| {
                let products: Vec<([&RnsPoly; 2], &RnsPoly)> = terms
                    .iter()
                    .map(|(i, pt)| ([&rotated[i].c0, &rotated[i].c1], pt))
                    .collect();
                let [c0, c1] = self.sum_of_products(&products);
                let inner = Extended {
                    c0,
                    c1,
                    scale,
                    slots: x.slots(),
                };
                self.rotate_extended(inner, j as i64)
            })
            .try_reduce_with(|mut acc, shifted| {
                self.add_extended_assign(&mut acc, &shifted);
                Ok(acc)
            })
            .expect("a transform with a diagonal has a giant step")?;
        Ok(Unrescaled::Extended(total))
    }

    /// `d_0 ⊙ x` for a transform whose only diagonal is the main one: no rotation, so nothing is
    /// extended (the diagonal's `Q_l` limbs suffice).
    fn diagonal_product(
        &self,
        x: &Ciphertext,
        m: &EncodedLinearTransform,
        scale: f64,
    ) -> Ciphertext {
        let q_limbs: Vec<usize> = (0..x.polys[0].limb_count()).collect();
        let d0: Vec<RnsPoly> = m.groups[&0]
            .iter()
            .map(|(_, pt)| pt.select_limbs(&q_limbs))
            .collect();
        let polys = x
            .polys
            .iter()
            .map(|c| {
                let products: Vec<([&RnsPoly; 1], &RnsPoly)> =
                    d0.iter().map(|d| ([c], d)).collect();
                let [sum] = self.sum_of_products(&products);
                sum
            })
            .collect();
        Ciphertext {
            polys,
            scale,
            slots: x.slots(),
        }
    }

    /// `K` sums `[Σ x_t[k]·y_t]_k` over the terms' primes (lazily reduced, [`Modulus::LAZY_TERMS`]
    /// products at a time; each `y_t` read once for all `K`).
    fn sum_of_products<const K: usize>(&self, terms: &[([&RnsPoly; K], &RnsPoly)]) -> [RnsPoly; K] {
        let ring = self.params.ring();
        let mut chunks = terms.chunks(Modulus::LAZY_TERMS);
        let first = chunks.next().expect("at least one term");
        let mut sums = self.backend.dot(ring, first);
        for chunk in chunks {
            for (sum, part) in sums.iter_mut().zip(self.backend.dot(ring, chunk)) {
                self.backend.add_assign(ring, sum, &part);
            }
        }
        sums
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(n: usize, seed: f64) -> Vec<Complex64> {
        (0..n)
            .map(|i| Complex64::new((i as f64 * seed).sin(), (i as f64 * seed * 1.3).cos()))
            .collect()
    }

    #[test]
    fn lifts_to_twice_the_slots_match_their_block_definitions() {
        let n = 8;
        let m = LinearTransform::new(
            n,
            [
                (0, sample(n, 0.3)),
                (1, sample(n, 0.7)),
                (-3, sample(n, 1.1)),
            ],
            None,
        )
        .unwrap();
        let f = Complex64::new(0.0, -1.0);
        let (x, y) = (sample(n, 0.17), sample(n, 0.41));
        let mx = m.apply_plain(&x);

        let replicated: Vec<Complex64> = x.iter().chain(&x).copied().collect();
        let got = m.lift_replicated(f).unwrap().apply_plain(&replicated);
        for i in 0..n {
            assert!((got[i] - mx[i]).norm() < 1e-12 && (got[n + i] - f * mx[i]).norm() < 1e-12);
        }

        let halves: Vec<Complex64> = x.iter().chain(&y).copied().collect();
        let folded: Vec<Complex64> = x.iter().zip(&y).map(|(a, b)| a + f * b).collect();
        let want = m.apply_plain(&folded);
        let got = m.fold_halves(f).unwrap().apply_plain(&halves);
        for i in 0..2 * n {
            assert!((got[i] - want[i % n]).norm() < 1e-12, "row {i}");
        }
    }
}
