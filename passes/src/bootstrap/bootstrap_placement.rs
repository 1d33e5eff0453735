//! `bootstrap-placement`: inserts `bootstrap` where the level budget would run out (lazy, greedy).

use crate::error::PassError;
use crate::pass::{Changed, Pass, PassCx};
use crate::scale::RescaleInsertion;
use cachemir_ir::fhe::{CtType, Level, LogScale, Module, Op, OpId, Type, ValueId};
use std::collections::BTreeMap;

/// Makes the program's level budget suffice by inserting `bootstrap` ops, then runs `rescale-insertion`
/// so every type is exact (the output verifies).
///
/// Expects a program whose types may be stale (as a lowering emits it). It predicts the level every
/// ciphertext will have after `rescale-insertion` (waterline policy, moduli near the default scale):
/// inputs at their declared level, `kv_read` at the cache level, `bootstrap` at its target; `mul_plain`,
/// `mul_ct`, `linear_transform` and `mul_const` at a non-zero scale consume one level; `poly_eval`
/// consumes `Op::poly_depth` levels; explicit `rescale` one; `level_drop` sets it; everything else takes the
/// lowest operand level. When an op needs more levels than an operand has (one for a product, the depth
/// for a polynomial, the cache level for `kv_append`), a `bootstrap` of that operand to `target` is inserted
/// just before the op and every later use reads the refreshed value (so a value is refreshed at most once).
/// Values written to a KV cache thereby reach the cache level, which `rescale-insertion` then meets by a
/// `level_drop`. Sets the bootstrapping key. Lazy placement: correct, not optimal (the ILP placement of the
/// design is a later pass).
///
/// Option: `target`, the level after bootstrapping (default: the top level of the chain).
#[derive(Debug, Clone, Copy, Default)]
pub struct BootstrapPlacement {
    /// Level after bootstrapping; `None` = the chain's top level.
    pub target: Option<Level>,
}

/// How many levels `op` consumes, and the level each ciphertext operand must have at least.
fn cost(module: &Module, op: &Op) -> (u32, u32) {
    match op {
        Op::MulPlain { .. } | Op::MulCt { .. } | Op::LinearTransform { .. } => (1, 1),
        Op::MulConst { scale, .. } if scale.0 > 0.0 => (1, 1),
        Op::Rescale { .. } => (1, 1),
        Op::PolyEval {
            coeffs, interval, ..
        } => {
            let d = Op::poly_depth(coeffs.len(), *interval);
            (d, d)
        }
        Op::KvAppend { cache, .. } => (
            0,
            module.kv_caches.get(cache).map_or(0, |d| d.chunk.level.0),
        ),
        _ => (0, 0),
    }
}

fn is_ct(module: &Module, v: ValueId) -> bool {
    matches!(module.value_type(v), Some(Type::Ct(_)))
}

impl Pass for BootstrapPlacement {
    fn name(&self) -> &'static str {
        "bootstrap-placement"
    }

    fn run(&self, module: &mut Module, cx: &mut PassCx) -> Result<Changed, PassError> {
        let top = module.params.max_level().unwrap_or(0);
        let target = self.target.unwrap_or(Level(top));
        let mut level: BTreeMap<ValueId, u32> = BTreeMap::new();
        let mut inserted = 0u64;
        let ids: Vec<OpId> = module.op_ids().collect();
        for (pos, &id) in ids.iter().enumerate() {
            let op = module.op(id).op.clone();
            let (consume, need) = cost(module, &op);
            if need > target.0 {
                return Err(PassError::Unsupported {
                    op: cachemir_ir::fhe::op_label(module, id),
                    message: format!(
                        "needs level {need}, more than the bootstrap target {}",
                        target.0
                    ),
                });
            }
            let mut op = op;
            for v in op.operands() {
                if !is_ct(module, v) {
                    continue;
                }
                let l = level.get(&v).copied().unwrap_or(target.0);
                if l >= need {
                    continue;
                }
                let Some(Type::Ct(t)) = module.value_type(v).cloned() else {
                    continue;
                };
                let ty = Type::Ct(CtType {
                    level: target,
                    scale: LogScale(f64::from(module.params.log_default_scale)),
                    degree: 1,
                    ..t
                });
                let (_, r) =
                    module.insert_before(id, Op::Bootstrap { input: v, target }, vec![ty])?;
                let b = r[0];
                level.insert(b, target.0);
                inserted += 1;
                // This op and every later one read the refreshed value.
                op.visit_operands_mut(|x| {
                    if *x == v {
                        *x = b;
                    }
                });
                for &later in &ids[pos + 1..] {
                    let mut lop = module.op(later).op.clone();
                    let mut hit = false;
                    lop.visit_operands_mut(|x| {
                        if *x == v {
                            *x = b;
                            hit = true;
                        }
                    });
                    if hit {
                        let types = module
                            .op(later)
                            .results
                            .iter()
                            .filter_map(|&r| module.value_type(r).cloned())
                            .collect();
                        module.replace_op(later, lop, types)?;
                    }
                }
            }
            let types: Vec<Type> = module
                .op(id)
                .results
                .iter()
                .filter_map(|&r| module.value_type(r).cloned())
                .collect();
            module.replace_op(id, op.clone(), types)?;
            let in_level = op
                .operands()
                .into_iter()
                .filter(|&v| is_ct(module, v))
                .map(|v| level.get(&v).copied().unwrap_or(target.0))
                .min();
            let out_level = match &op {
                Op::Input { .. } | Op::KvRead { .. } => module
                    .op(id)
                    .results
                    .first()
                    .and_then(|&r| module.value_type(r))
                    .and_then(Type::as_ct)
                    .map_or(target.0, |t| t.level.0),
                Op::Bootstrap { target, .. } => target.0,
                Op::LevelDrop { to, .. } => to.0,
                _ => in_level.unwrap_or(target.0).saturating_sub(consume),
            };
            for &r in &module.op(id).results {
                level.insert(r, out_level);
            }
        }
        if inserted > 0 {
            module.keys.bootstrap = true;
        }
        cx.bump("bootstrap-placement.bootstraps", inserted);
        // Make the types exact (the predicted levels become real): the output verifies.
        let retyped = RescaleInsertion.run(module, cx)?;
        Ok(Changed::from_bool(inserted > 0 || retyped == Changed::Yes))
    }
}
