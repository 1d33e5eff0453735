//! Encoded messages: a polynomial in evaluation form with its level, scale and slot count.

use cachemir_kernels::RnsPoly;

/// An encoded (unencrypted) CKKS message at a level, over the primes `q_0 … q_level`.
#[derive(Debug, Clone, PartialEq)]
pub struct Plaintext {
    pub(crate) poly: RnsPoly,
    pub(crate) scale: f64,
    pub(crate) slots: usize,
}

impl Plaintext {
    /// Level (number of primes − 1).
    pub fn level(&self) -> usize {
        self.poly.limb_count() - 1
    }

    /// The scale Δ the message was multiplied by.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// Number of slots packed.
    pub fn slots(&self) -> usize {
        self.slots
    }
}
