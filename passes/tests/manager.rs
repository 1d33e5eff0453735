//! Pass manager: names the failing pass, verifies after each pass, dumps before/after text, times passes.

use cachemir_ir::fhe::{Module, Op};
use cachemir_ir::text::TextForm;
use cachemir_passes::cleanup::DeadCodeElimination;
use cachemir_passes::pipelines::{fhe_management, pass_by_name};
use cachemir_passes::{Changed, DumpConfig, Pass, PassCx, PassError, PassManager};
use std::collections::BTreeSet;

const PROGRAM: &str = "\
params { log_n=4, log_q=[50, 40, 40, 40], log_p=[60], log_default_scale=40, secret=dense }
keys { rotations=[1], conjugate=false, bootstrap=false }
%0 = input \"x\" : ct<level=3, scale=40, slots=8, layout=strided(len=8, stride=1)>
%1 = rotate %0, step=1 : ct<level=3, scale=40, slots=8, layout=opaque>
output \"y\", %0
";

/// A deliberately broken pass: removes the input, leaving its use dangling.
struct BreakInput;
impl Pass for BreakInput {
    fn name(&self) -> &'static str {
        "break-input"
    }
    fn run(&self, module: &mut Module, _: &mut PassCx) -> Result<Changed, PassError> {
        let first = module.first_op().expect("non-empty");
        module.remove_op(first)?;
        Ok(Changed::Yes)
    }
}

/// A pass that fails.
struct Refuse;
impl Pass for Refuse {
    fn name(&self) -> &'static str {
        "refuse"
    }
    fn run(&self, _: &mut Module, _: &mut PassCx) -> Result<Changed, PassError> {
        Err(PassError::Unsupported {
            op: "%0 (input)".into(),
            message: "no".into(),
        })
    }
}

#[test]
fn verification_after_a_pass_names_the_pass_and_op() {
    let mut m = Module::from_text(PROGRAM).unwrap();
    let e = PassManager::new(vec![Box::new(BreakInput)])
        .verify_each(true)
        .run(&mut m, &mut PassCx::default())
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "after pass break-input: op %1 (rotate): %0 is defined by a removed op"
    );
}

#[test]
fn pass_errors_are_wrapped_with_the_pass_name() {
    let mut m = Module::from_text(PROGRAM).unwrap();
    let passes: Vec<Box<dyn Pass>> = vec![Box::new(DeadCodeElimination), Box::new(Refuse)];
    let e = PassManager::new(passes)
        .run(&mut m, &mut PassCx::default())
        .unwrap_err();
    assert_eq!(e.to_string(), "pass refuse: op %0 (input): no");
}

#[test]
fn records_stats_and_dumps_to_a_directory() {
    let mut m = Module::from_text(PROGRAM).unwrap();
    let dir = std::env::temp_dir().join(format!("cachemir-dump-{}", std::process::id()));
    let dump = DumpConfig {
        passes: Some(BTreeSet::from(["dead-code-elimination".to_string()])),
        dir: Some(dir.clone()),
    };
    let mut cx = PassCx::default();
    let records = PassManager::new(fhe_management())
        .dump(dump)
        .run(&mut m, &mut cx)
        .unwrap();
    assert_eq!(
        records.iter().map(|r| r.name).collect::<Vec<_>>(),
        [
            "rescale-insertion",
            "dead-code-elimination",
            "rotation-key-collection"
        ]
    );
    assert_eq!(records[0].changed, Changed::No);
    assert_eq!(records[1].changed, Changed::Yes);
    // The only rotation was dead: its key is dropped.
    assert_eq!(records[2].changed, Changed::Yes);
    assert!(m.keys.rotations.is_empty());
    assert_eq!(cx.stats["dead-code-elimination.removed"], 1);
    let before = std::fs::read_to_string(dir.join("01-dead-code-elimination.before.fhe")).unwrap();
    let after = std::fs::read_to_string(dir.join("01-dead-code-elimination.after.fhe")).unwrap();
    assert!(before.contains("rotate"));
    assert!(!after.contains("rotate"));
    assert!(!dir.join("00-rescale-insertion.before.fhe").exists());
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(m
        .op_ids()
        .all(|id| !matches!(m.op(id).op, Op::Rotate { .. })));
}

#[test]
fn unknown_pass_lists_known_names() {
    let e = pass_by_name("dce").err().unwrap();
    assert_eq!(
        e.to_string(),
        "unknown pass `dce` (known: verify, rescale-insertion, common-subexpression-elimination, dead-code-elimination, rotation-key-collection, bootstrap-placement, bootstrap-placement-ilp)"
    );
}

#[test]
fn pipelines_from_names() {
    let names: Vec<&str> =
        cachemir_passes::pipelines::from_names("dead-code-elimination, rotation-key-collection")
            .unwrap()
            .iter()
            .map(|p| p.name())
            .collect();
    assert_eq!(names, ["dead-code-elimination", "rotation-key-collection"]);
    assert!(cachemir_passes::pipelines::from_names("dead-code-elimination,nope").is_err());
}
