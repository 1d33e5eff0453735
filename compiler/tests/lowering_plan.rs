//! `cachemir compile -o PLAN` end to end: the written plan, loaded back and run by the cleartext interpreter
//! token by token, generates the fixture's reference tokens; insecure sets are refused without the flag;
//! `--report` and `cachemir inspect` print what they promise.

use cachemir_ir::fhe::interp::{Interpreter, KvState};
use cachemir_ir::plan::client;
use cachemir_ir::plan::Plan;
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/tiny-llama")
        .join(name)
}

fn cachemir(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cachemir"))
        .args(args)
        .output()
        .unwrap()
}

const CAL: &str = "3,250,17,88,140,9,201,66,42,123,7,180,99,31,222,5";

fn compile(model: &Path, out: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "compile",
        model.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--params",
        "INSECURE_N12",
        "--insecure-test-params",
        "--slots",
        "256",
        "--max-context",
        "16",
        "--calibrate",
        CAL,
    ];
    args.extend_from_slice(extra);
    let o = cachemir(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn written_plan_generates_the_reference_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let plan_path = dir.path().join("tiny.plan");
    let stdout = compile(
        &fixture("optimum").join("model.onnx"),
        &plan_path,
        &["--report"],
    );
    for needle in [
        "layer 0",
        "layer 1",
        "head",
        "bootstrap",
        "key-switch",
        "wrote",
    ] {
        assert!(
            stdout.contains(needle),
            "--report output lacks {needle:?}:\n{stdout}"
        );
    }
    let text = std::fs::read_to_string(fixture("optimum").join("reference.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let ids = |k: &str| -> Vec<u32> {
        v[k].as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u32)
            .collect()
    };
    let (prompt, expected) = (ids("prompt_ids"), ids("generated_ids"));

    let plan = Plan::read_file(&plan_path).unwrap();
    let (module, weights) = (plan.module(), plan.weights());
    let interp = Interpreter::new(module, weights).unwrap();
    let mut state = KvState::default();
    let mut generated = Vec::new();
    let mut next = 0u32;
    for step in 0..prompt.len() + expected.len() {
        let token = if step < prompt.len() {
            prompt[step]
        } else {
            generated.push(next);
            next
        };
        let inputs = client::step_inputs(module, weights, token, step).unwrap();
        let row = client::logits(&interp.run(&inputs, &mut state).unwrap());
        assert_eq!(row.len(), 256);
        next = (0..row.len()).fold(0, |b, i| if row[i] > row[b] { i } else { b }) as u32;
    }
    assert_eq!(generated, expected);
    assert_eq!(
        state.caches.len(),
        4,
        "k and v caches of both layers persist"
    );
    assert!(state
        .caches
        .values()
        .all(|c| c.tokens as usize == prompt.len() + expected.len()));

    let o = cachemir(&["inspect", plan_path.to_str().unwrap()]);
    assert!(o.status.success());
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(
        out.contains("\"k.0\"") && out.contains("bootstrap"),
        "{out}"
    );
}

#[test]
fn insecure_parameters_are_refused_without_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.plan");
    let model = fixture("optimum").join("model.onnx");
    let o = cachemir(&[
        "compile",
        model.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--params",
        "INSECURE_N12",
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("INSECURE"));
    assert!(!out.exists());
    let o = cachemir(&["compile", model.to_str().unwrap(), "--params", "N99"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown parameter set"));
}

#[test]
fn diagonal_strategy_compiles_and_inspects() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("d.plan");
    let stdout = compile(
        &fixture("torchscript-eager-op17").join("model.onnx"),
        &out,
        &["--strategy", "diagonal"],
    );
    assert!(stdout.contains("strategy diagonal"), "{stdout}");
    let plan = Plan::read_file(&out).unwrap();
    // One token per KV chunk: 16 chunks for 16 tokens.
    assert!(plan
        .module()
        .kv_caches
        .values()
        .all(|d| d.tokens_per_chunk == 1 && d.chunks == 16));
}

#[test]
fn bad_calibration_input_is_an_error_not_a_panic() {
    let model = fixture("optimum").join("model.onnx");
    let m = model.to_str().unwrap();
    for (ids, needle) in [
        ("1,x,3", "not a token id"),
        ("1,9999", "outside the vocabulary"),
    ] {
        let o = cachemir(&["compile", m, "--calibrate", ids]);
        assert!(!o.status.success(), "--calibrate {ids} succeeded");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(needle) && !err.contains("panicked"), "{err}");
    }
    let o = cachemir(&["compile", m, "--slots", "8192"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("K = S/D ≤ D"));
}
