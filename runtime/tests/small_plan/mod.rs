//! The small plan `generate.rs` and `simulate.rs` share: the next token depends on the current one
//! through a square, a bootstrap (at `INSECURE_N12_BOOT`, 64 sparse slots) and a weight row.

use cachemir_ir::fhe::Module;
use cachemir_ir::plan::Plan;
use cachemir_ir::text::TextForm;
use cachemir_ir::weights::Weight;
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

/// The plan, its weights included.
pub fn plan() -> Plan {
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
