//! Tensor IR: the logical tensors of ONE Llama decode step (batch 1, one new token).
//!
//! Every value is a vector of f32 (`vec<n>`): the hidden state of the new token or a projection of
//! it. Shapes are concrete; the only symbolic size is the past length, which lives inside
//! [`Op::Attention`] (its KV cache grows by one row per step) and [`Op::Rope`] (the position is
//! the past length). Weights are named entries of the module's [`WeightTable`]; ops refer to them
//! by name.
//!
//! - [`op`]: the op enum with each variant's typing rule.
//! - [`module`]: the module (weights, values, nodes) and the builder API.
//! - [`weight`]: the weight table.
//! - [`print`] / [`parse`]: the text form (see `docs/design/tensor-ir.md`); parse ∘ print = id.
//! - [`verify`]: the verifier (arities, lengths, weights, def-before-use).
//!
//! Producers: the ONNX and GGUF frontends in `cachemir-compiler`. Consumers: the plaintext
//! reference executor and the lowering to the FHE IR.

pub mod module;
pub mod op;
pub mod parse;
pub mod print;
pub mod verify;
pub mod weight;

pub use module::{Module, Node, NodeId, Value, ValueId};
pub use op::Op;
pub use weight::{Weight, WeightTable};

#[cfg(test)]
mod tests;
