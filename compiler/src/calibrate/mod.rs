//! Calibration: the input range of every non-linear op, measured by running the plaintext reference on
//! calibration tokens, widened by a documented safety margin into the intervals the polynomials are fitted
//! on.
//!
//! Margins (see `docs/design/packing.md`): for SiLU inputs and attention scores the observed range
//! `[lo, hi]` becomes `[lo − m, hi + m]` with `m = 0.25·(hi − lo) + 0.5`; for the positive inputs of
//! `1/√·` (RMSNorm sums of squares) and `1/x` (softmax denominators) it becomes `[lo / 4, hi · 4]`, which the
//! Newton steps after the polynomial tolerate.

mod boost;
mod bootstrap_inputs;
mod centering;
mod observe;
mod risk;
#[cfg(test)]
mod test_program;
mod text;

pub use boost::{boost_bootstraps, boost_for, BOOSTED_AMPLITUDE, BOOST_CAP};
pub use bootstrap_inputs::{bootstrap_inputs, BootstrapInput};
pub use centering::{center_bootstraps, CENTERING_THRESHOLD};
pub use observe::observe;
pub use risk::{held_out_risks, Risk};
pub use text::{passage_sequences, text_sequences, PASSAGE};

use crate::error::{CompileError, Result};
use cachemir_ir::fhe::Module;
use cachemir_ir::weights::Weights;
use std::collections::BTreeMap;

/// How many bootstraps [`condition_bootstraps`] centered and boosted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conditioned {
    /// Centered on their calibrated mean.
    pub centered: usize,
    /// Given a non-zero boost.
    pub boosted: usize,
}

/// Centers ([`center_bootstraps`]) and then boosts ([`boost_bootstraps`]) the bootstraps of `inputs`,
/// measured on `module`, and verifies the result.
pub fn condition_bootstraps(
    module: &mut Module,
    weights: &mut Weights,
    inputs: &[BootstrapInput],
) -> Result<Conditioned> {
    let centered = center_bootstraps(module, weights, inputs)?;
    let boosted = boost_bootstraps(module, inputs, &centered)?;
    cachemir_ir::fhe::verify(module).map_err(|e| CompileError::Execute {
        reason: format!("conditioning bootstraps: {e}"),
    })?;
    Ok(Conditioned {
        centered: centered.len(),
        boosted,
    })
}

/// What is measured at a tensor-IR node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Quantity {
    /// RMSNorm: the sum of squares `Σ x²` (input of `1/√(s/n + eps)`) at every position but the first
    /// (all positions when only one token is calibrated).
    SumOfSquares,
    /// RMSNorm: the sum of squares at the first position, apart: LLMs park massive activations on their
    /// first token (the attention sink), whose sums of squares can be 10^3 times the others'.
    FirstSumOfSquares,
    /// Attention: raw scores `q_h · (k_h − mean)` over valid tokens, before the score scale (input of `exp`).
    Score,
    /// SiLU input.
    SiluInput,
}

impl Quantity {
    /// Short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Quantity::SumOfSquares => "rms-sum-of-squares",
            Quantity::FirstSumOfSquares => "rms-sum-of-squares-first",
            Quantity::Score => "attention-score",
            Quantity::SiluInput => "silu-input",
        }
    }

    /// Whether the quantity is positive (multiplicative margin) or signed (additive margin).
    pub fn is_positive(self) -> bool {
        matches!(self, Quantity::SumOfSquares | Quantity::FirstSumOfSquares)
    }
}

/// An observed closed range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    /// Smallest value seen.
    pub lo: f64,
    /// Largest value seen.
    pub hi: f64,
}

impl Range {
    fn include(&mut self, x: f64) {
        self.lo = self.lo.min(x);
        self.hi = self.hi.max(x);
    }
}

/// Observed ranges by (tensor-IR node index, quantity).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Calibration {
    /// The ranges.
    pub ranges: BTreeMap<(usize, Quantity), Range>,
    /// Calibration tokens run.
    pub tokens: usize,
    /// Per attention node: the mean cached key row (after RoPE) over the calibration tokens. The lowering
    /// caches `k − mean`: every score of a head shifts by the same `q·mean`, which softmax ignores, and
    /// the scores' (hence the denominators') range shrinks.
    pub key_means: BTreeMap<usize, Vec<f64>>,
    pub(crate) key_sums: BTreeMap<usize, Vec<f64>>,
    /// Per tensor-IR value (by index) that some op reads: the largest `|entry|` of every entry over the
    /// calibration tokens. The lowering scales vectors whose entries exceed what bootstrapping refreshes.
    pub magnitudes: BTreeMap<usize, Vec<f64>>,
}

impl Calibration {
    pub(crate) fn record(&mut self, node: usize, q: Quantity, x: f64) {
        self.ranges
            .entry((node, q))
            .or_insert(Range { lo: x, hi: x })
            .include(x);
    }

    pub(crate) fn record_magnitudes(&mut self, value: usize, xs: &[f32]) {
        let m = self
            .magnitudes
            .entry(value)
            .or_insert_with(|| vec![0.0; xs.len()]);
        for (m, &x) in m.iter_mut().zip(xs) {
            *m = m.max(f64::from(x).abs());
        }
    }

    /// The largest `|entry|` of each entry of tensor-IR value `value` over the calibration tokens, if
    /// an op reads it.
    pub fn magnitude(&self, value: usize) -> Option<&[f64]> {
        self.magnitudes.get(&value).map(Vec::as_slice)
    }

    /// The approximation interval of `q` at `node`: the observed range widened by the safety margin, or
    /// `None` if the node was never observed.
    pub fn interval(&self, node: usize, q: Quantity) -> Option<(f64, f64)> {
        let r = self.ranges.get(&(node, q))?;
        Some(widen(*r, q))
    }

    /// How far `x` lies outside the interval of `q` at `node`, as a fraction of the interval's width
    /// (0 inside).
    pub fn excess(&self, node: usize, q: Quantity, x: f64) -> f64 {
        match self.interval(node, q) {
            Some((a, b)) if x < a => (a - x) / (b - a),
            Some((a, b)) if x > b => (x - b) / (b - a),
            _ => 0.0,
        }
    }
}

/// The margin rule of the module docs.
pub fn widen(r: Range, q: Quantity) -> (f64, f64) {
    if q.is_positive() {
        let lo = (r.lo / 4.0).max(1e-6);
        (lo, (r.hi * 4.0).max(lo * 2.0))
    } else {
        let m = 0.25 * (r.hi - r.lo) + 0.5;
        (r.lo - m, r.hi + m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margins_follow_the_documented_rule() {
        let r = Range { lo: -2.0, hi: 6.0 };
        assert_eq!(widen(r, Quantity::SiluInput), (-4.5, 8.5));
        assert_eq!(
            widen(Range { lo: 2.0, hi: 10.0 }, Quantity::SumOfSquares),
            (0.5, 40.0)
        );
    }
}
