//! `cachemir reference`: greedy generation with the plaintext reference executor.

use std::path::PathBuf;

use anyhow::Context;
use cachemir_compiler::model::{load_tensor_ir, load_tokenizer};
use cachemir_compiler::reference::generate;
use cachemir_compiler::truncate::truncate_layers;
use cachemir_ir::plan::text::TextCodec;

/// Arguments of `cachemir reference`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The model: an ONNX decoder-with-past export (`.onnx`) or a GGUF Llama (`.gguf`).
    model: PathBuf,
    /// Prompt token ids, comma-separated (each fed as its own step).
    #[arg(
        long,
        value_delimiter = ',',
        required_unless_present = "prompt",
        conflicts_with = "prompt"
    )]
    prompt_ids: Vec<u32>,
    /// Prompt text, encoded with the model's tokenizer (its beginning-of-sequence token first); the
    /// generated text is printed, and generation stops at the end-of-sequence token.
    #[arg(long)]
    prompt: Option<String>,
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
    let codec = match &a.prompt {
        None => None,
        Some(_) => {
            let spec = load_tokenizer(&a.model)
                .map_err(|why| anyhow::anyhow!("--prompt needs the model's tokenizer: {why}"))?;
            Some(TextCodec::new(spec)?)
        }
    };
    let prompt = match (&a.prompt, &codec) {
        (Some(text), Some(codec)) => codec.encode(text)?,
        _ => a.prompt_ids.clone(),
    };
    let mut out = generate(&module, &prompt, a.max_new_tokens)
        .with_context(|| format!("running {}", a.model.display()))?;
    let text = match &codec {
        Some(codec) => {
            if let Some(end) = out.generated_ids.iter().position(|&t| codec.is_eos(t)) {
                out.generated_ids.truncate(end + 1);
                out.logits.truncate(prompt.len() + end + 1);
            }
            Some(codec.decode(&out.generated_ids)?)
        }
        None => None,
    };
    if a.json {
        let obj = serde_json::json!({
            "prompt_ids": prompt,
            "generated_ids": out.generated_ids,
            "text": text,
            "logits": out.logits,
        });
        println!("{obj}");
    } else if let Some(text) = text {
        println!("{text}");
    } else {
        let ids: Vec<String> = out.generated_ids.iter().map(u32::to_string).collect();
        println!("{}", ids.join(","));
    }
    Ok(())
}
