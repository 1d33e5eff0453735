//! Bootstrap boosting: bootstrapping's error is absolute (about `2^−21.8` of a unit at `N16_BOOT`'s
//! full slots, whatever the input's size up to a few units), so an input of `10^−3` keeps only 12 bits.
//! A Llama residual stream is carried in the units of its largest layer and reaches the first
//! layers' bootstraps that small. Each bootstrap is given the power-of-two boost
//! ([`Op::Bootstrap`]'s `boost`) bringing its calibrated input (what is left of it once centered) to
//! about [`BOOSTED_AMPLITUDE`]: an exact integer product before the refresh and a factor folded into
//! EvalMod after, so no level and no key switch.

use super::BootstrapInput;
use crate::error::{CompileError, Result};
use cachemir_ir::fhe::{Module, Op, OpId};
use std::collections::BTreeSet;

/// The magnitude a boosted input is brought to: where the refresh's error is still flat
/// (`N16_BOOT` full slots: 21.76 bits at 1, 21.74 at 4, `docs/design/ckks.md`), with room for
/// held-out inputs up to 4 times the calibrated ones.
pub const BOOSTED_AMPLITUDE: f64 = 1.0;

/// The largest boost given: beyond `2^10` the refresh's error falls below the noise a ciphertext
/// already carries into it (key switches, products: about `2^−32`), and the boost would only
/// amplify that noise towards the sine's non-linear range.
pub const BOOST_CAP: u32 = 10;

/// The boost of an input whose calibrated magnitude is `magnitude`: the largest `b ≤` [`BOOST_CAP`]
/// with `2^b · magnitude ≤` [`BOOSTED_AMPLITUDE`], 0 for an input already that large.
pub fn boost_for(magnitude: f64) -> u32 {
    if magnitude <= 0.0 || !magnitude.is_finite() {
        return BOOST_CAP;
    }
    (BOOSTED_AMPLITUDE / magnitude)
        .log2()
        .floor()
        .clamp(0.0, f64::from(BOOST_CAP)) as u32
}

/// Sets the boost of every bootstrap of `inputs` (measured on `module` before `centered` were
/// centered) from its calibrated magnitude: the spread around the mean for a centered one, the
/// largest `|slot|` otherwise. Returns how many got a non-zero boost.
pub fn boost_bootstraps(
    module: &mut Module,
    inputs: &[BootstrapInput],
    centered: &BTreeSet<OpId>,
) -> Result<usize> {
    let mut boosted = 0;
    for b in inputs {
        let magnitude = if centered.contains(&b.id) {
            b.spread
        } else {
            b.observed
        };
        let boost = boost_for(magnitude);
        if boost == 0 {
            continue;
        }
        let Op::Bootstrap { input, target, .. } = module.op(b.id).op.clone() else {
            continue;
        };
        let types = module
            .op(b.id)
            .results
            .iter()
            .map(|&v| module.value_type(v).cloned());
        let types = types.collect::<Option<Vec<_>>>().unwrap_or_default();
        let op = Op::Bootstrap {
            input,
            target,
            boost,
        };
        module
            .replace_op(b.id, op, types)
            .map_err(|e| CompileError::Execute {
                reason: format!("boosting {}: {e}", b.op),
            })?;
        boosted += 1;
    }
    Ok(boosted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calibrate::test_program::{embedding, one_bootstrap};
    use crate::calibrate::{bootstrap_inputs, condition_bootstraps};

    /// The boost of the program's one bootstrap after conditioning on the embedding `values`.
    fn conditioned_boost(values: Vec<f64>) -> u32 {
        let mut module = one_bootstrap(2);
        let mut weights = embedding(values);
        let inputs = bootstrap_inputs(&module, &weights, &[vec![0, 1]]).unwrap();
        condition_bootstraps(&mut module, &mut weights, &inputs).unwrap();
        let boosts: Vec<u32> = module
            .op_ids()
            .filter_map(|id| match module.op(id).op {
                Op::Bootstrap { boost, .. } => Some(boost),
                _ => None,
            })
            .collect();
        assert_eq!(boosts.len(), 1);
        boosts[0]
    }

    #[test]
    fn a_small_input_is_boosted_by_its_magnitude_and_a_centered_one_by_its_spread() {
        // Largest |slot| 1.6e−3, mean zero: not centered, 2^9 · 1.6e−3 = 0.82.
        let small = vec![1e-3, -1.6e-3, 5e-4, 0.0, -1e-3, 1.6e-3, -5e-4, 0.0];
        assert_eq!(conditioned_boost(small), 9);
        // Near 1.5, centered: each slot is 0.05 from its mean, and 2^4 · 0.05 = 0.8.
        let near_constant = vec![1.5, 1.6, 1.4, 1.5, 1.6, 1.5, 1.5, 1.4];
        assert_eq!(conditioned_boost(near_constant), 4);
        // Of order one: left alone.
        assert_eq!(
            conditioned_boost(vec![0.9, -0.5, 0.2, 0.0, -0.9, 0.5, 0.0, 0.1]),
            0
        );
    }

    #[test]
    fn the_boost_brings_the_input_to_the_amplitude_and_stops_at_the_cap() {
        assert_eq!(boost_for(1e-3), 9); // 2^9 · 10^−3 = 0.512
        assert_eq!(boost_for(0.5), 1);
        assert_eq!(boost_for(0.6), 0);
        assert_eq!(boost_for(3.0), 0);
        assert_eq!(boost_for(1e-9), BOOST_CAP);
        assert_eq!(boost_for(0.0), BOOST_CAP);
    }
}
