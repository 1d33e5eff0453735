//! The CKKS parameter sets a plan can name (`--params`), as the compiler sees them: the literal the runtime
//! validates plus the working level the program lives at.
//!
//! The literals are `cachemir_ir::params::named_sets`, shared with the runtime (which validates them).

use cachemir_ir::params::CkksParamsLiteral;

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

/// Every named set of `cachemir_ir::params::named_sets`, with the levels a program may use.
pub fn named_sets() -> Vec<ParamSet> {
    cachemir_ir::params::named_sets()
        .into_iter()
        .map(|(name, literal)| {
            // A bootstrappable set keeps its top primes for bootstrapping (N16_BOOT: 4 CoeffsToSlots
            // + 8 EvalMod + 3 SlotsToCoeffs, so programs live on q_0 … q_9).
            let boot = cachemir_ir::params::bootstrap_levels(name);
            let bootstrappable = boot.is_some();
            let top = literal.max_level().unwrap_or(0);
            let working_level = top - boot.map_or(0, |b| b.total());
            ParamSet {
                name,
                literal,
                working_level,
                bootstrappable,
            }
        })
        .collect()
}

/// The set named `name`, if any.
pub fn by_name(name: &str) -> Option<ParamSet> {
    named_sets().into_iter().find(|s| s.name == name)
}
