//! `.plan` files: write/read/execute round trip, typed errors for corrupt, truncated, wrong-version and
//! wrong-checksum files, a byte-mutation test, and the inspect report.

use super::common::HEADER;
use cachemir_ir::fhe::interp::{Interpreter, KvState};
use cachemir_ir::fhe::Module;
use cachemir_ir::plan::{inspect, Plan, FORMAT_VERSION, MAGIC};
use cachemir_ir::text::TextForm;
use cachemir_ir::weights::{Weight, Weights};
use cachemir_ir::IrError;
use std::collections::BTreeMap;

const KV: &str = "kv \"k\" { chunks=2, tokens_per_chunk=2, token_stride=4, chunk=ct<level=2, scale=40, slots=8, layout=strided(len=8, stride=1)> }\n";
const BODY: &str = "\
%0 = input \"x\" : ct<level=3, scale=40, slots=8, layout=strided(len=8, stride=1)>
%1 = plain \"w\"[1] : pt<level=3, scale=40, slots=8>
%2 = mul_plain %0, %1 : ct<level=3, scale=80, slots=8, layout=strided(len=8, stride=1)>
%3 = rescale %2 : ct<level=2, scale=40, slots=8, layout=strided(len=8, stride=1)>
kv_append \"k\", %3
%4 = kv_read \"k\", chunk=0 : ct<level=2, scale=40, slots=8, layout=strided(len=8, stride=1)>
%5 = const -0.125 : scalar
%6 = add %4, %5 : ct<level=2, scale=40, slots=8, layout=strided(len=8, stride=1)>
%7 = bootstrap %6, target=3 : ct<level=3, scale=40, slots=8, layout=strided(len=8, stride=1)>
output \"y\", %7
";

fn sample_plan() -> Plan {
    // "e" is stored as f64 (exact bit patterns must survive), "w" as f32.
    let module = Module::from_text(&format!(
        "{HEADER}weight \"e\" {{ rows=1, cols=8 }}\n{KV}{BODY}"
    ))
    .unwrap();
    let mut weights = Weights::new();
    let e = vec![0.1, -1e-300, f64::MAX, 5e-324, -0.0, 1.0 / 3.0, 2.0, -7.5];
    weights.insert("e".into(), Weight::f64(1, 8, e).unwrap());
    let data: Vec<f32> = (0..16).map(|i| i as f32 * 0.5 - 1.0).collect();
    weights.insert("w".into(), Weight::f32(2, 8, data).unwrap());
    Plan::new(module, weights).unwrap()
}

fn run_twice(plan: &Plan) -> Vec<BTreeMap<String, Vec<f64>>> {
    let it = Interpreter::new(plan.module(), plan.weights()).unwrap();
    let mut st = KvState::default();
    let x1: Vec<f64> = (1..=8).map(f64::from).collect();
    let x2: Vec<f64> = (1..=8).map(|v| -f64::from(v) / 3.0).collect();
    vec![
        it.run(&BTreeMap::from([("x".to_string(), x1)]), &mut st)
            .unwrap(),
        it.run(&BTreeMap::from([("x".to_string(), x2)]), &mut st)
            .unwrap(),
    ]
}

#[test]
fn written_plan_reads_back_and_runs_the_same() {
    let plan = sample_plan();
    let bytes = plan.to_bytes();
    let back = Plan::from_bytes(&bytes).unwrap();
    assert_eq!(back, plan);
    let (a, b) = (run_twice(&plan), run_twice(&back));
    assert_eq!(a, b);
    // Independent check of step 1: w[1] = [3, 3.5, …, 6.5]; y = x·w[1] − 0.125 at token 0.
    let expected: Vec<f64> = (0..8)
        .map(|i| (i + 1) as f64 * (3.0 + 0.5 * i as f64) - 0.125)
        .collect();
    assert_eq!(a[0]["y"], expected);
    // Also through a file.
    let path = std::env::temp_dir().join(format!("cachemir-ir-test-{}.plan", std::process::id()));
    plan.write_file(&path).unwrap();
    assert_eq!(Plan::read_file(&path).unwrap(), plan);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn structure_section_is_readable_ron() {
    let bytes = sample_plan().to_bytes();
    let s_len = u64::from_le_bytes(bytes[12..20].try_into().unwrap()) as usize;
    let ron = std::str::from_utf8(&bytes[40..40 + s_len]).unwrap();
    assert!(ron.contains("log_q: [\n"), "{ron}");
    assert!(ron.contains("Bootstrap("), "{ron}");
    assert!(ron.contains("name: \"w\""), "{ron}");
}

#[test]
fn header_errors_are_typed() {
    let bytes = sample_plan().to_bytes();
    assert_eq!(&bytes[..8], &MAGIC);
    let mut bad = bytes.clone();
    bad[0] = b'X';
    assert!(matches!(Plan::from_bytes(&bad), Err(IrError::PlanMagic)));
    let mut v2 = bytes.clone();
    v2[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    assert!(matches!(
        Plan::from_bytes(&v2),
        Err(IrError::PlanVersion {
            found: 2,
            supported: 1
        })
    ));
    assert!(matches!(
        Plan::from_bytes(&bytes[..20]),
        Err(IrError::PlanTruncated {
            section: "header",
            ..
        })
    ));
    assert!(matches!(
        Plan::from_bytes(&bytes[..bytes.len() - 1]),
        Err(IrError::PlanTruncated {
            section: "weights section",
            ..
        })
    ));
    let mut flipped = bytes.clone();
    let last = flipped.len() - 3;
    flipped[last] ^= 0x10;
    assert!(matches!(
        Plan::from_bytes(&flipped),
        Err(IrError::PlanChecksum {
            section: "weights section",
            ..
        })
    ));
    let mut extra = bytes.clone();
    extra.push(0);
    assert!(matches!(
        Plan::from_bytes(&extra),
        Err(IrError::PlanInconsistent { .. })
    ));
}

/// Rewrites the structure section (with correct checksums) so loading reaches the semantic checks.
fn with_structure(bytes: &[u8], edit: impl Fn(&str) -> String) -> Vec<u8> {
    let s_len = u64::from_le_bytes(bytes[12..20].try_into().unwrap()) as usize;
    let ron = std::str::from_utf8(&bytes[40..40 + s_len]).unwrap();
    let new = edit(ron);
    assert_ne!(new, ron, "the edit must change the structure");
    with_raw_structure(bytes, new.as_bytes())
}

/// Replaces the structure section by `new` and fixes the lengths and checksums.
fn with_raw_structure(bytes: &[u8], new: &[u8]) -> Vec<u8> {
    let s_len = u64::from_le_bytes(bytes[12..20].try_into().unwrap()) as usize;
    let weights = &bytes[40 + s_len..];
    let mut out = Vec::new();
    out.extend_from_slice(&bytes[..12]);
    out.extend_from_slice(&(new.len() as u64).to_le_bytes());
    out.extend_from_slice(&bytes[20..28]);
    out.extend_from_slice(&crc32fast::hash(new).to_le_bytes());
    out.extend_from_slice(&bytes[32..36]);
    let h = crc32fast::hash(&out);
    out.extend_from_slice(&h.to_le_bytes());
    out.extend_from_slice(new);
    out.extend_from_slice(weights);
    out
}

#[test]
fn semantic_errors_with_valid_checksums() {
    let bytes = sample_plan().to_bytes();
    // A bad weight reference is caught by the verifier and names the op.
    let e = Plan::from_bytes(&with_structure(&bytes, |s| {
        s.replacen("index: 1", "index: 5", 1)
    }))
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "op %1 (plain): row 5 of weight \"w\" with 2 rows"
    );
    // A weight extent past the section.
    let e = Plan::from_bytes(&with_structure(&bytes, |s| {
        s.replacen("offset: 64", "offset: 72", 1)
    }))
    .unwrap_err();
    assert!(matches!(e, IrError::PlanWeight { .. }), "{e}");
    // A missing rotation key.
    let e = Plan::from_bytes(&with_structure(&bytes, |s| {
        s.replacen(
            "            4,\n            7,",
            "            3,\n            7,",
            1,
        )
    }))
    .unwrap_err();
    assert!(e.to_string().contains("missing rotation key"), "{e}");
    // Client I/O that disagrees with the program.
    let e = Plan::from_bytes(&with_structure(&bytes, |s| {
        s.replacen("name: \"y\"", "name: \"z\"", 1)
    }))
    .unwrap_err();
    assert!(matches!(e, IrError::PlanInconsistent { .. }), "{e}");
    // Not RON.
    let e = Plan::from_bytes(&with_structure(&bytes, |s| s.replacen('(', "[", 1))).unwrap_err();
    assert!(matches!(e, IrError::PlanStructure { .. }), "{e}");
}

#[test]
fn mutations_never_panic_and_never_pass_silently() {
    let plan = sample_plan();
    let bytes = plan.to_bytes();
    let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for pos in 0..bytes.len() {
        for mask in [0x01u8, 0x80, (next() as u8) | 1] {
            let mut m = bytes.clone();
            m[pos] ^= mask;
            if let Ok(p) = Plan::from_bytes(&m) {
                assert_eq!(p, plan, "byte {pos} ^ {mask:#x} loaded a different plan");
            }
        }
    }
    for len in 0..bytes.len() {
        assert!(
            Plan::from_bytes(&bytes[..len]).is_err(),
            "truncation to {len} bytes loaded"
        );
    }
}

#[test]
fn inspect_report_counts() {
    let r = inspect(&sample_plan());
    assert_eq!(r.ops, 10);
    assert_eq!(r.op_counts["bootstrap"], 1);
    assert_eq!(r.op_counts["kv_append"], 1);
    assert_eq!(r.bootstraps, 1);
    assert_eq!(r.weights, 2);
    assert_eq!(r.weight_bytes, 16 * 4 + 8 * 8);
    assert_eq!(r.ct_levels[&3], 3); // %0, %2, %7
    assert_eq!(r.ct_levels[&2], 3); // %3, %4, %6
    assert_eq!(r.kv_caches[0].level, 2);
    let text = r.to_string();
    assert!(text.contains("rotation keys: 4 [1, 2, 4, 7]"), "{text}");
    assert!(
        text.contains("\"k\": 2 chunks × 2 tokens (stride 4), level 2, scale 2^40, 8 slots"),
        "{text}"
    );
}

#[test]
fn structure_mutations_with_fixed_checksums_never_panic() {
    // Past the checksums: every byte of the RON changed (checksums recomputed) must load to a typed error or
    // a plan that verifies; never a panic.
    let plan = sample_plan();
    let bytes = plan.to_bytes();
    let s_len = u64::from_le_bytes(bytes[12..20].try_into().unwrap()) as usize;
    let ron = bytes[40..40 + s_len].to_vec();
    let replacements = [b'9', b'-', b']', b'"', 0xFF];
    let mut loaded = 0;
    for pos in 0..ron.len() {
        for &r in &replacements {
            let mut m = ron.clone();
            m[pos] = r;
            if let Ok(p) = Plan::from_bytes(&with_raw_structure(&bytes, &m)) {
                p.module().verify().unwrap();
                loaded += 1;
            }
        }
        if pos % 5 != 0 {
            continue;
        }
        let mut cut = ron.clone();
        cut.truncate(pos);
        assert!(
            Plan::from_bytes(&with_raw_structure(&bytes, &cut)).is_err(),
            "structure cut at {pos} loaded"
        );
    }
    // Some edits (e.g. a digit inside a constant) legitimately give another valid plan.
    assert!(loaded > 0);
}

#[test]
fn a_tokenizer_travels_in_the_plan_and_a_broken_one_is_refused() {
    use cachemir_ir::plan::text::TokenizerSpec;
    // The smallest valid tokenizer.json: a word-level model over two words.
    let json = r#"{"version":"1.0","truncation":null,"padding":null,"added_tokens":[],
        "normalizer":null,"pre_tokenizer":{"type":"Whitespace"},"post_processor":null,"decoder":null,
        "model":{"type":"WordLevel","vocab":{"[UNK]":0,"hello":1,"world":2},"unk_token":"[UNK]"}}"#;
    let spec = TokenizerSpec {
        json: json.into(),
        bos: None,
        eos: Some(2),
    };
    let plan = sample_plan().with_tokenizer(spec.clone()).unwrap();
    let back = Plan::from_bytes(&plan.to_bytes()).unwrap();
    assert_eq!(back.tokenizer(), Some(&spec));
    assert_eq!(back, plan);
    // Plans written without one read back without one.
    assert_eq!(
        Plan::from_bytes(&sample_plan().to_bytes())
            .unwrap()
            .tokenizer(),
        None
    );
    let broken = TokenizerSpec {
        json: "{\"model\": 3}".into(),
        ..spec
    };
    assert!(matches!(
        sample_plan().with_tokenizer(broken),
        Err(IrError::Text { .. })
    ));
    // A word the vocabulary lacks is named.
    let codec = cachemir_ir::plan::text::TextCodec::new(back.tokenizer().unwrap().clone()).unwrap();
    assert_eq!(codec.encode("hello world").unwrap(), vec![1, 2]);
    let err = codec.encode("hello there").unwrap_err().to_string();
    assert!(err.contains("there"), "{err}");
}
