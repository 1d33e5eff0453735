//! The client's side of a lowered plan, in clear: what to encrypt at each step and how to read the logits.
//!
//! Rule (also in `docs/design/packing.md`): input `x` is row `token` of the plan table `client.embedding`;
//! every other input `N` is row `position` of the table `client.N` (position = tokens fed before this
//! step). Each row is the logical vector the input's layout encodes. Outputs `logits.0`, `logits.1`, …
//! are decoded with their layouts and concatenated in index order.

use crate::error::{CompileError, Result};
use cachemir_ir::fhe::{Module, Op};
use cachemir_ir::weights::Weights;
use std::collections::BTreeMap;

/// Name of the embedding table in a plan.
pub const EMBEDDING: &str = "client.embedding";

fn err(reason: String) -> CompileError {
    CompileError::Execute { reason }
}

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
        let w = weights
            .get(&table)
            .ok_or_else(|| err(format!("input {name:?}: the plan has no table {table:?}")))?;
        let v = w.row(row).ok_or_else(|| {
            err(format!(
                "input {name:?}: row {row} is outside table {table:?} ({} rows; token out of vocabulary \
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
