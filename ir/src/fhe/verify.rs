//! The verifier: checks declarations, operand definitions, result counts and every op's typing rule.
//! Errors name the op (`%12 (add)`) and the values involved.

use super::infer::{infer, Rule};
use super::module::{Module, OpId, ValueId};
use super::op::Op;
use super::print::type_to_string;
use super::problem::Problem;
use super::types::{CtType, Type};
use super::units::{Level, SlotCount};
use crate::error::{IrError, Result};
use std::collections::BTreeSet;

/// How an op is named in errors: `%n (kind)` by its first result, or `kind "name"` for outputs and appends.
pub fn op_label(module: &Module, id: OpId) -> String {
    let data = module.op(id);
    match (&data.op, data.results.first()) {
        (_, Some(r)) => format!("%{} ({})", r.index(), data.op.mnemonic()),
        (Op::Output { name, .. }, None) => format!("output \"{name}\""),
        (Op::KvAppend { cache, .. }, None) => format!("kv_append \"{cache}\""),
        (op, None) => format!("#{} ({})", id.index(), op.mnemonic()),
    }
}

fn decl_error(what: String, problem: Problem) -> IrError {
    IrError::Verify { op: what, problem }
}

fn check_ct_type(module: &Module, value: ValueId, t: &CtType) -> Result<(), Problem> {
    check_slots(module, value, t.slots)?;
    let max = module.params.max_level().unwrap_or(0);
    if t.level.0 > max {
        return Err(Problem::LevelTooHigh {
            level: t.level,
            max: Level(max),
        });
    }
    if !t.scale.0.is_finite() {
        return Err(Problem::NonFinite {
            what: "scale",
            value: t.scale.0,
        });
    }
    if !(1..=2).contains(&t.degree) {
        return Err(Problem::Invalid {
            message: format!("ciphertext degree {} (1 or 2)", t.degree),
        });
    }
    t.layout
        .check_fits(t.slots)
        .map_err(|error| Problem::Layout { value, error })
}

fn check_slots(module: &Module, value: ValueId, slots: SlotCount) -> Result<(), Problem> {
    let max = module.params.max_slots();
    if !slots.0.is_power_of_two() || u64::from(slots.0) > max {
        return Err(Problem::Slots { value, slots, max });
    }
    Ok(())
}

fn check_type(module: &Module, value: ValueId, ty: &Type) -> Result<(), Problem> {
    match ty {
        Type::Ct(t) => check_ct_type(module, value, t),
        Type::Pt(p) => {
            check_slots(module, value, p.slots)?;
            let max = module.params.max_level().unwrap_or(0);
            if p.level.0 > max {
                return Err(Problem::LevelTooHigh {
                    level: p.level,
                    max: Level(max),
                });
            }
            if !p.scale.0.is_finite() {
                return Err(Problem::NonFinite {
                    what: "scale",
                    value: p.scale.0,
                });
            }
            Ok(())
        }
        Type::Scalar => Ok(()),
    }
}

fn same_ignoring(declared: &Type, expected: &Type, ignore_layout: bool) -> bool {
    match (declared, expected) {
        (Type::Ct(d), Type::Ct(e)) => {
            d.level == e.level
                && d.scale.approx_eq(e.scale)
                && d.slots == e.slots
                && d.degree == e.degree
                && (ignore_layout || d.layout == e.layout)
        }
        (Type::Pt(d), Type::Pt(e)) => {
            d.level == e.level && d.scale.approx_eq(e.scale) && d.slots == e.slots
        }
        (Type::Scalar, Type::Scalar) => true,
        _ => false,
    }
}

fn check_declarations(module: &Module) -> Result<()> {
    let p = &module.params;
    if p.log_q.is_empty() || !(1..=20).contains(&p.log_n) {
        return Err(decl_error(
            "params".into(),
            Problem::Invalid {
                message: format!(
                    "log_n = {} (1..=20) with {} moduli (at least 1)",
                    p.log_n,
                    p.log_q.len()
                ),
            },
        ));
    }
    let dummy = ValueId::from_index(u32::MAX);
    for (name, kv) in &module.kv_caches {
        let what = format!("kv \"{name}\"");
        check_ct_type(module, dummy, &kv.chunk).map_err(|e| decl_error(what.clone(), e))?;
        let span = u64::from(kv.tokens_per_chunk.saturating_sub(1)) * u64::from(kv.token_stride);
        if kv.chunks == 0
            || kv.tokens_per_chunk == 0
            || kv.chunk.degree != 1
            || span >= u64::from(kv.chunk.slots.0)
        {
            return Err(decl_error(
                what,
                Problem::Invalid {
                    message: "needs chunks ≥ 1, tokens_per_chunk ≥ 1, token_stride ≥ 1, degree 1 and (tokens − 1)·stride < slots".into(),
                },
            ));
        }
    }
    Ok(())
}

/// Verifies `module`; the first problem found is returned, naming its op.
pub fn verify(module: &Module) -> Result<()> {
    check_declarations(module)?;
    let mut defined = vec![false; module.num_values()];
    let mut inputs = BTreeSet::new();
    let mut outputs = BTreeSet::new();
    let mut appends = BTreeSet::new();
    for id in module.op_ids() {
        let fail = |problem: Problem| IrError::Verify {
            op: op_label(module, id),
            problem,
        };
        let data = module.op(id);
        let mut operand_problem = None;
        data.op.visit_operands(|&v| {
            if operand_problem.is_some() {
                return;
            }
            operand_problem = match module.value(v) {
                None => Some(Problem::UndefinedValue { value: v }),
                Some(_) if defined[v.index()] => None,
                Some(val) if !module.is_live(val.def) => Some(Problem::UseOfRemoved { value: v }),
                Some(_) => Some(Problem::UseBeforeDef { value: v }),
            };
        });
        if let Some(p) = operand_problem {
            return Err(fail(p));
        }
        let expected_count = data.op.num_results();
        if data.results.len() != expected_count {
            return Err(fail(Problem::ResultCount {
                expected: expected_count,
                found: data.results.len(),
            }));
        }
        let declared: Vec<Type> = data
            .results
            .iter()
            .map(|&r| module.value_type(r).cloned().unwrap_or(Type::Scalar))
            .collect();
        for (&r, ty) in data.results.iter().zip(&declared) {
            check_type(module, r, ty).map_err(fail)?;
        }
        match infer(module, &data.op, Some(&declared)).map_err(fail)? {
            Rule::Declared => {}
            Rule::Exact(expected) | Rule::FreeLayout(expected)
                if expected.len() != declared.len() =>
            {
                return Err(fail(Problem::ResultCount {
                    expected: expected.len(),
                    found: declared.len(),
                }));
            }
            rule @ (Rule::Exact(_) | Rule::FreeLayout(_)) => {
                let (expected, free) = match rule {
                    Rule::Exact(e) => (e, false),
                    Rule::FreeLayout(e) => (e, true),
                    Rule::Declared => unreachable!("matched above"),
                };
                for ((&r, d), e) in data.results.iter().zip(&declared).zip(&expected) {
                    if !same_ignoring(d, e, free) {
                        return Err(fail(Problem::ResultType {
                            value: r,
                            declared: type_to_string(d),
                            expected: type_to_string(e),
                        }));
                    }
                }
            }
        }
        let duplicate = match &data.op {
            Op::Input { name } => (!inputs.insert(name.clone())).then_some(("input", name)),
            Op::Output { name, .. } => (!outputs.insert(name.clone())).then_some(("output", name)),
            Op::KvAppend { cache, .. } => {
                (!appends.insert(cache.clone())).then_some(("KV append to", cache))
            }
            _ => None,
        };
        if let Some((kind, name)) = duplicate {
            return Err(fail(Problem::Duplicate {
                kind,
                name: name.clone(),
            }));
        }
        for &r in &data.results {
            defined[r.index()] = true;
        }
    }
    Ok(())
}

impl Module {
    /// Runs the verifier (see [`verify`]).
    pub fn verify(&self) -> Result<()> {
        verify(self)
    }
}
