//! `bootstrap-placement`: inserts `bootstrap` where the level budget would run out, with refreshes chosen
//! by one of the [`Placement`] algorithms.

use super::greedy;
use super::ilp::{self, IlpLimits};
use super::level_flow::{LevelFlow, Levels, Refreshes};
use crate::error::PassError;
use crate::pass::{Changed, Pass, PassCx};
use crate::scale::RescaleInsertion;
use cachemir_ir::cost::CostTable;
use cachemir_ir::fhe::{op_label, CtType, Level, LogScale, Module, Op, Type, ValueId};
use std::collections::BTreeMap;

/// How the values to refresh are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Placement {
    /// In program order, where an operand runs out, with a bounded lookahead (`greedy.rs`).
    #[default]
    Greedy,
    /// A mixed-integer program over windows of the program, minimizing bootstrap seconds (`ilp.rs`).
    Ilp(IlpLimits),
}

impl Placement {
    /// The names [`Placement::from_name`] knows.
    pub const NAMES: &'static [&'static str] = &["greedy", "ilp"];

    /// The placement named `name`, with default limits.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "greedy" => Some(Self::Greedy),
            "ilp" => Some(Self::Ilp(IlpLimits::default())),
            _ => None,
        }
    }

    /// Its name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Greedy => "greedy",
            Self::Ilp(_) => "ilp",
        }
    }
}

/// Makes the program's level budget suffice by inserting `bootstrap` ops, then runs `rescale-insertion`
/// so every type is exact (the output verifies).
///
/// Expects a program whose types may be stale (as a lowering emits it). It predicts the level every
/// ciphertext will have after `rescale-insertion` (waterline policy, moduli near the default scale):
/// inputs at their declared level, `kv_read` at the cache level, `bootstrap` at its target; `mul_plain`,
/// `mul_ct`, `linear_transform` and `mul_const` at a non-zero scale consume one level; `poly_eval`
/// consumes `Op::poly_depth` levels; explicit `rescale` one; `level_drop` sets it; everything else takes the
/// lowest operand level. An op needs one level for a product, the depth for a polynomial, the cache
/// level for `kv_append`. The [`Placement`] chooses the values to refresh to `target`; a refreshed value
/// replaces the original for every later use (a value is refreshed at most once). Bootstraps are
/// weighed by their seconds at their slot count from `costs` (default: the built-in table of the
/// program's parameters; without one, each bootstrap counts 1). Sets the bootstrapping key.
///
/// Statistics: `bootstrap-placement.bootstraps`, and for the ILP `.solve-millis`, `.gap-ppm` (the
/// largest window's gap to its proven bound, parts per million) and `.timed-out` (windows).
#[derive(Debug, Clone, Default)]
pub struct BootstrapPlacement {
    /// Level after bootstrapping; `None` = the chain's top level.
    pub target: Option<Level>,
    /// The placement algorithm.
    pub placement: Placement,
    /// Bootstrap seconds by slot count; `None` = the built-in table of the program's parameters.
    pub costs: Option<CostTable>,
}

impl BootstrapPlacement {
    /// The ILP placement with default limits.
    pub fn ilp() -> Self {
        Self {
            placement: Placement::Ilp(IlpLimits::default()),
            ..Self::default()
        }
    }
}

impl Pass for BootstrapPlacement {
    fn name(&self) -> &'static str {
        match self.placement {
            Placement::Greedy => "bootstrap-placement",
            Placement::Ilp(_) => "bootstrap-placement-ilp",
        }
    }

    fn run(&self, module: &mut Module, cx: &mut PassCx) -> Result<Changed, PassError> {
        let top = module.params.max_level().unwrap_or(0);
        let target = self.target.unwrap_or(Level(top));
        let flow = LevelFlow::new(module, target.0);
        if let Some(step) = flow.steps.iter().find(|s| s.need > target.0) {
            return Err(PassError::Unsupported {
                op: op_label(module, step.op),
                message: format!(
                    "needs level {}, more than the bootstrap target {}",
                    step.need, target.0
                ),
            });
        }
        let refreshes = match self.placement {
            Placement::Greedy => greedy::place(&flow),
            Placement::Ilp(limits) => {
                let table = self
                    .costs
                    .clone()
                    .or_else(|| CostTable::builtin(&module.params));
                // Only relinearized ciphertexts can be refreshed.
                let seconds = |v: ValueId| {
                    let t = module.value_type(v).and_then(Type::as_ct)?;
                    (t.degree == 1).then(|| {
                        table
                            .as_ref()
                            .and_then(|table| table.bootstrap(t.slots.0))
                            .unwrap_or(1.0)
                    })
                };
                let outcome = ilp::place(&flow, &seconds, limits)?;
                cx.bump(
                    "bootstrap-placement.solve-millis",
                    (outcome.solve_seconds * 1e3).round() as u64,
                );
                cx.bump(
                    "bootstrap-placement.gap-ppm",
                    (outcome.gap * 1e6).round() as u64,
                );
                cx.bump("bootstrap-placement.timed-out", outcome.timed_out as u64);
                outcome.refreshes
            }
        };
        check_every_need_met(module, &flow, &refreshes)?;
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

/// Fails on the first step an operand of which still runs out of levels under `refreshes`.
fn check_every_need_met(
    module: &Module,
    flow: &LevelFlow,
    refreshes: &Refreshes,
) -> Result<(), PassError> {
    let mut levels = Levels::new();
    for pos in 0..flow.steps.len() {
        if flow.unmet(&levels, refreshes, pos).is_some() {
            return Err(PassError::Unsupported {
                op: op_label(module, flow.steps[pos].op),
                message: "the placement left an operand short of levels".into(),
            });
        }
        flow.apply(&mut levels, refreshes, pos);
    }
    Ok(())
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
