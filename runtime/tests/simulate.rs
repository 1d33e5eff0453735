//! Noise-aware simulation (`session::simulate`, `cachemir-run PLAN --simulate`) on the small plan of
//! `generate.rs`: without errors it is the cleartext loop exactly; with the engine's errors the logits move
//! by about the engine's precision and the tokens stay; text prompts go through the plan's tokenizer.

mod small_plan;

use cachemir_ir::plan::client::generate_in_clear;
use cachemir_ir::plan::text::TokenizerSpec;
use cachemir_ir::plan::Plan;
use cachemir_runtime::session::{simulate, NoiseModel};
use small_plan::plan;

/// A word-level tokenizer over `w0 … w63` (ids 0 … 63), ending sequences at `eos`.
fn words(eos: Option<u32>) -> TokenizerSpec {
    let vocab: Vec<String> = (0..64).map(|i| format!("\"w{i}\":{i}")).collect();
    let json = format!(
        r#"{{"version":"1.0","truncation":null,"padding":null,"added_tokens":[],"normalizer":null,
        "pre_tokenizer":{{"type":"Whitespace"}},"post_processor":null,"decoder":null,
        "model":{{"type":"WordLevel","vocab":{{{}}},"unk_token":"w0"}}}}"#,
        vocab.join(",")
    );
    TokenizerSpec {
        json,
        bos: None,
        eos,
    }
}

#[test]
fn without_errors_it_is_the_cleartext_loop_and_with_them_close_to_it() {
    let plan = plan();
    let (want, want_rows) = generate_in_clear(plan.module(), plan.weights(), &[5, 9], 3).unwrap();
    let exact = NoiseModel {
        key_switch_bits: f64::INFINITY,
        product_bits: f64::INFINITY,
        bootstrap_bits: f64::INFINITY,
        message_ratio: f64::INFINITY,
    };
    let clear = simulate(&plan, &[5, 9], 3, None, &exact, 1, |_| ()).unwrap();
    assert_eq!(clear.generated_ids, want);
    assert_eq!(clear.logits, want_rows);
    let noise = NoiseModel::for_module(plan.module());
    assert_eq!(noise.bootstrap_bits, 27.5, "the INSECURE_N12_BOOT figure");
    let noisy = simulate(&plan, &[5, 9], 3, None, &noise, 7, |_| ()).unwrap();
    assert_eq!(noisy.generated_ids, want);
    let dev = noisy
        .logits
        .iter()
        .flatten()
        .zip(want_rows.iter().flatten())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(dev > 0.0 && dev < 2f64.powi(-12), "{dev}");
    // The same seed reproduces the run.
    let again = simulate(&plan, &[5, 9], 3, None, &noise, 7, |_| ()).unwrap();
    assert_eq!(again.logits, noisy.logits);
}

#[test]
fn the_cli_simulates_text_prompts_and_stops_at_the_end_of_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let (want, _) = generate_in_clear(plan().module(), plan().weights(), &[5, 9], 3).unwrap();
    let run = |plan: Plan, extra: &[&str]| {
        let path = dir.path().join("p.plan");
        plan.write_file(&path).unwrap();
        std::process::Command::new(env!("CARGO_BIN_EXE_cachemir-run"))
            .arg(&path)
            .args(["--simulate", "--max-new-tokens", "3", "--json"])
            .args(extra)
            .output()
            .unwrap()
    };
    // No keys, so no encryption: the insecure test set needs no flag.
    let ids = run(plan(), &["--prompt-ids", "5,9"]);
    assert!(
        ids.status.success(),
        "{}",
        String::from_utf8_lossy(&ids.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&ids.stdout).unwrap();
    assert_eq!(json["generated_ids"], serde_json::json!(want));
    assert_eq!(json["text"], serde_json::Value::Null);

    let refused = run(plan(), &["--prompt", "w5 w9"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("tokenizer"));

    let with_words = plan().with_tokenizer(words(None)).unwrap();
    let text = run(with_words, &["--prompt", "w5 w9"]);
    assert!(
        text.status.success(),
        "{}",
        String::from_utf8_lossy(&text.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&text.stdout).unwrap();
    assert_eq!(json["prompt_ids"], serde_json::json!([5, 9]));
    let words_of = |ids: &[u32]| {
        ids.iter()
            .map(|i| format!("w{i}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(json["text"], serde_json::json!(words_of(&want)));

    let stops = plan().with_tokenizer(words(Some(want[0]))).unwrap();
    let out = run(stops, &["--prompt", "w5 w9"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["generated_ids"], serde_json::json!([want[0]]));
    assert_eq!(
        json["logits"].as_array().unwrap().len(),
        2,
        "the end token is not fed"
    );
}
