//! The ONNX interpreter (which folds the shape plumbing and checks each recognized block) run
//! directly on the fixture graphs, step by step, against onnxruntime's `reference.json`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use cachemir_compiler::onnx::{eval, load_model, Tensor};

fn check(name: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/tiny-llama")
        .join(name);
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("reference.json")).unwrap())
            .unwrap();
    let tokens: Vec<i64> = reference["input_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    let g = load_model(&dir.join("model.onnx")).unwrap();
    let mut past: BTreeMap<String, Tensor> = BTreeMap::new();
    for i in &g.inputs {
        if i.name.starts_with("past_key_values.") {
            past.insert(i.name.clone(), Tensor::f32(vec![1, 2, 0, 16], vec![]));
        }
    }
    for (step, &tok) in tokens.iter().enumerate() {
        let mut feeds = past.clone();
        feeds.insert("input_ids".into(), Tensor::i64(vec![1, 1], vec![tok]));
        feeds.insert(
            "position_ids".into(),
            Tensor::i64(vec![1, 1], vec![step as i64]),
        );
        feeds.insert(
            "attention_mask".into(),
            Tensor::i64(vec![1, step + 1], vec![1; step + 1]),
        );
        let run = eval::run(&g, &feeds, &BTreeSet::new()).unwrap();
        let logits = run.get("logits").unwrap().as_f32().unwrap();
        let want: Vec<f32> = reference["logits"][step]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        let diff = logits
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(diff <= 1e-4, "{name} step {step}: {diff:e}");
        for (k, v) in past.iter_mut() {
            *v = run
                .get(&k.replace("past_key_values.", "present."))
                .unwrap()
                .clone();
        }
    }
}

#[test]
fn optimum_graph_runs_like_onnxruntime() {
    check("optimum");
}

#[test]
fn dynamo_sdpa_op23_graph_runs_like_onnxruntime() {
    check("dynamo-sdpa-op23");
}
