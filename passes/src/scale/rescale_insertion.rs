//! `rescale-insertion`: retypes the program forward, rescaling products back to the waterline and aligning
//! the levels of binary ops.

use crate::error::PassError;
use crate::pass::{Changed, Pass, PassCx};
use cachemir_ir::fhe::infer::{infer, Rule};
use cachemir_ir::fhe::{op_label, CtType, Level, Module, Op, OpId, PtType, Type, ValueId};
use std::collections::BTreeSet;

/// Makes levels and scales consistent, walking the program in order:
///
/// 1. Level alignment: for `add`/`sub`/`mul_ct` with ciphertext operands at different levels, a `level_drop`
///    brings the higher one down; a plaintext operand at the wrong level (or, for `add`/`sub`, the wrong
///    scale) is re-encoded by a new `plain` of the same weight row; a `kv_append` value above the cache
///    level is dropped to it.
/// 2. Retyping: every result type is recomputed by the typing rules (declared layouts of layout-free ops are
///    kept), so the input may carry stale levels and scales.
/// 3. Rescaling (waterline policy): after an op producing a degree-1 ciphertext, a `rescale` is inserted
///    while rescaling keeps the scale at or above `log_default_scale − 1` bits; later uses read the rescaled
///    value.
///
/// Expects: level budget suffices (no bootstrap placement here); moduli `log_q[l]` near the default scale so
/// rescaled scales meet on additions. Leaves replaced plaintexts dead (run `dead-code-elimination` after).
/// Values the input already rescales explicitly are not rescaled again. Idempotent. No options.
#[derive(Debug, Clone, Copy, Default)]
pub struct RescaleInsertion;

/// Scales within this many bits below the default are considered at the waterline.
const SLACK_BITS: f64 = 1.0;

fn ct_of(module: &Module, v: ValueId) -> Option<CtType> {
    module.value_type(v).and_then(Type::as_ct).cloned()
}

fn problem(module: &Module, id: OpId, problem: cachemir_ir::fhe::Problem) -> PassError {
    PassError::Ir(cachemir_ir::IrError::Verify {
        op: op_label(module, id),
        problem,
    })
}

/// Inserts `level_drop` of `v` to `to` before `id`; returns the new value.
fn drop_before(module: &mut Module, id: OpId, v: ValueId, to: Level) -> Result<ValueId, PassError> {
    let t = ct_of(module, v).expect("caller checked a ciphertext");
    let ty = Type::Ct(CtType { level: to, ..t });
    let (_, r) = module.insert_before(id, Op::LevelDrop { input: v, to }, vec![ty])?;
    Ok(r[0])
}

/// Re-encodes the plaintext `pt` (defined by a `plain`) before `id` with type `ty`; returns the new value.
fn replain_before(
    module: &mut Module,
    id: OpId,
    pt: ValueId,
    ty: PtType,
) -> Result<ValueId, PassError> {
    let def = module
        .value(pt)
        .map(|v| v.def)
        .expect("operand verified to exist");
    let Op::Plain { weight } = module.op(def).op.clone() else {
        return Err(PassError::Unsupported {
            op: op_label(module, id),
            message: format!(
                "plaintext %{} is not a `plain`, cannot re-encode it",
                pt.index()
            ),
        });
    };
    let (_, r) = module.insert_before(id, Op::Plain { weight }, vec![Type::Pt(ty)])?;
    Ok(r[0])
}

/// Step 1: returns the op with aligned operands (new ops inserted before `id`).
fn align(module: &mut Module, id: OpId) -> Result<Op, PassError> {
    let mut op = module.op(id).op.clone();
    match &mut op {
        Op::Add { lhs, rhs } | Op::Sub { lhs, rhs } | Op::MulCt { lhs, rhs } => {
            let is_mul = matches!(module.op(id).op, Op::MulCt { .. });
            let Some(l) = ct_of(module, *lhs) else {
                return Ok(op);
            };
            match module.value_type(*rhs).cloned() {
                Some(Type::Ct(r)) if l.level > r.level => {
                    *lhs = drop_before(module, id, *lhs, r.level)?
                }
                Some(Type::Ct(r)) if r.level > l.level => {
                    *rhs = drop_before(module, id, *rhs, l.level)?
                }
                Some(Type::Pt(p))
                    if !is_mul && (p.level != l.level || !p.scale.approx_eq(l.scale)) =>
                {
                    let ty = PtType {
                        level: l.level,
                        scale: l.scale,
                        slots: p.slots,
                    };
                    *rhs = replain_before(module, id, *rhs, ty)?;
                }
                _ => {}
            }
        }
        Op::MulPlain { ct, pt } => {
            if let (Some(c), Some(Type::Pt(p))) =
                (ct_of(module, *ct), module.value_type(*pt).cloned())
            {
                if c.level > p.level {
                    *ct = drop_before(module, id, *ct, p.level)?;
                } else if p.level > c.level {
                    *pt = replain_before(
                        module,
                        id,
                        *pt,
                        PtType {
                            level: c.level,
                            ..p
                        },
                    )?;
                }
            }
        }
        Op::KvAppend { cache, value } => {
            let want = module.kv_caches.get(cache).map(|d| d.chunk.level);
            if let (Some(want), Some(t)) = (want, ct_of(module, *value)) {
                if t.level > want {
                    *value = drop_before(module, id, *value, want)?;
                }
            }
        }
        _ => {}
    }
    Ok(op)
}

/// Step 2: the result types of `op` at `id` under the typing rules.
fn retype(module: &Module, id: OpId, op: &Op) -> Result<Vec<Type>, PassError> {
    let declared: Vec<Type> = module
        .op(id)
        .results
        .iter()
        .filter_map(|&r| module.value_type(r).cloned())
        .collect();
    Ok(
        match infer(module, op, Some(&declared)).map_err(|p| problem(module, id, p))? {
            Rule::Declared => declared,
            Rule::Exact(types) => types,
            Rule::FreeLayout(types) => types
                .into_iter()
                .zip(&declared)
                .map(|(t, d)| match (t, d) {
                    (Type::Ct(t), Type::Ct(d)) => Type::Ct(CtType {
                        layout: d.layout.clone(),
                        ..t
                    }),
                    (t, _) => t,
                })
                .collect(),
        },
    )
}

impl Pass for RescaleInsertion {
    fn name(&self) -> &'static str {
        "rescale-insertion"
    }

    fn run(&self, module: &mut Module, cx: &mut PassCx) -> Result<Changed, PassError> {
        let before = module.to_string();
        let default = f64::from(module.params.log_default_scale);
        let mut rescales = 0u64;
        // Values the program already rescales explicitly are left to it.
        let explicit: BTreeSet<ValueId> = module
            .op_ids()
            .filter_map(|id| match module.op(id).op {
                Op::Rescale { input } => Some(input),
                _ => None,
            })
            .collect();
        let mut cursor = module.first_op();
        while let Some(id) = cursor {
            let op = align(module, id)?;
            let types = retype(module, id, &op)?;
            module.replace_op(id, op, types)?;
            let mut last = id;
            let is_rescale = matches!(module.op(id).op, Op::Rescale { .. });
            let skip = is_rescale || module.op(id).results.iter().any(|r| explicit.contains(r));
            if let ([r], false) = (module.op(id).results.as_slice(), skip) {
                let mut value = *r;
                while let Some(t) = ct_of(module, value) {
                    let bits = module
                        .params
                        .rescale_bits(t.level.0)
                        .map_or(f64::INFINITY, f64::from);
                    if t.degree != 1 || t.level.0 == 0 || t.scale.0 - bits < default - SLACK_BITS {
                        break;
                    }
                    let op = Op::Rescale { input: value };
                    let types =
                        match infer(module, &op, None).map_err(|p| problem(module, last, p))? {
                            Rule::Exact(types) => types,
                            _ => unreachable!("rescale has an exact typing rule"),
                        };
                    let (rid, rs) = module.insert_after(last, op.clone(), types.clone())?;
                    module.replace_all_uses(value, rs[0]);
                    module.replace_op(rid, op, types)?; // its own operand was rewritten too
                    rescales += 1;
                    last = rid;
                    value = rs[0];
                }
            }
            cursor = module.next_op(last);
        }
        cx.bump("rescale-insertion.rescales", rescales);
        Ok(Changed::from_bool(module.to_string() != before))
    }
}
