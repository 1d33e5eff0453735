//! Calibration on text: paragraphs tokenized with the model's tokenizer, each its own sequence (from
//! the beginning of a sequence, so every paragraph also calibrates the first position), and the built-in
//! English passage used when no calibration is given.

use crate::error::{CompileError, Result};
use cachemir_ir::plan::text::TextCodec;

/// The built-in calibration passage: plain English, one sequence per paragraph.
pub const PASSAGE: &str = include_str!("passage.txt");

/// Token sequences of `text`: its paragraphs (separated by blank lines), each encoded from the
/// beginning of a sequence.
pub fn text_sequences(codec: &TextCodec, text: &str) -> Result<Vec<Vec<u32>>> {
    let sequences = text
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| codec.encode(p))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| CompileError::Calibration {
            reason: e.to_string(),
        })?;
    if sequences.is_empty() {
        return Err(CompileError::Calibration {
            reason: "the text has no paragraph".into(),
        });
    }
    Ok(sequences)
}

/// The built-in passage's sequences.
pub fn passage_sequences(codec: &TextCodec) -> Result<Vec<Vec<u32>>> {
    text_sequences(codec, PASSAGE)
}
