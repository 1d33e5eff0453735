//! `cachemir reference`: greedy generation with the plaintext reference executor.

use std::path::PathBuf;

use anyhow::Context;
use cachemir_compiler::model::load_tensor_ir;
use cachemir_compiler::reference::generate;
use cachemir_compiler::truncate::truncate_layers;

/// Arguments of `cachemir reference`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The model: an ONNX decoder-with-past export (`.onnx`) or a GGUF Llama (`.gguf`).
    model: PathBuf,
    /// Prompt token ids, comma-separated (each fed as its own step).
    #[arg(long, value_delimiter = ',', required = true)]
    prompt_ids: Vec<u32>,
    /// Keep only the first N decoder layers (then the final norm and the LM head).
    #[arg(long)]
    layers: Option<usize>,
    /// Number of tokens to generate greedily.
    #[arg(long, default_value_t = 8)]
    max_new_tokens: usize,
    /// Print one JSON object with `generated_ids` and `logits` (one row per fed token).
    #[arg(long)]
    json: bool,
}

/// Runs the command.
pub fn run(a: Args) -> anyhow::Result<()> {
    let mut module = load_tensor_ir(&a.model)?;
    if let Some(n) = a.layers {
        module = truncate_layers(&module, n).with_context(|| a.model.display().to_string())?;
    }
    let out = generate(&module, &a.prompt_ids, a.max_new_tokens)
        .with_context(|| format!("running {}", a.model.display()))?;
    if a.json {
        let obj = serde_json::json!({
            "prompt_ids": a.prompt_ids,
            "generated_ids": out.generated_ids,
            "logits": out.logits,
        });
        println!("{obj}");
    } else {
        let ids: Vec<String> = out.generated_ids.iter().map(u32::to_string).collect();
        println!("{}", ids.join(","));
    }
    Ok(())
}
