//! Greedy placement: walks the program in order and, where an operand runs out of levels, refreshes the
//! value whose refresh serves the most later ops (with a bounded lookahead).

use super::level_flow::{LevelFlow, Levels, Refreshes};
use cachemir_ir::fhe::ValueId;
use std::collections::HashSet;

/// Steps simulated past the op that needs a refresh when candidates are compared.
const LOOKAHEAD: usize = 400;

/// Most ancestors considered for one refresh.
const MAX_CANDIDATES: usize = 48;

/// The greedy refreshes of `flow`. When an op needs more levels than an operand has, one value is
/// refreshed: the operand itself, or an ancestor of it used more than once (within `target` levels of
/// it), whichever makes the lazy rule (refresh each operand where it runs out) spend the fewest
/// bootstraps over the next `LOOKAHEAD` ops; ties go to the operand (the refresh closest to its use).
/// The refreshed value replaces the original from its refresh on: an ancestor's refresh thereby serves
/// all of its later consumers, such as a vector replicated once for several projections, or a squared
/// softmax weight that feeds both its sum and its product with the sum's inverse.
pub(crate) fn place(flow: &LevelFlow) -> Refreshes {
    let mut levels = Levels::new();
    let mut refreshes = Refreshes::new();
    for pos in 0..flow.steps.len() {
        while let Some(v) = flow.unmet(&levels, &refreshes, pos) {
            let (c, from) = choose(flow, &levels, &refreshes, v, pos);
            refreshes.insert(c, from);
            for p in from..pos {
                flow.apply(&mut levels, &refreshes, p);
            }
        }
        flow.apply(&mut levels, &refreshes, pos);
    }
    refreshes
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
