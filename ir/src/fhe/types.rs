//! Value types of the FHE IR: ciphertexts, plaintexts, scalars, and slot layouts.

use super::units::{Level, LogScale, SlotCount};
use serde::{Deserialize, Serialize};

/// How a logical vector `x` of length `len` sits in the slots of a ciphertext (the client's encode/decode rule).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Layout {
    /// No logical meaning is claimed (intermediate values inside a kernel).
    Opaque,
    /// `slot[i · stride] = x[i]` for `i < len`; every other slot is zero. `stride = 1` is the dense layout.
    Strided {
        /// Logical length.
        len: u32,
        /// Distance between consecutive elements.
        stride: u32,
    },
    /// Interleaved replicated packing (Cachemir IRP): with `K = slots / len`,
    /// `slot[K · i + j] = x[(i + j) mod len]` for `i < len`, `j < K`. Requires `len` to divide `slots`.
    Replicated {
        /// Logical length `d`.
        len: u32,
    },
}

/// Why a layout does not fit a slot count or a vector.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LayoutError {
    /// The layout needs more slots than there are, or has a zero length/stride, or `len` does not divide the slots.
    #[error("layout {layout:?} does not fit {slots} slots")]
    DoesNotFit {
        /// The layout.
        layout: Layout,
        /// The slot count.
        slots: u32,
    },
    /// An opaque layout has no client encoding.
    #[error("an opaque layout has no client encoding")]
    Opaque,
    /// The vector to encode has the wrong length.
    #[error("vector of length {found} for a layout of length {expected}")]
    Length {
        /// The layout's length.
        expected: u32,
        /// The vector's length.
        found: usize,
    },
}

impl Layout {
    /// Checks that the layout fits `slots` slots.
    pub fn check_fits(&self, slots: SlotCount) -> Result<(), LayoutError> {
        let n = u64::from(slots.0);
        let ok = match *self {
            Layout::Opaque => true,
            Layout::Strided { len, stride } => {
                len >= 1 && stride >= 1 && (u64::from(len) - 1) * u64::from(stride) < n
            }
            Layout::Replicated { len } => {
                len >= 1 && u64::from(len) <= n && n % u64::from(len) == 0
            }
        };
        if ok {
            Ok(())
        } else {
            Err(LayoutError::DoesNotFit {
                layout: self.clone(),
                slots: slots.0,
            })
        }
    }

    /// The logical length, or `None` for [`Layout::Opaque`].
    pub fn logical_len(&self) -> Option<u32> {
        match *self {
            Layout::Opaque => None,
            Layout::Strided { len, .. } | Layout::Replicated { len } => Some(len),
        }
    }

    /// Client encoding: the slot vector holding `x`.
    pub fn encode(&self, x: &[f64], slots: SlotCount) -> Result<Vec<f64>, LayoutError> {
        self.check_fits(slots)?;
        let len = self.logical_len().ok_or(LayoutError::Opaque)?;
        if x.len() != len as usize {
            return Err(LayoutError::Length {
                expected: len,
                found: x.len(),
            });
        }
        let n = slots.0 as usize;
        let mut out = vec![0.0; n];
        match *self {
            Layout::Opaque => unreachable!("rejected above"),
            Layout::Strided { stride, .. } => {
                for (i, &v) in x.iter().enumerate() {
                    out[i * stride as usize] = v;
                }
            }
            Layout::Replicated { len } => {
                let d = len as usize;
                let k = n / d;
                for i in 0..d {
                    for j in 0..k {
                        out[k * i + j] = x[(i + j) % d];
                    }
                }
            }
        }
        Ok(out)
    }

    /// Client decoding: the logical vector read from `slots` (extra slots are ignored).
    pub fn decode(&self, slots: &[f64]) -> Result<Vec<f64>, LayoutError> {
        let count = SlotCount(u32::try_from(slots.len()).unwrap_or(u32::MAX));
        self.check_fits(count)?;
        match *self {
            Layout::Opaque => Err(LayoutError::Opaque),
            Layout::Strided { len, stride } => Ok((0..len as usize)
                .map(|i| slots[i * stride as usize])
                .collect()),
            Layout::Replicated { len } => {
                let k = slots.len() / len as usize;
                Ok((0..len as usize).map(|i| slots[k * i]).collect())
            }
        }
    }
}

/// The type of a ciphertext value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CtType {
    /// Current level.
    pub level: Level,
    /// log2 of the current scale.
    pub scale: LogScale,
    /// Number of slots the value uses (rotations are cyclic over this count).
    pub slots: SlotCount,
    /// How logical data sits in the slots.
    pub layout: Layout,
    /// Ciphertext degree: 1 normally, 2 after a ct×ct product and before relinearization.
    pub degree: u8,
}

/// The type of a plaintext value (an encoded weight or mask).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PtType {
    /// Level the plaintext is encoded at.
    pub level: Level,
    /// log2 of the encoding scale.
    pub scale: LogScale,
    /// Number of slots.
    pub slots: SlotCount,
}

/// The type of an FHE IR value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Type {
    /// A ciphertext.
    Ct(CtType),
    /// A plaintext.
    Pt(PtType),
    /// A real constant, encoded by the op that uses it.
    Scalar,
}

impl Type {
    /// The ciphertext type, if this is one.
    pub fn as_ct(&self) -> Option<&CtType> {
        match self {
            Type::Ct(t) => Some(t),
            _ => None,
        }
    }

    /// The plaintext type, if this is one.
    pub fn as_pt(&self) -> Option<&PtType> {
        match self {
            Type::Pt(t) => Some(t),
            _ => None,
        }
    }

    /// Short kind name: `ct`, `pt` or `scalar`.
    pub fn kind(&self) -> &'static str {
        match self {
            Type::Ct(_) => "ct",
            Type::Pt(_) => "pt",
            Type::Scalar => "scalar",
        }
    }
}
