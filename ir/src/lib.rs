//! `cachemir-ir`: the languages of the Cachemir compiler and its contract with the runtime.
//!
//! - [`tensor`]: the tensor IR, logical tensors of one Llama decode step (what the ONNX frontend produces).
//! - [`fhe`]: the FHE IR, packed CKKS ciphertexts with level, scale and layout in every value's type.
//! - [`plan`]: the `.plan` file, the only contract between the compile side and the run side.
//! - [`arena`]: typed arenas and side tables shared by both IRs.
//!
//! Audience: pass writers (read [`fhe`] and [`tensor`]), the runtime (reads [`plan`]).

pub mod arena;
pub mod fhe;
pub mod plan;
pub mod tensor;

mod error;
pub use error::{IrError, Result};
