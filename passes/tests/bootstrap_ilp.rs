//! ILP bootstrap placement on small random programs: its bootstrap count equals the fewest refreshes an
//! exhaustive search finds (every subset of values refreshed at its definition, checked by a naive level
//! count), it is never above greedy's, windows keep it feasible, and the placed program verifies and
//! computes what the program does.

use cachemir_ir::fhe::interp::{Interpreter, KvState};
use cachemir_ir::fhe::Module;
use cachemir_ir::text::TextForm;
use cachemir_ir::weights::Weights;
use cachemir_passes::bootstrap::{BootstrapPlacement, IlpLimits, Placement};
use cachemir_passes::check::Verify;
use cachemir_passes::scale::RescaleInsertion;
use cachemir_passes::{Pass, PassCx};
use std::collections::BTreeMap;

const PARAMS: &str =
    "params { log_n=4, log_q=[50, 40, 40, 40], log_p=[60], log_default_scale=40, secret=dense }";

fn ct(scale: u32, degree: u32) -> String {
    let degree = if degree == 2 { ", degree=2" } else { "" };
    format!("ct<level=3, scale={scale}, slots=8, layout=strided(len=8, stride=1){degree}>")
}

/// One value of a random program.
#[derive(Debug, Clone, Copy)]
enum Step {
    Input,
    Mul(usize, usize),
    Add(usize, usize),
}

struct Lcg(u64);
impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

/// Two inputs and `ops` products and sums of earlier values (products twice as likely).
fn random_program(seed: u64, ops: usize) -> Vec<Step> {
    let mut rng = Lcg(seed);
    let mut steps = vec![Step::Input, Step::Input];
    for _ in 0..ops {
        let n = steps.len();
        // Lean on recent values so chains get deep.
        let pick = |rng: &mut Lcg| n - 1 - rng.below(n.min(6));
        let (a, b) = (pick(&mut rng), pick(&mut rng));
        steps.push(if rng.below(3) < 2 {
            Step::Mul(a, b)
        } else {
            Step::Add(a, b)
        });
    }
    steps
}

/// The program's text with stale types (as a lowering emits it), value `i` refreshed right after its
/// definition where `refresh[i]`; every value no later step reads is an output.
fn render(steps: &[Step], refresh: &[bool]) -> String {
    let keys = refresh.contains(&true);
    let mut text =
        format!("{PARAMS}\nkeys {{ rotations=[], conjugate=false, bootstrap={keys} }}\n");
    let mut name = vec![String::new(); steps.len()];
    let mut next = 0;
    let mut fresh = |text: &mut String, rhs: String, ty: String| {
        text.push_str(&format!("%{next} = {rhs} : {ty}\n"));
        next += 1;
        format!("%{}", next - 1)
    };
    for (i, s) in steps.iter().enumerate() {
        name[i] = match *s {
            Step::Input => fresh(&mut text, format!("input \"x{i}\""), ct(40, 1)),
            Step::Mul(a, b) => {
                let t = fresh(
                    &mut text,
                    format!("mul_ct {}, {}", name[a], name[b]),
                    ct(80, 2),
                );
                fresh(&mut text, format!("relinearize {t}"), ct(80, 1))
            }
            Step::Add(a, b) => fresh(
                &mut text,
                format!("add {}, {}", name[a], name[b]),
                ct(40, 1),
            ),
        };
        if refresh[i] {
            name[i] = fresh(
                &mut text,
                format!("bootstrap {}, target=3", name[i]),
                ct(40, 1),
            );
        }
    }
    for (i, n) in name.iter().enumerate() {
        let read = steps[i + 1..]
            .iter()
            .any(|s| matches!(*s, Step::Mul(a, b) | Step::Add(a, b) if a == i || b == i));
        if !read {
            text.push_str(&format!("output \"y{i}\", {n}\n"));
        }
    }
    text
}

/// The program after `rescale-insertion`, if it has the levels it needs (and then verifies).
fn managed(text: &str) -> Option<Module> {
    let mut m = Module::from_text(text).expect("the rendered program parses");
    let mut cx = PassCx::default();
    RescaleInsertion.run(&mut m, &mut cx).ok()?;
    Verify.run(&mut m, &mut cx).ok()?;
    Some(m)
}

/// Whether `steps` fits the level budget with the values of `refresh` refreshed at their definition,
/// by the placement's level rule: inputs and refreshed values at the top level 3, a product one level
/// below its lower operand and needing one, a sum at its lower operand's level.
fn fits(steps: &[Step], refresh: &[bool]) -> bool {
    let mut level = vec![0i32; steps.len()];
    for (i, s) in steps.iter().enumerate() {
        level[i] = match *s {
            Step::Input => 3,
            Step::Mul(a, b) => level[a].min(level[b]) - 1,
            Step::Add(a, b) => level[a].min(level[b]),
        };
        if level[i] < 0 {
            return false;
        }
        if refresh[i] {
            level[i] = 3;
        }
    }
    true
}

/// The fewest refreshes that make `steps` fit, by trying every subset.
fn fewest_refreshes(steps: &[Step]) -> usize {
    let n = steps.len();
    (0u32..1 << n)
        .map(|mask| (0..n).map(|i| mask >> i & 1 == 1).collect::<Vec<_>>())
        .filter(|refresh| fits(steps, refresh))
        .map(|refresh| refresh.iter().filter(|&&r| r).count())
        .min()
        .expect("refreshing every value fits")
}

/// Bootstraps `placement` inserts into `steps`, and the placed program.
fn placed(steps: &[Step], placement: Placement) -> (u64, Module) {
    let mut m = Module::from_text(&render(steps, &vec![false; steps.len()])).unwrap();
    let mut cx = PassCx::default();
    let pass = BootstrapPlacement {
        placement,
        ..BootstrapPlacement::default()
    };
    pass.run(&mut m, &mut cx)
        .unwrap_or_else(|e| panic!("{placement:?} on {steps:?}: {e}"));
    Verify
        .run(&mut m, &mut cx)
        .expect("the placed program verifies");
    (cx.stats["bootstrap-placement.bootstraps"], m)
}

fn outputs(m: &Module) -> BTreeMap<String, Vec<f64>> {
    let inputs = (0..2)
        .map(|i| (format!("x{i}"), vec![0.9 - 0.3 * i as f64; 8]))
        .collect();
    Interpreter::new(m, &Weights::default())
        .unwrap()
        .run(&inputs, &mut KvState::default())
        .unwrap()
}

#[test]
fn ilp_matches_exhaustive_search_and_never_exceeds_greedy() {
    for seed in 0..40 {
        let steps = random_program(seed, 11);
        let best = fewest_refreshes(&steps);
        let (ilp, module) = placed(&steps, Placement::Ilp(IlpLimits::default()));
        assert_eq!(ilp as usize, best, "seed {seed}: {steps:?}");
        let (greedy, _) = placed(&steps, Placement::Greedy);
        assert!(greedy >= ilp, "seed {seed}: greedy {greedy} < ilp {ilp}");
        let reference = managed(&render(&steps, &vec![true; steps.len()])).unwrap();
        let (want, got) = (outputs(&reference), outputs(&module));
        for (name, w) in &want {
            let g = &got[name];
            assert!(
                w.iter()
                    .zip(g)
                    .all(|(a, b)| (a - b).abs() <= 1e-9 * a.abs().max(1.0)),
                "seed {seed}: output {name} changed: {w:?} vs {g:?}"
            );
        }
    }
}

#[test]
fn windowed_ilp_stays_feasible_and_at_least_optimal() {
    for seed in 100..115 {
        let steps = random_program(seed, 9);
        let best = fewest_refreshes(&steps);
        let limits = IlpLimits {
            window: 3,
            ..IlpLimits::default()
        };
        let (windowed, _) = placed(&steps, Placement::Ilp(limits));
        assert!(windowed as usize >= best, "seed {seed}");
    }
}
