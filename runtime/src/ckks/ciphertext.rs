//! Ciphertexts: polynomials `(c_0, c_1[, c_2])` in evaluation form with level, scale and slot count.

use cachemir_kernels::RnsPoly;

/// A CKKS ciphertext: `c_0 + c_1·s (+ c_2·s²) ≈ Δ·m` modulo `q_0 ⋯ q_level`.
#[derive(Debug, Clone, PartialEq)]
pub struct Ciphertext {
    pub(crate) polys: Vec<RnsPoly>,
    pub(crate) scale: f64,
    pub(crate) slots: usize,
}

impl Ciphertext {
    /// The noiseless encryption `(0, 0)` of zero at `level` (primes `q_0 … q_level`), valid under any key.
    pub fn zero(n: usize, level: usize, scale: f64, slots: usize) -> Self {
        let primes: Vec<usize> = (0..=level).collect();
        let zero = RnsPoly::zero(n, &primes, cachemir_kernels::Form::Eval);
        Self {
            polys: vec![zero.clone(), zero],
            scale,
            slots,
        }
    }

    /// Level (number of primes − 1).
    pub fn level(&self) -> usize {
        self.polys[0].limb_count() - 1
    }

    /// Degree: 1 for a fresh ciphertext, 2 after a product before relinearization.
    pub fn degree(&self) -> usize {
        self.polys.len() - 1
    }

    /// The scale Δ of the encrypted message.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// Number of slots packed.
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// Overrides the recorded scale (for callers that know the exact scale after a chain of rescales).
    pub fn set_scale(&mut self, scale: f64) {
        self.scale = scale;
    }

    /// Heap bytes of the residues.
    pub fn byte_size(&self) -> usize {
        self.polys.iter().map(RnsPoly::byte_size).sum()
    }
}
