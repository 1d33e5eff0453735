//! The tokenizer of a GGUF model, from its `tokenizer.ggml.*` metadata, as a Hugging Face
//! `tokenizer.json` built with the `tokenizers` crate (the form the plan carries).
//!
//! Supported: byte-level BPE (`tokenizer.ggml.model = "gpt2"`) with the GPT-2 pre-tokenizer
//! (`tokenizer.ggml.pre` `gpt2` or `default`) or SmolLM's (`smollm`: digits split one by one first, as
//! llama.cpp and the model's own `tokenizer.json` do). Control tokens (type 3) are special tokens,
//! user-defined ones (type 4) added tokens. Other models (SentencePiece `llama`, other pre-tokenizers)
//! are reported as unsupported rather than approximated.

use super::file::{GgufFile, MetaValue};
use cachemir_ir::plan::text::{TextCodec, TokenizerSpec};
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::BPE;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::{AddedToken, PreTokenizerWrapper, Tokenizer};

fn strings<'a>(f: &'a GgufFile, key: &str) -> Result<Vec<&'a str>, String> {
    match f.meta.get(key) {
        Some(MetaValue::Array(items)) => items
            .iter()
            .map(|v| match v {
                MetaValue::String(s) => Ok(s.as_str()),
                _ => Err(format!("metadata `{key}` holds a non-string")),
            })
            .collect(),
        _ => Err(format!("metadata `{key}` is missing")),
    }
}

fn string<'a>(f: &'a GgufFile, key: &str) -> Option<&'a str> {
    match f.meta.get(key) {
        Some(MetaValue::String(s)) => Some(s),
        _ => None,
    }
}

/// The tokenizer of `f`, or why there is none.
pub fn tokenizer_spec(f: &GgufFile) -> Result<TokenizerSpec, String> {
    let model = string(f, "tokenizer.ggml.model").ok_or("the file has no tokenizer metadata")?;
    if model != "gpt2" {
        return Err(format!(
            "tokenizer model `{model}` is not supported (byte-level BPE `gpt2` only)"
        ));
    }
    let pre = string(f, "tokenizer.ggml.pre").unwrap_or("default");
    let byte_level: PreTokenizerWrapper = ByteLevel::new(false, true, true).into();
    let pre_tokenizer = match pre {
        "gpt2" | "default" => byte_level,
        "smollm" => Sequence::new(vec![Digits::new(true).into(), byte_level]).into(),
        other => return Err(format!("pre-tokenizer `{other}` is not supported")),
    };
    let tokens = strings(f, "tokenizer.ggml.tokens")?;
    let merges = strings(f, "tokenizer.ggml.merges")?
        .into_iter()
        .map(|m| {
            m.split_once(' ')
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .ok_or_else(|| format!("merge {m:?} is not two tokens"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let vocab: tokenizers::models::bpe::Vocab = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (t.to_string(), i as u32))
        .collect();
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .build()
        .map_err(|e| format!("BPE: {e}"))?;
    let mut tokenizer = Tokenizer::new(bpe);
    tokenizer.with_pre_tokenizer(Some(pre_tokenizer));
    tokenizer.with_decoder(Some(ByteLevelDecoder::default()));
    if let Some(MetaValue::Array(types)) = f.meta.get("tokenizer.ggml.token_type") {
        let of_type = |ty: usize| {
            types
                .iter()
                .zip(&tokens)
                .filter(move |(t, _)| t.as_usize() == Some(ty))
                .map(|(_, &tok)| tok)
        };
        let special: Vec<AddedToken> = of_type(3).map(|t| AddedToken::from(t, true)).collect();
        let user: Vec<AddedToken> = of_type(4).map(|t| AddedToken::from(t, false)).collect();
        tokenizer
            .add_special_tokens(special)
            .map_err(|e| format!("special tokens: {e}"))?;
        tokenizer
            .add_tokens(user)
            .map_err(|e| format!("added tokens: {e}"))?;
    }
    let json = tokenizer
        .to_string(false)
        .map_err(|e| format!("writing tokenizer.json: {e}"))?;
    let id = |key: &str| {
        f.meta
            .get(key)
            .and_then(MetaValue::as_usize)
            .and_then(|v| u32::try_from(v).ok())
            .filter(|&v| (v as usize) < tokens.len())
    };
    let spec = TokenizerSpec {
        json,
        bos: id("tokenizer.ggml.bos_token_id"),
        eos: id("tokenizer.ggml.eos_token_id"),
    };
    TextCodec::new(spec.clone()).map_err(|e| e.to_string())?;
    Ok(spec)
}
