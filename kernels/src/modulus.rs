//! One NTT-friendly prime and its arithmetic: Barrett and Montgomery reduction of 128-bit
//! products, Shoup multiplication by a precomputed constant, inverses and powers.
//!
//! Written by hand because every CKKS operation spends its time here: the hot loops reduce lazily
//! (sums of up to [`Modulus::LAZY_TERMS`] products in a `u128` before one Barrett reduction, or of
//! [`Modulus::MONTGOMERY_TERMS`] before one Montgomery reduction).

/// A prime modulus `q < 2^62` with the constants of its fast reductions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Modulus {
    q: u64,
    /// floor(2^128 / q), low and high words.
    ratio: [u64; 2],
    /// `−q^{-1} mod 2^64` (Montgomery reduction).
    neg_inv: u64,
}

impl Modulus {
    /// Moduli are below `2^MAX_BITS`: then 64 products of residues sum without overflowing a `u128`
    /// (and the AVX2 NTT path, which needs `q < 2^62`, applies).
    pub const MAX_BITS: u32 = 61;
    /// How many products of two reduced residues may be summed in a `u128` before [`Modulus::reduce_u128`].
    pub const LAZY_TERMS: usize = 64;
    /// How many products `x·y` with `x < 2^61` and `y < q` may be summed before
    /// [`Modulus::montgomery_reduce`] (which needs a sum below `q·2^64`).
    pub const MONTGOMERY_TERMS: usize = 8;

    /// Builds the constants for `q`; `q` must be odd and `3 ≤ q < 2^61` (callers validate user input first).
    pub fn new(q: u64) -> Self {
        assert!(
            (3..1 << Self::MAX_BITS).contains(&q) && q % 2 == 1,
            "modulus {q} out of range"
        );
        // floor((2^128 - 1) / q) = floor(2^128 / q) since q is odd.
        let r = u128::MAX / q as u128;
        // q^{-1} mod 2^64: q is its own inverse mod 8, and each Newton step doubles the correct bits.
        let inv = (0..5).fold(q, |x, _| {
            x.wrapping_mul(2u64.wrapping_sub(q.wrapping_mul(x)))
        });
        Self {
            q,
            ratio: [r as u64, (r >> 64) as u64],
            neg_inv: inv.wrapping_neg(),
        }
    }

    /// The modulus value.
    #[inline(always)]
    pub const fn value(&self) -> u64 {
        self.q
    }

    /// Number of bits of `q`.
    pub const fn bits(&self) -> u32 {
        64 - self.q.leading_zeros()
    }

    /// `x mod q` for any `x < 2^128` (Barrett with the 128-bit ratio; the quotient estimate is off by at most 3).
    #[inline(always)]
    pub fn reduce_u128(&self, x: u128) -> u64 {
        let (lo, hi) = (x as u64, (x >> 64) as u64);
        let carry = ((lo as u128 * self.ratio[0] as u128) >> 64) as u64;
        let t = lo as u128 * self.ratio[1] as u128;
        let (sum, c1) = (t as u64).overflowing_add(carry);
        let tmp3 = (t >> 64) as u64 + c1 as u64;
        let t2 = hi as u128 * self.ratio[0] as u128;
        let (_, c2) = sum.overflowing_add(t2 as u64);
        let carry2 = (t2 >> 64) as u64 + c2 as u64;
        let quotient = hi
            .wrapping_mul(self.ratio[1])
            .wrapping_add(tmp3)
            .wrapping_add(carry2);
        let mut r = lo.wrapping_sub(quotient.wrapping_mul(self.q));
        while r >= self.q {
            r -= self.q;
        }
        r
    }

    /// `x·2^{-64} mod q` for `x < q·2^64` (Montgomery reduction: two products instead of Barrett's
    /// five). Sums of products with one factor in Montgomery form ([`Modulus::to_montgomery`]) come
    /// out plainly reduced.
    #[inline(always)]
    pub fn montgomery_reduce(&self, x: u128) -> u64 {
        let m = (x as u64).wrapping_mul(self.neg_inv);
        // x + m·q ≡ 0 mod 2^64 and < 2q·2^64: no overflow, and the quotient is below 2q.
        let r = ((x + m as u128 * self.q as u128) >> 64) as u64;
        if r >= self.q {
            r - self.q
        } else {
            r
        }
    }

    /// `a·2^64 mod q`: the Montgomery form of `a`.
    pub fn to_montgomery(&self, a: u64) -> u64 {
        self.reduce_u128((a as u128) << 64)
    }

    /// `x mod q` for any `u64`.
    #[inline(always)]
    pub fn reduce(&self, x: u64) -> u64 {
        self.reduce_u128(x as u128)
    }

    /// `x mod q` for a signed `x`.
    #[inline(always)]
    pub fn reduce_i64(&self, x: i64) -> u64 {
        let r = self.reduce(x.unsigned_abs());
        if x < 0 {
            self.neg(r)
        } else {
            r
        }
    }

    /// `x mod q` for a signed 128-bit `x`.
    pub fn reduce_i128(&self, x: i128) -> u64 {
        let r = self.reduce_u128(x.unsigned_abs());
        if x < 0 {
            self.neg(r)
        } else {
            r
        }
    }

    /// `(a + b) mod q` for reduced inputs.
    #[inline(always)]
    pub fn add(&self, a: u64, b: u64) -> u64 {
        let s = a + b;
        if s >= self.q {
            s - self.q
        } else {
            s
        }
    }

    /// `(a - b) mod q` for reduced inputs.
    #[inline(always)]
    pub fn sub(&self, a: u64, b: u64) -> u64 {
        if a >= b {
            a - b
        } else {
            a + self.q - b
        }
    }

    /// `-a mod q` for a reduced input.
    #[inline(always)]
    pub fn neg(&self, a: u64) -> u64 {
        if a == 0 {
            0
        } else {
            self.q - a
        }
    }

    /// `a · b mod q` for reduced inputs.
    #[inline(always)]
    pub fn mul(&self, a: u64, b: u64) -> u64 {
        self.reduce_u128(a as u128 * b as u128)
    }

    /// The Shoup companion of a constant `w < q`: floor(w · 2^64 / q).
    pub fn shoup(&self, w: u64) -> u64 {
        (((w as u128) << 64) / self.q as u128) as u64
    }

    /// `x · w mod q` where `w_shoup = self.shoup(w)`; `x` may be any `u64`.
    #[inline(always)]
    pub fn mul_shoup(&self, x: u64, w: u64, w_shoup: u64) -> u64 {
        let r = self.mul_shoup_lazy(x, w, w_shoup);
        if r >= self.q {
            r - self.q
        } else {
            r
        }
    }

    /// `x · w mod q` in `[0, 2q)`, without the final correction (lazy NTT butterflies).
    #[inline(always)]
    pub fn mul_shoup_lazy(&self, x: u64, w: u64, w_shoup: u64) -> u64 {
        let quotient = ((x as u128 * w_shoup as u128) >> 64) as u64;
        x.wrapping_mul(w)
            .wrapping_sub(quotient.wrapping_mul(self.q))
    }

    /// `base^exp mod q`.
    pub fn pow(&self, base: u64, mut exp: u64) -> u64 {
        let (mut acc, mut b) = (1 % self.q, self.reduce(base));
        while exp > 0 {
            if exp & 1 == 1 {
                acc = self.mul(acc, b);
            }
            b = self.mul(b, b);
            exp >>= 1;
        }
        acc
    }

    /// The inverse of `a` mod the prime `q` (Fermat), or `None` when `a ≡ 0`.
    pub fn inv(&self, a: u64) -> Option<u64> {
        let a = self.reduce(a);
        (a != 0).then(|| self.pow(a, self.q - 2))
    }

    /// The centered representative of a reduced `a`, in `(-q/2, q/2]`.
    #[inline(always)]
    pub fn center(&self, a: u64) -> i64 {
        if a > self.q / 2 {
            a as i64 - self.q as i64
        } else {
            a as i64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // 2^61 − 1, 2^50 − 27 and 2^16 + 1 are prime.
    const PRIMES: [u64; 3] = [(1 << 61) - 1, (1 << 50) - 27, 65537];

    proptest! {
        #[test]
        fn reduce_u128_matches_remainder(x in any::<u128>(), i in 0usize..3) {
            let m = Modulus::new(PRIMES[i]);
            prop_assert_eq!(m.reduce_u128(x), (x % PRIMES[i] as u128) as u64);
        }

        #[test]
        fn mul_and_shoup_match_remainder(a in any::<u64>(), b in any::<u64>(), i in 0usize..3) {
            let q = PRIMES[i];
            let m = Modulus::new(q);
            let (a, b) = (a % q, b % q);
            let expect = (a as u128 * b as u128 % q as u128) as u64;
            prop_assert_eq!(m.mul(a, b), expect);
            prop_assert_eq!(m.mul_shoup(a, b, m.shoup(b)), expect);
            prop_assert_eq!(m.add(a, b) as u128, (a as u128 + b as u128) % q as u128);
            prop_assert_eq!((m.sub(a, b) as u128 + b as u128) % q as u128, a as u128);
        }

        #[test]
        fn inverse_is_inverse(a in 1u64..u64::MAX, i in 0usize..3) {
            let m = Modulus::new(PRIMES[i]);
            prop_assume!(a % PRIMES[i] != 0);
            prop_assert_eq!(m.mul(m.inv(a).unwrap(), a % PRIMES[i]), 1);
        }

        #[test]
        fn montgomery_sums_reduce_exactly(
            terms in proptest::collection::vec((0u64..1 << 61, any::<u64>()), 1..=Modulus::MONTGOMERY_TERMS),
            i in 0usize..3,
        ) {
            let q = PRIMES[i];
            let m = Modulus::new(q);
            let acc: u128 = terms.iter().map(|&(x, y)| x as u128 * m.to_montgomery(y) as u128).sum();
            let expect = terms.iter().map(|&(x, y)| x as u128 * (y % q) as u128 % q as u128).sum::<u128>() % q as u128;
            prop_assert_eq!(m.montgomery_reduce(acc) as u128, expect);
        }

        #[test]
        fn signed_reduction(x in any::<i64>(), i in 0usize..3) {
            let q = PRIMES[i] as i128;
            let m = Modulus::new(PRIMES[i]);
            prop_assert_eq!(m.reduce_i64(x) as i128, (x as i128).rem_euclid(q));
        }
    }

    #[test]
    fn lazy_sums_of_products_reduce_exactly() {
        let q = PRIMES[0];
        let m = Modulus::new(q);
        let acc: u128 = (0..Modulus::LAZY_TERMS)
            .map(|_| (q - 1) as u128 * (q - 1) as u128)
            .sum();
        assert_eq!(m.reduce_u128(acc), (acc % q as u128) as u64);
    }

    #[test]
    fn montgomery_reduction_holds_at_its_bound() {
        let x = (1u64 << 61) - 1;
        for q in PRIMES {
            let m = Modulus::new(q);
            let y = m.to_montgomery(q - 1);
            let acc = Modulus::MONTGOMERY_TERMS as u128 * (x as u128 * y as u128);
            let expect =
                Modulus::MONTGOMERY_TERMS as u128 * (x as u128 * (q - 1) as u128 % q as u128);
            assert_eq!(
                m.montgomery_reduce(acc) as u128,
                expect % q as u128,
                "q = {q}"
            );
        }
    }
}
