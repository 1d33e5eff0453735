//! The program the calibration tests run: `y = 2·bootstrap(x)` on 4 slots, `x` a row of the client's
//! embedding table.

use cachemir_ir::fhe::Module;
use cachemir_ir::text::TextForm;
use cachemir_ir::weights::{Weight, Weights};
use std::collections::BTreeMap;

/// The program, its embedding table holding `rows` rows.
pub fn one_bootstrap(rows: usize) -> Module {
    Module::from_text(&format!(
        r#"
params {{ log_n=12, log_q=[60, 40, 40, 40], log_p=[61], log_default_scale=40, secret=dense }}
keys {{ rotations=[], conjugate=false, bootstrap=true }}
weight "client.embedding" {{ rows={rows}, cols=4 }}
%0 = input "x" : ct<level=0, scale=40, slots=4, layout=strided(len=4, stride=1)>
%1 = bootstrap %0, target=3 : ct<level=3, scale=40, slots=4, layout=strided(len=4, stride=1)>
%2 = add %1, %1 : ct<level=3, scale=40, slots=4, layout=strided(len=4, stride=1)>
output "y", %2
"#
    ))
    .expect("a valid program")
}

/// The embedding table of 4-slot rows `values` (row-major).
pub fn embedding(values: Vec<f64>) -> Weights {
    let rows = values.len() / 4;
    BTreeMap::from([(
        "client.embedding".to_string(),
        Weight::f64(rows as u32, 4, values).expect("rows of 4"),
    )])
}
