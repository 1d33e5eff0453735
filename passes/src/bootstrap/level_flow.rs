//! The level every ciphertext will have once `rescale-insertion` has run, predicted from the op order alone,
//! for placements that are still being chosen.

use cachemir_ir::fhe::{Module, Op, OpId, Type, ValueId};
use std::collections::HashMap;

/// How one op moves levels.
#[derive(Debug, Clone)]
pub(crate) struct Step {
    /// The op.
    pub op: OpId,
    /// Its ciphertext operands.
    pub operands: Vec<ValueId>,
    /// Its ciphertext results.
    pub results: Vec<ValueId>,
    /// Levels it consumes (its results sit that much below its lowest operand).
    pub consume: u32,
    /// Level every ciphertext operand must have at least.
    pub need: u32,
    /// Level of its results regardless of the operands (inputs, cache reads, bootstraps, level drops).
    pub fixed: Option<u32>,
}

/// The program as a list of [`Step`]s, with the position of each value's definition and its uses.
#[derive(Debug, Clone)]
pub(crate) struct LevelFlow {
    /// Steps in program order.
    pub steps: Vec<Step>,
    /// Level after bootstrapping.
    pub target: u32,
    /// Position of the step defining each ciphertext value.
    pub defined_at: HashMap<ValueId, usize>,
    /// Positions of the steps using each ciphertext value, ascending.
    pub used_at: HashMap<ValueId, Vec<usize>>,
}

/// Refreshed values: value → the first position reading the refreshed value (every later use reads it too).
pub(crate) type Refreshes = HashMap<ValueId, usize>;

/// How many levels `op` consumes, and the level each ciphertext operand must have at least (waterline
/// policy, moduli near the default scale).
fn cost(module: &Module, op: &Op) -> (u32, u32) {
    match op {
        Op::MulPlain { .. } | Op::MulCt { .. } | Op::LinearTransform { .. } => (1, 1),
        Op::MulConst { scale, .. } if scale.0 > 0.0 => (1, 1),
        Op::Rescale { .. } => (1, 1),
        Op::PolyEval {
            coeffs, interval, ..
        } => {
            let d = Op::poly_depth(coeffs.len(), *interval);
            (d, d)
        }
        Op::KvAppend { cache, .. } => (
            0,
            module.kv_caches.get(cache).map_or(0, |d| d.chunk.level.0),
        ),
        _ => (0, 0),
    }
}

/// The ciphertexts among `values`.
fn ciphertexts(module: &Module, values: impl IntoIterator<Item = ValueId>) -> Vec<ValueId> {
    values
        .into_iter()
        .filter(|&v| matches!(module.value_type(v), Some(Type::Ct(_))))
        .collect()
}

impl LevelFlow {
    /// The flow of `module` with bootstraps refreshing to `target`.
    pub fn new(module: &Module, target: u32) -> Self {
        let mut steps = Vec::new();
        let mut defined_at = HashMap::new();
        let mut used_at: HashMap<ValueId, Vec<usize>> = HashMap::new();
        for id in module.op_ids() {
            let data = module.op(id);
            let (consume, need) = cost(module, &data.op);
            let operands = ciphertexts(module, data.op.operands());
            let results = ciphertexts(module, data.results.iter().copied());
            let fixed = match &data.op {
                Op::Input { .. } | Op::KvRead { .. } => Some(
                    results
                        .first()
                        .and_then(|&r| module.value_type(r))
                        .and_then(Type::as_ct)
                        .map_or(target, |t| t.level.0),
                ),
                Op::Bootstrap { target, .. } => Some(target.0),
                Op::LevelDrop { to, .. } => Some(to.0),
                _ if operands.is_empty() => Some(target),
                _ => None,
            };
            let pos = steps.len();
            for &r in &results {
                defined_at.insert(r, pos);
            }
            for &v in &operands {
                let uses = used_at.entry(v).or_default();
                if uses.last() != Some(&pos) {
                    uses.push(pos);
                }
            }
            steps.push(Step {
                op: id,
                operands,
                results,
                consume,
                need,
                fixed,
            });
        }
        Self {
            steps,
            target,
            defined_at,
            used_at,
        }
    }

    /// The level of `v` as the step at `pos` reads it.
    pub fn level_at(&self, levels: &Levels, refreshes: &Refreshes, v: ValueId, pos: usize) -> u32 {
        match refreshes.get(&v) {
            Some(&from) if pos >= from => self.target,
            _ => levels.get(v),
        }
    }

    /// Computes the results of the step at `pos` into `levels`.
    pub fn apply(&self, levels: &mut Levels, refreshes: &Refreshes, pos: usize) {
        let step = &self.steps[pos];
        let out = step.fixed.unwrap_or_else(|| {
            let lowest = step
                .operands
                .iter()
                .map(|&v| self.level_at(levels, refreshes, v, pos))
                .min()
                .unwrap_or(self.target);
            lowest.saturating_sub(step.consume)
        });
        for &r in &step.results {
            levels.set(r, out);
        }
    }

    /// The first operand of the step at `pos` below the step's need.
    pub fn unmet(&self, levels: &Levels, refreshes: &Refreshes, pos: usize) -> Option<ValueId> {
        let step = &self.steps[pos];
        step.operands
            .iter()
            .copied()
            .find(|&v| self.level_at(levels, refreshes, v, pos) < step.need)
    }

    /// Bootstraps the lazy rule spends from `from` to `until` (exclusive) on top of `refreshes`: every unmet
    /// operand is refreshed where it is needed. `levels` holds the levels before `from` and is left
    /// untouched (changes go to an overlay).
    pub fn lazy_count(
        &self,
        levels: &Levels,
        refreshes: &Refreshes,
        from: usize,
        until: usize,
    ) -> u32 {
        let mut overlay = levels.overlay();
        let mut refreshes = refreshes.clone();
        let mut count = 0;
        for pos in from..until.min(self.steps.len()) {
            while let Some(v) = self.unmet(&overlay, &refreshes, pos) {
                refreshes.insert(v, pos);
                count += 1;
            }
            self.apply(&mut overlay, &refreshes, pos);
        }
        count
    }
}

/// Predicted levels of ciphertext values: a base table, or an overlay of changes over one.
#[derive(Debug, Clone)]
pub(crate) struct Levels<'a> {
    base: Option<&'a Levels<'a>>,
    own: HashMap<ValueId, u32>,
}

impl<'a> Levels<'a> {
    /// An empty table.
    pub fn new() -> Self {
        Self {
            base: None,
            own: HashMap::new(),
        }
    }

    /// A table reading through to `self` until a value is set.
    pub fn overlay(&'a self) -> Levels<'a> {
        Levels {
            base: Some(self),
            own: HashMap::new(),
        }
    }

    /// The level of `v` (0 if never computed).
    pub fn get(&self, v: ValueId) -> u32 {
        match self.own.get(&v) {
            Some(&l) => l,
            None => self.base.map_or(0, |b| b.get(v)),
        }
    }

    /// Sets the level of `v`.
    pub fn set(&mut self, v: ValueId, level: u32) {
        self.own.insert(v, level);
    }
}
