//! Opening a model file of any supported format as tensor IR.

use std::path::Path;

use cachemir_ir::tensor::Module;

use crate::error::{CompileError, Result};

/// A supported model file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// An ONNX decoder-with-past export (`.onnx`).
    Onnx,
    /// A llama.cpp GGUF file (`.gguf`).
    Gguf,
}

/// The format of `path`, from its extension.
pub fn format_of(path: &Path) -> Result<Format> {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("onnx") => Ok(Format::Onnx),
        Some("gguf") => Ok(Format::Gguf),
        _ => Err(CompileError::UnknownFormat { path: path.into() }),
    }
}

/// Loads the model at `path` and returns the verified tensor IR of its decode step.
pub fn load_tensor_ir(path: &Path) -> Result<Module> {
    match format_of(path)? {
        Format::Onnx => crate::recognize::to_tensor_ir(&crate::onnx::load_model(path)?),
        Format::Gguf => crate::llama::emit(&crate::gguf::load_llama(path)?),
    }
}
