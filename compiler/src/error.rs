//! The one error type of `cachemir-compiler`.

use std::path::PathBuf;

/// Errors of the frontend: loading a model file, importing its ops, recognizing a decode step,
/// running the reference executor. Every variant names the file, node, op type or value at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CompileError {
    /// The file could not be read at all.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The bytes are not a protobuf ONNX model (truncated, corrupted or another format).
    #[error("{path}: not a valid ONNX model: {reason}")]
    NotOnnx {
        /// The file.
        path: PathBuf,
        /// What the decoder or the structural check found.
        reason: String,
    },
    /// A tensor of the model (initializer or constant) is malformed.
    #[error("{path}: tensor `{tensor}`: {reason}")]
    BadTensor {
        /// The model file.
        path: PathBuf,
        /// Name of the tensor.
        tensor: String,
        /// What is wrong.
        reason: String,
    },
    /// An initializer stored in an external data file could not be read.
    #[error("{path}: tensor `{tensor}` refers to external data `{location}`: {reason}")]
    ExternalData {
        /// The model file.
        path: PathBuf,
        /// Name of the tensor.
        tensor: String,
        /// The `location` entry of the tensor (relative to the model's folder).
        location: String,
        /// What is wrong (missing file, short file, bad offset).
        reason: String,
    },
    /// An op type (in this opset) has no import function.
    #[error("node `{node}`: unsupported op `{op_type}` (domain `{domain}`, opset {opset})")]
    UnsupportedOp {
        /// Node name (or `#index` if unnamed).
        node: String,
        /// ONNX op type.
        op_type: String,
        /// Op domain (`` for the default ONNX domain).
        domain: String,
        /// The opset version the model imports for that domain.
        opset: i64,
    },
    /// A node is supported but its attributes or inputs are not valid for it.
    #[error("node `{node}` ({op_type}, opset {opset}): {reason}")]
    BadNode {
        /// Node name.
        node: String,
        /// ONNX op type.
        op_type: String,
        /// Opset version.
        opset: i64,
        /// What is wrong.
        reason: String,
    },
    /// The graph is not a Llama decoder-with-past step (missing inputs/outputs or an unexpected structure).
    #[error("not a Llama decoder step: {reason}")]
    NotDecoder {
        /// What was expected and what was found.
        reason: String,
    },
    /// A node of the graph does not fit the Llama block it sits in.
    #[error(
        "not a Llama decoder step: node `{node}` ({op_type}, opset {opset}) in {block}: {reason}"
    )]
    Unrecognized {
        /// Node name.
        node: String,
        /// ONNX op type.
        op_type: String,
        /// Opset version.
        opset: i64,
        /// The block being matched (`layer 0 attention`, ...).
        block: String,
        /// What did not fit.
        reason: String,
    },
    /// A GGUF file is malformed or holds something other than a Llama model.
    #[error("{path}: GGUF: {reason}")]
    Gguf {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The file extension names no supported model format.
    #[error("{path}: unknown model format (expected .onnx or .gguf)")]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// Running the tensor IR failed (bad token id, missing weight data, ...).
    #[error("reference executor: {reason}")]
    Execute {
        /// What failed.
        reason: String,
    },
    /// The decode step cannot be lowered to the FHE IR (unsupported shape or structure).
    #[error("lowering: node {node}: {reason}")]
    Lower {
        /// The tensor-IR node (`#index (keyword)`) or `module`.
        node: String,
        /// What is not supported.
        reason: String,
    },
    /// The calibration input cannot be used (text the tokenizer rejects, no paragraph).
    #[error("calibration: {reason}")]
    Calibration {
        /// What is wrong.
        reason: String,
    },
    /// `--layers` asks for no layer or more layers than the model has.
    #[error(
        "--layers {requested}: the model has {available} decoder layers (ask for 1 to {available})"
    )]
    BadLayerCount {
        /// The layer count asked for.
        requested: usize,
        /// The model's decoder layers.
        available: usize,
    },
    /// A calibrated value exceeds what the op consuming it handles (a bootstrap input above the
    /// bootstrapping limit), and the user did not accept the risk.
    #[error("{} calibrated value(s) out of range, the first: {first} (pass --allow-range-risk to compile anyway)", .count)]
    OutOfRange {
        /// How many ops are at fault.
        count: usize,
        /// The first one: op, tensor node, observed magnitude and limit.
        first: String,
    },
    /// A pass over the lowered FHE program failed.
    #[error("lowering: {0}")]
    Pass(#[from] cachemir_passes::PassError),
    /// The produced tensor IR does not verify (a frontend bug or a malformed model).
    #[error("tensor IR does not verify: {0}")]
    Ir(#[from] cachemir_ir::IrError),
}

/// Result with [`CompileError`].
pub type Result<T, E = CompileError> = std::result::Result<T, E>;
