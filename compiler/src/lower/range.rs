//! Range management: every ciphertext value must stay inside what bootstrapping refreshes with full
//! precision (`|v| ≤ q₀/(Δ·2^8)`, [`bootstrap_input_limit`]), wherever the placement pass puts a bootstrap.
//!
//! Vectors whose calibrated entries exceed [`Ranges::target`] are carried in scaled units: the blocks hold
//! `value ⊘ gain` with a per-entry power-of-two gain left pending on the [`Vector`](super::vector::Vector),
//! so each channel keeps its own relative precision (a Llama residual stream has a few outlier channels
//! hundreds of times larger than the rest). Every gain folds into a neighbouring plaintext product for free:
//! the client's embedding table (the residual stream's start), the columns of the projection producing a
//! vector (`o_proj`, `down_proj`, `up_proj`), the rows of the projection reading it, and the RMSNorm's
//! sum-of-squares factor and gain. A product read by RoPE, attention or SiLU gets a uniform gain instead,
//! which those fold into the softmax scale, the cached-key mean and the polynomial's argument. Products are
//! scaled by a bound on their partial sums ([`partial_sum_bound`]), which can exceed their results. The
//! RMSNorm inverse square root runs in units where its Newton iterates stay bounded ([`NewtonUnits`]).

use cachemir_ir::params::bootstrap_input_limit;
use cachemir_ir::tensor::{self, Op};
use cachemir_ir::CkksParamsLiteral;
use std::collections::BTreeSet;

/// The magnitude bounds of a parameter set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ranges {
    /// The largest input bootstrapping refreshes at all at the default scale (`q₀/(Δ·2^8)`).
    pub limit: f64,
}

/// The magnitude scaled vectors are given. Bootstrapping's error is flat for inputs up to about 1 and
/// grows as the cube of the amplitude beyond (`cachemir-run bench bootstrap --amplitude A`,
/// `INSECURE_N12_BOOT`: 27.4 bits mean at 0.5, 26.2 at 1, 23.4 at 2, 20.3 at 4, 14.4 at 16, 11.3 at 32),
/// while a smaller unit multiplies every other error by the gain taken back. Measured on the first
/// encrypted step of the `optimum` fixture (`cargo test --release -p cachemir-tests`), the logits'
/// deviation from the exact interpreter: 3.8e-4 with 1, 1.4e-4 with 4, 1.5e-4 with 16 and with the
/// old quarter of the limit (1024).
pub const TARGET_AMPLITUDE: f64 = 4.0;

impl Ranges {
    /// The bounds of `params`.
    pub fn new(params: &CkksParamsLiteral) -> Self {
        Self {
            limit: bootstrap_input_limit(params, f64::from(params.log_default_scale)),
        }
    }

    /// The largest calibrated magnitude a scaled vector's entries are given ([`TARGET_AMPLITUDE`], or a
    /// quarter of the limit if that is lower).
    pub fn target(&self) -> f64 {
        TARGET_AMPLITUDE.min(self.limit / 4.0)
    }

    /// The largest magnitude an iterate bounded by construction may reach: four times the target,
    /// within half the limit.
    pub fn iterate_bound(&self) -> f64 {
        (4.0 * self.target()).min(self.limit / 2.0)
    }

    /// Per-entry power-of-two gains bringing `magnitudes` to at most [`Ranges::target`]: entry `i` gets
    /// `2^⌈log2(m_i / target)⌉` when `m_i` exceeds the target, else 1. `None` when every gain is 1.
    pub fn gains(&self, magnitudes: &[f64]) -> Option<Vec<f32>> {
        let t = self.target();
        let gains: Vec<f32> = magnitudes
            .iter()
            .map(|&m| {
                if m > t {
                    2f32.powi((m / t).log2().ceil() as i32)
                } else {
                    1.0
                }
            })
            .collect();
        gains.iter().any(|&g| g != 1.0).then_some(gains)
    }
}

/// The uniform factor of a pending gain: 1 for none, the common value when all entries agree, `None`
/// when they differ.
pub fn uniform(gain: Option<&[f32]>) -> Option<f64> {
    match gain {
        None => Some(1.0),
        Some(g) => {
            let first = *g.first()?;
            g.iter().all(|&v| v == first).then_some(f64::from(first))
        }
    }
}

/// A bound on every partial sum of the product `y = x · W` (what the interleaved product holds before
/// its reduction, and the result): `Σ_r m(r)·|W(r, c)|` per output `c`, from the calibrated input
/// magnitudes `m` and `w(r, c)` over `rows × cols`.
pub fn partial_sum_bound(
    m: &[f64],
    rows: usize,
    cols: usize,
    w: impl Fn(usize, usize) -> f32,
) -> Vec<f64> {
    let mut out = vec![0.0; cols];
    for (r, &mr) in m.iter().enumerate().take(rows) {
        if mr == 0.0 {
            continue;
        }
        for (c, o) in out.iter_mut().enumerate() {
            *o += mr * f64::from(w(r, c)).abs();
        }
    }
    out
}

/// The values of the residual stream: the input embedding and every `add` one of whose operands is in
/// the stream, by tensor-IR value index.
pub fn residual_stream(m: &tensor::Module) -> BTreeSet<usize> {
    let mut stream = BTreeSet::new();
    for (_, n) in m.nodes.iter() {
        let joins = match n.op {
            Op::Input { .. } => true,
            Op::Add => n.args.iter().any(|a| stream.contains(&a.index())),
            _ => false,
        };
        if let (true, Some(r)) = (joins, n.result) {
            stream.insert(r.index());
        }
    }
    stream
}

/// The entrywise maximum of several magnitude vectors (missing entries count as 0).
pub fn max_magnitudes<'a>(vectors: impl IntoIterator<Item = &'a [f64]>) -> Vec<f64> {
    let mut out: Vec<f64> = Vec::new();
    for v in vectors {
        if out.len() < v.len() {
            out.resize(v.len(), 0.0);
        }
        for (o, &x) in out.iter_mut().zip(v) {
            *o = o.max(x);
        }
    }
    out
}

/// The product of two pending gains (entrywise; `None` is all ones).
pub fn combine(a: Option<&[f32]>, b: Option<&[f32]>) -> Option<Vec<f32>> {
    match (a, b) {
        (None, None) => None,
        (Some(g), None) | (None, Some(g)) => Some(g.to_vec()),
        (Some(a), Some(b)) => Some(a.iter().zip(b).map(|(x, y)| x * y).collect()),
    }
}

/// The units of the RMSNorm Newton iteration for `1/√m`, `m` in `[m0, m1]`: it runs on `y' = β·y` and
/// `h' = −m/(2β²)`, which converge to `β/√m` with the same relative error per step. `β` is chosen so
/// every iterate stays within `bound`: `h'`, `y'` and the products of a step. The two-level step
/// `1.5·y' + (h'·y')·(y'·y')` needs `m1/m0 ≤ 2·bound²` (its `y'·y' = β²/m` grows with the spread); the
/// three-level step `1.5·y' + ((h'·y')·y')·y'` (whose inner product stays near `−1/2`) needs only
/// `m1/m0 ≤ 2·bound³`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NewtonUnits {
    /// `β`.
    pub beta: f64,
    /// Whether steps are the three-level chain.
    pub chained: bool,
    /// Whether every iterate is within the bound (otherwise `β` is the best compromise, and the
    /// compiler's range check reports the bootstrap it overflows).
    pub bounded: bool,
}

impl NewtonUnits {
    /// The units for `m` in `[m0, m1]` (`0 < m0 ≤ m1`) with iterates bounded by `bound`.
    pub fn choose(m0: f64, m1: f64, bound: f64) -> Self {
        // Bounds on t = β²: h' ≤ B ⇔ t ≥ m1/(2B); h'·y' ≤ B ⇔ t ≥ m1/(4B²); y' ≤ B ⇔ t ≤ B²·m0;
        // y'·y' ≤ B ⇔ t ≤ B·m0 (two-level step only).
        let lower = (m1 / (2.0 * bound)).max(m1 / (4.0 * bound * bound));
        let two_level_upper = (bound * bound * m0).min(bound * m0);
        let (upper, chained) = if lower <= two_level_upper {
            (two_level_upper, false)
        } else {
            (bound * bound * m0, true)
        };
        Self {
            beta: (lower * upper).sqrt().sqrt(),
            chained,
            bounded: lower <= upper,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges() -> Ranges {
        Ranges { limit: 128.0 }
    }

    #[test]
    fn gains_are_powers_of_two_that_bring_entries_under_the_target() {
        let m = [0.5, 4.0, 5.0, 900.0];
        let g = ranges().gains(&m).unwrap();
        assert_eq!(g, vec![1.0, 1.0, 2.0, 256.0]);
        for (x, g) in m.iter().zip(&g) {
            assert!(x / f64::from(*g) <= ranges().target());
        }
        assert_eq!(ranges().gains(&[0.2, 4.0]), None);
        assert_eq!(Ranges { limit: 2.0 }.target(), 0.5);
    }

    #[test]
    fn partial_sums_are_bounded_by_the_absolute_products() {
        // Rows of opposite signs cancel in the result but not in a partial sum.
        let w = [[100.0f32, 1.0], [-100.0, 1.0]];
        let b = partial_sum_bound(&[1.0, 2.0], 2, 2, |r, c| w[r][c]);
        assert_eq!(b, vec![300.0, 3.0]);
        assert_eq!(uniform(Some(&[4.0, 4.0])), Some(4.0));
        assert_eq!(uniform(Some(&[4.0, 2.0])), None);
        assert_eq!(uniform(None), Some(1.0));
    }

    /// Runs the Newton iteration in the chosen units from a 40 %-off start and checks every iterate
    /// against the bound and the result against `1/√m`.
    fn iterate(m: f64, u: NewtonUnits, bound: f64) {
        let (h, mut y) = (-m / (2.0 * u.beta * u.beta), 0.6 * u.beta / m.sqrt());
        let mut peak = h.abs().max(y);
        for _ in 0..8 {
            let hy = h * y;
            let inner = if u.chained { hy * y } else { y * y };
            let t = if u.chained { inner * y } else { hy * inner };
            peak = peak.max(hy.abs()).max(inner.abs()).max(t.abs()).max(y);
            y = 1.5 * y + t;
        }
        assert!(peak <= bound, "m = {m}: iterate {peak} above {bound}");
        assert!((y * m.sqrt() / u.beta - 1.0).abs() < 1e-9, "m = {m}: {y}");
    }

    #[test]
    fn newton_iterates_stay_bounded_over_narrow_and_wide_spreads() {
        let bound = 64.0;
        for (m0, m1) in [(0.01, 3.0), (20.0, 70_000.0), (0.02, 100.0)] {
            let u = NewtonUnits::choose(m0, m1, bound);
            assert!(u.bounded && !u.chained, "[{m0}, {m1}]: {u:?}");
            for m in [m0, (m0 * m1).sqrt(), m1] {
                iterate(m, u, bound);
            }
        }
        // A spread of 2·10^5 (a sum of squares over the attention-sink token and the others).
        let (m0, m1) = (20.0, 4.3e6);
        let u = NewtonUnits::choose(m0, m1, bound);
        assert!(u.bounded && u.chained, "{u:?}");
        for m in [m0, (m0 * m1).sqrt(), m1] {
            iterate(m, u, bound);
        }
        assert!(!NewtonUnits::choose(1.0, 1e9, bound).bounded);
    }
}
