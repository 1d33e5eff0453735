//! `verify`: runs the FHE verifier as a pass.

use crate::error::PassError;
use crate::pass::{Changed, Pass, PassCx};
use cachemir_ir::fhe::Module;

/// Runs the verifier and fails with its error (naming the op) if the module is invalid. Never changes the
/// module. Useful at the head of a pipeline (the manager only verifies after passes) and for verifier
/// filetests, where the expected error sits next to the offending line. No options.
#[derive(Debug, Clone, Copy, Default)]
pub struct Verify;

impl Pass for Verify {
    fn name(&self) -> &'static str {
        "verify"
    }

    fn run(&self, module: &mut Module, _: &mut PassCx) -> Result<Changed, PassError> {
        module.verify()?;
        Ok(Changed::No)
    }
}
