//! Encrypted greedy generation (`session::generate`, behind `cachemir-run PLAN`) against the same loop
//! run by the FHE IR's cleartext interpreter with the plan's client rule: a small plan whose next
//! token depends on the current one through a square, a bootstrap (at `INSECURE_N12_BOOT`, 64 sparse
//! slots) and a weight row. Every generated id must match; the logits must agree to 2^-12.

mod small_plan;

use cachemir_ir::plan::client::generate_in_clear;
use cachemir_runtime::session::generate::{generate, Progress};
use small_plan::plan;

#[test]
fn encrypted_generation_matches_the_cleartext_loop() {
    let plan = plan();
    let prompt = [3, 17];
    let (want_ids, want_logits) =
        generate_in_clear(plan.module(), plan.weights(), &prompt, 3).unwrap();
    let mut events = Vec::new();
    let report = generate(&plan, &prompt, 3, None, |e| {
        events.push(match e {
            Progress::Keygen => "keygen".to_string(),
            Progress::Upload { sent, total } => format!("upload {sent}/{total}"),
            Progress::ServerSetup => "server setup".to_string(),
            Progress::Started { steps } => format!("started {steps}"),
            Progress::Token(t) => format!("token {}", t.position),
        })
    })
    .unwrap();
    assert_eq!(report.generated_ids, want_ids);
    assert_eq!(report.logits.len(), 5);
    let err = report
        .logits
        .iter()
        .flatten()
        .zip(want_logits.iter().flatten())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(err < 2f64.powi(-12), "max logit error {err:e}");
    assert_eq!(
        events,
        [
            "keygen",
            "server setup",
            "started 5",
            "token 0",
            "token 1",
            "token 2",
            "token 3",
            "token 4"
        ]
    );
    for (t, token) in report.tokens.iter().zip(prompt.iter().chain(&want_ids)) {
        assert_eq!((t.token, t.bootstraps, t.rotations), (*token, 1, 0));
    }
}

#[test]
fn bad_prompts_are_errors() {
    let plan = plan();
    assert!(generate(&plan, &[], 1, None, |_| ()).is_err());
    // Token 64 is outside the 64-row embedding table: an error naming the input, not a panic.
    let err = generate(&plan, &[64], 1, None, |_| ())
        .unwrap_err()
        .to_string();
    assert!(err.contains("\"x\""), "{err}");
}

/// The `cachemir-run PLAN --prompt-ids … --max-new-tokens … --json` interface: insecure plans are
/// refused without the flag; with it, one JSON object whose `generated_ids` match the oracle, with
/// P + N rows of logits and a cost record per token.
#[test]
fn the_cli_prints_the_generation_as_json() {
    let plan = plan();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("small.plan");
    plan.write_file(&path).unwrap();
    let run = |extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_cachemir-run"))
            .arg(&path)
            .args(["--prompt-ids", "5,9", "--max-new-tokens", "2", "--json"])
            .args(extra)
            .output()
            .unwrap()
    };
    let refused = run(&[]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("NOT 128-bit secure"));

    let out = run(&["--insecure-test-params", "--threads", "1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let (want, _) = generate_in_clear(plan.module(), plan.weights(), &[5, 9], 2).unwrap();
    let got: Vec<u32> = json["generated_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as u32)
        .collect();
    assert_eq!(got, want);
    assert_eq!(json["logits"].as_array().unwrap().len(), 4);
    let tokens = json["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 4);
    assert!(tokens
        .iter()
        .all(|t| t["bootstraps"] == 1 && t["millis"].as_f64().unwrap() > 0.0));
}
