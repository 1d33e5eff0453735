//! The `cachemir` binary: output formats and exit codes.

use std::path::PathBuf;
use std::process::Command;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/tiny-llama")
        .join(name)
}

fn cachemir(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cachemir"))
        .args(args)
        .output()
        .unwrap()
}

/// Runs `cachemir args`, which must succeed, and parses its stdout as one JSON object.
fn cachemir_json(args: &[&str]) -> serde_json::Value {
    let out = cachemir(args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn reference_json_has_ids_and_one_logits_row_per_step() {
    let model = fixture("torchscript-eager-op17").join("model.onnx");
    let got = cachemir_json(&[
        "reference",
        model.to_str().unwrap(),
        "--prompt-ids",
        "1,17,42,99,5,200",
        "--max-new-tokens",
        "8",
        "--json",
    ]);
    let want: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("torchscript-eager-op17").join("reference.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(got["generated_ids"], want["generated_ids"]);
    let rows = got["logits"].as_array().unwrap();
    assert_eq!(rows.len(), 14);
    assert!(rows.iter().all(|r| r.as_array().unwrap().len() == 256));
}

#[test]
fn reference_prints_ids() {
    let model = fixture("dynamo-sdpa-op23").join("model.onnx");
    let out = cachemir(&[
        "reference",
        model.to_str().unwrap(),
        "--prompt-ids",
        "1,17,42,99,5,200",
        "--max-new-tokens",
        "8",
    ]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "26,47,217,77,118,45,121,206"
    );
}

#[test]
fn compile_emits_tensor_ir_that_parses() {
    let model = fixture("optimum").join("model.onnx");
    let out = cachemir(&["compile", model.to_str().unwrap(), "--emit", "tensor-ir"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let m = cachemir_ir::tensor::parse::parse(&text).unwrap();
    cachemir_ir::tensor::verify::verify(&m, false).unwrap();
    assert_eq!(m.num_layers(), 2);
    assert!(
        text.contains("attention %")
            && text.contains("q_heads=4 kv_heads=2 head_dim=16 scale=0.25")
    );
}

#[test]
fn bad_inputs_exit_non_zero_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.onnx");
    std::fs::write(&junk, b"not a model").unwrap();
    let out = cachemir(&["reference", junk.to_str().unwrap(), "--prompt-ids", "1"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("junk.onnx"));

    let model = fixture("optimum").join("model.onnx");
    let out = cachemir(&[
        "reference",
        model.to_str().unwrap(),
        "--prompt-ids",
        "1,999",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("token id 999"));

    let out = cachemir(&["reference", model.to_str().unwrap(), "--prompt-ids", "x"]);
    assert!(!out.status.success());

    // Text needs a tokenizer; the fixtures have none.
    let out = cachemir(&["reference", model.to_str().unwrap(), "--prompt", "hello"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("tokenizer") && err.contains("model.onnx"),
        "{err}"
    );
    let out = cachemir(&[
        "compile",
        model.to_str().unwrap(),
        "--calibrate-text",
        "README.md",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("tokenizer"));
}

#[test]
fn compile_report_json_counts_ops_and_lists_no_range_violation() {
    let model = fixture("optimum").join("model.onnx");
    let got = cachemir_json(&[
        "compile",
        model.to_str().unwrap(),
        "--max-context",
        "16",
        "--report",
        "--json",
    ]);
    let ops = got["ops"].as_object().unwrap();
    let total: u64 = ops.values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(total, got["op_count"].as_u64().unwrap());
    assert_eq!(ops["bootstrap"], got["bootstraps"]);
    assert!(got["bootstraps"].as_u64().unwrap() > 0);
    assert_eq!(got["range_violations"], serde_json::json!([]));
    let regions = got["regions"].as_array().unwrap();
    let per_region: u64 = regions
        .iter()
        .map(|r| r["bootstraps"].as_u64().unwrap())
        .sum();
    assert_eq!(per_region, got["bootstraps"].as_u64().unwrap());

    // N16_BOOT has a built-in cost table: the prediction is the regions' sum and charges every
    // bootstrap at least the table's fastest one.
    let table: serde_json::Value =
        serde_json::from_str(include_str!("../../ir/cost-tables/N16_BOOT.json")).unwrap();
    let fastest = table["bootstrap"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_f64().unwrap())
        .fold(f64::INFINITY, f64::min);
    let predicted = got["predicted_seconds"].as_f64().unwrap();
    let by_region: f64 = regions
        .iter()
        .map(|r| r["predicted_seconds"].as_f64().unwrap())
        .sum();
    assert!(
        (predicted - by_region).abs() < 1e-6 * predicted,
        "{predicted} vs {by_region}"
    );
    assert!(predicted >= got["bootstraps"].as_f64().unwrap() * fastest);
}

#[test]
fn ilp_placement_spends_no_more_bootstraps_than_greedy_and_reports_its_solve() {
    let model = fixture("optimum").join("model.onnx");
    let compile = |placement: &str| {
        cachemir_json(&[
            "compile",
            model.to_str().unwrap(),
            "--max-context",
            "16",
            "--placement",
            placement,
            "--ilp-seconds",
            "5",
            "--json",
        ])
    };
    let (greedy, ilp) = (compile("greedy"), compile("ilp"));
    assert_eq!(greedy["placement"], "greedy");
    assert_eq!(ilp["placement"], "ilp");
    // Every bootstrap of this program has the same slot count, so seconds order as counts.
    assert!(ilp["bootstraps"].as_u64().unwrap() <= greedy["bootstraps"].as_u64().unwrap());
    assert!(ilp["solve_seconds"].as_f64().unwrap() > 0.0);
    let gap = ilp["optimality_gap"].as_f64().unwrap();
    assert!((0.0..1.0).contains(&gap), "{gap}");
    assert!(greedy["solve_seconds"].is_null());
}

#[test]
fn a_cost_table_that_is_not_one_is_refused_with_its_name() {
    let model = fixture("optimum").join("model.onnx");
    let out = cachemir(&[
        "compile",
        model.to_str().unwrap(),
        "--max-context",
        "16",
        "--cost-table",
        "Cargo.toml",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cost table Cargo.toml"), "{err}");
}

#[test]
fn layers_truncates_the_reference_and_rejects_counts_outside_the_model() {
    let model = fixture("optimum").join("model.onnx");
    let m = model.to_str().unwrap();
    let ids = |layers: &str| {
        let out = cachemir(&["reference", m, "--layers", layers, "--prompt-ids", "1,17"]);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).trim().to_string(),
        )
    };
    let full = cachemir(&["reference", m, "--prompt-ids", "1,17"]);
    assert_eq!(
        ids("2"),
        (
            true,
            String::from_utf8_lossy(&full.stdout).trim().to_string()
        )
    );
    assert!(ids("1").0);
    assert_ne!(
        ids("1").1,
        ids("2").1,
        "one layer fewer changes this model's tokens"
    );
    for bad in ["0", "3"] {
        for cmd in [
            vec!["reference", m, "--layers", bad, "--prompt-ids", "1"],
            vec!["compile", m, "--layers", bad],
        ] {
            let out = cachemir(&cmd);
            assert!(!out.status.success());
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains("--layers") && err.contains("2 decoder layers"),
                "{err}"
            );
        }
    }
}
