//! Out-of-range risk: how far held-out tokens go beyond the intervals fitted on the others.

use super::{observe, Calibration, Quantity};
use crate::error::Result;
use cachemir_ir::tensor::Module;

/// One quantity whose held-out range leaves the interval calibrated on the other tokens.
#[derive(Debug, Clone, PartialEq)]
pub struct Risk {
    /// Tensor-IR node index.
    pub node: usize,
    /// The quantity.
    pub quantity: Quantity,
    /// The interval calibrated on the first half of the tokens.
    pub interval: (f64, f64),
    /// The range the second half produced.
    pub observed: (f64, f64),
    /// How far outside, as a fraction of the interval's width.
    pub excess: f64,
}

/// Calibrates on the first half of `sequences` (of the tokens of a single sequence) and measures the whole
/// against those intervals (the second half of a single sequence runs after the first, so with the longer
/// context). Empty when nothing leaves its interval; needs ≥ 2 tokens.
pub fn held_out_risks(module: &Module, sequences: &[Vec<u32>]) -> Result<Vec<Risk>> {
    let first_half: Vec<Vec<u32>> = match sequences {
        [] => return Ok(Vec::new()),
        [one] if one.len() < 2 => return Ok(Vec::new()),
        [one] => vec![one[..one.len() / 2].to_vec()],
        many => many[..many.len() / 2].to_vec(),
    };
    let first = observe(module, &first_half)?;
    let all = observe(module, sequences)?;
    let mut out = Vec::new();
    for (&(node, quantity), r) in &all.ranges {
        let Some(interval) = first.interval(node, quantity) else {
            continue;
        };
        let excess = first
            .excess(node, quantity, r.lo)
            .max(first.excess(node, quantity, r.hi));
        if excess > 0.0 {
            out.push(Risk {
                node,
                quantity,
                interval,
                observed: (r.lo, r.hi),
                excess,
            });
        }
    }
    Ok(out)
}

impl Calibration {
    /// Quantities of `self` (the intervals) that `other` (observations) leaves, with the excess.
    pub fn exceeded_by(&self, other: &Calibration) -> Vec<(usize, Quantity, f64)> {
        other
            .ranges
            .iter()
            .filter_map(|(&(n, q), r)| {
                let e = self.excess(n, q, r.lo).max(self.excess(n, q, r.hi));
                (e > 0.0).then_some((n, q, e))
            })
            .collect()
    }
}
