//! `cachemir-ir`: the languages of the Cachemir compiler and its contract with the runtime.
//!
//! - [`tensor`]: the tensor IR, logical tensors of one Llama decode step (what the ONNX frontend produces).
//! - [`fhe`]: the FHE IR, packed CKKS ciphertexts with level, scale and layout in every value's type.
//! - [`plan`]: the `.plan` file, the only contract between the compile side and the run side.
//! - [`params`]: the CKKS parameter literal shared by compiler and runtime.
//! - [`cost`]: the cost model, predicted seconds per op from the engine's measured table.
//! - [`embedding`] and [`bootstrap_sine`]: how CKKS lays slot values into a polynomial, and what
//!   bootstrapping's sine does to them (the compiler's calibration and the runtime's simulation).
//! - [`text`]: the text-form entry point ([`text::TextForm`]) and the lexer both IRs share.
//! - [`weights`]: the plaintext numbers the FHE IR refers to by name.
//! - [`arena`]: typed arenas and side tables shared by both IRs.
//!
//! Audience: pass writers (read [`fhe`] and [`tensor`]), the runtime (reads [`plan`]).

pub mod arena;
pub mod bootstrap_sine;
pub mod cost;
pub mod embedding;
pub mod fhe;
pub mod params;
pub mod plan;
pub mod tensor;
pub mod text;
pub mod weights;

mod error;
pub use error::{IrError, Result};
pub use params::{CkksParamsLiteral, SecretDistribution};
