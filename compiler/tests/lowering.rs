//! THE key test of the lowering: each tiny-Llama fixture, lowered with Cachemir's packing (and the diagonal
//! baseline), run by the FHE IR's cleartext interpreter one token per step with the KV cache carried between
//! steps, generates exactly the reference greedy tokens of the fixture's `reference.json` (onnxruntime).
//! The logits differ from the reference only by the polynomial approximations; the max error is printed.

use cachemir_compiler::calibrate::observe;
use cachemir_compiler::lower::{self, params, Options, Strategy};
use cachemir_compiler::model::load_tensor_ir;
use cachemir_ir::plan::client;
use std::path::{Path, PathBuf};

const FIXTURES: [&str; 4] = [
    "torchscript-eager-op17",
    "dynamo-eager-op20",
    "dynamo-sdpa-op23",
    "optimum",
];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/tiny-llama")
        .join(name)
}

/// Calibration tokens (arbitrary, fixed; none of the fixture's prompts).
const CALIBRATION: [u32; 16] = [
    3, 250, 17, 88, 140, 9, 201, 66, 42, 123, 7, 180, 99, 31, 222, 5,
];

struct Reference {
    prompt: Vec<u32>,
    generated: Vec<u32>,
    logits: Vec<Vec<f64>>,
}

fn reference(name: &str) -> Reference {
    let text = std::fs::read_to_string(fixture(name).join("reference.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let ids = |k: &str| -> Vec<u32> {
        v[k].as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u32)
            .collect()
    };
    Reference {
        prompt: ids("prompt_ids"),
        generated: ids("generated_ids"),
        logits: v["logits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r.as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap())
                    .collect()
            })
            .collect(),
    }
}

fn check(name: &str, strategy: Strategy, slots: u32) {
    check_with(name, strategy, "INSECURE_N12", Some(slots), 16);
}

fn check_with(name: &str, strategy: Strategy, set: &str, slots: Option<u32>, max_context: usize) {
    let r = reference(name);
    let tensor = load_tensor_ir(&fixture(name).join("model.onnx")).unwrap();
    // Calibrated on unrelated tokens, not the fixture's: the test tokens rely on the safety margins.
    let cal = observe(&tensor, &[CALIBRATION.to_vec()]).unwrap();
    let opts = Options {
        strategy,
        params: params::by_name(set).unwrap(),
        slots,
        max_context,
        cache_level: None,
        placement: Default::default(),
        costs: None,
    };
    let lowered = lower::lower(&tensor, &cal, &opts).unwrap();
    let (generated, rows) = client::generate_in_clear(
        &lowered.module,
        &lowered.weights,
        &r.prompt,
        r.generated.len(),
    )
    .unwrap();
    assert_eq!(rows.len(), r.logits.len());
    let err = rows
        .iter()
        .zip(&r.logits)
        .flat_map(|(a, b)| a.iter().zip(b).map(|(x, y)| (x - y).abs()))
        .fold(0.0, f64::max);
    println!(
        "{name} [{}]: generated {generated:?}, max |logit error| {err:.3e} ({:.1} bits), {} ops, {} bootstraps",
        strategy.name(),
        -err.log2(),
        lowered.module.num_ops(),
        lowered.report(None).total().bootstraps
    );
    assert_eq!(
        generated, r.generated,
        "{name}: greedy tokens differ from the reference"
    );
    assert!(err < 1e-3, "{name}: max logit error {err}");
}

#[test]
fn torchscript_fixture_generates_the_reference_tokens() {
    check(FIXTURES[0], Strategy::Cachemir, 256);
}

#[test]
fn dynamo_eager_fixture_generates_the_reference_tokens() {
    check(FIXTURES[1], Strategy::Cachemir, 256);
}

#[test]
fn dynamo_sdpa_fixture_generates_the_reference_tokens() {
    check(FIXTURES[2], Strategy::Cachemir, 256);
}

#[test]
fn optimum_fixture_generates_the_reference_tokens() {
    check(FIXTURES[3], Strategy::Cachemir, 256);
}

#[test]
fn diagonal_baseline_generates_the_reference_tokens() {
    check(FIXTURES[0], Strategy::Diagonal, 64);
}

#[test]
fn secure_parameters_geometry_generates_the_reference_tokens() {
    // N16_BOOT's default geometry for this model: 4096 slots, K = 64 tokens per chunk, one chunk.
    check_with(FIXTURES[3], Strategy::Cachemir, "N16_BOOT", None, 64);
}

#[test]
fn calibration_records_the_first_norm_input_exactly() {
    // The first RMSNorm sees the embedding rows: its sum-of-squares range is computable from the table.
    use cachemir_compiler::calibrate::Quantity;
    let tensor = load_tensor_ir(&fixture(FIXTURES[0]).join("model.onnx")).unwrap();
    let cal = observe(&tensor, &[CALIBRATION.to_vec()]).unwrap();
    let emb = tensor.weights.get("embed_tokens").unwrap();
    let (hidden, data) = (emb.shape[1], emb.data.as_ref().unwrap());
    // The first position's sum is recorded apart.
    let sums: Vec<f64> = CALIBRATION[1..]
        .iter()
        .map(|&t| {
            let row = &data[t as usize * hidden..(t as usize + 1) * hidden];
            row.iter().map(|&v| f64::from(v) * f64::from(v)).sum()
        })
        .collect();
    let (lo, hi) = sums
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &s| (a.min(s), b.max(s)));
    let r = cal.ranges[&(1, Quantity::SumOfSquares)];
    assert!(
        (r.lo - lo).abs() < 1e-9 && (r.hi - hi).abs() < 1e-9,
        "{r:?} vs [{lo}, {hi}]"
    );
    assert_eq!(
        cal.interval(1, Quantity::SumOfSquares),
        Some((lo / 4.0, hi * 4.0))
    );
    let first: f64 = {
        let t = CALIBRATION[0] as usize;
        let row = &data[t * hidden..(t + 1) * hidden];
        row.iter().map(|&v| f64::from(v) * f64::from(v)).sum()
    };
    let r0 = cal.ranges[&(1, Quantity::FirstSumOfSquares)];
    assert!((r0.lo - first).abs() < 1e-9 && (r0.hi - first).abs() < 1e-9);
    assert_eq!(cal.key_means.len(), 2, "one mean key per attention layer");
}
