//! Printer of the FHE IR text form (grammar in `docs/design/fhe-ir.md`). Values print as their arena ids,
//! so a module from the parser prints back to the same text.

use super::module::{KvCacheDecl, Module, ValueId};
use super::op::Op;
use super::types::{CtType, Layout, Type};
use crate::text::{fmt_f64, quote};
use std::fmt::Write;

/// The text of a layout: `opaque`, `strided(len=8, stride=1)`, `replicated(len=4)`.
pub fn layout_to_string(layout: &Layout) -> String {
    match layout {
        Layout::Opaque => "opaque".into(),
        Layout::Strided { len, stride } => format!("strided(len={len}, stride={stride})"),
        Layout::Replicated { len } => format!("replicated(len={len})"),
    }
}

fn ct_to_string(t: &CtType) -> String {
    let degree = if t.degree == 1 {
        String::new()
    } else {
        format!(", degree={}", t.degree)
    };
    format!(
        "ct<level={}, scale={}, slots={}, layout={}{degree}>",
        t.level.0,
        fmt_f64(t.scale.0),
        t.slots.0,
        layout_to_string(&t.layout)
    )
}

/// The text of a type: `ct<level=…, scale=…, slots=…, layout=…[, degree=2]>`, `pt<level=…, scale=…, slots=…>`
/// or `scalar`.
pub fn type_to_string(ty: &Type) -> String {
    match ty {
        Type::Ct(t) => ct_to_string(t),
        Type::Pt(p) => format!(
            "pt<level={}, scale={}, slots={}>",
            p.level.0,
            fmt_f64(p.scale.0),
            p.slots.0
        ),
        Type::Scalar => "scalar".into(),
    }
}

fn v(id: ValueId) -> String {
    format!("%{}", id.index())
}

fn f64_list(xs: &[f64]) -> String {
    let items: Vec<String> = xs.iter().map(|&x| fmt_f64(x)).collect();
    format!("[{}]", items.join(", "))
}

/// The op part of a statement (mnemonic and arguments, without results and types).
pub fn op_to_string(op: &Op) -> String {
    let m = op.mnemonic();
    match op {
        Op::Input { name } => format!("{m} {}", quote(name)),
        Op::Output { name, value } => format!("{m} {}, {}", quote(name), v(*value)),
        Op::Const { value } => format!("{m} {}", fmt_f64(*value)),
        Op::Plain { weight } => format!("{m} {}[{}]", quote(&weight.name), weight.index),
        Op::Add { lhs, rhs } | Op::Sub { lhs, rhs } | Op::MulCt { lhs, rhs } => {
            format!("{m} {}, {}", v(*lhs), v(*rhs))
        }
        Op::MulPlain { ct, pt } => format!("{m} {}, {}", v(*ct), v(*pt)),
        Op::MulConst {
            ct,
            constant,
            scale,
        } => format!(
            "{m} {}, {}, scale={}",
            v(*ct),
            v(*constant),
            fmt_f64(scale.0)
        ),
        Op::Relinearize { input } | Op::Rescale { input } | Op::Conjugate { input } => {
            format!("{m} {}", v(*input))
        }
        Op::LevelDrop { input, to } => format!("{m} {}, to={}", v(*input), to.0),
        Op::Rotate { input, step } => format!("{m} {}, step={}", v(*input), step.0),
        Op::RotateHoisted { input, steps } => {
            let s: Vec<String> = steps.iter().map(|s| s.0.to_string()).collect();
            format!("{m} {}, steps=[{}]", v(*input), s.join(", "))
        }
        Op::LinearTransform {
            input,
            diagonals,
            offsets,
            baby_step,
            scale,
        } => {
            let o: Vec<String> = offsets.iter().map(|s| s.0.to_string()).collect();
            format!(
                "{m} {}, diagonals={}, offsets=[{}], baby_step={baby_step}, scale={}",
                v(*input),
                quote(diagonals),
                o.join(", "),
                fmt_f64(scale.0)
            )
        }
        Op::PolyEval {
            input,
            coeffs,
            interval,
        } => format!(
            "{m} {}, coeffs={}, interval=({}, {})",
            v(*input),
            f64_list(coeffs),
            fmt_f64(interval.0),
            fmt_f64(interval.1)
        ),
        Op::Bootstrap {
            input,
            target,
            boost: 0,
        } => format!("{m} {}, target={}", v(*input), target.0),
        Op::Bootstrap {
            input,
            target,
            boost,
        } => format!("{m} {}, target={}, boost={boost}", v(*input), target.0),
        Op::KvRead { cache, chunk } => format!("{m} {}, chunk={chunk}", quote(cache)),
        Op::KvAppend { cache, value } => format!("{m} {}, {}", quote(cache), v(*value)),
    }
}

fn kv_to_string(name: &str, kv: &KvCacheDecl) -> String {
    format!(
        "kv {} {{ chunks={}, tokens_per_chunk={}, token_stride={}, chunk={} }}",
        quote(name),
        kv.chunks,
        kv.tokens_per_chunk,
        kv.token_stride,
        ct_to_string(&kv.chunk)
    )
}

/// The whole module as text: declarations, then one statement per op.
pub fn module_to_string(module: &Module) -> String {
    let mut out = String::new();
    let p = &module.params;
    let list = |xs: &[u32]| xs.iter().map(u32::to_string).collect::<Vec<_>>().join(", ");
    let secret = match p.secret {
        crate::params::SecretDistribution::Dense => "dense".to_string(),
        crate::params::SecretDistribution::FixedHamming(h) => format!("fixed_hamming({h})"),
    };
    let _ = writeln!(
        out,
        "params {{ log_n={}, log_q=[{}], log_p=[{}], log_default_scale={}, secret={secret} }}",
        p.log_n,
        list(&p.log_q),
        list(&p.log_p),
        p.log_default_scale
    );
    let steps: Vec<String> = module
        .keys
        .rotations
        .iter()
        .map(|s| s.0.to_string())
        .collect();
    let _ = writeln!(
        out,
        "keys {{ rotations=[{}], conjugate={}, bootstrap={} }}",
        steps.join(", "),
        module.keys.conjugate,
        module.keys.bootstrap
    );
    for (name, w) in &module.weights {
        let _ = writeln!(
            out,
            "weight {} {{ rows={}, cols={} }}",
            quote(name),
            w.rows,
            w.cols
        );
    }
    for (name, kv) in &module.kv_caches {
        let _ = writeln!(out, "{}", kv_to_string(name, kv));
    }
    for id in module.op_ids() {
        let data = module.op(id);
        if !data.results.is_empty() {
            let rs: Vec<String> = data.results.iter().map(|&r| v(r)).collect();
            let _ = write!(out, "{} = ", rs.join(", "));
        }
        out.push_str(&op_to_string(&data.op));
        if !data.results.is_empty() {
            let ts: Vec<String> = data
                .results
                .iter()
                .map(|&r| {
                    module
                        .value_type(r)
                        .map_or_else(|| "?".into(), type_to_string)
                })
                .collect();
            let _ = write!(out, " : {}", ts.join(", "));
        }
        out.push('\n');
    }
    out
}

impl std::fmt::Display for Module {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&module_to_string(self))
    }
}
