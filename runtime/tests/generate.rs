//! Encrypted greedy generation (`session::generate`, behind `cachemir-run PLAN`) against the same loop
//! run by the FHE IR's cleartext interpreter with the plan's client rule: a small plan whose next
//! token depends on the current one through a square, a bootstrap (at `INSECURE_N12_BOOT`, 64 sparse
//! slots) and a weight row. Every generated id must match; the logits must agree to 2^-12.

use cachemir_ir::fhe::Module;
use cachemir_ir::plan::client::generate_in_clear;
use cachemir_ir::plan::Plan;
use cachemir_ir::text::TextForm;
use cachemir_ir::weights::Weight;
use cachemir_runtime::session::generate::{generate, Progress};
use std::collections::BTreeMap;

const PROGRAM: &str = r#"
params { log_n=12, log_q=[60, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 60, 60, 60, 60, 60, 60, 60, 60, 56, 56], log_p=[61, 61, 61, 61], log_default_scale=40, secret=dense }
keys { rotations=[], conjugate=false, bootstrap=true }
weight "w" { rows=1, cols=64 }
weight "client.embedding" { rows=64, cols=64 }
%0 = input "x" : ct<level=1, scale=40, slots=64, layout=strided(len=64, stride=1)>
%1 = mul_ct %0, %0 : ct<level=1, scale=80, slots=64, layout=strided(len=64, stride=1), degree=2>
%2 = relinearize %1 : ct<level=1, scale=80, slots=64, layout=strided(len=64, stride=1)>
%3 = rescale %2 : ct<level=0, scale=40, slots=64, layout=strided(len=64, stride=1)>
%4 = bootstrap %3, target=9 : ct<level=9, scale=40, slots=64, layout=strided(len=64, stride=1)>
%5 = plain "w"[0] : pt<level=9, scale=40, slots=64>
%6 = mul_plain %4, %5 : ct<level=9, scale=80, slots=64, layout=strided(len=64, stride=1)>
%7 = rescale %6 : ct<level=8, scale=40, slots=64, layout=strided(len=64, stride=1)>
output "logits.0", %7
"#;

fn plan() -> Plan {
    let module = Module::from_text(PROGRAM).unwrap();
    // Embedding rows are distinct pseudo-random vectors in [−1, 1]; `w` has distinct entries, so
    // the argmax of w ⊙ x² is well separated.
    let embedding: Vec<f64> = (0..64 * 64)
        .map(|i| ((i as f64 * 0.7137).sin() * 1.9).clamp(-1.0, 1.0))
        .collect();
    let w: Vec<f64> = (0..64).map(|i| 0.5 + i as f64 / 128.0).collect();
    let weights = BTreeMap::from([
        ("w".to_string(), Weight::f64(1, 64, w).unwrap()),
        (
            "client.embedding".to_string(),
            Weight::f64(64, 64, embedding).unwrap(),
        ),
    ]);
    Plan::new(module, weights).unwrap()
}

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
