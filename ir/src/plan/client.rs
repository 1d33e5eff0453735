//! The client's side of a plan, in clear: what to encrypt at each step and how to read the logits.
//! The compiler's lowering writes plans that follow this rule; the runtime's client and the
//! compiler's tests read them with it.
//!
//! Rule (also in `docs/design/packing.md`): input `x` is row `token` of the plan table `client.embedding`;
//! every other input `N` is row `position` of the table `client.N` (position = tokens fed before this
//! step). Each row is the logical vector the input's layout encodes. Outputs `logits.0`, `logits.1`, …
//! are decoded with their layouts and concatenated in index order.

use crate::error::{IrError, Result};
use crate::fhe::interp::{Interpreter, KvState};
use crate::fhe::{Module, Op};
use crate::weights::Weights;
use std::collections::BTreeMap;

/// Name of the embedding table in a plan.
pub const EMBEDDING: &str = "client.embedding";

/// The logical input vectors of the step feeding `token` at `position`.
pub fn step_inputs(
    module: &Module,
    weights: &Weights,
    token: u32,
    position: usize,
) -> Result<BTreeMap<String, Vec<f64>>> {
    let mut out = BTreeMap::new();
    for id in module.op_ids() {
        let Op::Input { name } = &module.op(id).op else {
            continue;
        };
        let (table, row) = if name == "x" {
            (EMBEDDING.to_string(), token)
        } else {
            (format!("client.{name}"), position as u32)
        };
        let err = |message: String| IrError::ClientRule {
            input: name.clone(),
            message,
        };
        let w = weights
            .get(&table)
            .ok_or_else(|| err(format!("the plan has no table {table:?}")))?;
        let v = w.row(row).ok_or_else(|| {
            err(format!(
                "row {row} is outside table {table:?} ({} rows; token out of vocabulary \
                 or context longer than the KV cache)",
                w.rows
            ))
        })?;
        out.insert(name.clone(), v);
    }
    Ok(out)
}

/// The logits: outputs `logits.<b>` concatenated in block order.
pub fn logits(outputs: &BTreeMap<String, Vec<f64>>) -> Vec<f64> {
    let mut blocks: Vec<(u32, &Vec<f64>)> = outputs
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("logits.")?.parse().ok()?, v)))
        .collect();
    blocks.sort_by_key(|(b, _)| *b);
    blocks
        .into_iter()
        .flat_map(|(_, v)| v.iter().copied())
        .collect()
}

/// Index of the largest logit (first on ties; NaN never wins): the greedy choice.
pub fn argmax(row: &[f64]) -> u32 {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] || row[best].is_nan() {
            best = i;
        }
    }
    best as u32
}

/// Greedy generation in clear, by the FHE IR interpreter: feeds `prompt` then each of the `new`
/// generated tokens (one step each, the KV cache carried), returning `(generated ids, logits rows)`.
/// This is the oracle that encrypted runs of the same program are checked against.
pub fn generate_in_clear(
    module: &Module,
    weights: &Weights,
    prompt: &[u32],
    new: usize,
) -> Result<(Vec<u32>, Vec<Vec<f64>>)> {
    let interp = Interpreter::new(module, weights)?;
    let mut state = KvState::default();
    let (mut generated, mut rows) = (Vec::new(), Vec::new());
    let mut next = 0;
    for position in 0..prompt.len() + new {
        let token = match prompt.get(position) {
            Some(&t) => t,
            None => {
                generated.push(next);
                next
            }
        };
        let row = logits(&interp.run(&step_inputs(module, weights, token, position)?, &mut state)?);
        next = argmax(&row);
        rows.push(row);
    }
    Ok((generated, rows))
}
