//! A plaintext executor of the tensor IR with a KV cache, and greedy generation on top of it.
//!
//! Every token, prompt tokens included, is fed as its own step (as an FHE decode runtime does):
//! step `i` runs the module at position `i` with the KV cache of tokens `0..i`.

pub mod executor;
pub mod kernels;

pub use executor::{generate, Executor, Generation};
