//! The butterflies of [`NttTable`] eight lanes at a time with AVX-512 (F, DQ, IFMA).
//!
//! Two Shoup products, chosen per prime:
//! - `q < 2^50`: IFMA. With the companion `w' = ⌊w·2^52/q⌋` (the 64-bit companion shifted right by
//!   12), `x·w mod q ∈ [0, 2q)` is `lo52(x·w) − lo52(⌊x·w'/2^52⌋·q)` modulo `2^52`: three
//!   `vpmadd52*` instructions. The lazy bounds keep every input below `4q < 2^52`, as IFMA needs.
//! - `q < 2^61`: the high word of `x·w'` from four `vpmuludq` pieces, the low words with `vpmullq`.
//!
//! Lazy bounds are those of the portable loop. Stages whose halves are at least eight apart load
//! both operands as whole vectors; the last three forward stages (the first three inverse ones)
//! gather each side of sixteen values with one two-source permutation.

use super::NttTable;
use std::arch::x86_64::*;

/// Forward transform (see [`NttTable::forward`]).
///
/// # Safety
/// The CPU must support AVX-512 F, DQ and IFMA.
#[target_feature(enable = "avx512f,avx512dq,avx512ifma")]
pub(super) unsafe fn forward(table: &NttTable, a: &mut [u64]) {
    let k = Constants::new(table.modulus.value());
    let twiddles = (&table.roots[..], &table.roots_shoup[..]);
    if k.ifma {
        forward_with(a, twiddles, &k, |x, w, s| mul_shoup_ifma(x, w, s, &k));
    } else {
        forward_with(a, twiddles, &k, |x, w, s| mul_shoup_wide(x, w, s, &k));
    }
}

/// Inverse transform (see [`NttTable::inverse`]).
///
/// # Safety
/// The CPU must support AVX-512 F, DQ and IFMA.
#[target_feature(enable = "avx512f,avx512dq,avx512ifma")]
pub(super) unsafe fn inverse(table: &NttTable, a: &mut [u64]) {
    let k = Constants::new(table.modulus.value());
    let twiddles = (&table.inv_roots[..], &table.inv_roots_shoup[..]);
    let n_inv = (table.n_inv.0, table.n_inv.1);
    if k.ifma {
        inverse_with(a, twiddles, n_inv, &k, |x, w, s| {
            mul_shoup_ifma(x, w, s, &k)
        });
    } else {
        inverse_with(a, twiddles, n_inv, &k, |x, w, s| {
            mul_shoup_wide(x, w, s, &k)
        });
    }
}

/// Twiddles (`w`, then their 64-bit Shoup companions) indexed by `groups + g`.
type Twiddles<'a> = (&'a [u64], &'a [u64]);

#[target_feature(enable = "avx512f,avx512dq,avx512ifma")]
fn forward_with(
    a: &mut [u64],
    twiddles: Twiddles,
    k: &Constants,
    mul: impl Fn(__m512i, __m512i, __m512i) -> __m512i,
) {
    let butterfly = |x, y, w, s| {
        let u = reduce(x, k.two_q);
        let v = mul(y, w, s);
        (
            _mm512_add_epi64(u, v),
            _mm512_sub_epi64(_mm512_add_epi64(u, k.two_q), v),
        )
    };
    let (mut half, mut groups) = (a.len() / 2, 1);
    while half >= 8 {
        wide_stage(a, half, groups, twiddles, butterfly);
        half /= 2;
        groups *= 2;
    }
    narrow_stage::<4>(a, groups, twiddles, butterfly);
    narrow_stage::<2>(a, 2 * groups, twiddles, butterfly);
    narrow_stage::<1>(a, 4 * groups, twiddles, |x, y, w, s| {
        let (u, v) = butterfly(x, y, w, s);
        (k.reduce_fully(u), k.reduce_fully(v))
    });
}

#[target_feature(enable = "avx512f,avx512dq,avx512ifma")]
fn inverse_with(
    a: &mut [u64],
    twiddles: Twiddles,
    (n_inv, n_inv_shoup): (u64, u64),
    k: &Constants,
    mul: impl Fn(__m512i, __m512i, __m512i) -> __m512i,
) {
    let n = a.len();
    let butterfly = |x, y, w, s| {
        let sum = reduce(_mm512_add_epi64(x, y), k.two_q);
        let diff = _mm512_sub_epi64(_mm512_add_epi64(x, k.two_q), y);
        (sum, mul(diff, w, s))
    };
    narrow_stage::<1>(a, n / 2, twiddles, butterfly);
    narrow_stage::<2>(a, n / 4, twiddles, butterfly);
    narrow_stage::<4>(a, n / 8, twiddles, butterfly);
    let (mut half, mut groups) = (8, n / 16);
    while groups > 1 {
        wide_stage(a, half, groups, twiddles, butterfly);
        half *= 2;
        groups /= 2;
    }
    // Last stage with N^{-1} folded in: x ← (x + y)/N, y ← (x − y)·ψ^{−rev(1)}/N.
    let (roots, shoup) = twiddles;
    let (w, ws) = (splat(roots[0]), splat(shoup[0]));
    let (n_inv, n_inv_shoup) = (splat(n_inv), splat(n_inv_shoup));
    let (xs, ys) = a.split_at_mut(half);
    for (x, y) in xs.chunks_exact_mut(8).zip(ys.chunks_exact_mut(8)) {
        let (u, v) = (load(x), load(y));
        let sum = _mm512_add_epi64(u, v);
        let diff = _mm512_sub_epi64(_mm512_add_epi64(u, k.two_q), v);
        store(x, reduce(mul(sum, n_inv, n_inv_shoup), k.q));
        store(y, reduce(mul(diff, w, ws), k.q));
    }
}

/// A stage of `groups` blocks whose halves are `half ≥ 8` apart: whole vectors on both sides.
#[target_feature(enable = "avx512f,avx512dq,avx512ifma")]
fn wide_stage(
    a: &mut [u64],
    half: usize,
    groups: usize,
    (roots, shoup): Twiddles,
    butterfly: impl Fn(__m512i, __m512i, __m512i, __m512i) -> (__m512i, __m512i),
) {
    for (g, block) in a.chunks_exact_mut(2 * half).enumerate() {
        let (w, s) = (splat(roots[groups + g]), splat(shoup[groups + g]));
        let (xs, ys) = block.split_at_mut(half);
        for (x, y) in xs.chunks_exact_mut(8).zip(ys.chunks_exact_mut(8)) {
            let (u, v) = butterfly(load(x), load(y), w, s);
            store(x, u);
            store(y, v);
        }
    }
}

/// A stage whose halves are `HALF ∈ {1, 2, 4}` apart: sixteen values hold `8 / HALF` blocks, their
/// first halves permuted into one vector and their second halves into another.
#[target_feature(enable = "avx512f,avx512dq,avx512ifma")]
fn narrow_stage<const HALF: usize>(
    a: &mut [u64],
    groups: usize,
    (roots, shoup): Twiddles,
    butterfly: impl Fn(__m512i, __m512i, __m512i, __m512i) -> (__m512i, __m512i),
) {
    let lanes = NarrowLanes::new(HALF);
    let blocks = 8 / HALF;
    for (c, chunk) in a.chunks_exact_mut(16).enumerate() {
        let i = groups + c * blocks;
        let w = lanes.twiddles(&roots[i..i + blocks]);
        let s = lanes.twiddles(&shoup[i..i + blocks]);
        let (lo, hi) = chunk.split_at_mut(8);
        let (a0, a1) = (load(lo), load(hi));
        let x = _mm512_permutex2var_epi64(a0, lanes.first, a1);
        let y = _mm512_permutex2var_epi64(a0, lanes.second, a1);
        let (u, v) = butterfly(x, y, w, s);
        store(lo, _mm512_permutex2var_epi64(u, lanes.merge_lo, v));
        store(hi, _mm512_permutex2var_epi64(u, lanes.merge_hi, v));
    }
}

/// The permutations of a narrow stage over sixteen values `[a0 | a1]` (indices 8–15 name `a1`, or
/// in the merges the second operand).
struct NarrowLanes {
    /// Lane `l` takes the first-half value `l % HALF` of block `l / HALF`.
    first: __m512i,
    /// The same for the second halves.
    second: __m512i,
    /// Values 0–7 back from (first, second) lanes.
    merge_lo: __m512i,
    /// Values 8–15.
    merge_hi: __m512i,
    /// Lane `l` takes twiddle `l / HALF` of the chunk's blocks.
    twiddle: __m512i,
}

impl NarrowLanes {
    #[target_feature(enable = "avx512f")]
    fn new(half: usize) -> Self {
        let lanes = |f: &dyn Fn(usize) -> usize| {
            let v: [i64; 8] = std::array::from_fn(|l| f(l) as i64);
            // SAFETY: eight i64 are read from a local array; unaligned loads are allowed.
            unsafe { _mm512_loadu_si512(v.as_ptr().cast()) }
        };
        // Value e sits in block e / (2·half) at offset r = e % (2·half): a first half when r < half.
        let source = |e: usize| {
            let (block, r) = (e / (2 * half), e % (2 * half));
            if r < half {
                block * half + r
            } else {
                8 + block * half + r - half
            }
        };
        Self {
            first: lanes(&|l| (l / half) * 2 * half + l % half),
            second: lanes(&|l| (l / half) * 2 * half + l % half + half),
            merge_lo: lanes(&source),
            merge_hi: lanes(&|e| source(e + 8)),
            twiddle: lanes(&|l| l / half),
        }
    }

    /// The twiddles of the chunk's blocks spread over the lanes.
    #[target_feature(enable = "avx512f")]
    fn twiddles(&self, block_twiddles: &[u64]) -> __m512i {
        let count = block_twiddles.len();
        assert!(count <= 8);
        // SAFETY: the mask reads only the `count` values in bounds; masked lanes are not touched.
        let v = unsafe {
            _mm512_maskz_loadu_epi64(((1u32 << count) - 1) as u8, block_twiddles.as_ptr().cast())
        };
        _mm512_permutexvar_epi64(self.twiddle, v)
    }
}

/// The modulus, broadcast, and which product it takes.
struct Constants {
    q: __m512i,
    two_q: __m512i,
    /// `2^52 − q` (IFMA: adding `lo52(t·(2^52 − q))` subtracts `t·q` modulo `2^52`).
    neg_q52: __m512i,
    /// Whether `q < 2^50`, so that the IFMA product applies.
    ifma: bool,
}

impl Constants {
    /// Primes below this bound take the IFMA product (inputs below `4q` must fit 52 bits).
    const IFMA_BOUND: u64 = 1 << 50;

    #[target_feature(enable = "avx512f")]
    fn new(q: u64) -> Self {
        Self {
            q: splat(q),
            two_q: splat(2 * q),
            neg_q52: splat((1u64 << 52).wrapping_sub(q)),
            ifma: q < Self::IFMA_BOUND,
        }
    }

    /// `[0, 4q) → [0, q)`.
    #[target_feature(enable = "avx512f")]
    fn reduce_fully(&self, x: __m512i) -> __m512i {
        reduce(reduce(x, self.two_q), self.q)
    }
}

#[target_feature(enable = "avx512f")]
fn splat(x: u64) -> __m512i {
    _mm512_set1_epi64(x as i64)
}

#[target_feature(enable = "avx512f")]
fn load(x: &[u64]) -> __m512i {
    assert!(x.len() >= 8);
    // SAFETY: eight u64 are in bounds (checked above); unaligned loads are allowed.
    unsafe { _mm512_loadu_si512(x.as_ptr().cast()) }
}

#[target_feature(enable = "avx512f")]
fn store(x: &mut [u64], v: __m512i) {
    assert!(x.len() >= 8);
    // SAFETY: eight u64 are in bounds (checked above); unaligned stores are allowed.
    unsafe { _mm512_storeu_si512(x.as_mut_ptr().cast(), v) }
}

/// `x − m` where `x ≥ m`: the unsigned minimum of `x` and `x − m` (which wraps when `x < m`).
#[target_feature(enable = "avx512f")]
fn reduce(x: __m512i, m: __m512i) -> __m512i {
    _mm512_min_epu64(x, _mm512_sub_epi64(x, m))
}

/// `x·w mod q` in `[0, 2q)` for `q < 2^50` and `x < 2^52`, from the 64-bit companion `shoup`.
#[target_feature(enable = "avx512f,avx512ifma")]
fn mul_shoup_ifma(x: __m512i, w: __m512i, shoup: __m512i, k: &Constants) -> __m512i {
    let zero = _mm512_setzero_si512();
    let quotient = _mm512_madd52hi_epu64(zero, x, _mm512_srli_epi64::<12>(shoup));
    let product = _mm512_madd52lo_epu64(zero, x, w);
    let r = _mm512_madd52lo_epu64(product, quotient, k.neg_q52);
    _mm512_and_si512(r, splat((1 << 52) - 1))
}

/// `x·w mod q` in `[0, 2q)` for `q < 2^61`: `x·w − ⌊x·w'/2^64⌋·q` in the low words.
#[target_feature(enable = "avx512f,avx512dq")]
fn mul_shoup_wide(x: __m512i, w: __m512i, shoup: __m512i, k: &Constants) -> __m512i {
    let x_hi = _mm512_srli_epi64::<32>(x);
    let shoup_hi = _mm512_srli_epi64::<32>(shoup);
    // High word of x·w' from its four 32×32 pieces.
    let low32 = splat(0xffff_ffff);
    let ll = mul_epu32(x, shoup);
    let lh = mul_epu32(x, shoup_hi);
    let hl = mul_epu32(x_hi, shoup);
    let hh = mul_epu32(x_hi, shoup_hi);
    let mid = _mm512_add_epi64(lh, _mm512_srli_epi64::<32>(ll));
    let mid2 = _mm512_add_epi64(hl, _mm512_and_si512(mid, low32));
    let quotient = _mm512_add_epi64(
        _mm512_add_epi64(hh, _mm512_srli_epi64::<32>(mid)),
        _mm512_srli_epi64::<32>(mid2),
    );
    _mm512_sub_epi64(_mm512_mullo_epi64(x, w), _mm512_mullo_epi64(quotient, k.q))
}

/// `_mm512_mul_epu32` (32×32 → 64 per lane) as an instruction the optimizer cannot see through:
/// with the intrinsic, LLVM turns [`mul_shoup_wide`]'s four pieces back into one 64×64-bit high
/// multiply and scalarizes it (eight `mul`s and lane extractions per vector), as with AVX2.
#[target_feature(enable = "avx512f")]
fn mul_epu32(a: __m512i, b: __m512i) -> __m512i {
    let product: __m512i;
    // SAFETY: `vpmuludq` reads only its register operands; AVX-512 F is enabled for this function.
    unsafe {
        std::arch::asm!(
            "vpmuludq {product}, {a}, {b}",
            product = lateout(zmm_reg) product,
            a = in(zmm_reg) a,
            b = in(zmm_reg) b,
            options(pure, nomem, nostack, preserves_flags),
        )
    };
    product
}
