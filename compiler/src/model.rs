//! Opening a model file of any supported format as tensor IR.

use std::path::Path;

use cachemir_ir::plan::text::{TextCodec, TokenizerSpec};
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

/// The tokenizer of the model at `path`, or why it has none: a GGUF file's `tokenizer.ggml.*` metadata
/// ([`crate::gguf::tokenizer`]), or for ONNX a `tokenizer.json` beside the model (with the
/// beginning- and end-of-sequence tokens of a `tokenizer_config.json` there, if any).
pub fn load_tokenizer(path: &Path) -> std::result::Result<TokenizerSpec, String> {
    match format_of(path).map_err(|e| e.to_string())? {
        Format::Gguf => {
            let file = crate::gguf::GgufFile::open(path).map_err(|e| e.to_string())?;
            crate::gguf::tokenizer::tokenizer_spec(&file)
        }
        Format::Onnx => {
            let dir = path.parent().unwrap_or(Path::new("."));
            let file = dir.join("tokenizer.json");
            let json = std::fs::read_to_string(&file)
                .map_err(|_| format!("no tokenizer.json beside {}", path.display()))?;
            let codec = TextCodec::new(TokenizerSpec {
                json: json.clone(),
                bos: None,
                eos: None,
            })
            .map_err(|e| format!("{}: {e}", file.display()))?;
            let config: serde_json::Value =
                std::fs::read_to_string(dir.join("tokenizer_config.json"))
                    .ok()
                    .and_then(|t| serde_json::from_str(&t).ok())
                    .unwrap_or_default();
            let id = |key: &str| {
                let v = &config[key];
                let name = v.as_str().or_else(|| v["content"].as_str())?;
                codec.token_id(name)
            };
            Ok(TokenizerSpec {
                json,
                bos: id("bos_token"),
                eos: id("eos_token"),
            })
        }
    }
}
