//! The values a lowered plan hands to bootstrapping, measured on the calibration tokens: each
//! `bootstrap` op's largest `|slot|`, against the limit bootstrapping refreshes with full precision
//! ([`cachemir_ir::params::bootstrap_input_limit`]), and its mean slot vector (what
//! [`super::center_bootstraps`] takes out). The compiler reports any op whose observed maximum,
//! doubled as a safety margin, exceeds the limit.

use crate::error::{CompileError, Result};
use cachemir_ir::fhe::interp::{Interpreter, KvState};
use cachemir_ir::fhe::{op_label, Module, Op, OpId, Type};
use cachemir_ir::params::bootstrap_input_limit;
use cachemir_ir::plan::client::step_inputs;
use cachemir_ir::weights::Weights;
use std::collections::BTreeMap;

/// One `bootstrap` op's inputs over the calibration tokens.
#[derive(Debug, Clone, PartialEq)]
pub struct BootstrapInput {
    /// The `bootstrap` op.
    pub id: OpId,
    /// The op, as the verifier names it.
    pub op: String,
    /// The op defining the bootstrapped value.
    pub source: OpId,
    /// Largest `|slot|` observed.
    pub observed: f64,
    /// The full-precision limit at the input's scale.
    pub limit: f64,
    /// The mean of each slot's real part over the calibration steps.
    pub mean: Vec<f64>,
    /// Largest distance of a slot's real part from its mean (what is left once centered).
    pub spread: f64,
}

impl BootstrapInput {
    /// Whether the observed maximum, doubled, exceeds the limit.
    pub fn at_risk(&self) -> bool {
        2.0 * self.observed > self.limit
    }
}

/// Feeds each sequence of `sequences` (one step per token, a fresh KV cache per sequence) through the
/// cleartext interpreter and records every `bootstrap` op's largest input and mean input, in
/// program order.
pub fn bootstrap_inputs(
    module: &Module,
    weights: &Weights,
    sequences: &[Vec<u32>],
) -> Result<Vec<BootstrapInput>> {
    let err = |e: cachemir_ir::IrError| CompileError::Execute {
        reason: e.to_string(),
    };
    let mut limits = BTreeMap::new();
    for id in module.op_ids() {
        if let Op::Bootstrap { input, .. } = &module.op(id).op {
            if let Some(Type::Ct(t)) = module.value_type(*input) {
                let source = module.value(*input).map_or(id, |v| v.def);
                limits.insert(
                    id,
                    (bootstrap_input_limit(&module.params, t.scale.0), source),
                );
            }
        }
    }
    if limits.is_empty() {
        return Ok(Vec::new());
    }
    let interp = Interpreter::new(module, weights).map_err(err)?;
    let mut observed: BTreeMap<_, f64> = BTreeMap::new();
    // Per slot: the sum, the least and the largest real part.
    let mut sums: BTreeMap<_, Vec<(f64, f64, f64)>> = BTreeMap::new();
    let mut steps = 0usize;
    for seq in sequences {
        let mut state = KvState::default();
        for (position, &token) in seq.iter().enumerate() {
            let inputs = step_inputs(module, weights, token, position).map_err(err)?;
            interp
                .run_observed(&inputs, &mut state, &mut |id, slots| {
                    if limits.contains_key(&id) {
                        let m = slots.iter().map(|z| z.norm()).fold(0.0, f64::max);
                        let e = observed.entry(id).or_insert(0.0);
                        *e = e.max(m);
                        let sum = sums.entry(id).or_insert_with(|| {
                            vec![(0.0, f64::INFINITY, f64::NEG_INFINITY); slots.len()]
                        });
                        sum.iter_mut().zip(slots.iter()).for_each(|(s, z)| {
                            *s = (s.0 + z.re, s.1.min(z.re), s.2.max(z.re));
                        });
                    }
                })
                .map_err(err)?;
            steps += 1;
        }
    }
    Ok(limits
        .into_iter()
        .map(|(id, (limit, source))| {
            let slots = sums.remove(&id).unwrap_or_default();
            let mean: Vec<f64> = slots.iter().map(|s| s.0 / steps.max(1) as f64).collect();
            let spread = slots
                .iter()
                .zip(&mean)
                .map(|(s, m)| (s.2 - m).max(m - s.1))
                .fold(0.0, f64::max);
            BootstrapInput {
                id,
                op: op_label(module, id),
                source,
                observed: observed.get(&id).copied().unwrap_or(0.0),
                limit,
                mean,
                spread,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calibrate::test_program::{embedding, one_bootstrap};

    #[test]
    fn large_bootstrap_inputs_are_flagged_against_the_limit() {
        let module = one_bootstrap(2);
        // Limit at scale 2^40 with a 60-bit q_0: 2^(60 − 40 − 8) = 4096.
        let weights = embedding(vec![0.5, -1.0, 0.25, 0.0, 3000.0, 1.0, -2.0, 0.0]);
        let small = bootstrap_inputs(&module, &weights, &[vec![0, 0]]).unwrap();
        assert_eq!(small.len(), 1);
        assert_eq!((small[0].observed, small[0].limit), (1.0, 4096.0));
        assert_eq!(small[0].mean, vec![0.5, -1.0, 0.25, 0.0]);
        assert_eq!(small[0].spread, 0.0);
        assert!(!small[0].at_risk());
        let large = bootstrap_inputs(&module, &weights, &[vec![0], vec![1]]).unwrap();
        assert_eq!(large[0].observed, 3000.0);
        assert_eq!(large[0].mean, vec![1500.25, 0.0, -0.875, 0.0]);
        assert_eq!(large[0].spread, 1499.75);
        assert!(large[0].at_risk());
    }
}
