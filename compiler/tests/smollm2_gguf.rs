//! SmolLM2-135M (GGUF, Q4_1) against the independent numpy reference in `scripts/smollm2/`.
//! Needs the 93 MB model: `bash scripts/smollm2/download.sh`, then
//! `cargo test --release -p cachemir-compiler --test smollm2_gguf -- --ignored --nocapture`.

use std::path::PathBuf;

use cachemir_compiler::calibrate::{bootstrap_inputs, observe, passage_sequences};
use cachemir_compiler::lower::{self, params, Options, Strategy};
use cachemir_compiler::model::{load_tensor_ir, load_tokenizer};
use cachemir_compiler::reference::generate;
use cachemir_ir::plan::client;
use cachemir_ir::plan::text::TextCodec;
use cachemir_ir::tensor::Module;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn model_path() -> PathBuf {
    std::env::var_os("CACHEMIR_SMOLLM2_GGUF")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"))
}

fn model() -> Module {
    load_tensor_ir(&model_path())
        .unwrap_or_else(|e| panic!("{e} (run bash scripts/smollm2/download.sh)"))
}

/// A reference file of `scripts/smollm2/` and its prompt and generated ids.
fn reference(file: &str) -> (serde_json::Value, Vec<u32>, Vec<u32>) {
    let reference: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("scripts/smollm2").join(file)).unwrap(),
    )
    .unwrap();
    let ids = |k: &str| -> Vec<u32> {
        reference[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect()
    };
    let (prompt, generated) = (ids("prompt_ids"), ids("generated_ids"));
    (reference, prompt, generated)
}

#[test]
#[ignore = "needs the SmolLM2 GGUF: bash scripts/smollm2/download.sh"]
fn smollm2_greedy_tokens_match_the_numpy_reference() {
    let (reference, prompt, expected) = reference("reference.json");
    let module = model();
    let out = generate(&module, &prompt, expected.len()).unwrap();
    assert_eq!(out.generated_ids, expected);
    let first: Vec<f32> = reference["first_logits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    let diff = first
        .iter()
        .zip(&out.logits[0])
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(diff < 1e-2, "first-step logits differ by {diff}");
}

/// The program lowered at `N16_BOOT` (range management included), run in the cleartext interpreter:
/// the numpy reference's 16 tokens for "The capital of France is", and the bootstrap inputs measured
/// on the prompt against their limit. Calibrated on the built-in English passage (the compiler's default
/// for a model with a tokenizer).
#[test]
#[ignore = "needs the SmolLM2 GGUF: bash scripts/smollm2/download.sh (about 3 minutes)"]
fn smollm2_lowered_program_gives_the_reference_tokens() {
    let (_, prompt, expected) = reference("reference_capital.json");
    let codec = TextCodec::new(load_tokenizer(&model_path()).unwrap()).unwrap();
    let calibration = passage_sequences(&codec).unwrap();
    let tensor = model();
    let cal = observe(&tensor, &calibration).unwrap();
    let opts = Options {
        strategy: Strategy::Cachemir,
        params: params::by_name("N16_BOOT").unwrap(),
        slots: None,
        max_context: 32,
        cache_level: None,
        placement: Default::default(),
        costs: None,
    };
    let lowered = lower::lower(&tensor, &cal, &opts).unwrap();
    let boots = bootstrap_inputs(
        &lowered.module,
        &lowered.weights,
        std::slice::from_ref(&prompt),
    )
    .unwrap();
    let worst = boots
        .iter()
        .map(|b| b.observed / b.limit)
        .fold(0.0, f64::max);
    let at_risk = boots.iter().filter(|b| b.at_risk()).count();
    let (generated, _) =
        client::generate_in_clear(&lowered.module, &lowered.weights, &prompt, expected.len())
            .unwrap();
    println!(
        "SmolLM2 lowered: {} bootstraps, largest input {worst:.3} of its limit, {at_risk} above half; generated {generated:?}",
        boots.len()
    );
    assert_eq!(
        generated, expected,
        "greedy tokens differ from the numpy reference"
    );
}

/// The tokenizer built from the GGUF metadata against the numpy reference's ids and its independent
/// byte-level decoding: "The capital of France is" with the beginning-of-sequence token first.
#[test]
#[ignore = "needs the SmolLM2 GGUF: bash scripts/smollm2/download.sh"]
fn smollm2_tokenizer_matches_the_reference_ids_and_text() {
    let (reference, prompt, generated) = reference("reference_capital.json");
    let codec = TextCodec::new(load_tokenizer(&model_path()).unwrap()).unwrap();
    assert_eq!(codec.encode("The capital of France is").unwrap(), prompt);
    assert_eq!(
        codec.decode(&generated).unwrap(),
        reference["generated_text"].as_str().unwrap()
    );
    assert!(codec.encode("").is_err());
}
