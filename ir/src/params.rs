//! The CKKS parameter literal shared by the compiler (which chooses it) and the runtime (which validates it
//! into checked parameters before generating keys), and the named sets we ship:
//!
//! | name | N | Q limbs (bits) | P limbs | scale | log2 QP | secret | 128-bit bound | secure |
//! |---|---|---|---|---|---|---|---|---|
//! | `N16_BOOT` | 2^16 | 25: 60, 9×45 (compute), 3×42 (SlotsToCoeffs), 8×60 (EvalMod), 4×56 (CoeffsToSlots) | 6×61 | 2^45 | 1661 | dense ternary | 1772 | yes |
//! | `N15` | 2^15 | 15: 60, 14×45 | 3×61 | 2^45 | 873 | dense ternary | 881 | yes |
//! | `INSECURE_N12_BOOT` | 2^12 | 22: 60, 9×40 (compute), 2×40 (SlotsToCoeffs), 8×60 (EvalMod), 2×56 (CoeffsToSlots) | 4×61 | 2^40 | 1336 | dense ternary | 109 | **no** (tests only) |
//! | `INSECURE_N12` | 2^12 | 9: 60, 8×40 | 2×61 | 2^40 | 442 | dense ternary | 109 | **no** (tests only) |
//! | `INSECURE_N10` | 2^10 | 4: 50, 3×40 | 1×61 | 2^40 | 231 | dense ternary | 27 | **no** (tests only) |
//!
//! Key-switching digits hold `α` Q primes, at least 2^20 below P (`runtime::ckks::params::digit_size`):
//! `N16_BOOT` has 5 digits of 5 primes under a 6-prime P (a 5-prime P would sit only 2^5 above
//! its 60-bit digits and add ~7 bits of key-switching noise to EvalMod).
//!
//! The secure sets use a 2^45 scale: with a dense ternary secret at N = 2^16, a fresh public-key
//! encryption carries ≈ 2^18 of noise in the slots and a rescale ≈ 2^14, so 2^40 would cap the
//! precision of a product near 22 bits; 2^45 gives ≈ 26.
//!
//! Bounds: the Homomorphic Encryption Standard's 128-bit classical limits on log2(QP) for a uniform
//! ternary secret (27, 54, 109, 218, 438, 881 for N = 2^10 … 2^15), extended to 1772 at N = 2^16 as
//! in OpenFHE's `HEStd_128_classic` table. A fixed-Hamming-weight secret is rated secure only where a
//! published estimate covers it: h ≥ 192 at N = 2^16 with log2(QP) ≤ 1546 (Lattigo's default sets).
//! The bootstrappable sets ([`bootstrap_levels`]) refresh a dense-secret ciphertext through a
//! sparse ephemeral secret (encapsulation), so their main secret stays dense.
//!
//! The runtime generates primes of these sizes (p ≡ 1 mod 2N, as close to 2^bits as possible).

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

/// The named parameter sets, as `(name, literal)`.
pub fn named_sets() -> Vec<(&'static str, CkksParamsLiteral)> {
    let chain = |parts: &[(usize, u32)]| {
        parts
            .iter()
            .flat_map(|&(count, bits)| std::iter::repeat_n(bits, count))
            .collect()
    };
    let lit = |log_n, log_q, log_p, log_default_scale| CkksParamsLiteral {
        log_n,
        log_q,
        log_p,
        log_default_scale,
        secret: SecretDistribution::Dense,
    };
    vec![
        (
            "N16_BOOT",
            lit(
                16,
                chain(&[(1, 60), (9, 45), (3, 42), (8, 60), (4, 56)]),
                vec![61; 6],
                45,
            ),
        ),
        ("N15", lit(15, chain(&[(1, 60), (14, 45)]), vec![61; 3], 45)),
        (
            "INSECURE_N12_BOOT",
            lit(
                12,
                chain(&[(1, 60), (9, 40), (2, 40), (8, 60), (2, 56)]),
                vec![61; 4],
                40,
            ),
        ),
        (
            "INSECURE_N12",
            lit(12, chain(&[(1, 60), (8, 40)]), vec![61; 2], 40),
        ),
        (
            "INSECURE_N10",
            lit(10, chain(&[(1, 50), (3, 40)]), vec![61], 40),
        ),
    ]
}

/// How a bootstrappable set spends the top of its chain, in levels counted down from the top:
/// CoeffsToSlots first, then EvalMod, then SlotsToCoeffs. Programs live on the levels below.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootstrapLevels {
    /// Levels of the homomorphic DFT into the slots.
    pub coeffs_to_slots: u32,
    /// Levels of the modular reduction (scaled sine).
    pub eval_mod: u32,
    /// Levels of the homomorphic DFT back to coefficients.
    pub slots_to_coeffs: u32,
}

impl BootstrapLevels {
    /// Levels one bootstrap consumes.
    pub fn total(&self) -> u32 {
        self.coeffs_to_slots + self.eval_mod + self.slots_to_coeffs
    }
}

/// log2 of `q_0/Δ'` at ModRaise in the bootstrapping configuration of the named sets: a slot value `v`
/// becomes `x = Δ'·v/q_0` before the sine, which is linear only for `|x| ≪ 1`.
pub const BOOTSTRAP_MESSAGE_RATIO_BITS: u32 = 8;

/// The largest `|slot value|` a ciphertext of scale `2^log_scale` can carry into bootstrapping with
/// full precision: `q_0 / (2^log_scale · 2^BOOTSTRAP_MESSAGE_RATIO_BITS)`. Above it the sine's
/// non-linearity grows as `(2π·v/limit·2^{−8})²/6`, and at `q_0/2^{log_scale+1}` the value wraps.
pub fn bootstrap_input_limit(literal: &CkksParamsLiteral, log_scale: f64) -> f64 {
    let log_q0 = literal.log_q.first().copied().unwrap_or(0) as f64;
    2f64.powf(log_q0 - log_scale - BOOTSTRAP_MESSAGE_RATIO_BITS as f64)
}

/// The bootstrapping levels of the named set `name`, if it is bootstrappable.
pub fn bootstrap_levels(name: &str) -> Option<BootstrapLevels> {
    match name {
        "N16_BOOT" => Some(BootstrapLevels {
            coeffs_to_slots: 4,
            eval_mod: 8,
            slots_to_coeffs: 3,
        }),
        "INSECURE_N12_BOOT" => Some(BootstrapLevels {
            coeffs_to_slots: 2,
            eval_mod: 8,
            slots_to_coeffs: 2,
        }),
        _ => None,
    }
}

/// The largest log2(QP) that is 128-bit secure for this ring degree and secret, if known.
pub fn security_bound(log_n: u32, secret: SecretDistribution) -> Option<u32> {
    match secret {
        SecretDistribution::Dense => match log_n {
            10 => Some(27),
            11 => Some(54),
            12 => Some(109),
            13 => Some(218),
            14 => Some(438),
            15 => Some(881),
            16 => Some(1772),
            _ => None,
        },
        SecretDistribution::FixedHamming(h) if log_n == 16 && h >= 192 => Some(1546),
        SecretDistribution::FixedHamming(_) => None,
    }
}
