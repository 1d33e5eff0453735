//! A lowered logical vector: its ciphertext blocks (strided layout) and a pending per-entry gain.

use cachemir_ir::fhe::ValueId;

/// A tensor-IR vector after lowering.
#[derive(Debug, Clone, PartialEq)]
pub struct Vector {
    /// One ciphertext per block of `D` entries, in the strided layout.
    pub blocks: Vec<ValueId>,
    /// Logical length.
    pub len: usize,
    /// A per-entry factor not yet applied (an RMSNorm gain): the value is `blocks ⊙ gain`. Vector×matrix
    /// products fold it into their weights for free; other consumers apply it first.
    pub gain: Option<Vec<f32>>,
}
