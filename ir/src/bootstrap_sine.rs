//! What bootstrapping does to a message, noise aside: EvalMod returns `(r/2π)·sin(2π·c/r)` for each
//! coefficient `c` of the message's preimage ([`crate::embedding`]), `r = q_0/Δ` the message ratio
//! at ModRaise, where the message wanted `c`. The difference, `≈ (2π/r)²·c³/6`, grows as the cube of
//! the coefficients: negligible for random slots at full packing (coefficients `≈ A/√(3n)`), large
//! for a vector close to a constant (one coefficient as large as its value).

use crate::embedding::Embedding;
use num_complex::Complex64;
use std::f64::consts::PI;

/// The message ratio the named sets' bootstrapping runs at: `2^{BOOTSTRAP_MESSAGE_RATIO_BITS + 1}`
/// (up to the last bits of `q_0` and of the input's scale).
pub const MESSAGE_RATIO: f64 = (2u64 << crate::params::BOOTSTRAP_MESSAGE_RATIO_BITS) as f64;

/// Replaces `values` (one ciphertext's slots) by what a noiseless bootstrap at message ratio `ratio`
/// returns for them.
pub fn apply(values: &mut [Complex64], ratio: f64, embedding: &Embedding) {
    let sine = |c: f64| ratio / (2.0 * PI) * (2.0 * PI * c / ratio).sin();
    embedding.to_coefficients(values);
    for c in values.iter_mut() {
        *c = Complex64::new(sine(c.re), sine(c.im));
    }
    embedding.to_slots(values);
}

/// The largest change a noiseless bootstrap at `ratio` makes to a slot of `values`.
pub fn largest_distortion(values: &[Complex64], ratio: f64, embedding: &Embedding) -> f64 {
    let mut out = values.to_vec();
    apply(&mut out, ratio, embedding);
    out.iter()
        .zip(values)
        .map(|(a, b)| (a - b).norm())
        .fold(0.0, f64::max)
}
