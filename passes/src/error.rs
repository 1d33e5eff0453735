//! The one error type of `cachemir-passes`.

use cachemir_ir::IrError;

/// Errors of passes and the pass manager. Errors from a pass are wrapped with the pass name by the manager.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PassError {
    /// An IR operation (rewrite, verification, parsing) failed.
    #[error(transparent)]
    Ir(#[from] IrError),
    /// A pass could not transform the module; `op` names the op at fault (`%n (kind)`).
    #[error("op {op}: {message}")]
    Unsupported {
        /// The op at fault.
        op: String,
        /// Why.
        message: String,
    },
    /// The error of pass `pass` (added by the manager).
    #[error("pass {pass}: {source}")]
    InPass {
        /// Kebab-case pass name.
        pass: &'static str,
        /// The pass's error.
        source: Box<PassError>,
    },
    /// The module no longer verifies after pass `pass`.
    #[error("after pass {pass}: {source}")]
    VerifyAfter {
        /// Kebab-case pass name.
        pass: &'static str,
        /// The verifier's error.
        source: IrError,
    },
    /// The MILP solver failed (bootstrap placement).
    #[error("solver: {message}")]
    Solver {
        /// The solver's error.
        message: String,
    },
    /// No pass has this name.
    #[error("unknown pass `{name}` (known: {known})")]
    UnknownPass {
        /// The name asked for.
        name: String,
        /// Known names, comma-separated.
        known: String,
    },
    /// Writing a dump file failed.
    #[error("dump {path}: {source}")]
    Dump {
        /// Dump file path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}
