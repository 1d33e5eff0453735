//! Bootstrap centering: a bootstrap input close to a constant vector (a replicated scalar, a
//! denominator padded with ones) has one preimage coefficient as large as its value, and EvalMod's
//! sine distorts it by `≈ (2π/r)²·c³/6` ([`cachemir_ir::bootstrap_sine`]): 15 bits at a value of 1,
//! 13 at 1.6. Subtracting the input's calibrated mean before the bootstrap and adding it back after
//! (two plaintext additions, no level, no key switch) leaves only the input's variation around it to
//! the sine. Only inputs whose mean the sine would distort by more than [`CENTERING_THRESHOLD`] are
//! centered; the others keep their program and plan size.

use super::BootstrapInput;
use crate::error::{CompileError, Result};
use cachemir_ir::bootstrap_sine::{largest_distortion, MESSAGE_RATIO};
use cachemir_ir::embedding::Embedding;
use cachemir_ir::fhe::{Module, Op, OpId, PtType, Type, WeightDecl, WeightRef};
use cachemir_ir::weights::{Weight, Weights};
use num_complex::Complex64;
use std::collections::BTreeSet;

/// The distortion of a mean vector (absolute, in slot units) above which its bootstrap is centered:
/// well below the bootstrapping noise floor of the secure sets (2^−21.8 at `N16_BOOT`'s full slots).
pub const CENTERING_THRESHOLD: f64 = 1.0 / (1u64 << 26) as f64;

/// Centers every bootstrap of `inputs` (measured on `module`) whose mean the sine distorts by more
/// than [`CENTERING_THRESHOLD`]; its mean becomes the weight `center.<op>`. Returns the centered
/// bootstraps.
pub fn center_bootstraps(
    module: &mut Module,
    weights: &mut Weights,
    inputs: &[BootstrapInput],
) -> Result<BTreeSet<OpId>> {
    let rewrite = |e: cachemir_ir::IrError| CompileError::Execute {
        reason: e.to_string(),
    };
    let embedding = Embedding::new(module.params.max_slots() as usize);
    let mut centered = BTreeSet::new();
    for b in inputs {
        let mean: Vec<Complex64> = b.mean.iter().map(|&x| Complex64::new(x, 0.0)).collect();
        if mean.is_empty()
            || largest_distortion(&mean, MESSAGE_RATIO, &embedding) <= CENTERING_THRESHOLD
        {
            continue;
        }
        let Op::Bootstrap {
            input,
            target,
            boost,
        } = module.op(b.id).op.clone()
        else {
            continue;
        };
        let result = module.op(b.id).results[0];
        let (Some(Type::Ct(before)), Some(Type::Ct(after))) = (
            module.value_type(input).cloned(),
            module.value_type(result).cloned(),
        ) else {
            continue;
        };
        let name = format!("center.{}", b.id.index());
        let slots = mean.len() as u32;
        module.weights.insert(
            name.clone(),
            WeightDecl {
                rows: 1,
                cols: slots,
            },
        );
        let data = b.mean.iter().map(|&x| x as f32).collect();
        weights.insert(
            name.clone(),
            Weight::f32(1, slots, data).expect("one row of `slots`"),
        );
        let plain = |ty: &cachemir_ir::fhe::CtType| {
            (
                Op::Plain {
                    weight: WeightRef {
                        name: name.clone(),
                        index: 0,
                    },
                },
                vec![Type::Pt(PtType {
                    level: ty.level,
                    scale: ty.scale,
                    slots: ty.slots,
                })],
            )
        };
        let (op, ty) = plain(&before);
        let (_, pt_in) = module.insert_before(b.id, op, ty).map_err(rewrite)?;
        let (_, shifted) = module
            .insert_before(
                b.id,
                Op::Sub {
                    lhs: input,
                    rhs: pt_in[0],
                },
                vec![Type::Ct(before.clone())],
            )
            .map_err(rewrite)?;
        module
            .replace_op(
                b.id,
                Op::Bootstrap {
                    input: shifted[0],
                    target,
                    boost,
                },
                vec![Type::Ct(after.clone())],
            )
            .map_err(rewrite)?;
        let (op, ty) = plain(&after);
        let (pt_out_op, pt_out) = module.insert_after(b.id, op, ty).map_err(rewrite)?;
        let (restored_op, restored) = module
            .insert_after(
                pt_out_op,
                Op::Add {
                    lhs: result,
                    rhs: pt_out[0],
                },
                vec![Type::Ct(after.clone())],
            )
            .map_err(rewrite)?;
        module.replace_all_uses(result, restored[0]);
        // The restoring addition itself still reads the bootstrap's result.
        module
            .replace_op(
                restored_op,
                Op::Add {
                    lhs: result,
                    rhs: pt_out[0],
                },
                vec![Type::Ct(after)],
            )
            .map_err(rewrite)?;
        centered.insert(b.id);
    }
    Ok(centered)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calibrate::bootstrap_inputs;
    use crate::calibrate::test_program::{embedding, one_bootstrap};
    use cachemir_ir::bootstrap_sine;
    use cachemir_ir::fhe::interp::{Interpreter, KvState};
    use cachemir_ir::plan::client::step_inputs;

    /// `y` for `token`, with the sine applied at every bootstrap when `sine` holds.
    fn run(module: &Module, weights: &Weights, token: u32, sine: bool) -> Vec<f64> {
        let interp = Interpreter::new(module, weights).unwrap();
        let inputs = step_inputs(module, weights, token, 0).unwrap();
        let embedding = Embedding::new(module.params.max_slots() as usize);
        let mut state = KvState::default();
        let out = interp
            .run_observed(&inputs, &mut state, &mut |id, x| {
                if sine && matches!(module.op(id).op, Op::Bootstrap { .. }) {
                    bootstrap_sine::apply(x, MESSAGE_RATIO, &embedding);
                }
            })
            .unwrap();
        out["y"].clone()
    }

    fn error(a: &[f64], b: &[f64]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max)
    }

    #[test]
    fn a_near_constant_input_is_centered_and_the_sine_then_distorts_it_far_less() {
        let module = one_bootstrap(4);
        let w = embedding(vec![
            1.5, 1.6, 1.4, 1.5, // near-constant: tokens 0 and 1
            1.6, 1.5, 1.5, 1.4, //
            0.5, -0.5, 0.5, -0.5, // mean zero over tokens 2 and 3
            -0.5, 0.5, -0.5, 0.5,
        ]);
        let inputs = bootstrap_inputs(&module, &w, &[vec![0, 1]]).unwrap();
        let (mut centered, mut cw) = (module.clone(), w.clone());
        assert_eq!(
            center_bootstraps(&mut centered, &mut cw, &inputs)
                .unwrap()
                .len(),
            1
        );
        centered.verify().unwrap();
        let exact = run(&module, &w, 0, false);
        assert!(error(&run(&centered, &cw, 0, false), &exact) < 1e-12);
        let (before, after) = (
            error(&run(&module, &w, 0, true), &exact),
            error(&run(&centered, &cw, 0, true), &exact),
        );
        assert!(before > 1e-4, "the sine distorts the constant: {before:e}");
        assert!(after < before / 1000.0, "{after:e} against {before:e}");

        // Inputs whose calibrated mean is zero are left alone.
        let inputs = bootstrap_inputs(&module, &w, &[vec![2, 3]]).unwrap();
        let (mut same, mut sw) = (module.clone(), w.clone());
        assert!(center_bootstraps(&mut same, &mut sw, &inputs)
            .unwrap()
            .is_empty());
        assert_eq!(same.num_ops(), module.num_ops());
    }
}
