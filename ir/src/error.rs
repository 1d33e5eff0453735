//! The one error type of `cachemir-ir`.

/// Errors of the IR crate: parsing, verification, plan loading. Every variant names the op, value,
/// line or file at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IrError {
    /// Text that does not parse; `line` is 1-based.
    #[error("line {line}: {message}")]
    Parse {
        /// 1-based line number.
        line: usize,
        /// What was expected or found.
        message: String,
    },
}

/// Result with [`IrError`].
pub type Result<T, E = IrError> = std::result::Result<T, E>;
