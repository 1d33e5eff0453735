//! The CKKS parameter sets a plan can name (`--params`), as the compiler sees them: the literal the runtime
//! validates plus the working level the program lives at.
//!
//! The literals mirror `runtime::ckks::params::named_sets` (the compiler does not depend on the runtime, so
//! the table is repeated here; moving it into `cachemir-ir` would remove the copy).

use cachemir_ir::params::{CkksParamsLiteral, SecretDistribution};

/// A named parameter set.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamSet {
    /// Name (`N16_BOOT`, `INSECURE_N12`, ...); names starting with `INSECURE_` are for tests only.
    pub name: &'static str,
    /// The literal written into the plan.
    pub literal: CkksParamsLiteral,
    /// The highest level the program uses: inputs are encrypted there and bootstraps return there.
    /// Levels above it (if any) are the bootstrapping circuit's own.
    pub working_level: u32,
    /// Whether the set has bootstrapping levels (a plan with bootstraps needs them to run encrypted).
    pub bootstrappable: bool,
}

impl ParamSet {
    /// Whether the set is insecure (tests only).
    pub fn is_insecure(&self) -> bool {
        self.name.starts_with("INSECURE_")
    }
}

fn chain(parts: &[(usize, u32)]) -> Vec<u32> {
    parts
        .iter()
        .flat_map(|&(count, bits)| std::iter::repeat_n(bits, count))
        .collect()
}

/// Every named set.
pub fn named_sets() -> Vec<ParamSet> {
    let lit = |log_n, log_q, log_p, log_default_scale| CkksParamsLiteral {
        log_n,
        log_q,
        log_p,
        log_default_scale,
        secret: SecretDistribution::Dense,
    };
    vec![
        ParamSet {
            name: "N16_BOOT",
            literal: lit(
                16,
                chain(&[(1, 60), (9, 45), (3, 42), (8, 60), (4, 56)]),
                vec![61; 5],
                45,
            ),
            working_level: 9,
            bootstrappable: true,
        },
        ParamSet {
            name: "N15",
            literal: lit(15, chain(&[(1, 60), (14, 45)]), vec![61; 3], 45),
            working_level: 14,
            bootstrappable: false,
        },
        ParamSet {
            name: "INSECURE_N12",
            literal: lit(12, chain(&[(1, 60), (8, 40)]), vec![61; 2], 40),
            working_level: 8,
            bootstrappable: false,
        },
        ParamSet {
            name: "INSECURE_N10",
            literal: lit(10, chain(&[(1, 50), (3, 40)]), vec![61], 40),
            working_level: 3,
            bootstrappable: false,
        },
    ]
}

/// The set named `name`, if any.
pub fn by_name(name: &str) -> Option<ParamSet> {
    named_sets().into_iter().find(|s| s.name == name)
}
