//! Unit newtypes of the FHE IR: a level is not a slot count is not a rotation step.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A ciphertext level: the index of the last modulus still present (`q_0 … q_level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Level(pub u32);

/// log2 of a CKKS scale. Nominal: rescaling at level `l` subtracts exactly `log_q[l]` bits.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LogScale(pub f64);

/// A slot rotation: positive rotates left (`out[i] = in[(i + step) mod slots]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RotStep(pub i32);

/// A number of plaintext slots (a power of two, at most N/2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SlotCount(pub u32);

/// Two scales are equal if they differ by at most this many bits.
pub const SCALE_TOLERANCE_BITS: f64 = 1e-6;

impl LogScale {
    /// Whether `self` and `other` are equal within [`SCALE_TOLERANCE_BITS`].
    pub fn approx_eq(self, other: LogScale) -> bool {
        (self.0 - other.0).abs() <= SCALE_TOLERANCE_BITS
    }
}

impl RotStep {
    /// The step as a left rotation in `0..slots`.
    pub fn normalized(self, slots: SlotCount) -> u32 {
        (i64::from(self.0)).rem_euclid(i64::from(slots.0.max(1))) as u32
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
impl fmt::Display for LogScale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
impl fmt::Display for RotStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
impl fmt::Display for SlotCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
