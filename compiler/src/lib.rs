//! `cachemir-compiler`: the compile side of Cachemir.
//!
//! Audience: model owners (through the `cachemir` CLI) and anyone extending the frontend.
//!
//! - [`onnx`]: loads an ONNX export (protobuf types stay there), imports its ops, interprets it.
//! - [`recognize`]: finds the Llama decode step in an imported ONNX graph and emits tensor IR.
//! - [`gguf`]: reads a GGUF Llama (llama.cpp's format) into the same tensor IR.
//! - [`reference`](mod@reference): a plaintext executor of the tensor IR with a KV cache (greedy generation).
//! - [`model`]: opens a model file of either format.
//! - [`calibrate`]: input ranges of the non-linear ops, measured on calibration tokens.
//! - [`lower`]: tensor IR → FHE IR through a packing strategy, level management, plan emission.
//!
//! Contract: every model file, good or bad, yields either a verified
//! [`cachemir_ir::tensor::Module`] or a [`CompileError`] naming the file, node, op type and opset.

pub mod error;
pub mod onnx;

pub use error::{CompileError, Result};
pub mod calibrate;
pub mod gguf;
pub mod llama;
pub mod lower;
pub mod model;
pub mod recognize;
pub mod reference;
pub mod truncate;
