//! `common-subexpression-elimination`: one op per distinct computation.

use crate::error::PassError;
use crate::pass::{Changed, Pass, PassCx};
use cachemir_ir::fhe::print::{op_to_string, type_to_string};
use cachemir_ir::fhe::{Module, Op, ValueId};
use std::collections::HashMap;

/// Replaces every op that repeats an earlier op (same kind, operands, attributes and result types) by the
/// earlier op's results, so a value several consumers derive the same way (the replication of a normalized
/// vector before each of its projections) is computed, and later refreshed, once. Ops with an effect and
/// `kv_read` (whose value depends on the appends before it) are never merged. One forward sweep: operands
/// are canonical before their users are compared. The merged duplicates are left for
/// `dead-code-elimination`. No options.
#[derive(Debug, Clone, Copy, Default)]
pub struct CommonSubexpressionElimination;

impl Pass for CommonSubexpressionElimination {
    fn name(&self) -> &'static str {
        "common-subexpression-elimination"
    }

    fn run(&self, module: &mut Module, cx: &mut PassCx) -> Result<Changed, PassError> {
        let mut seen: HashMap<String, Vec<ValueId>> = HashMap::new();
        let mut merged = 0u64;
        let ids: Vec<_> = module.op_ids().collect();
        for id in ids {
            let data = module.op(id);
            if data.op.has_effect() || matches!(data.op, Op::KvRead { .. }) {
                continue;
            }
            let types: Vec<String> = data
                .results
                .iter()
                .map(|&r| module.value_type(r).map(type_to_string).unwrap_or_default())
                .collect();
            let key = format!("{} : {}", op_to_string(&data.op), types.join(", "));
            let results = data.results.clone();
            match seen.get(&key) {
                Some(first) => {
                    for (&dup, &orig) in results.iter().zip(first) {
                        module.replace_all_uses(dup, orig);
                    }
                    merged += 1;
                }
                None => {
                    seen.insert(key, results);
                }
            }
        }
        cx.bump("common-subexpression-elimination.merged", merged);
        Ok(Changed::from_bool(merged > 0))
    }
}
