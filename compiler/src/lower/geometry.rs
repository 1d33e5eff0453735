//! The packing geometry shared by every lowered op: slot count `S`, packing dimension `D` (every vector is
//! cut into blocks of `D` entries, padded with zeros) and replication factor `K = S / D`.
//!
//! Two layouts of one block `x` (`x[c]`, `c < D`):
//! - *strided* (between ops): `slot[c·K] = x[c]`, every other slot zero — the IR's
//!   `Layout::Strided { len, stride: K }`;
//! - *IRP* (input of a vector×matrix product): `slot[K·i + j] = x[(i + j) mod D]` — the IR's
//!   `Layout::Replicated { len: D }`.
//!
//! With `K = 1` (the `diagonal` strategy) both are the dense layout.

use cachemir_ir::fhe::Layout;

/// Slot count, packing dimension and replication factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// Slots per ciphertext `S` (a power of two).
    pub slots: u32,
    /// Packing dimension `D` (a power of two dividing `S`).
    pub d: u32,
    /// Replication factor / tokens per KV chunk `K = S / D`.
    pub k: u32,
}

impl Geometry {
    /// The geometry for `slots` slots and blocks of `d` entries; `None` unless both are powers of two with
    /// `d ≤ slots`.
    pub fn new(slots: u32, d: u32) -> Option<Self> {
        (slots.is_power_of_two() && d.is_power_of_two() && d <= slots).then_some(Self {
            slots,
            d,
            k: slots / d,
        })
    }

    /// Number of `D`-blocks of a vector of `len` entries.
    pub fn blocks(&self, len: usize) -> usize {
        len.div_ceil(self.d as usize).max(1)
    }

    /// Logical length of block `b` of a vector of `len` entries.
    pub fn block_len(&self, len: usize, b: usize) -> u32 {
        (len - b * self.d as usize).min(self.d as usize) as u32
    }

    /// The strided layout of a block of `len` entries.
    pub fn strided(&self, len: u32) -> Layout {
        Layout::Strided {
            len,
            stride: self.k,
        }
    }

    /// `log2 K`.
    pub fn log_k(&self) -> u32 {
        self.k.trailing_zeros()
    }
}
