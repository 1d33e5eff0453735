//! `dead-code-elimination`: removes ops whose results are never used and that have no effect.

use crate::error::PassError;
use crate::pass::{Changed, Pass, PassCx};
use cachemir_ir::fhe::Module;

/// Removes every op that has no effect (inputs, outputs and KV appends have one) and whose results are all
/// unused, including ops that become unused as their users are removed. One backward sweep: uses follow
/// definitions, so every user of an op is visited before the op. No options.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeadCodeElimination;

impl Pass for DeadCodeElimination {
    fn name(&self) -> &'static str {
        "dead-code-elimination"
    }

    fn run(&self, module: &mut Module, cx: &mut PassCx) -> Result<Changed, PassError> {
        let mut uses = module.use_counts();
        let mut removed = 0u64;
        let mut cursor = module.last_op();
        while let Some(id) = cursor {
            cursor = module.prev_op(id);
            let data = module.op(id);
            let dead = !data.op.has_effect()
                && data
                    .results
                    .iter()
                    .all(|&r| uses.get(r).copied().unwrap_or(0) == 0);
            if !dead {
                continue;
            }
            for v in data.op.operands() {
                if let Some(n) = uses.get(v).copied() {
                    uses.insert(v, n.saturating_sub(1));
                }
            }
            module.remove_op(id)?;
            removed += 1;
        }
        cx.bump("dead-code-elimination.removed", removed);
        Ok(Changed::from_bool(removed > 0))
    }
}
