//! The message ratio `r = q_0/Δ` bootstrapping runs at: what its sine does to a message at that
//! ratio is [`cachemir_ir::bootstrap_sine`].

/// The message ratio `r = q_0/(Δ·2^h)` at ModRaise for a level-0 input of scale `Δ = scale`, and
/// the power of two `2^h` (`h ≥ 0`) the input is first multiplied by: the one that brings `r`
/// nearest to `2^{ratio_bits+1}` (within `2^{±1/2}`), unless the scale is already larger. EvalMod
/// is fitted for `|c/r| ≤ 2^{−ratio_bits}`, so coefficients `c` up to 2 stay inside its interval.
/// Rounding, not truncating, keeps the choice stable when an input's exact scale drifts a little
/// below or above its nominal power of two (`q_0` itself sits just below or above `2^{log q_0}`).
pub fn message_ratio(q0: f64, scale: f64, ratio_bits: u32) -> (f64, u32) {
    let target = ratio_bits as i64 + 1;
    let headroom = ((q0 / scale).log2().round() as i64 - target).clamp(0, 62) as u32;
    (q0 / (scale * 2f64.powi(headroom as i32)), headroom)
}
