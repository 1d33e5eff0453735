//! The one error type of `cachemir-runtime`.

use cachemir_kernels::KernelError;

/// Errors of the CKKS scheme and the plan runtime. Variants carry the values at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// The ring layer refused the parameters.
    #[error(transparent)]
    Kernel(#[from] KernelError),
    /// A parameter literal that does not describe a usable CKKS instance.
    #[error("invalid CKKS parameters: {reason}")]
    InvalidParameters {
        /// What is wrong.
        reason: String,
    },
    /// No parameter set of that name.
    #[error("unknown parameter set `{name}` (known: {known})")]
    UnknownParameterSet {
        /// The requested name.
        name: String,
        /// Comma-separated known names.
        known: String,
    },
    /// Two operands at different levels.
    #[error("{op}: level mismatch ({left} vs {right})")]
    LevelMismatch {
        /// The operation.
        op: &'static str,
        /// Level of the left operand.
        left: usize,
        /// Level of the right operand.
        right: usize,
    },
    /// Two operands at different scales (log2 shown).
    #[error("{op}: scale mismatch (2^{left:.4} vs 2^{right:.4})")]
    ScaleMismatch {
        /// The operation.
        op: &'static str,
        /// log2 of the left scale.
        left: f64,
        /// log2 of the right scale.
        right: f64,
    },
    /// Two operands with different slot counts.
    #[error("{op}: slot count mismatch ({left} vs {right})")]
    SlotMismatch {
        /// The operation.
        op: &'static str,
        /// Slots of the left operand.
        left: usize,
        /// Slots of the right operand.
        right: usize,
    },
    /// An operation that needs more levels than the operand has.
    #[error("{op}: needs level ≥ {needed}, operand is at level {level}")]
    LevelTooLow {
        /// The operation.
        op: &'static str,
        /// Required level.
        needed: usize,
        /// Actual level.
        level: usize,
    },
    /// A ciphertext of the wrong degree for the operation (e.g. relinearize a degree-1 ciphertext).
    #[error("{op}: ciphertext has degree {degree}, expected {expected}")]
    Degree {
        /// The operation.
        op: &'static str,
        /// Actual degree (number of polynomials − 1).
        degree: usize,
        /// Expected degree.
        expected: usize,
    },
    /// A rotation whose key was not generated.
    #[error("no rotation key for step {step} (Galois element {galois})")]
    MissingRotationKey {
        /// The rotation step (0 for conjugation).
        step: i64,
        /// Its Galois element.
        galois: u64,
    },
    /// No relinearization key was provided.
    #[error("no relinearization key")]
    MissingRelinearizationKey,
    /// Bootstrapping with an ephemeral sparse secret, but no encapsulation keys were provided.
    #[error("bootstrapping needs sparse-secret encapsulation keys, and none were provided")]
    MissingEncapsulationKeys,
    /// A slot count that is not a power of two in 1..=N/2, or more values than slots.
    #[error("invalid slot count {slots} (max {max}, power of two)")]
    InvalidSlots {
        /// Requested slots.
        slots: usize,
        /// Maximum (N/2).
        max: usize,
    },
    /// A value too large to encode at the requested scale.
    #[error("value {value} at scale 2^{log_scale:.1} overflows the encoder")]
    EncodeOverflow {
        /// The offending value.
        value: f64,
        /// log2 of the scale.
        log_scale: f64,
    },
    /// A plan op that cannot execute (bad operand, missing input, inconsistent state); `op` is its label.
    #[error("{op}: {reason}")]
    Execution {
        /// The op, as the IR labels it (e.g. `op %12 (add)`).
        op: String,
        /// What went wrong.
        reason: String,
    },
    /// A plan the runtime cannot use (invalid parameters for its program, unsupported op).
    #[error("plan: {reason}")]
    Plan {
        /// What is wrong.
        reason: String,
    },
    /// A file that could not be read or written.
    #[error("{path}: {reason}")]
    Io {
        /// The file.
        path: String,
        /// The operating system's message.
        reason: String,
    },
    /// A network call that failed: the connection, or a status from the other side.
    #[error("{what}: {reason}")]
    Network {
        /// The call or endpoint (e.g. `step at position 3`).
        what: String,
        /// The transport's error or the gRPC status.
        reason: String,
    },
    /// Bytes that do not decode to the expected object.
    #[error("cannot decode {what}: {reason}")]
    Decode {
        /// What was being decoded (ciphertext, public key, …).
        what: &'static str,
        /// Why it failed.
        reason: String,
    },
}

/// Result with [`RuntimeError`].
pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;
