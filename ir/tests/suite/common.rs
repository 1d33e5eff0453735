//! Small hand-written modules shared by the tests.

use cachemir_ir::fhe::Module;
use cachemir_ir::text::TextForm;

/// Header: N = 16 (8 slots), four moduli, keys for rotations 1, 2, 4 and 7, conjugation and bootstrapping.
pub const HEADER: &str = "\
params { log_n=4, log_q=[50, 40, 40, 40], log_p=[60], log_default_scale=40, secret=dense }
keys { rotations=[1, 2, 4, 7], conjugate=true, bootstrap=true }
weight \"w\" { rows=2, cols=8 }
";

/// A small well-typed program: y = x·w[0] + rotate(x·w[0], 1), rescaled.
pub const BODY: &str = "\
%0 = input \"x\" : ct<level=3, scale=40, slots=8, layout=strided(len=8, stride=1)>
%1 = plain \"w\"[0] : pt<level=3, scale=40, slots=8>
%2 = mul_plain %0, %1 : ct<level=3, scale=80, slots=8, layout=strided(len=8, stride=1)>
%3 = rescale %2 : ct<level=2, scale=40, slots=8, layout=strided(len=8, stride=1)>
%4 = rotate %3, step=1 : ct<level=2, scale=40, slots=8, layout=strided(len=8, stride=1)>
%5 = add %3, %4 : ct<level=2, scale=40, slots=8, layout=strided(len=8, stride=1)>
output \"y\", %5
";

/// Parses `HEADER` + `body`.
pub fn module(body: &str) -> Module {
    Module::from_text(&format!("{HEADER}{body}")).expect("test module parses")
}
