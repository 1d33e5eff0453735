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
//! products and reduces once per output.

use crate::Modulus;

/// Precomputed constants to convert from one RNS basis to another.
#[derive(Debug)]
pub struct BasisConverter {
    from: Vec<Modulus>,
    to: Vec<Modulus>,
    /// (A / a_i)^{-1} mod a_i and its Shoup companion.
    hat_inv: Vec<(u64, u64)>,
    /// (A / a_i) mod b_j, indexed [j][i].
    hat_mod_to: Vec<Vec<u64>>,
    /// A mod b_j.
    product_mod_to: Vec<u64>,
}

impl BasisConverter {
    /// Precomputes the conversion from `from` to `to` (at most [`Modulus::LAZY_TERMS`] source primes).
    pub fn new(from: &[Modulus], to: &[Modulus]) -> Self {
        assert!(
            from.len() <= Modulus::LAZY_TERMS,
            "basis of {} primes is too large",
            from.len()
        );
        let hat_inv = from
            .iter()
            .enumerate()
            .map(|(i, ai)| {
                let hat = from
                    .iter()
                    .enumerate()
                    .filter(|&(k, _)| k != i)
                    .fold(1, |acc, (_, ak)| ai.mul(acc, ai.reduce(ak.value())));
                let inv = ai.inv(hat).expect("distinct primes are coprime");
                (inv, ai.shoup(inv))
            })
            .collect();
        let hat_mod_to = to
            .iter()
            .map(|bj| {
                (0..from.len())
                    .map(|i| {
                        from.iter()
                            .enumerate()
                            .filter(|&(k, _)| k != i)
                            .fold(1, |acc, (_, ak)| bj.mul(acc, bj.reduce(ak.value())))
                    })
                    .collect()
            })
            .collect();
        let product_mod_to = to
            .iter()
            .map(|bj| {
                from.iter()
                    .fold(1, |acc, ak| bj.mul(acc, bj.reduce(ak.value())))
            })
            .collect();
        Self {
            from: from.to_vec(),
            to: to.to_vec(),
            hat_inv,
            hat_mod_to,
            product_mod_to,
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
        self.convert_into_target_limb(j, scaled, out);
        let bj = &self.to[j];
        let a = self.product_mod_to[j];
        let a_shoup = bj.shoup(a);
        for (o, &v) in out.iter_mut().zip(overflow) {
            *o = bj.sub(*o, bj.mul_shoup(v, a, a_shoup));
        }
    }

    /// Step 2, per target limb `j`: `out = Σ_i y_i · (A/a_i) mod b_j` from the scaled source limbs.
    pub fn convert_into_target_limb(&self, j: usize, scaled: &[&[u64]], out: &mut [u64]) {
        let bj = &self.to[j];
        let weights = &self.hat_mod_to[j];
        let n = out.len();
        // Process coefficient blocks so the source rows stay in cache.
        const BLOCK: usize = 256;
        let mut acc = [0u128; BLOCK];
        for start in (0..n).step_by(BLOCK) {
            let end = (start + BLOCK).min(n);
            let acc = &mut acc[..end - start];
            acc.fill(0);
            for (row, &w) in scaled.iter().zip(weights) {
                for (a, &y) in acc.iter_mut().zip(&row[start..end]) {
                    *a += y as u128 * w as u128;
                }
            }
            for (o, a) in out[start..end].iter_mut().zip(acc.iter()) {
                *o = bj.reduce_u128(*a);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primes::ntt_primes;
    use num_bigint::BigUint;

    /// Conversion against big-integer CRT: the result is `x + u·A` with `0 ≤ u < |A|`.
    #[test]
    fn conversion_matches_big_integer_crt() {
        let from_p = ntt_primes(4, &[50, 45, 61], &[]).unwrap();
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
            conv.convert_into_target_limb(j, &rows, &mut out);
            for (k, x) in xs.iter().enumerate() {
                let ok = (0..from_p.len() as u64).any(|u| {
                    let v: u64 = ((x + &big_a * BigUint::from(u)) % b).try_into().unwrap();
                    v == out[k]
                });
                assert!(ok, "coefficient {k} to prime {b}");
            }
        }
    }
}
