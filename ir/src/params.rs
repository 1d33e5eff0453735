//! The CKKS parameter literal shared by the compiler (which chooses it) and the runtime (which validates it
//! into checked parameters before generating keys).

use serde::{Deserialize, Serialize};

/// How the secret key is sampled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SecretDistribution {
    /// Ternary coefficients in {-1, 0, 1}, dense.
    Dense,
    /// Ternary with exactly `h` non-zero coefficients (sparse secret, e.g. `FixedHamming(192)`).
    FixedHamming(u32),
}

/// An unchecked CKKS parameter literal (Lattigo's `ParametersLiteral`): bit sizes only, no primes.
///
/// Level `l` means the ciphertext modulus is `q_0 · … · q_l`; `log_q[0]` is the first (largest) modulus and
/// the top level is `log_q.len() - 1`. Rescaling at level `l` divides the scale by `2^log_q[l]`.
/// The runtime validates this literal (security, prime generation); the IR only uses the bit sizes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CkksParamsLiteral {
    /// log2 of the ring degree N; a ciphertext has at most N/2 slots.
    pub log_n: u32,
    /// Bit sizes of the ciphertext moduli q_0, …, q_L.
    pub log_q: Vec<u32>,
    /// Bit sizes of the key-switching special moduli p_0, ….
    pub log_p: Vec<u32>,
    /// log2 of the default encoding scale Δ.
    pub log_default_scale: u32,
    /// Secret key distribution.
    pub secret: SecretDistribution,
}

impl CkksParamsLiteral {
    /// The top level `L = log_q.len() - 1`, or `None` if the chain is empty.
    pub fn max_level(&self) -> Option<u32> {
        (self.log_q.len() as u32).checked_sub(1)
    }

    /// The maximum number of slots, N/2 (saturates at 2^31 for absurd `log_n`).
    pub fn max_slots(&self) -> u64 {
        1u64 << self.log_n.saturating_sub(1).min(31)
    }

    /// Bit size of the modulus dropped when rescaling at `level`, if that level exists.
    pub fn rescale_bits(&self, level: u32) -> Option<u32> {
        self.log_q.get(level as usize).copied()
    }
}
