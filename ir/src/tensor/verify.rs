//! The tensor-IR verifier: operand counts and lengths, weights (present, shaped, filled),
//! definition before use, exactly one input, at least one output.

use super::module::Module;
use super::op::Op;
use super::weight::WeightTable;
use crate::error::{IrError, Result};

/// The result length of `op` applied to operands of lengths `args` (`None` for no result), or
/// why the operands do not fit the op's typing rule.
pub fn result_len(
    op: &Op,
    args: &[usize],
    weights: &WeightTable,
) -> std::result::Result<Option<usize>, String> {
    if args.len() != op.arity() {
        return Err(format!("takes {} operands, got {}", op.arity(), args.len()));
    }
    let shape = |name: &str| -> std::result::Result<&[usize], String> {
        weights
            .get(name)
            .map(|w| w.shape.as_slice())
            .ok_or_else(|| format!("weight {name:?} is not declared"))
    };
    let same = |n: usize| -> std::result::Result<Option<usize>, String> {
        if args.iter().all(|&a| a == n) {
            Ok(Some(n))
        } else {
            Err(format!("operands of lengths {args:?}, expected all {n}"))
        }
    };
    match op {
        Op::Input { embedding } => match shape(embedding)? {
            &[_, hidden] => Ok(Some(hidden)),
            s => Err(format!(
                "embedding {embedding:?} has shape {s:?}, expected [vocab, hidden]"
            )),
        },
        Op::MatVec { weight } => match shape(weight)? {
            &[i, o] if i == args[0] => Ok(Some(o)),
            s => Err(format!(
                "weight {weight:?} of shape {s:?} applied to vec<{}>",
                args[0]
            )),
        },
        Op::RmsNorm { gain, eps } => {
            if !(eps.is_finite() && *eps >= 0.0) {
                return Err(format!("eps {eps} must be finite and non-negative"));
            }
            match shape(gain)? {
                &[n] if n == args[0] => Ok(Some(n)),
                s => Err(format!("gain {gain:?} of shape {s:?} for vec<{}>", args[0])),
            }
        }
        Op::Rope {
            heads,
            head_dim,
            inv_freq,
        } => {
            if *head_dim == 0 || head_dim % 2 != 0 || inv_freq.len() * 2 != *head_dim {
                return Err(format!("head_dim {head_dim} with {} inverse frequencies (need head_dim/2, head_dim even)", inv_freq.len()));
            }
            same(heads * head_dim)
        }
        Op::Attention {
            q_heads,
            kv_heads,
            head_dim,
            scale,
            ..
        } => {
            if *kv_heads == 0 || *head_dim == 0 || q_heads % kv_heads != 0 {
                return Err(format!(
                    "q_heads {q_heads} is not a multiple of kv_heads {kv_heads} (or a size is 0)"
                ));
            }
            if !scale.is_finite() {
                return Err(format!("scale {scale} is not finite"));
            }
            let (q, kv) = (q_heads * head_dim, kv_heads * head_dim);
            if args != [q, kv, kv] {
                return Err(format!(
                    "operands of lengths {args:?}, expected [{q}, {kv}, {kv}]"
                ));
            }
            Ok(Some(q))
        }
        Op::Silu | Op::Softmax | Op::Mul | Op::Add => same(args[0]),
        Op::LmHead { weight } => match shape(weight)? {
            &[vocab, h] if h == args[0] => Ok(Some(vocab)),
            s => Err(format!(
                "table {weight:?} of shape {s:?} applied to vec<{}>",
                args[0]
            )),
        },
        Op::Output => Ok(None),
    }
}

/// Checks `module`. With `require_data`, every weight must also hold its numbers.
pub fn verify(module: &Module, require_data: bool) -> Result<()> {
    for (name, w) in &module.weights {
        let err = |message: String| IrError::TensorVerify {
            at: format!("weight {name:?}"),
            message,
        };
        if w.shape.is_empty() || w.shape.contains(&0) {
            return Err(err(format!("shape {:?} is empty", w.shape)));
        }
        match &w.data {
            Some(d) if d.len() != w.numel() => {
                return Err(err(format!("{} numbers for shape {:?}", d.len(), w.shape)))
            }
            None if require_data => return Err(err("has no data".into())),
            _ => {}
        }
    }
    let mut defined = vec![false; module.values.len()];
    let (mut inputs, mut outputs) = (0, 0);
    for (id, node) in module.nodes.iter() {
        let at = match node.result {
            Some(r) => format!("%{} ({})", r.index(), node.op.keyword()),
            None => format!("node {} ({})", id.index(), node.op.keyword()),
        };
        let err = |message: String| IrError::TensorVerify {
            at: at.clone(),
            message,
        };
        let mut lens = Vec::with_capacity(node.args.len());
        for a in &node.args {
            if !defined.get(a.index()).copied().unwrap_or(false) {
                return Err(err(format!(
                    "operand %{} is used before it is defined",
                    a.index()
                )));
            }
            lens.push(module.values[*a].len);
        }
        let len = result_len(&node.op, &lens, &module.weights).map_err(err)?;
        match (len, node.result) {
            (None, None) => {}
            (Some(n), Some(r)) => {
                let v = module
                    .values
                    .get(r)
                    .ok_or_else(|| err("result is not in the value arena".into()))?;
                if v.len != n {
                    return Err(err(format!(
                        "result declared vec<{}>, the op gives vec<{n}>",
                        v.len
                    )));
                }
                if std::mem::replace(&mut defined[r.index()], true) {
                    return Err(err("value defined twice".into()));
                }
            }
            _ => return Err(err("result presence does not match the op".into())),
        }
        match node.op {
            Op::Input { .. } => inputs += 1,
            Op::Output => outputs += 1,
            _ => {}
        }
    }
    if inputs != 1 || outputs == 0 {
        return Err(IrError::TensorVerify {
            at: "module".into(),
            message: format!("{inputs} input ops and {outputs} output ops (need exactly 1 input and at least 1 output)"),
        });
    }
    // KV caches: one attention per layer index.
    let mut layers: Vec<usize> = module
        .nodes
        .iter()
        .filter_map(|(_, n)| {
            if let Op::Attention { layer, .. } = n.op {
                Some(layer)
            } else {
                None
            }
        })
        .collect();
    let count = layers.len();
    layers.sort_unstable();
    layers.dedup();
    if layers.len() != count {
        return Err(IrError::TensorVerify {
            at: "module".into(),
            message: "two attention ops share a layer (KV cache) index".into(),
        });
    }
    Ok(())
}
