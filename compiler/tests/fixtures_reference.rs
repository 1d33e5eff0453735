//! Every fixture export: recognized into tensor IR, run token by token by the reference executor,
//! against the fixture's onnxruntime `reference.json` (logits ≤ 1e-4, greedy ids exact).

use std::path::PathBuf;

use cachemir_compiler::onnx::load_model;
use cachemir_compiler::recognize::to_tensor_ir;
use cachemir_compiler::reference::generate;

const FIXTURES: [&str; 4] = [
    "optimum",
    "torchscript-eager-op17",
    "dynamo-eager-op20",
    "dynamo-sdpa-op23",
];

fn fixture_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/tiny-llama")
        .join(name)
}

fn check(name: &str) {
    let dir = fixture_dir(name);
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("reference.json")).unwrap())
            .unwrap();
    let ids = |k: &str| -> Vec<u32> {
        reference[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect()
    };
    let prompt = ids("prompt_ids");
    let expected_ids = ids("generated_ids");
    let expected_logits: Vec<Vec<f32>> = reference["logits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
                .collect()
        })
        .collect();
    assert_eq!(expected_logits.len(), prompt.len() + expected_ids.len());

    let graph = load_model(&dir.join("model.onnx")).unwrap();
    let module = to_tensor_ir(&graph).unwrap_or_else(|e| panic!("{name}: {e}"));
    let out = generate(&module, &prompt, expected_ids.len()).unwrap();
    assert_eq!(out.generated_ids, expected_ids, "{name}: greedy ids");
    assert_eq!(out.logits.len(), expected_logits.len());
    for (step, (got, want)) in out.logits.iter().zip(&expected_logits).enumerate() {
        assert_eq!(got.len(), want.len());
        let diff = got
            .iter()
            .zip(want)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(
            diff <= 1e-4,
            "{name}: step {step}: max |diff| {diff:e} > 1e-4"
        );
    }
}

#[test]
fn optimum_matches_onnxruntime() {
    check(FIXTURES[0]);
}

#[test]
fn torchscript_eager_op17_matches_onnxruntime() {
    check(FIXTURES[1]);
}

#[test]
fn dynamo_eager_op20_matches_onnxruntime() {
    check(FIXTURES[2]);
}

#[test]
fn dynamo_sdpa_op23_matches_onnxruntime() {
    check(FIXTURES[3]);
}

/// The four exports are one model in four normal forms: they must give the same tensor IR,
/// weights included.
#[test]
fn all_exports_give_the_same_tensor_ir() {
    let modules: Vec<_> = FIXTURES
        .iter()
        .map(|f| to_tensor_ir(&load_model(&fixture_dir(f).join("model.onnx")).unwrap()).unwrap())
        .collect();
    for (f, m) in FIXTURES.iter().zip(&modules).skip(1) {
        assert!(m == &modules[0], "{f} differs from {}", FIXTURES[0]);
    }
    assert_eq!(modules[0].num_layers(), 2);
    assert!(
        modules[0].weights.contains_key("lm_head"),
        "the fixture model is untied"
    );
}
