//! The butterflies of [`NttTable`] four lanes at a time with AVX2.
//!
//! AVX2 has no 64×64-bit multiply: each product is assembled from `_mm256_mul_epu32` (32×32 → 64)
//! pieces. A Shoup product `x·w mod q` needs the high word of `x·w'` (four pieces) and the low words
//! of `x·w` and `quotient·q` (three each); the high word's pieces go through [`mul_epu32`], which
//! keeps the optimizer from scalarizing them. Lazy bounds are those of the portable loop; moduli are
//! below `2^61`, so `4q < 2^63` and signed comparisons order the values. Stages whose halves are
//! at least four apart load both operands as whole vectors; the last two forward stages (and the
//! first two inverse ones) pair lanes with shuffles.

use super::NttTable;
use std::arch::x86_64::*;

/// Forward transform (see [`NttTable::forward`]).
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn forward(table: &NttTable, a: &mut [u64]) {
    let k = Constants::new(table.modulus.value());
    let twiddles = (&table.roots[..], &table.roots_shoup[..]);
    let butterfly = |x, y, w: &Twiddle| forward_butterfly(x, y, w, &k);
    let (mut half, mut groups) = (a.len() / 2, 1);
    while half >= 4 {
        wide_stage(a, half, groups, twiddles, butterfly);
        half /= 2;
        groups *= 2;
    }
    pairs_stage(a, groups, twiddles, butterfly);
    interleaved_stage(a, 2 * groups, twiddles, |x, y, w: &Twiddle| {
        let (u, v) = forward_butterfly(x, y, w, &k);
        (k.reduce_fully(u), k.reduce_fully(v))
    });
}

/// Inverse transform (see [`NttTable::inverse`]).
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn inverse(table: &NttTable, a: &mut [u64]) {
    let n = a.len();
    let k = Constants::new(table.modulus.value());
    let twiddles = (&table.inv_roots[..], &table.inv_roots_shoup[..]);
    let butterfly = |x, y, w: &Twiddle| inverse_butterfly(x, y, w, &k);
    interleaved_stage(a, n / 2, twiddles, butterfly);
    pairs_stage(a, n / 4, twiddles, butterfly);
    let (mut half, mut groups) = (4, n / 8);
    while groups > 1 {
        wide_stage(a, half, groups, twiddles, butterfly);
        half *= 2;
        groups /= 2;
    }
    // Last stage with N^{-1} folded in: x ← (x + y)/N, y ← (x − y)·ψ^{−rev(1)}/N.
    let w = Twiddle::splat(table.inv_roots[0], table.inv_roots_shoup[0]);
    let n_inv = Twiddle::splat(table.n_inv.0, table.n_inv.1);
    let (xs, ys) = a.split_at_mut(half);
    for (x, y) in xs.chunks_exact_mut(4).zip(ys.chunks_exact_mut(4)) {
        let (u, v) = (load(x), load(y));
        let sum = _mm256_add_epi64(u, v);
        let diff = _mm256_sub_epi64(_mm256_add_epi64(u, k.two_q), v);
        store(x, reduce(mul_shoup_lazy(sum, &n_inv, &k), k.q));
        store(y, reduce(mul_shoup_lazy(diff, &w, &k), k.q));
    }
}

/// Twiddles (`w`, then their Shoup companions) indexed by `groups + g`.
type Twiddles<'a> = (&'a [u64], &'a [u64]);

/// A stage of `groups` blocks whose halves are `half ≥ 4` apart: whole vectors on both sides.
#[target_feature(enable = "avx2")]
fn wide_stage(
    a: &mut [u64],
    half: usize,
    groups: usize,
    (roots, shoup): Twiddles,
    butterfly: impl Fn(__m256i, __m256i, &Twiddle) -> (__m256i, __m256i),
) {
    for (g, block) in a.chunks_exact_mut(2 * half).enumerate() {
        let w = Twiddle::splat(roots[groups + g], shoup[groups + g]);
        let (xs, ys) = block.split_at_mut(half);
        for (x, y) in xs.chunks_exact_mut(4).zip(ys.chunks_exact_mut(4)) {
            let (u, v) = butterfly(load(x), load(y), &w);
            store(x, u);
            store(y, v);
        }
    }
}

/// The stage with halves 2 apart: `[x0 x1 y0 y1 | x2 x3 y2 y3]` holds two groups.
#[target_feature(enable = "avx2")]
fn pairs_stage(
    a: &mut [u64],
    groups: usize,
    (roots, shoup): Twiddles,
    butterfly: impl Fn(__m256i, __m256i, &Twiddle) -> (__m256i, __m256i),
) {
    for (g, block) in a.chunks_exact_mut(8).enumerate() {
        let i = groups + 2 * g;
        let w = Twiddle::pairs(&roots[i..i + 2], &shoup[i..i + 2]);
        let (lo, hi) = block.split_at_mut(4);
        let (a0, b0) = (load(lo), load(hi));
        let (u, v) = butterfly(
            _mm256_permute2x128_si256::<0x20>(a0, b0),
            _mm256_permute2x128_si256::<0x31>(a0, b0),
            &w,
        );
        store(lo, _mm256_permute2x128_si256::<0x20>(u, v));
        store(hi, _mm256_permute2x128_si256::<0x31>(u, v));
    }
}

/// The stage with halves 1 apart: `[x0 y0 x1 y1 | x2 y2 x3 y3]` holds four groups, which
/// unpacking orders 0, 2, 1, 3.
#[target_feature(enable = "avx2")]
fn interleaved_stage(
    a: &mut [u64],
    groups: usize,
    (roots, shoup): Twiddles,
    butterfly: impl Fn(__m256i, __m256i, &Twiddle) -> (__m256i, __m256i),
) {
    for (g, block) in a.chunks_exact_mut(8).enumerate() {
        let i = groups + 4 * g;
        let w = Twiddle::interleaved(&roots[i..i + 4], &shoup[i..i + 4]);
        let (lo, hi) = block.split_at_mut(4);
        let (a0, b0) = (load(lo), load(hi));
        let (u, v) = butterfly(
            _mm256_unpacklo_epi64(a0, b0),
            _mm256_unpackhi_epi64(a0, b0),
            &w,
        );
        store(lo, _mm256_unpacklo_epi64(u, v));
        store(hi, _mm256_unpackhi_epi64(u, v));
    }
}

/// The modulus, broadcast.
struct Constants {
    q: __m256i,
    two_q: __m256i,
    /// High 32-bit halves of `q`.
    q_hi: __m256i,
}

impl Constants {
    #[target_feature(enable = "avx2")]
    fn new(q: u64) -> Self {
        let q = _mm256_set1_epi64x(q as i64);
        Self {
            q,
            two_q: _mm256_add_epi64(q, q),
            q_hi: _mm256_srli_epi64::<32>(q),
        }
    }

    /// `[0, 4q) → [0, q)`.
    #[target_feature(enable = "avx2")]
    fn reduce_fully(&self, x: __m256i) -> __m256i {
        reduce(reduce(x, self.two_q), self.q)
    }
}

/// A twiddle per lane with its Shoup companion, and the high halves both products need.
struct Twiddle {
    w: __m256i,
    w_hi: __m256i,
    shoup: __m256i,
    shoup_hi: __m256i,
}

impl Twiddle {
    #[target_feature(enable = "avx2")]
    fn new(w: __m256i, shoup: __m256i) -> Self {
        Self {
            w,
            w_hi: _mm256_srli_epi64::<32>(w),
            shoup,
            shoup_hi: _mm256_srli_epi64::<32>(shoup),
        }
    }

    /// One twiddle in every lane.
    #[target_feature(enable = "avx2")]
    fn splat(w: u64, shoup: u64) -> Self {
        Self::new(
            _mm256_set1_epi64x(w as i64),
            _mm256_set1_epi64x(shoup as i64),
        )
    }

    /// Lanes `[w0, w0, w1, w1]`.
    #[target_feature(enable = "avx2")]
    fn pairs(w: &[u64], shoup: &[u64]) -> Self {
        let spread =
            |v: &[u64]| _mm256_setr_epi64x(v[0] as i64, v[0] as i64, v[1] as i64, v[1] as i64);
        Self::new(spread(w), spread(shoup))
    }

    /// Lanes `[w0, w2, w1, w3]`.
    #[target_feature(enable = "avx2")]
    fn interleaved(w: &[u64], shoup: &[u64]) -> Self {
        let spread =
            |v: &[u64]| _mm256_setr_epi64x(v[0] as i64, v[2] as i64, v[1] as i64, v[3] as i64);
        Self::new(spread(w), spread(shoup))
    }
}

#[target_feature(enable = "avx2")]
fn load(x: &[u64]) -> __m256i {
    assert!(x.len() >= 4);
    // SAFETY: four u64 are in bounds (checked above); unaligned loads are allowed.
    unsafe { _mm256_loadu_si256(x.as_ptr().cast()) }
}

#[target_feature(enable = "avx2")]
fn store(x: &mut [u64], v: __m256i) {
    assert!(x.len() >= 4);
    // SAFETY: four u64 are in bounds (checked above); unaligned stores are allowed.
    unsafe { _mm256_storeu_si256(x.as_mut_ptr().cast(), v) }
}

/// `x − m` where `x ≥ m` (values below `2^63`).
#[target_feature(enable = "avx2")]
fn reduce(x: __m256i, m: __m256i) -> __m256i {
    let below = _mm256_cmpgt_epi64(m, x);
    _mm256_sub_epi64(x, _mm256_andnot_si256(below, m))
}

/// `x·w mod q` in `[0, 2q)`: `x·w − ⌊x·w'/2^64⌋·q` in the low words.
#[target_feature(enable = "avx2")]
fn mul_shoup_lazy(x: __m256i, w: &Twiddle, k: &Constants) -> __m256i {
    let x_hi = _mm256_srli_epi64::<32>(x);
    // High word of x·w' from its four 32×32 pieces.
    let low32 = _mm256_set1_epi64x(0xffff_ffff);
    let ll = mul_epu32(x, w.shoup);
    let lh = mul_epu32(x, w.shoup_hi);
    let hl = mul_epu32(x_hi, w.shoup);
    let hh = mul_epu32(x_hi, w.shoup_hi);
    let mid = _mm256_add_epi64(lh, _mm256_srli_epi64::<32>(ll));
    let mid2 = _mm256_add_epi64(hl, _mm256_and_si256(mid, low32));
    let quotient = _mm256_add_epi64(
        _mm256_add_epi64(hh, _mm256_srli_epi64::<32>(mid)),
        _mm256_srli_epi64::<32>(mid2),
    );
    let product = mul_low(x, x_hi, w.w, w.w_hi);
    let multiple = mul_low(quotient, _mm256_srli_epi64::<32>(quotient), k.q, k.q_hi);
    _mm256_sub_epi64(product, multiple)
}

/// Low 64 bits of `a·b`, given the high halves.
#[target_feature(enable = "avx2")]
fn mul_low(a: __m256i, a_hi: __m256i, b: __m256i, b_hi: __m256i) -> __m256i {
    let cross = _mm256_add_epi64(_mm256_mul_epu32(a, b_hi), _mm256_mul_epu32(a_hi, b));
    _mm256_add_epi64(_mm256_mul_epu32(a, b), _mm256_slli_epi64::<32>(cross))
}

/// `(x, y) → (x + w·y, x − w·y)`, inputs below `4q`, outputs below `4q`.
#[target_feature(enable = "avx2")]
fn forward_butterfly(x: __m256i, y: __m256i, w: &Twiddle, k: &Constants) -> (__m256i, __m256i) {
    let u = reduce(x, k.two_q);
    let v = mul_shoup_lazy(y, w, k);
    (
        _mm256_add_epi64(u, v),
        _mm256_sub_epi64(_mm256_add_epi64(u, k.two_q), v),
    )
}

/// `(x, y) → (x + y, (x − y)·w)`, inputs below `2q`, outputs below `2q`.
#[target_feature(enable = "avx2")]
fn inverse_butterfly(x: __m256i, y: __m256i, w: &Twiddle, k: &Constants) -> (__m256i, __m256i) {
    let sum = reduce(_mm256_add_epi64(x, y), k.two_q);
    let diff = _mm256_sub_epi64(_mm256_add_epi64(x, k.two_q), y);
    (sum, mul_shoup_lazy(diff, w, k))
}

/// `_mm256_mul_epu32` (32×32 → 64 per lane) as an instruction the optimizer cannot see through.
/// With the intrinsic, LLVM recognizes the four pieces of [`mul_shoup_lazy`]'s high word as one
/// 64×64-bit high multiply and scalarizes it (four `mul`s and lane shuffles per vector): the
/// forward transform took 1.3–1.9× as long and the inverse 1.1–1.3× (`cargo bench -p
/// cachemir-kernels --bench ntt` with the intrinsic back in place).
#[target_feature(enable = "avx2")]
fn mul_epu32(a: __m256i, b: __m256i) -> __m256i {
    let product: __m256i;
    // SAFETY: `vpmuludq` reads only its register operands; AVX2 is enabled for this function.
    unsafe {
        std::arch::asm!(
            "vpmuludq {product}, {a}, {b}",
            product = lateout(ymm_reg) product,
            a = in(ymm_reg) a,
            b = in(ymm_reg) b,
            options(pure, nomem, nostack, preserves_flags),
        )
    };
    product
}
