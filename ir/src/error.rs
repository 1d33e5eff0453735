//! The one error type of `cachemir-ir`.

use crate::fhe::Problem;

/// Errors of the IR crate: parsing, verification, rewriting, interpretation and plan loading. Every variant
/// names the op, value, line, weight or section at fault.
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

    // ---- tensor IR (frontend engineer's block) ----
    /// The tensor-IR verifier rejected an op, value or weight (`at` is `%n (kind)` or `weight "name"`).
    #[error("tensor IR: {at}: {message}")]
    TensorVerify {
        /// The op, value or weight at fault.
        at: String,
        /// What is wrong.
        message: String,
    },

    // ---- FHE IR ----
    /// The verifier rejected an op (`op` is `%n (kind)` for an op with results, `#n (kind)` otherwise) or a
    /// module declaration (`op` names it).
    #[error("op {op}: {problem}")]
    Verify {
        /// The op or declaration at fault.
        op: String,
        /// What is wrong.
        problem: Problem,
    },
    /// A rewrite asked for something impossible (op not in the program, result count changed).
    #[error("rewrite of op #{op}: {message}")]
    Rewrite {
        /// Raw op index.
        op: usize,
        /// What is wrong.
        message: String,
    },
    /// The cleartext interpreter could not run the program.
    #[error("interpreter at {op}: {message}")]
    Interp {
        /// The op (or input/weight) at fault.
        op: String,
        /// What is wrong.
        message: String,
    },

    // ---- cost model ----
    /// A cost table that does not parse or does not cover a program (`source` names the table).
    #[error("cost table {table}: {message}")]
    CostTable {
        /// The file or built-in table at fault.
        table: String,
        /// What is wrong.
        message: String,
    },

    // ---- .plan files ----
    /// The file does not start with the plan magic bytes.
    #[error("not a .plan file (bad magic bytes)")]
    PlanMagic,
    /// The file's format version is not supported.
    #[error(
        ".plan format version {found} is not supported (this build reads version {supported})"
    )]
    PlanVersion {
        /// Version in the file.
        found: u32,
        /// Version this build reads.
        supported: u32,
    },
    /// The file ends before a section does.
    #[error(".plan truncated in the {section}: needs {needed} bytes, {available} available")]
    PlanTruncated {
        /// Section name.
        section: &'static str,
        /// Bytes needed.
        needed: u64,
        /// Bytes present.
        available: u64,
    },
    /// A section's checksum does not match its bytes.
    #[error(".plan {section} checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    PlanChecksum {
        /// Section name.
        section: &'static str,
        /// CRC-32 stored in the header.
        stored: u32,
        /// CRC-32 of the bytes read.
        computed: u32,
    },
    /// The structure section is not valid RON for the plan structure.
    #[error(".plan structure section: {message}")]
    PlanStructure {
        /// The RON error.
        message: String,
    },
    /// A weight entry is inconsistent (bad extent, unknown dtype size, shape mismatch, missing or extra weight).
    #[error(".plan weight \"{name}\": {message}")]
    PlanWeight {
        /// Weight name.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// The plan's client tables cannot supply an input (see `plan::client`).
    #[error("plan input \"{input}\": {message}")]
    ClientRule {
        /// Input name.
        input: String,
        /// What is missing.
        message: String,
    },
    /// Text cannot go through the model's tokenizer (no tokenizer, an empty prompt, text it cannot
    /// encode, ids it cannot decode).
    #[error("tokenizer: {message}")]
    Text {
        /// What failed.
        message: String,
    },
    /// Two parts of the plan disagree (parameters vs program, client I/O vs program).
    #[error(".plan inconsistent: {message}")]
    PlanInconsistent {
        /// What disagrees.
        message: String,
    },
    /// Reading or writing the file failed.
    #[error("{path}: {source}")]
    Io {
        /// File path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Result with [`IrError`].
pub type Result<T, E = IrError> = std::result::Result<T, E>;
