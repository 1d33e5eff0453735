//! GGUF input (llama.cpp's format): a small reader of our own, dequantization, and the mapping
//! of a GGUF Llama onto [`crate::llama::Llama`].
//!
//! Why our own reader: GGUF is a simple format (header, typed metadata, tensor table, aligned
//! data), and the candidate crate (candle-core) is a heavy dependency (about five minutes of cold
//! build) for the few hundred lines needed here.

pub mod dequant;
pub mod file;
pub mod llama;
pub mod tokenizer;

pub use file::{GgufFile, MetaValue, TensorInfo};
pub use llama::load_llama;

#[cfg(test)]
mod tests;
