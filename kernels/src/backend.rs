//! The `Backend` trait: every ring operation the CKKS layer needs, on owned RNS polynomials.
//!
//! The scheme code (`cachemir-runtime`) is generic over it. The CPU backend ([`crate::CpuBackend`])
//! is the reference; a CUDA backend implements the same operations on device buffers.

use crate::{Result, Ring, RnsPoly};

/// The `P·(c_0, c_1)` part of a key switch kept over `Q_l ∪ P`, for
/// [`Backend::key_switch_inner_product`] to add to its outputs in the same pass.
#[derive(Debug, Clone, Copy)]
pub struct PMultiple<'a> {
    /// `c_0`, then `c_1` if the second output gets one; their primes are a prefix of the digits'.
    pub polys: &'a [RnsPoly],
    /// `P mod q` for each prime of `polys`.
    pub p_mod_q: &'a [u64],
}

/// Ring operations on [`RnsPoly`]s. Binary operations require both operands over the same primes
/// and in the same form; element-wise ones work in either form unless stated.
pub trait Backend: Send + Sync + std::fmt::Debug {
    /// Coefficient → evaluation form (no-op if already in evaluation form).
    fn to_eval(&self, ring: &Ring, a: &mut RnsPoly);
    /// Evaluation → coefficient form (no-op if already in coefficient form).
    fn to_coeff(&self, ring: &Ring, a: &mut RnsPoly);
    /// `a += b`.
    fn add_assign(&self, ring: &Ring, a: &mut RnsPoly, b: &RnsPoly);
    /// `a -= b`.
    fn sub_assign(&self, ring: &Ring, a: &mut RnsPoly, b: &RnsPoly);
    /// `a = -a`.
    fn neg_assign(&self, ring: &Ring, a: &mut RnsPoly);
    /// `a *= b` point-wise (both in evaluation form).
    fn mul_assign(&self, ring: &Ring, a: &mut RnsPoly, b: &RnsPoly);
    /// `acc += a · b` point-wise (evaluation form).
    fn mul_add_assign(&self, ring: &Ring, acc: &mut RnsPoly, a: &RnsPoly, b: &RnsPoly);
    /// `a *= s_k` on limb `k` (`scalars[k]` reduced modulo limb `k`'s prime).
    fn mul_scalar_assign(&self, ring: &Ring, a: &mut RnsPoly, scalars: &[u64]);
    /// `acc += a · s_k` on every limb `k` the two share: the shorter operand's primes must be a
    /// prefix of the longer one's, and `scalars` has one entry per shared limb (same form).
    fn mul_scalar_add_assign(&self, ring: &Ring, acc: &mut RnsPoly, a: &RnsPoly, scalars: &[u64]);
    /// `a += s_k` on every evaluation of limb `k` (adds the constant polynomial `s`; evaluation form).
    fn add_scalar_assign(&self, ring: &Ring, a: &mut RnsPoly, scalars: &[u64]);
    /// `K` sums of point-wise products sharing their second factors, `[Σ_t x_t[k] · y_t]_k` for
    /// terms `(x_t, y_t)`, with one reduction per output (evaluation form, at most 64 terms). Each
    /// `y_t` is read once for all `K` sums: a ciphertext's polynomials times the same plaintexts.
    fn dot<const K: usize>(&self, ring: &Ring, terms: &[([&RnsPoly; K], &RnsPoly)])
        -> [RnsPoly; K];
    /// The automorphism `X → X^g` (evaluation form: an index permutation).
    fn automorphism(&self, ring: &Ring, a: &RnsPoly, galois: u64) -> Result<RnsPoly>;
    /// ModUp of one key-switching digit. `c` is a polynomial in evaluation form and `coeff` the
    /// same polynomial in coefficient form; the digit is `c`'s limbs at positions `digit`. Returns
    /// the digit over the primes `to` (`c`'s primes first, then more) in evaluation form and in
    /// Montgomery form (every residue times `2^64`), as [`Backend::key_switch_inner_product`]
    /// reads it: its own limbs are `c`'s, every other one the fast basis extension of its residues
    /// (`x + u·A` for a small `u ≥ 0`, `A` the product of the digit's primes).
    fn mod_up(
        &self,
        ring: &Ring,
        c: &RnsPoly,
        coeff: &RnsPoly,
        digit: std::ops::Range<usize>,
        to: &[usize],
    ) -> RnsPoly;
    /// Divides by the last limb's prime with rounding and drops that limb (evaluation form in and out): CKKS rescale.
    fn divide_round_by_last(&self, ring: &Ring, a: &mut RnsPoly);
    /// Divides by the product `D` of the primes of `a`'s last `count` limbs with rounding and drops
    /// them: `round(a / D)` over the other primes (evaluation form in and out). Over `Q_l ∪ P`, the
    /// last `|P|` limbs make ModDown; `|P| + 1` make ModDown and a rescale by `q_l` in one division.
    fn mod_down(&self, ring: &Ring, a: RnsPoly, count: usize) -> RnsPoly;
    /// The hybrid key-switching inner product: `(Σ_j d_j·b_j, Σ_j d_j·a_j)` over the primes of the
    /// digits `d_j` (evaluation form; the digits in Montgomery form, as [`Backend::mod_up`] makes
    /// them, the result not). Key polynomials cover at least the digits' primes (a key
    /// made for a higher level covers more). With `permutation`, each digit is read
    /// through it first (`d_j[perm[i]]`): the automorphism of hoisted rotations, fused. With
    /// `p_multiple`, its `P·c` terms are added too (read through the permutation as well).
    fn key_switch_inner_product(
        &self,
        ring: &Ring,
        digits: &[RnsPoly],
        key: &[(RnsPoly, RnsPoly)],
        permutation: Option<&[u32]>,
        p_multiple: Option<PMultiple<'_>>,
    ) -> (RnsPoly, RnsPoly);
}
