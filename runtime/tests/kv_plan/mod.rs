//! The program `executor.rs` and `network.rs` share: every op the executor supports and an
//! encrypted KV cache, at `INSECURE_N12`-sized parameters (no bootstrap), so a step takes a fraction
//! of a second and its outputs depend on the cached tokens.

use cachemir_ir::weights::{Weight, Weights};
use std::collections::BTreeMap;

/// The program: one decode step with most ops and a KV cache of 8 tokens.
pub const PROGRAM: &str = r#"
params { log_n=12, log_q=[60, 40, 40, 40, 40, 40], log_p=[61, 61], log_default_scale=40, secret=dense }
keys { rotations=[1, 2, 4, 8, 12, 13], conjugate=true, bootstrap=false }
weight "w" { rows=2, cols=16 }
kv "k" { chunks=2, tokens_per_chunk=4, token_stride=4, chunk=ct<level=3, scale=40, slots=16, layout=strided(len=16, stride=1)> }
%0 = input "x" : ct<level=5, scale=40, slots=16, layout=strided(len=16, stride=1)>
%1 = plain "w"[0] : pt<level=5, scale=40, slots=16>
%2 = mul_plain %0, %1 : ct<level=5, scale=80, slots=16, layout=strided(len=16, stride=1)>
%3 = rescale %2 : ct<level=4, scale=40, slots=16, layout=strided(len=16, stride=1)>
%4 = level_drop %0, to=4 : ct<level=4, scale=40, slots=16, layout=strided(len=16, stride=1)>
%5 = add %3, %4 : ct<level=4, scale=40, slots=16, layout=strided(len=16, stride=1)>
%6 = rotate %5, step=1 : ct<level=4, scale=40, slots=16, layout=strided(len=16, stride=1)>
%7, %8 = rotate_hoisted %5, steps=[2, -3] : ct<level=4, scale=40, slots=16, layout=strided(len=16, stride=1)>, ct<level=4, scale=40, slots=16, layout=strided(len=16, stride=1)>
%9 = sub %7, %8 : ct<level=4, scale=40, slots=16, layout=strided(len=16, stride=1)>
%10 = mul_ct %9, %6 : ct<level=4, scale=80, slots=16, layout=strided(len=16, stride=1), degree=2>
%11 = relinearize %10 : ct<level=4, scale=80, slots=16, layout=strided(len=16, stride=1)>
%12 = rescale %11 : ct<level=3, scale=40, slots=16, layout=strided(len=16, stride=1)>
%13 = const 0.5 : scalar
%14 = add %12, %13 : ct<level=3, scale=40, slots=16, layout=strided(len=16, stride=1)>
%15 = conjugate %14 : ct<level=3, scale=40, slots=16, layout=strided(len=16, stride=1)>
%16 = plain "w"[1] : pt<level=3, scale=40, slots=16>
%17 = add %15, %16 : ct<level=3, scale=40, slots=16, layout=strided(len=16, stride=1)>
%18 = const -1.25 : scalar
%19 = mul_const %17, %18, scale=40 : ct<level=3, scale=80, slots=16, layout=strided(len=16, stride=1)>
%20 = rescale %19 : ct<level=2, scale=40, slots=16, layout=strided(len=16, stride=1)>
kv_append "k", %17
%21 = kv_read "k", chunk=0 : ct<level=3, scale=40, slots=16, layout=strided(len=16, stride=1)>
%22 = add %21, %12 : ct<level=3, scale=40, slots=16, layout=strided(len=16, stride=1)>
output "y", %20
output "cache", %22
"#;

/// Its two weight rows.
pub fn weights() -> Weights {
    let data: Vec<f64> = (0..32).map(|i| ((i * 7 % 11) as f64 - 5.0) / 8.0).collect();
    BTreeMap::from([("w".to_string(), Weight::f64(2, 16, data).unwrap())])
}
