//! SmolLM2-135M (GGUF, Q4_1) against the independent numpy reference in `scripts/smollm2/`.
//! Needs the 93 MB model: `bash scripts/smollm2/download.sh`, then
//! `cargo test -p cachemir-compiler --test smollm2_gguf -- --ignored`.

use std::path::PathBuf;

use cachemir_compiler::model::load_tensor_ir;
use cachemir_compiler::reference::generate;

#[test]
#[ignore = "needs the SmolLM2 GGUF: bash scripts/smollm2/download.sh"]
fn smollm2_greedy_tokens_match_the_numpy_reference() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let model = std::env::var_os("CACHEMIR_SMOLLM2_GGUF")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"));
    let reference: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("scripts/smollm2/reference.json")).unwrap(),
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
    let (prompt, expected) = (ids("prompt_ids"), ids("generated_ids"));
    let module = load_tensor_ir(&model)
        .unwrap_or_else(|e| panic!("{e} (run bash scripts/smollm2/download.sh)"));
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
