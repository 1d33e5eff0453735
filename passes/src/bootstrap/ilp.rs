//! ILP placement: which values to refresh, chosen by a mixed-integer program, in three steps:
//! [`WindowModel::build`] → [`WindowModel::solve`] → commit. The solver is CBC (`good_lp`'s `coin_cbc`,
//! Debian's `coinor-libcbc-dev`): it installs in seconds, takes a time limit and reports its proven
//! bound, from which the optimality gap is reported.
//!
//! The model, over the steps of a window of the program:
//! - a binary `b_v` per relinearized ciphertext value read in the window: refresh `v` right after its
//!   definition (every use then reads it at the bootstrap target `T`), at the cost of one bootstrap
//!   at `v`'s slot count;
//! - a continuous level `ℓ_v ∈ [0, T − consume]` per value defined in the window, bounded by every
//!   operand `u` of its step: `ℓ_v ≤ ℓ_u + T·b_u − consume` (a refreshed operand reads `T`); inputs,
//!   cache reads, bootstraps and level drops have their fixed level, values defined before the window
//!   the level the committed refreshes give them;
//! - every operand `u` of a step that needs `n` levels (a product, a polynomial's depth, a KV-cache
//!   write's cache level): `ℓ_u + T·b_u ≥ n`;
//! - path cuts ([`path_cuts`]), valid inequalities that tighten the relaxation.
//!
//! A model level is at most the level `rescale-insertion` gives (the lowest operand's, less what the op
//! consumes), so a feasible model is a feasible placement; given the `b_v`, the levels form a difference
//! system, so only the `b_v` need integrality. The objective is the bootstraps' predicted seconds; op
//! costs that grow with the level are left out (the placed program is predicted in full afterwards).
//!
//! Programs are solved in windows of `window` steps, two windows at a time: the decisions for values
//! defined in the first are committed, the second is solved again with the next one. Optimality is lost
//! where a value's uses reach past the pair (its later needs are not seen); a program of at most two
//! windows is solved whole. Each solve starts from the greedy placement's refreshes (each moved to its
//! value's definition), completed by the lazy rule (refresh an operand where it runs out): a time limit
//! still leaves a feasible placement, and a program solved whole never costs more than greedy's.

use super::greedy;
use super::level_flow::{LevelFlow, Levels, Refreshes};
use crate::error::PassError;
use cachemir_ir::fhe::ValueId;
use good_lp::solvers::coin_cbc::{coin_cbc, CoinCbcProblem};
use good_lp::{
    variable, Expression, ProblemVariables, Solution, SolutionStatus, SolverModel, Variable,
    WithInitialSolution, WithTimeLimit,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;
use std::time::Instant;

/// Limits of the ILP placement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IlpLimits {
    /// Steps per window (a pair of windows is solved at once).
    pub window: usize,
    /// CBC's time limit for one pair, in seconds.
    pub seconds_per_solve: f64,
}

impl Default for IlpLimits {
    fn default() -> Self {
        Self {
            window: 1500,
            seconds_per_solve: 30.0,
        }
    }
}

/// What the ILP placement found.
#[derive(Debug, Clone)]
pub(crate) struct IlpOutcome {
    /// The refreshes committed so far (each at its value's definition).
    pub refreshes: Refreshes,
    /// Solver wall time over all windows, in seconds.
    pub solve_seconds: f64,
    /// The largest relative gap between a window's solution and its proven bound (0 when every window
    /// was solved to optimality).
    pub gap: f64,
    /// Windows stopped by the time limit.
    pub timed_out: usize,
}

/// The cost of refreshing a value, `None` for a value that cannot be refreshed.
pub(crate) type RefreshCost<'a> = &'a dyn Fn(ValueId) -> Option<f64>;

/// The ILP placement of `flow`.
pub(crate) fn place(
    flow: &LevelFlow,
    seconds: RefreshCost,
    limits: IlpLimits,
) -> Result<IlpOutcome, PassError> {
    let n = flow.steps.len();
    let window = limits.window.max(1);
    let greedy = greedy::place(flow);
    let mut outcome = IlpOutcome {
        refreshes: Refreshes::new(),
        solve_seconds: 0.0,
        gap: 0.0,
        timed_out: 0,
    };
    let mut pos = 0;
    while pos < n {
        let end = (pos + 2 * window).min(n);
        let commit_end = if end == n { n } else { pos + window };
        let committed = &outcome.refreshes;
        let levels = levels_until(flow, committed, pos);
        let model = WindowModel::build(flow, &levels, committed, &greedy, pos..end, seconds);
        let solved = model.solve(limits.seconds_per_solve)?;
        outcome.solve_seconds += solved.seconds;
        outcome.gap = outcome.gap.max(solved.gap);
        outcome.timed_out += usize::from(solved.timed_out);
        for v in solved.refreshed {
            let def = flow.defined_at[&v];
            if def < commit_end {
                outcome.refreshes.insert(v, def + 1);
            }
        }
        pos = commit_end;
    }
    Ok(outcome)
}

/// Levels of every value defined before `until` under `refreshes`.
fn levels_until<'a>(flow: &LevelFlow, refreshes: &Refreshes, until: usize) -> Levels<'a> {
    let mut levels = Levels::new();
    for p in 0..until {
        flow.apply(&mut levels, refreshes, p);
    }
    levels
}

/// `seed` completed by the lazy rule from `range.start` on: every operand that still runs out is
/// refreshed at its definition. A feasible start for the solver.
fn completed(flow: &LevelFlow, levels: &Levels, seed: Refreshes, range: Range<usize>) -> Refreshes {
    let mut refreshes = seed;
    let mut overlay = levels.overlay();
    let mut pos = range.start;
    while pos < range.end {
        if let Some(v) = flow.unmet(&overlay, &refreshes, pos) {
            let def = flow.defined_at[&v];
            refreshes.insert(v, def + 1);
            // Levels from the refresh on rise: recompute them.
            pos = (def + 1).max(range.start);
            continue;
        }
        flow.apply(&mut overlay, &refreshes, pos);
        pos += 1;
    }
    refreshes
}

/// Valid inequalities that tighten the relaxation: for every operand `u` of a step needing `n` levels
/// that runs out without refreshes in the window, follow its critical path back (each value's lowest
/// operand) while at most `T − n` levels are consumed between a value and `u`: one of those values must
/// be refreshed, since `u` sits below whatever starts the path by what the path consumes.
fn path_cuts(
    flow: &LevelFlow,
    levels: &Levels,
    committed: &Refreshes,
    refresh: &BTreeMap<ValueId, Variable>,
    range: Range<usize>,
) -> Vec<good_lp::Constraint> {
    let mut plain = levels.overlay();
    for p in range.clone() {
        flow.apply(&mut plain, committed, p);
    }
    let read_level = |v: ValueId, p: usize| flow.level_at(&plain, committed, v, p);
    let mut cuts = Vec::new();
    for p in range.clone() {
        let step = &flow.steps[p];
        for &u in &step.operands {
            if read_level(u, p) >= step.need {
                continue;
            }
            let reach = flow.target - step.need;
            let (mut v, mut consumed) = (u, 0);
            let mut on_path = Expression::from(0.0);
            while consumed <= reach {
                if let Some(&b) = refresh.get(&v) {
                    on_path += b;
                }
                let def = flow.defined_at[&v];
                let origin = &flow.steps[def];
                if def < range.start || origin.fixed.is_some() || committed.contains_key(&v) {
                    break;
                }
                let Some(&lowest) = origin.operands.iter().min_by_key(|&&w| read_level(w, def))
                else {
                    break;
                };
                consumed += origin.consume;
                v = lowest;
            }
            cuts.push(on_path.geq(1.0));
        }
    }
    cuts
}

/// One window's mixed-integer program.
pub(crate) struct WindowModel {
    vars: ProblemVariables,
    objective: Expression,
    constraints: Vec<good_lp::Constraint>,
    /// The refresh binary of each value that may be refreshed.
    refresh: BTreeMap<ValueId, Variable>,
    /// The starting placement and the levels it gives.
    start: Vec<(Variable, f64)>,
}

/// A solved window.
pub(crate) struct WindowSolution {
    /// Values the solution refreshes.
    pub refreshed: Vec<ValueId>,
    /// Solver wall time.
    pub seconds: f64,
    /// Relative gap to the proven bound.
    pub gap: f64,
    /// Whether the time limit stopped the solver.
    pub timed_out: bool,
}

impl WindowModel {
    /// The model of the steps in `range`, values defined before it at `levels` under `committed`; the
    /// solver starts from `hint`'s refreshes among the window's, completed by the lazy rule.
    pub fn build(
        flow: &LevelFlow,
        levels: &Levels,
        committed: &Refreshes,
        hint: &Refreshes,
        range: Range<usize>,
        seconds: RefreshCost,
    ) -> Self {
        let t = f64::from(flow.target);
        let mut vars = ProblemVariables::new();
        let mut refresh = BTreeMap::new();
        let mut level = BTreeMap::new();
        let mut objective = Expression::from(0.0);
        let mut constraints = Vec::new();
        let read: BTreeSet<ValueId> = range
            .clone()
            .flat_map(|p| flow.steps[p].operands.iter().copied())
            .collect();
        for &v in &read {
            if committed.contains_key(&v) {
                continue;
            }
            if let Some(cost) = seconds(v) {
                let b = vars.add(variable().binary());
                objective += cost * b;
                refresh.insert(v, b);
            }
        }
        // The level `u` is read at, as an expression.
        let reads = |u: ValueId, level: &BTreeMap<ValueId, Variable>| -> Expression {
            if committed.contains_key(&u) {
                return Expression::from(t);
            }
            let own = match level.get(&u) {
                Some(&l) => Expression::from(l),
                None => Expression::from(f64::from(levels.get(u))),
            };
            match refresh.get(&u) {
                Some(&b) => own + t * b,
                None => own,
            }
        };
        for p in range.clone() {
            let step = &flow.steps[p];
            let need = f64::from(step.need);
            if step.need > 0 {
                for &u in &step.operands {
                    constraints.push(reads(u, &level).geq(need));
                }
            }
            let consume = f64::from(step.consume);
            for &r in &step.results {
                let cap = step.fixed.map_or(t - consume, f64::from);
                let l = vars.add(variable().min(0.0).max(cap));
                if step.fixed.is_none() {
                    for &u in &step.operands {
                        constraints.push((l - reads(u, &level)).leq(-consume));
                    }
                }
                level.insert(r, l);
            }
        }
        constraints.extend(path_cuts(flow, levels, committed, &refresh, range.clone()));
        let mut seed = committed.clone();
        for &v in refresh.keys().filter(|v| hint.contains_key(v)) {
            seed.insert(v, flow.defined_at[&v] + 1);
        }
        let initial = completed(flow, levels, seed, range.clone());
        let mut start_levels = levels.overlay();
        for p in range {
            flow.apply(&mut start_levels, &initial, p);
        }
        let start = refresh
            .iter()
            .map(|(v, &b)| (b, f64::from(u8::from(initial.contains_key(v)))))
            .chain(
                level
                    .iter()
                    .map(|(&v, &l)| (l, f64::from(start_levels.get(v)))),
            )
            .collect();
        Self {
            vars,
            objective,
            constraints,
            refresh,
            start,
        }
    }

    /// Solves the model with CBC within `seconds`.
    pub fn solve(self, seconds: f64) -> Result<WindowSolution, PassError> {
        let Self {
            vars,
            objective,
            constraints,
            refresh,
            start,
        } = self;
        let clock = Instant::now();
        let initial: HashMap<Variable, f64> = start.iter().copied().collect();
        let mut problem: CoinCbcProblem = vars
            .minimise(objective.clone())
            .using(coin_cbc)
            .with_initial_solution(start)
            .with_time_limit(seconds);
        problem.set_parameter("log", "0");
        problem.set_parameter("slogLevel", "0");
        for c in constraints {
            problem.add_constraint(c);
        }
        let solution = problem.solve().map_err(|e| PassError::Solver {
            message: e.to_string(),
        })?;
        let elapsed = clock.elapsed().as_secs_f64();
        // When CBC proves its start optimal at the root, good_lp 1.15 reads back the root relaxation's
        // (fractional) values instead of the incumbent: the start is then the solution.
        let integral = refresh.values().all(|&b| {
            let x = solution.value(b);
            (x - x.round()).abs() < 1e-6
        });
        let chosen = Chosen {
            solved: &solution,
            initial: (!integral).then_some(&initial),
        };
        let value = chosen.eval(&objective);
        let bound = solution.model().best_possible_value().min(value);
        let gap = if value > 0.0 {
            (value - bound) / value
        } else {
            0.0
        };
        Ok(WindowSolution {
            refreshed: refresh
                .iter()
                .filter(|&(_, &b)| chosen.value(b) > 0.5)
                .map(|(&v, _)| v)
                .collect(),
            seconds: elapsed,
            gap,
            timed_out: matches!(solution.status(), SolutionStatus::TimeLimit),
        })
    }
}

/// The solver's values, or the start's where the solver's cannot be read back.
struct Chosen<'a, S> {
    solved: &'a S,
    initial: Option<&'a HashMap<Variable, f64>>,
}

impl<S: Solution> Solution for Chosen<'_, S> {
    fn status(&self) -> SolutionStatus {
        self.solved.status()
    }

    fn value(&self, variable: Variable) -> f64 {
        match self.initial {
            Some(initial) => initial.get(&variable).copied().unwrap_or(0.0),
            None => self.solved.value(variable),
        }
    }
}
