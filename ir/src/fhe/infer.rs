//! The typing rules of [`Op`] (documented on each variant), in one place: the verifier checks declared result
//! types against them and builders use them to compute result types.

use super::module::{Module, ValueId};
use super::op::{Op, MAX_BOOST};
use super::problem::Problem;
use super::types::{CtType, Layout, PtType, Type};
use super::units::{Level, LogScale, RotStep, SlotCount};
use std::collections::BTreeSet;

/// What a typing rule says about an op's results.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    /// The results have exactly these types (scales compared within tolerance).
    Exact(Vec<Type>),
    /// The results have these types except the layout, which the op declares freely.
    FreeLayout(Vec<Type>),
    /// The results are declared by the op (inputs, plaintexts); the declared types were checked.
    Declared,
}

fn operand(module: &Module, v: ValueId) -> Result<&Type, Problem> {
    module
        .value_type(v)
        .ok_or(Problem::UndefinedValue { value: v })
}

fn ct(module: &Module, v: ValueId) -> Result<&CtType, Problem> {
    let ty = operand(module, v)?;
    ty.as_ct().ok_or(Problem::WrongKind {
        value: v,
        expected: "ct",
        found: ty.kind(),
    })
}

/// A relinearized (degree 1) ciphertext operand.
fn ct1(module: &Module, v: ValueId) -> Result<&CtType, Problem> {
    let t = ct(module, v)?;
    if t.degree != 1 {
        return Err(Problem::Degree {
            value: v,
            degree: t.degree,
            expected: 1,
        });
    }
    Ok(t)
}

fn same_level(a: ValueId, at: Level, b: ValueId, bt: Level) -> Result<(), Problem> {
    if at == bt {
        Ok(())
    } else {
        Err(Problem::LevelMismatch {
            lhs: a,
            lhs_level: at,
            rhs: b,
            rhs_level: bt,
        })
    }
}

fn same_scale(a: ValueId, at: LogScale, b: ValueId, bt: LogScale) -> Result<(), Problem> {
    if at.approx_eq(bt) {
        Ok(())
    } else {
        Err(Problem::ScaleMismatch {
            lhs: a,
            lhs_scale: at,
            rhs: b,
            rhs_scale: bt,
        })
    }
}

fn same_slots(a: ValueId, at: SlotCount, b: ValueId, bt: SlotCount) -> Result<(), Problem> {
    if at == bt {
        Ok(())
    } else {
        Err(Problem::SlotMismatch {
            lhs: a,
            lhs_slots: at,
            rhs: b,
            rhs_slots: bt,
        })
    }
}

fn agree(a: &Layout, b: &Layout) -> Layout {
    if a == b {
        a.clone()
    } else {
        Layout::Opaque
    }
}

fn finite(what: &'static str, x: f64) -> Result<(), Problem> {
    if x.is_finite() {
        Ok(())
    } else {
        Err(Problem::NonFinite { what, value: x })
    }
}

/// The rotation keys (normalized left rotations, zero excluded) that `op` needs, given the module's
/// declarations. Operands that are not ciphertexts yield no needs (the typing rule reports them).
pub fn needed_rotations(module: &Module, op: &Op) -> BTreeSet<RotStep> {
    let slots_of = |v: ValueId| module.value_type(v).and_then(Type::as_ct).map(|t| t.slots);
    let mut out = BTreeSet::new();
    let mut need = |step: i64, slots: SlotCount| {
        let n = i64::from(slots.0.max(1));
        let k = step.rem_euclid(n);
        if k != 0 {
            out.insert(RotStep(k as i32));
        }
    };
    match op {
        Op::Rotate { input, step } => {
            if let Some(n) = slots_of(*input) {
                need(i64::from(step.0), n);
            }
        }
        Op::RotateHoisted { input, steps } => {
            if let Some(n) = slots_of(*input) {
                for s in steps {
                    need(i64::from(s.0), n);
                }
            }
        }
        Op::LinearTransform {
            input,
            offsets,
            baby_step,
            ..
        } => {
            if let Some(n) = slots_of(*input) {
                let n1 = i64::from((*baby_step).max(1));
                for k in offsets {
                    let k = i64::from(k.0).rem_euclid(i64::from(n.0.max(1)));
                    let b = k % n1;
                    need(b, n);
                    need(k - b, n);
                }
            }
        }
        Op::KvAppend { cache, .. } => {
            if let Some(decl) = module.kv_caches.get(cache) {
                for j in 1..decl.tokens_per_chunk {
                    need(
                        -i64::from(j) * i64::from(decl.token_stride),
                        decl.chunk.slots,
                    );
                }
            }
        }
        _ => {}
    }
    out
}

/// Applies the typing rule of `op`. `declared` are the op's declared result types, needed by ops whose
/// results are declared ([`Op::Input`], [`Op::Plain`]); without them those ops yield
/// [`Problem::NeedsDeclaredType`].
pub fn infer(module: &Module, op: &Op, declared: Option<&[Type]>) -> Result<Rule, Problem> {
    let max_level = Level(module.params.max_level().unwrap_or(0));
    let rule = match op {
        Op::Input { .. } => {
            let declared = declared.ok_or(Problem::NeedsDeclaredType)?;
            match declared {
                [Type::Ct(t)] => {
                    if t.degree != 1 {
                        return Err(Problem::Invalid {
                            message: "an input has degree 1".into(),
                        });
                    }
                    if t.layout == Layout::Opaque {
                        return Err(Problem::OpaqueInterface);
                    }
                    Rule::Declared
                }
                _ => {
                    return Err(Problem::Invalid {
                        message: "an input has exactly one ct result".into(),
                    })
                }
            }
        }
        Op::Output { value, .. } => {
            let t = ct1(module, *value)?;
            if t.layout == Layout::Opaque {
                return Err(Problem::OpaqueInterface);
            }
            Rule::Exact(vec![])
        }
        Op::Const { value } => {
            finite("constant", *value)?;
            Rule::Exact(vec![Type::Scalar])
        }
        Op::Plain { weight } => {
            let declared = declared.ok_or(Problem::NeedsDeclaredType)?;
            let [Type::Pt(pt)] = declared else {
                return Err(Problem::Invalid {
                    message: "a plaintext has exactly one pt result".into(),
                });
            };
            let decl = module
                .weights
                .get(&weight.name)
                .ok_or_else(|| Problem::UnknownWeight {
                    name: weight.name.clone(),
                })?;
            if weight.index >= decl.rows {
                return Err(Problem::WeightRow {
                    name: weight.name.clone(),
                    index: weight.index,
                    rows: decl.rows,
                });
            }
            if decl.cols != pt.slots.0 {
                return Err(Problem::WeightWidth {
                    name: weight.name.clone(),
                    cols: decl.cols,
                    slots: pt.slots,
                });
            }
            Rule::Declared
        }
        Op::Add { lhs, rhs } | Op::Sub { lhs, rhs } => {
            let l = ct(module, *lhs)?;
            match operand(module, *rhs)? {
                Type::Ct(r) => {
                    same_level(*lhs, l.level, *rhs, r.level)?;
                    same_scale(*lhs, l.scale, *rhs, r.scale)?;
                    same_slots(*lhs, l.slots, *rhs, r.slots)?;
                    Rule::Exact(vec![Type::Ct(CtType {
                        layout: agree(&l.layout, &r.layout),
                        degree: l.degree.max(r.degree),
                        ..l.clone()
                    })])
                }
                Type::Pt(p) => {
                    same_level(*lhs, l.level, *rhs, p.level)?;
                    same_scale(*lhs, l.scale, *rhs, p.scale)?;
                    same_slots(*lhs, l.slots, *rhs, p.slots)?;
                    Rule::Exact(vec![Type::Ct(l.clone())])
                }
                Type::Scalar => Rule::Exact(vec![Type::Ct(l.clone())]),
            }
        }
        Op::MulPlain { ct: c, pt } => {
            let t = ct(module, *c)?;
            let pty = operand(module, *pt)?;
            let p: &PtType = pty.as_pt().ok_or(Problem::WrongKind {
                value: *pt,
                expected: "pt",
                found: pty.kind(),
            })?;
            same_level(*c, t.level, *pt, p.level)?;
            same_slots(*c, t.slots, *pt, p.slots)?;
            Rule::FreeLayout(vec![Type::Ct(CtType {
                scale: LogScale(t.scale.0 + p.scale.0),
                ..t.clone()
            })])
        }
        Op::MulConst {
            ct: c,
            constant,
            scale,
        } => {
            let t = ct(module, *c)?;
            let k = operand(module, *constant)?;
            if *k != Type::Scalar {
                return Err(Problem::WrongKind {
                    value: *constant,
                    expected: "scalar",
                    found: k.kind(),
                });
            }
            finite("constant scale", scale.0)?;
            Rule::Exact(vec![Type::Ct(CtType {
                scale: LogScale(t.scale.0 + scale.0),
                ..t.clone()
            })])
        }
        Op::MulCt { lhs, rhs } => {
            let l = ct1(module, *lhs)?;
            let r = ct1(module, *rhs)?;
            same_level(*lhs, l.level, *rhs, r.level)?;
            same_slots(*lhs, l.slots, *rhs, r.slots)?;
            Rule::Exact(vec![Type::Ct(CtType {
                scale: LogScale(l.scale.0 + r.scale.0),
                layout: agree(&l.layout, &r.layout),
                degree: 2,
                ..l.clone()
            })])
        }
        Op::Relinearize { input } => {
            let t = ct(module, *input)?;
            if t.degree != 2 {
                return Err(Problem::Degree {
                    value: *input,
                    degree: t.degree,
                    expected: 2,
                });
            }
            Rule::Exact(vec![Type::Ct(CtType {
                degree: 1,
                ..t.clone()
            })])
        }
        Op::Rescale { input } => {
            let t = ct(module, *input)?;
            if t.level.0 < 1 {
                return Err(Problem::LevelTooLow {
                    value: *input,
                    level: t.level,
                    needed: 1,
                });
            }
            let bits = module
                .params
                .rescale_bits(t.level.0)
                .ok_or(Problem::LevelTooHigh {
                    level: t.level,
                    max: max_level,
                })?;
            Rule::Exact(vec![Type::Ct(CtType {
                level: Level(t.level.0 - 1),
                scale: LogScale(t.scale.0 - f64::from(bits)),
                ..t.clone()
            })])
        }
        Op::LevelDrop { input, to } => {
            let t = ct(module, *input)?;
            if *to > t.level {
                return Err(Problem::LevelTooLow {
                    value: *input,
                    level: t.level,
                    needed: to.0,
                });
            }
            Rule::Exact(vec![Type::Ct(CtType {
                level: *to,
                ..t.clone()
            })])
        }
        Op::Rotate { input, .. } | Op::RotateHoisted { input, .. } => {
            let t = ct1(module, *input)?;
            let n = match op {
                Op::RotateHoisted { steps, .. } => {
                    if steps.is_empty() {
                        return Err(Problem::Invalid {
                            message: "a hoisted rotation has at least one step".into(),
                        });
                    }
                    steps.len()
                }
                _ => 1,
            };
            check_rotation_keys(module, op)?;
            Rule::FreeLayout(vec![Type::Ct(t.clone()); n])
        }
        Op::Conjugate { input } => {
            let t = ct1(module, *input)?;
            if !module.keys.conjugate {
                return Err(Problem::MissingConjugationKey);
            }
            Rule::FreeLayout(vec![Type::Ct(t.clone())])
        }
        Op::LinearTransform {
            input,
            diagonals,
            offsets,
            baby_step,
            scale,
        } => {
            let t = ct1(module, *input)?;
            let decl = module
                .weights
                .get(diagonals)
                .ok_or_else(|| Problem::UnknownWeight {
                    name: diagonals.clone(),
                })?;
            if decl.rows as usize != offsets.len() {
                return Err(Problem::Invalid {
                    message: format!(
                        "weight \"{diagonals}\" has {} rows for {} offsets",
                        decl.rows,
                        offsets.len()
                    ),
                });
            }
            if decl.cols != t.slots.0 {
                return Err(Problem::WeightWidth {
                    name: diagonals.clone(),
                    cols: decl.cols,
                    slots: t.slots,
                });
            }
            if *baby_step == 0 {
                return Err(Problem::Invalid {
                    message: "baby step is at least 1".into(),
                });
            }
            let distinct: BTreeSet<u32> = offsets.iter().map(|o| o.normalized(t.slots)).collect();
            if distinct.len() != offsets.len() {
                return Err(Problem::Invalid {
                    message: "diagonal offsets are not distinct modulo the slot count".into(),
                });
            }
            finite("diagonal scale", scale.0)?;
            check_rotation_keys(module, op)?;
            Rule::FreeLayout(vec![Type::Ct(CtType {
                scale: LogScale(t.scale.0 + scale.0),
                ..t.clone()
            })])
        }
        Op::PolyEval {
            input,
            coeffs,
            interval,
        } => {
            let t = ct1(module, *input)?;
            if coeffs.is_empty() {
                return Err(Problem::Invalid {
                    message: "a polynomial has at least one coefficient".into(),
                });
            }
            for &c in coeffs {
                finite("coefficient", c)?;
            }
            finite("interval bound", interval.0)?;
            finite("interval bound", interval.1)?;
            if interval.0 >= interval.1 {
                return Err(Problem::Invalid {
                    message: format!("empty interval [{}, {}]", interval.0, interval.1),
                });
            }
            let depth = Op::poly_depth(coeffs.len(), *interval);
            if t.level.0 < depth {
                return Err(Problem::LevelTooLow {
                    value: *input,
                    level: t.level,
                    needed: depth,
                });
            }
            Rule::Exact(vec![Type::Ct(CtType {
                level: Level(t.level.0 - depth),
                ..t.clone()
            })])
        }
        Op::Bootstrap {
            input,
            target,
            boost,
        } => {
            let t = ct1(module, *input)?;
            if !module.keys.bootstrap {
                return Err(Problem::MissingBootstrapKey);
            }
            if *boost > MAX_BOOST {
                return Err(Problem::BoostTooLarge { boost: *boost });
            }
            if *target > max_level {
                return Err(Problem::LevelTooHigh {
                    level: *target,
                    max: max_level,
                });
            }
            Rule::Exact(vec![Type::Ct(CtType {
                level: *target,
                scale: LogScale(f64::from(module.params.log_default_scale)),
                ..t.clone()
            })])
        }
        Op::KvRead { cache, chunk } => {
            let decl = module
                .kv_caches
                .get(cache)
                .ok_or_else(|| Problem::UnknownKvCache {
                    name: cache.clone(),
                })?;
            if *chunk >= decl.chunks {
                return Err(Problem::Invalid {
                    message: format!(
                        "chunk {chunk} of KV cache \"{cache}\" with {} chunks",
                        decl.chunks
                    ),
                });
            }
            Rule::Exact(vec![Type::Ct(decl.chunk.clone())])
        }
        Op::KvAppend { cache, value } => {
            let decl = module
                .kv_caches
                .get(cache)
                .ok_or_else(|| Problem::UnknownKvCache {
                    name: cache.clone(),
                })?;
            let t = ct1(module, *value)?;
            let want = &decl.chunk;
            if t.level != want.level
                || !t.scale.approx_eq(want.scale)
                || t.slots != want.slots
                || t.layout != want.layout
            {
                return Err(Problem::KvType {
                    name: cache.clone(),
                    value: *value,
                });
            }
            check_rotation_keys(module, op)?;
            Rule::Exact(vec![])
        }
    };
    Ok(rule)
}

fn check_rotation_keys(module: &Module, op: &Op) -> Result<(), Problem> {
    match needed_rotations(module, op)
        .into_iter()
        .find(|s| !module.keys.rotations.contains(s))
    {
        Some(step) => Err(Problem::MissingRotationKey { step }),
        None => Ok(()),
    }
}
