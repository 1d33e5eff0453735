//! `bootstrap-placement`: inserts `bootstrap` where the level budget would run out, choosing for each
//! refresh the value whose refresh serves the most later ops (greedy, with a bounded lookahead).

use super::level_flow::{LevelFlow, Levels, Refreshes};
use crate::error::PassError;
use crate::pass::{Changed, Pass, PassCx};
use crate::scale::RescaleInsertion;
use cachemir_ir::fhe::{CtType, Level, LogScale, Module, Op, Type, ValueId};
use std::collections::{BTreeMap, HashSet};

/// Steps simulated past the op that needs a refresh when candidates are compared.
const LOOKAHEAD: usize = 400;

/// Most ancestors considered for one refresh.
const MAX_CANDIDATES: usize = 48;

/// Makes the program's level budget suffice by inserting `bootstrap` ops, then runs `rescale-insertion`
/// so every type is exact (the output verifies).
///
/// Expects a program whose types may be stale (as a lowering emits it). It predicts the level every
/// ciphertext will have after `rescale-insertion` (waterline policy, moduli near the default scale):
/// inputs at their declared level, `kv_read` at the cache level, `bootstrap` at its target; `mul_plain`,
/// `mul_ct`, `linear_transform` and `mul_const` at a non-zero scale consume one level; `poly_eval`
/// consumes `Op::poly_depth` levels; explicit `rescale` one; `level_drop` sets it; everything else takes the
/// lowest operand level. When an op needs more levels than an operand has (one for a product, the depth
/// for a polynomial, the cache level for `kv_append`), one value is refreshed to `target`: the operand
/// itself, or an ancestor of it used more than once (within `target` levels of it), whichever makes the
/// lazy rule (refresh each operand where it runs out) spend the fewest bootstraps over the next
/// `LOOKAHEAD` ops; ties go to the operand (the refresh closest to its use). The refreshed value replaces
/// the original for every later use (a value is refreshed at most once): an ancestor's refresh thereby
/// serves all of its consumers, such as a vector replicated once for several projections, or a squared
/// softmax weight that feeds both its sum and its product with the sum's inverse. Sets the bootstrapping
/// key. Greedy, not optimal (the ILP placement of the design is a later pass).
///
/// Option: `target`, the level after bootstrapping (default: the top level of the chain).
#[derive(Debug, Clone, Copy, Default)]
pub struct BootstrapPlacement {
    /// Level after bootstrapping; `None` = the chain's top level.
    pub target: Option<Level>,
}

/// The value to refresh for the unmet operand `v` of the step at `pos`, and the first position reading
/// the refreshed value.
fn choose(
    flow: &LevelFlow,
    levels: &Levels,
    refreshes: &Refreshes,
    v: ValueId,
    pos: usize,
) -> (ValueId, usize) {
    let until = pos + LOOKAHEAD;
    let score = |c: ValueId, from: usize| {
        let mut with = refreshes.clone();
        with.insert(c, from);
        flow.lazy_count(levels, &with, from, until)
    };
    let mut best = (v, pos);
    let mut best_score = score(v, pos);
    let reach = flow.level_at(levels, refreshes, v, pos) + flow.target;
    let mut seen = HashSet::from([v]);
    let mut frontier = vec![v];
    let mut considered = 0;
    while let Some(u) = frontier.pop() {
        let Some(&def) = flow.defined_at.get(&u) else {
            continue;
        };
        let step = &flow.steps[def];
        if step.fixed.is_some() {
            continue;
        }
        for &a in &step.operands {
            if !seen.insert(a) || refreshes.contains_key(&a) {
                continue;
            }
            if flow.level_at(levels, refreshes, a, def) >= reach || considered == MAX_CANDIDATES {
                continue;
            }
            frontier.push(a);
            if flow.used_at.get(&a).map_or(0, Vec::len) < 2 {
                continue;
            }
            considered += 1;
            let from = flow.defined_at.get(&a).map_or(0, |&d| d + 1);
            let s = score(a, from);
            if s < best_score {
                best = (a, from);
                best_score = s;
            }
        }
    }
    best
}

impl Pass for BootstrapPlacement {
    fn name(&self) -> &'static str {
        "bootstrap-placement"
    }

    fn run(&self, module: &mut Module, cx: &mut PassCx) -> Result<Changed, PassError> {
        let top = module.params.max_level().unwrap_or(0);
        let target = self.target.unwrap_or(Level(top));
        let flow = LevelFlow::new(module, target.0);
        if let Some(step) = flow.steps.iter().find(|s| s.need > target.0) {
            return Err(PassError::Unsupported {
                op: cachemir_ir::fhe::op_label(module, step.op),
                message: format!(
                    "needs level {}, more than the bootstrap target {}",
                    step.need, target.0
                ),
            });
        }
        let mut levels = Levels::new();
        let mut refreshes = Refreshes::new();
        for pos in 0..flow.steps.len() {
            while let Some(v) = flow.unmet(&levels, &refreshes, pos) {
                let (c, from) = choose(&flow, &levels, &refreshes, v, pos);
                refreshes.insert(c, from);
                for p in from..pos {
                    flow.apply(&mut levels, &refreshes, p);
                }
            }
            flow.apply(&mut levels, &refreshes, pos);
        }
        let inserted = refreshes.len() as u64;
        insert_bootstraps(module, &flow, &refreshes, target)?;
        if inserted > 0 {
            module.keys.bootstrap = true;
        }
        cx.bump("bootstrap-placement.bootstraps", inserted);
        // Make the types exact (the predicted levels become real): the output verifies.
        let retyped = RescaleInsertion.run(module, cx)?;
        Ok(Changed::from_bool(inserted > 0 || retyped == Changed::Yes))
    }
}

/// Inserts `bootstrap c` before the step where its refresh starts, for every refresh, and makes the uses
/// from there on read it.
fn insert_bootstraps(
    module: &mut Module,
    flow: &LevelFlow,
    refreshes: &Refreshes,
    target: Level,
) -> Result<(), PassError> {
    let ordered: BTreeMap<(usize, ValueId), ()> = refreshes
        .iter()
        .map(|(&c, &from)| ((from, c), ()))
        .collect();
    for &(from, c) in ordered.keys() {
        let Some(Type::Ct(t)) = module.value_type(c).cloned() else {
            continue;
        };
        let ty = Type::Ct(CtType {
            level: target,
            scale: LogScale(f64::from(module.params.log_default_scale)),
            degree: 1,
            ..t
        });
        let before = flow.steps[from].op;
        let bootstrap = Op::Bootstrap {
            input: c,
            target,
            boost: 0,
        };
        let (_, r) = module.insert_before(before, bootstrap, vec![ty])?;
        let b = r[0];
        for &p in flow
            .used_at
            .get(&c)
            .into_iter()
            .flatten()
            .filter(|&&p| p >= from)
        {
            let id = flow.steps[p].op;
            let mut op = module.op(id).op.clone();
            op.visit_operands_mut(|x| {
                if *x == c {
                    *x = b;
                }
            });
            let types = module
                .op(id)
                .results
                .iter()
                .filter_map(|&r| module.value_type(r).cloned())
                .collect();
            module.replace_op(id, op, types)?;
        }
    }
    Ok(())
}
