//! The pass trait and the context passes share.

use crate::error::PassError;
use cachemir_ir::text::TextForm;
use cachemir_ir::IrError;
use std::collections::BTreeMap;

/// An IR a pass can run over: printable (for dumps and filetests) and verifiable.
pub trait Ir: TextForm {
    /// Runs the IR's verifier.
    fn verify_ir(&self) -> Result<(), IrError>;
}

impl Ir for cachemir_ir::fhe::Module {
    fn verify_ir(&self) -> Result<(), IrError> {
        self.verify()
    }
}

/// Whether a pass changed the module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Changed {
    /// The module changed.
    Yes,
    /// The module is untouched.
    No,
}

impl Changed {
    /// `Yes` if `b`.
    pub fn from_bool(b: bool) -> Self {
        if b {
            Changed::Yes
        } else {
            Changed::No
        }
    }
}

/// State shared by the passes of one pipeline run: named counters passes bump (e.g.
/// `dead-code-elimination.removed`), reported by the manager in tracing events.
#[derive(Debug, Clone, Default)]
pub struct PassCx {
    /// Counters by `<pass-name>.<what>`.
    pub stats: BTreeMap<String, u64>,
}

impl PassCx {
    /// Adds `n` to counter `key`.
    pub fn bump(&mut self, key: &str, n: u64) {
        *self.stats.entry(key.to_string()).or_insert(0) += n;
    }
}

/// A transform or analysis over a module of IR `M` (the FHE IR by default).
pub trait Pass<M: Ir = cachemir_ir::fhe::Module> {
    /// Stable kebab-case name: CLI flag, `CACHEMIR_DUMP` value, dump file stem, filetest folder.
    fn name(&self) -> &'static str;
    /// Runs the pass; mutates `module` only through the IR's rewrite API.
    fn run(&self, module: &mut M, cx: &mut PassCx) -> Result<Changed, PassError>;
}
