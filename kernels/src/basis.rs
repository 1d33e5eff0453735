//! RNS basis conversion, as used by hybrid key switching (ModUp/ModDown).
//!
//! Given residues `x_i = x mod a_i` over a basis `A = ∏ a_i`, the fast conversion produces
//! `x + u·A mod b_j` for every target prime `b_j`, with `0 ≤ u < |A|` (the "fast base conversion"
//! of Halevi–Polyakov–Shoup): good enough for ModUp, where `u·A` is later multiplied by a small
//! key error and divided by P. ModDown needs the exact centered residue instead: the overflow
//! `u` is estimated in floating point as `round(Σ_i y_i/a_i)`, so the conversion yields
//! `[x]_A ∈ [−A/2, A/2)` and the division by P rounds without bias. (A biased rounding error is
//! a constant in every coefficient, which the canonical embedding concentrates near `ζ ≈ 1`:
//! ~N/π times larger in the worst slot.) The inner sum over `i` accumulates unreduced 128-bit
//! products against weights in Montgomery form and Montgomery-reduces once per output (per
//! [`Modulus::MONTGOMERY_TERMS`] terms): two products per reduction instead of Barrett's five.

use crate::Modulus;

/// Precomputed constants to convert from one RNS basis to another.
#[derive(Debug)]
pub struct BasisConverter {
    from: Vec<Modulus>,
    to: Vec<Modulus>,
    /// (A / a_i)^{-1} mod a_i and its Shoup companion.
    hat_inv: Vec<(u64, u64)>,
    /// `(A / a_i)·2^64 mod b_j` (Montgomery form), indexed `[j][i]`, then `−A·2^64 mod b_j` at
    /// `i = |A|` (the centered conversion's correction).
    hat_mod_to: Vec<Vec<u64>>,
    /// `(A / a_i)·2^128 mod b_j`: the weights of a conversion whose output is in Montgomery form.
    hat_mod_to_montgomery: Vec<Vec<u64>>,
}

impl BasisConverter {
    /// Precomputes the conversion from `from` to `to`.
    pub fn new(from: &[Modulus], to: &[Modulus]) -> Self {
        // `A / a_skip` (or `A`) modulo `m`.
        let product_except = |m: &Modulus, skip: Option<usize>| {
            from.iter()
                .enumerate()
                .filter(|&(k, _)| Some(k) != skip)
                .fold(1, |acc, (_, ak)| m.mul(acc, m.reduce(ak.value())))
        };
        let hat_inv = from
            .iter()
            .enumerate()
            .map(|(i, ai)| {
                let inv = ai
                    .inv(product_except(ai, Some(i)))
                    .expect("distinct primes are coprime");
                (inv, ai.shoup(inv))
            })
            .collect();
        let hat_mod_to = to
            .iter()
            .map(|bj| {
                (0..from.len())
                    .map(|i| product_except(bj, Some(i)))
                    .chain([bj.neg(product_except(bj, None))])
                    .map(|w| bj.to_montgomery(w))
                    .collect()
            })
            .collect::<Vec<Vec<u64>>>();
        let hat_mod_to_montgomery = hat_mod_to
            .iter()
            .zip(to)
            .map(|(weights, bj)| {
                weights[..from.len()]
                    .iter()
                    .map(|&w| bj.to_montgomery(w))
                    .collect()
            })
            .collect();
        Self {
            from: from.to_vec(),
            to: to.to_vec(),
            hat_inv,
            hat_mod_to,
            hat_mod_to_montgomery,
        }
    }

    /// Source primes.
    pub fn from(&self) -> &[Modulus] {
        &self.from
    }

    /// Target primes.
    pub fn to(&self) -> &[Modulus] {
        &self.to
    }

    /// Step 1, per source limb: `y_i = x_i · (A/a_i)^{-1} mod a_i`, in place.
    pub fn scale_source_limb(&self, i: usize, limb: &mut [u64]) {
        let (w, ws) = self.hat_inv[i];
        let ai = &self.from[i];
        for x in limb {
            *x = ai.mul_shoup(*x, w, ws);
        }
    }

    /// For exact centered conversion: per coefficient, the multiple `v = round(Σ_i y_i/a_i)` of
    /// `A` to subtract, from the scaled source limbs.
    pub fn overflow_counts(&self, scaled: &[&[u64]]) -> Vec<u64> {
        let n = scaled.first().map_or(0, |r| r.len());
        let inv: Vec<f64> = self.from.iter().map(|a| 1.0 / a.value() as f64).collect();
        (0..n)
            .map(|k| {
                let sum: f64 = scaled.iter().zip(&inv).map(|(r, w)| r[k] as f64 * w).sum();
                sum.round() as u64
            })
            .collect()
    }

    /// Step 2, exact and centered: `out = Σ_i y_i · (A/a_i) − v·A mod b_j`, i.e. `[x]_A` in
    /// `[−A/2, A/2)` reduced mod `b_j`, with `v` from [`Self::overflow_counts`].
    pub fn convert_centered_into_target_limb(
        &self,
        j: usize,
        scaled: &[&[u64]],
        overflow: &[u64],
        out: &mut [u64],
    ) {
        // `−v·A` is one more row, `v`, weighted by `−A`.
        let rows: Vec<&[u64]> = scaled.iter().copied().chain([overflow]).collect();
        self.weighted_sum(j, &rows, &self.hat_mod_to[j], out);
    }

    /// Step 2, per target limb `j`, in Montgomery form: `out = (Σ_i y_i · (A/a_i))·2^64 mod b_j`
    /// from the scaled source limbs (the form key switching's inner product reads its digits in).
    pub fn convert_into_target_limb_montgomery(
        &self,
        j: usize,
        scaled: &[&[u64]],
        out: &mut [u64],
    ) {
        self.weighted_sum(j, scaled, &self.hat_mod_to_montgomery[j], out);
    }

    /// `out = Σ_i rows_i · weights_i mod b_j` (`weights` in Montgomery form; rows below `2^61`),
    /// [`Modulus::MONTGOMERY_TERMS`] rows per pass.
    fn weighted_sum(&self, j: usize, rows: &[&[u64]], weights: &[u64], out: &mut [u64]) {
        let bj = &self.to[j];
        for (pass, (rows, weights)) in rows
            .chunks(Modulus::MONTGOMERY_TERMS)
            .zip(weights.chunks(Modulus::MONTGOMERY_TERMS))
            .enumerate()
        {
            let first = pass == 0;
            match rows.len() {
                1 => weighted_pass::<1>(bj, rows, weights, first, out),
                2 => weighted_pass::<2>(bj, rows, weights, first, out),
                3 => weighted_pass::<3>(bj, rows, weights, first, out),
                4 => weighted_pass::<4>(bj, rows, weights, first, out),
                5 => weighted_pass::<5>(bj, rows, weights, first, out),
                6 => weighted_pass::<6>(bj, rows, weights, first, out),
                7 => weighted_pass::<7>(bj, rows, weights, first, out),
                _ => weighted_pass::<{ Modulus::MONTGOMERY_TERMS }>(bj, rows, weights, first, out),
            }
        }
    }
}

/// One pass of [`BasisConverter::weighted_sum`] over `R` rows (a constant, so the sum stays in
/// registers): writes the sum into `out` on the first pass, adds it afterwards.
#[inline(always)]
fn weighted_pass<const R: usize>(
    bj: &Modulus,
    rows: &[&[u64]],
    weights: &[u64],
    first: bool,
    out: &mut [u64],
) {
    let n = out.len();
    let rows: [&[u64]; R] = std::array::from_fn(|i| &rows[i][..n]);
    let weights: [u64; R] = std::array::from_fn(|i| weights[i]);
    for (k, o) in out.iter_mut().enumerate() {
        let mut acc = 0u128;
        for i in 0..R {
            acc += rows[i][k] as u128 * weights[i] as u128;
        }
        let sum = bj.montgomery_reduce(acc);
        *o = if first { sum } else { bj.add(*o, sum) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primes::ntt_primes;
    use num_bigint::BigUint;

    /// Conversion against big-integer CRT: the result is `(x + u·A)·2^64` with `0 ≤ u < |A|`.
    #[test]
    fn conversion_matches_big_integer_crt() {
        // Three source primes (one Montgomery pass) and ten (two passes).
        for log_from in [&[50, 45, 61][..], &[50, 45, 61, 40, 58, 52, 47, 61, 55, 60]] {
            check_conversion(log_from);
        }
    }

    fn check_conversion(log_from: &[u32]) {
        let from_p = ntt_primes(4, log_from, &[]).unwrap();
        let to_p = ntt_primes(4, &[40, 60, 61, 55], &from_p).unwrap();
        let from: Vec<Modulus> = from_p.iter().map(|&q| Modulus::new(q)).collect();
        let to: Vec<Modulus> = to_p.iter().map(|&q| Modulus::new(q)).collect();
        let conv = BasisConverter::new(&from, &to);
        let big_a: BigUint = from_p.iter().map(|&q| BigUint::from(q)).product();
        let n = 300;
        let xs: Vec<BigUint> = (0..n as u64)
            .map(|k| {
                (&big_a * BigUint::from(k * 7 + 1)) / BigUint::from(2101u64) + BigUint::from(k)
            })
            .collect();
        let mut scaled: Vec<Vec<u64>> = from_p
            .iter()
            .map(|&q| xs.iter().map(|x| (x % q).try_into().unwrap()).collect())
            .collect();
        for (i, limb) in scaled.iter_mut().enumerate() {
            conv.scale_source_limb(i, limb);
        }
        let rows: Vec<&[u64]> = scaled.iter().map(Vec::as_slice).collect();
        for (j, &b) in to_p.iter().enumerate() {
            let mut out = vec![0u64; n];
            conv.convert_into_target_limb_montgomery(j, &rows, &mut out);
            let r: BigUint = (BigUint::from(1u8) << 64u32) % b;
            for (k, x) in xs.iter().enumerate() {
                let ok = (0..from_p.len() as u64).any(|u| {
                    let v: BigUint = (x + &big_a * BigUint::from(u)) * &r % b;
                    let v: u64 = v.try_into().unwrap();
                    v == out[k]
                });
                assert!(ok, "coefficient {k} to prime {b}");
            }
        }
    }
}
