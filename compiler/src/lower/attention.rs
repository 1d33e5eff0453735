//! RoPE and attention over the encrypted KV cache (Cachemir's K/V-cache layouts).
//!
//! Layouts (`K` = tokens per chunk = replication factor, `hd` = head dim, `q_dim = heads·hd ≤ D`):
//! - K and V caches of layer `ℓ` (`k.ℓ`, `v.ℓ`): chunk `c` holds tokens `c·K … c·K + K − 1`,
//!   `slot[r·K + j] = K[c·K + j, r]`. A token is appended as its strided vector rotated right by
//!   `p mod K` (one rotation, one addition). Each cache persists at the level its readers spend, not higher
//!   (an appended value above it is dropped for free). GQA is expanded in the K/V projection weights, so cached rows
//!   have `q_dim` entries (one copy per query head).
//! - Keys are cached centered (`k − mean`, the calibrated mean key): softmax is invariant to the shift
//!   `q·mean` common to a head's scores, and the centered scores span a much smaller range.
//! - Scores of chunk `c`: `q` replicated within its groups of `K` slots (`log2 K` rotations), one ct×ct
//!   product with the chunk, `log2 hd` rotations summing each head → `slot[(h·hd)·K + j]`; a head mask
//!   clears the other slots. Score groups: up to `hd/2` chunks share one ciphertext, chunk `i` of a
//!   group moved to `slot[(h·hd)·K + i·K + j]` (power-of-two rotations by multiples of `K`), so
//!   `exp(scale·s)`, the client's validity mask of the group (`1/(p + 1)` for tokens `≤ p`, zero for
//!   unwritten ones) and every softmax round below run once per group, not once per chunk.
//! - Softmax without a maximum ([`Softmax`]): `y = exp(scale·s / 2^r)` (a gentle polynomial), then
//!   `y ← y / Σy` and `r` rounds of `y ← y² / Σy²`, which ends at `exp(scale·s) / Σ exp(scale·s)` while
//!   every sum stays in a range fixed by the context length (no calibration of denominators, no overflow).
//!   The validity mask makes the first sum a mean, so its range does not grow with the context, and `r`
//!   is the count that spends the fewest levels ([`Softmax::levels`]). The masks carry the change of
//!   variable of the polynomial after them, which then spends no level of its own.
//!   A sum over all groups and the `W` token slots of a head block (a group's width rounded up to a
//!   power of two) is a window of `2W` (`log2 2W` rotations) and a head mask; its inverse is a
//!   polynomial plus Newton steps. Only the last normalization must be accurate: the earlier ones
//!   leave a factor common to the head, which the next one cancels, so they are one rough polynomial
//!   each ([`Softmax::new`]).
//! - `softmax·V`: per chunk, its weights (rotated out of the group and masked, when the group holds
//!   more than one chunk) broadcast over the head (`log2 hd`) times the V chunk; the sum over chunks is
//!   reduced over tokens (`log2 K`) and masked to the stride.
//!   The result is strided, the input layout of the output projection.
//!
//! Position-dependent values come from the client as inputs, each row `p` of a plan table
//! `client.<input>`: `rope.cos`, `rope.sin_lo`, `rope.sin_hi` (`q_dim` entries, strided) and
//! `attn.valid.<c>` (a full slot vector).

use super::activation::{
    newton_reciprocal, poly_mapped, reciprocal, Approx, INVERSE_ERROR, NEWTON_DEPTH,
    ROUGH_INVERSE_ERROR,
};
use super::emit::Emitter;
use super::geometry::Geometry;
use super::matvec::reduce_and_mask;
use super::vector::Vector;
use cachemir_ir::fhe::{CtType, KvCacheDecl, Layout, Level, LogScale, Op, SlotCount, ValueId};

/// Head structure and cache sizes of the attention layers.
#[derive(Debug, Clone, PartialEq)]
pub struct Heads {
    /// Query heads (K/V are expanded to as many).
    pub heads: usize,
    /// Head dimension (a power of two).
    pub head_dim: usize,
    /// Tokens the caches hold at most.
    pub max_context: usize,
    /// Highest level the caches persist at. Each cache is kept at the level its readers spend
    /// ([`Softmax::key_cache_level`], [`VALUE_CACHE_LEVEL`]) when that is lower: a value appended above it
    /// is dropped for free, where a higher cache would make every appended value a bootstrap.
    pub cache_level: u32,
}

impl Heads {
    fn q_dim(&self) -> usize {
        self.heads * self.head_dim
    }

    /// KV chunks per cache.
    pub fn chunks(&self, geo: &Geometry) -> u32 {
        self.max_context.div_ceil(geo.k as usize) as u32
    }

    /// Chunks whose scores share one ciphertext (a score group): side by side, `K` token slots each,
    /// in every head block of `hd·K` slots, as many as leave room for the normalization's window
    /// (twice the group's width rounded up to a power of two) inside the block.
    fn chunks_per_group(&self, geo: &Geometry) -> u32 {
        self.chunks(geo).min(self.head_dim as u32 / 2).max(1)
    }

    /// The chunks of each score group.
    fn score_groups(&self, geo: &Geometry) -> Vec<std::ops::Range<u32>> {
        let (chunks, per) = (self.chunks(geo), self.chunks_per_group(geo));
        (0..chunks.div_ceil(per))
            .map(|g| g * per..(g * per + per).min(chunks))
            .collect()
    }

    /// Slots of a head block a score group's normalization covers: its width, rounded up to a power
    /// of two.
    fn group_width(&self, geo: &Geometry) -> u32 {
        (self.chunks_per_group(geo) * geo.k).next_power_of_two()
    }
}

/// The RoPE inputs (created once, at first use).
pub fn rope_inputs(em: &mut Emitter, geo: &Geometry, h: &Heads, inv_freq: &[f32]) -> [ValueId; 3] {
    let q_dim = h.q_dim();
    let half = h.head_dim / 2;
    let table = |f: &dyn Fn(usize, f32, f32) -> f32| -> Vec<Vec<f64>> {
        (0..h.max_context)
            .map(|p| {
                (0..q_dim)
                    .map(|a| {
                        let i = a % h.head_dim;
                        // As the reference does: the angle in f32, then sin/cos.
                        let theta = p as f32 * inv_freq[i % half];
                        f64::from(f(i, theta.sin(), theta.cos()))
                    })
                    .collect()
            })
            .collect()
    };
    let layout = geo.strided(q_dim as u32);
    let mut out = Vec::new();
    for (name, f) in [
        (
            "rope.cos",
            &(|_, _, c| c) as &dyn Fn(usize, f32, f32) -> f32,
        ),
        ("rope.sin_lo", &move |i, s, _| {
            if i < half {
                -s
            } else {
                0.0
            }
        }),
        ("rope.sin_hi", &move |i, s, _| {
            if i >= half {
                s
            } else {
                0.0
            }
        }),
    ] {
        em.weight(&format!("client.{name}"), || table(f));
        out.push(em.input(name, layout.clone()));
    }
    [out[0], out[1], out[2]]
}

/// Rotate-half RoPE of a single-block vector of `q_dim` entries.
pub fn rope(
    em: &mut Emitter,
    geo: &Geometry,
    h: &Heads,
    x: ValueId,
    [cos, sin_lo, sin_hi]: [ValueId; 3],
) -> ValueId {
    let layout = geo.strided(h.q_dim() as u32);
    let shift = (h.head_dim / 2) as i64 * i64::from(geo.k);
    let a = em.mul(x, cos);
    let up = em.rotate(x, shift, layout.clone());
    let b = em.mul(up, sin_lo);
    let down = em.rotate(x, -shift, layout);
    let c = em.mul(down, sin_hi);
    let ab = em.add(a, b);
    em.add(ab, c)
}

/// The validity inputs of the score groups (created once): `1/(p + 1)` where a group holds a token
/// `≤ p`, 0 elsewhere ([`Softmax::new`]).
pub fn valid_inputs(em: &mut Emitter, geo: &Geometry, h: &Heads) -> Vec<ValueId> {
    let (k, s) = (geo.k as usize, geo.slots as usize);
    h.score_groups(geo)
        .into_iter()
        .enumerate()
        .map(|(g, chunks)| {
            let name = format!("attn.valid.{g}");
            em.weight(&format!("client.{name}"), || {
                (0..h.max_context)
                    .map(|p| {
                        let mut row = vec![0.0; s];
                        for head in 0..h.heads {
                            for (i, c) in chunks.clone().enumerate() {
                                for j in 0..k {
                                    if c as usize * k + j <= p {
                                        row[head * h.head_dim * k + i * k + j] =
                                            1.0 / (p + 1) as f64;
                                    }
                                }
                            }
                        }
                        row
                    })
                    .collect()
            });
            em.input(
                &name,
                Layout::Strided {
                    len: geo.slots,
                    stride: 1,
                },
            )
        })
        .collect()
}

/// The softmax approximation: `exp(scale·s / 2^squarings)` on the calibrated score interval, then
/// normalization and `squarings` rounds of squaring and renormalizing, which yields
/// `exp(scale·s) / Σ exp(scale·s)` with every denominator inside a range fixed by the context length.
#[derive(Debug, Clone, PartialEq)]
pub struct Softmax {
    /// `exp(scale · s / 2^squarings)` on the score interval.
    pub exp: Approx,
    /// `1/x` for the first normalization (rough unless there is no squaring).
    pub first: Approx,
    /// `1/x` for the normalizations after squaring but the last (rough).
    pub rest: Approx,
    /// `1/x` for the last normalization (to [`INVERSE_ERROR`]).
    pub last: Approx,
    /// Rounds of squaring.
    pub squarings: u32,
}

impl Softmax {
    /// The approximation for scores in `interval` scaled by `scale`, over at most `max_context` tokens,
    /// with the number of squarings that spends the fewest levels ([`Softmax::levels`]). With `r`
    /// squarings and `R = max|scale·s| / 2^r`, the validity input holds `1/(p + 1)` for the `p + 1`
    /// tokens of position `p`, so the first sum is a mean of values in `[e^−R, e^R]`. Every
    /// normalization but the last is rough (relative residual [`ROUGH_INVERSE_ERROR`] = `e`, a factor
    /// common to the head that the next normalization cancels), so a later sum (of squares of weights
    /// summing to `1 ± e`) lies in `[(1 − e)²/n, (1 + e)²]` ⊂ `[1/(2n), 2]`.
    pub fn new(scale: f64, interval: (f64, f64), max_context: usize) -> Self {
        let reach = (scale * interval.0.abs().max(interval.1.abs())).max(1.0);
        let most = reach.log2().ceil().max(0.0) as u32;
        (most.saturating_sub(2)..=most)
            .map(|squarings| Self::with_squarings(scale, interval, max_context, reach, squarings))
            .min_by_key(Self::levels)
            .expect("at least one candidate")
    }

    fn with_squarings(
        scale: f64,
        interval: (f64, f64),
        max_context: usize,
        reach: f64,
        squarings: u32,
    ) -> Self {
        let div = f64::from(1u32 << squarings);
        let r = reach / div;
        let n = max_context.max(1) as f64;
        let first_interval = (0.5 * (-r).exp(), 2.0 * r.exp());
        let rest_interval = (0.5 / n, 2.0);
        let first_error = if squarings == 0 {
            INVERSE_ERROR
        } else {
            ROUGH_INVERSE_ERROR
        };
        Self {
            exp: super::activation::exp(scale / div, interval),
            first: reciprocal(first_interval, first_error),
            rest: reciprocal(rest_interval, ROUGH_INVERSE_ERROR),
            last: reciprocal(rest_interval, INVERSE_ERROR),
            squarings,
        }
    }

    /// Levels from the scores to the weights: `exp`'s polynomial, then per normalization the masked
    /// sum, the inverse and the product, and one squaring per round.
    pub fn levels(&self) -> u32 {
        let normalize = |a: &Approx| {
            2 + Op::poly_depth(a.fit.coeffs.len(), (-1.0, 1.0)) + NEWTON_DEPTH * a.newton_steps
        };
        let rounds = match self.squarings {
            0 => 0,
            r => (r - 1) * (1 + normalize(&self.rest)) + 1 + normalize(&self.last),
        };
        Op::poly_depth(self.exp.fit.coeffs.len(), (-1.0, 1.0)) + normalize(&self.first) + rounds
    }

    /// Levels the readers of a cached key spend up to the softmax numerator: the product with `q`, the
    /// head mask (carrying the change of variable) and the polynomial of `exp`.
    pub fn key_cache_level(&self) -> u32 {
        2 + Op::poly_depth(self.exp.fit.coeffs.len(), (-1.0, 1.0))
    }
}

/// Levels the readers of a cached value spend: the product with the softmax weights, the mask after the
/// reduction over tokens, then the output projection and its mask.
pub const VALUE_CACHE_LEVEL: u32 = 4;

/// The mask of the first `width` slots of every head block and its complement, named by `width`.
fn head_mask(em: &mut Emitter, geo: &Geometry, h: &Heads, width: u32) -> (String, String) {
    let (k, s) = (geo.k as usize, geo.slots as usize);
    let mut row = vec![0.0; s];
    for head in 0..h.heads {
        for j in 0..width as usize {
            row[head * h.head_dim * k + j] = 1.0;
        }
    }
    let fill: Vec<f64> = row.iter().map(|m| 1.0 - m).collect();
    let (mask, complement) = (
        format!("mask.head.{width}"),
        format!("mask.head.fill.{width}"),
    );
    em.weight(&mask, || vec![row]);
    em.weight(&complement, || vec![fill]);
    (mask, complement)
}

/// `x` rotated by `blocks·K` slots (left for positive `blocks`), in power-of-two steps of `K`, whose
/// keys the head sums and broadcasts already need.
fn rotate_blocks(em: &mut Emitter, geo: &Geometry, mut x: ValueId, blocks: i64) -> ValueId {
    for t in 0..63 {
        if blocks.unsigned_abs() >> t & 1 == 1 {
            let step = blocks.signum() * (i64::from(geo.k) << t);
            x = em.rotate(x, step, Layout::Opaque);
        }
    }
    x
}

fn broadcast_head(em: &mut Emitter, geo: &Geometry, h: &Heads, mut v: ValueId) -> ValueId {
    for t in 0..h.head_dim.trailing_zeros() {
        v = em.add_rotated(v, -(i64::from(geo.k) << t));
    }
    v
}

/// Attention of layer `layer`: appends `k`, `v` to the caches, returns the strided head outputs.
#[allow(clippy::too_many_arguments)]
pub fn attention(
    em: &mut Emitter,
    geo: &Geometry,
    h: &Heads,
    layer: usize,
    q: ValueId,
    k: ValueId,
    v: ValueId,
    valid: &[ValueId],
    sm: &Softmax,
    key_mean: Option<&[f64]>,
) -> ValueId {
    let q_dim = h.q_dim() as u32;
    let (kname, vname) = (format!("k.{layer}"), format!("v.{layer}"));
    for (name, level) in [(&kname, sm.key_cache_level()), (&vname, VALUE_CACHE_LEVEL)] {
        let chunk = CtType {
            level: Level(level.min(h.cache_level)),
            scale: LogScale(f64::from(em.module.params.log_default_scale)),
            slots: SlotCount(geo.slots),
            layout: geo.strided(q_dim),
            degree: 1,
        };
        em.kv_cache(
            name,
            KvCacheDecl {
                chunks: h.chunks(geo),
                tokens_per_chunk: geo.k,
                token_stride: 1,
                chunk,
            },
        );
    }
    let k = match key_mean {
        Some(mean) => {
            let wname = format!("kmean.{layer}");
            let (kk, s) = (geo.k as usize, geo.slots as usize);
            em.weight(&wname, || {
                let mut row = vec![0.0; s];
                for (c, &m) in mean.iter().enumerate() {
                    row[c * kk] = m;
                }
                vec![row]
            });
            let pt = em.plain(&wname, 0);
            em.sub_plain(k, pt)
        }
        None => k,
    };
    em.kv_append(&kname, k);
    em.kv_append(&vname, v);
    let (chunk_mask, _) = head_mask(em, geo, h, geo.k);
    // The scores' mask carries the change of variable of `exp`'s polynomial (no level of its own).
    let (exp_scale, exp_shift) = sm.exp.unit_map();
    let score_mask = em
        .affine_weight(&chunk_mask, 0, exp_scale, 0.0)
        .expect("declared above");
    let mut qrep = q;
    for t in 0..geo.log_k() {
        qrep = em.add_rotated(qrep, -(1i64 << t));
    }
    // The scores of each group's chunks, side by side in one ciphertext, then exp and validity.
    let groups = h.score_groups(geo);
    let mut es = Vec::new();
    for (chunks, &valid_g) in groups.iter().zip(valid) {
        let mut packed = None;
        for (i, c) in chunks.clone().enumerate() {
            let kc = em.kv_read(&kname, c);
            let mut prod = em.mul(qrep, kc);
            for t in 0..h.head_dim.trailing_zeros() {
                prod = em.add_rotated(prod, i64::from(geo.k) << t);
            }
            let s = em.mul_plain(prod, &score_mask, 0, Layout::Opaque);
            let s = rotate_blocks(em, geo, s, -(i as i64));
            packed = Some(match packed {
                None => s,
                Some(acc) => em.add(acc, s),
            });
        }
        let t = em.add_scalar(packed.expect("a group has chunks"), exp_shift);
        let e = poly_mapped(em, t, &sm.exp);
        es.push(em.mul(e, valid_g));
    }
    // Normalized squaring: y ← y / Σy, then `squarings` times y ← y² / Σy².
    let width = h.group_width(geo);
    es = normalize(em, geo, h, es, &sm.first, width);
    for round in 1..=sm.squarings {
        let sq: Vec<ValueId> = es.iter().map(|&y| em.mul(y, y)).collect();
        let recip = if round == sm.squarings {
            &sm.last
        } else {
            &sm.rest
        };
        es = normalize(em, geo, h, sq, recip, width);
    }
    let mut num = None;
    for (chunks, &e) in groups.iter().zip(&es) {
        for (i, c) in chunks.clone().enumerate() {
            // A chunk's weights back in the first `K` slots of each head block, alone there.
            let w = if chunks.len() > 1 {
                let w = rotate_blocks(em, geo, e, i as i64);
                em.mul_plain(w, &chunk_mask, 0, Layout::Opaque)
            } else {
                e
            };
            let vc = em.kv_read(&vname, c);
            let eb = broadcast_head(em, geo, h, w);
            let p = em.mul(eb, vc);
            num = Some(match num {
                None => p,
                Some(acc) => em.add(acc, p),
            });
        }
    }
    let num = num.expect("at least one chunk");
    reduce_and_mask(em, geo, num, q_dim)
}

/// Divides every score group by the sum over all groups and the first `width` slots of each head
/// block (where the groups' tokens lie).
fn normalize(
    em: &mut Emitter,
    geo: &Geometry,
    h: &Heads,
    es: Vec<ValueId>,
    recip: &Approx,
    width: u32,
) -> Vec<ValueId> {
    let mut tot = es[0];
    for &e in &es[1..] {
        tot = em.add(tot, e);
    }
    // A window of `2·width` slots, shifted so every slot of the first `width` sees all of them.
    for t in 0..(2 * width).trailing_zeros() {
        tot = em.add_rotated(tot, 1 << t);
    }
    let tot = em.rotate(tot, -(i64::from(width) - 1), Layout::Opaque);
    // The head mask, then slots outside the head blocks (0, outside the interval) filled with 1 so the
    // inverse stays tame there (its products with those slots are zero anyway); the polynomial's change
    // of variable is folded into both plaintexts, so it spends no level of its own.
    let (mask, fill) = head_mask(em, geo, h, width);
    let (scale, shift) = recip.unit_map();
    let mapped_mask = em
        .affine_weight(&mask, 0, scale, 0.0)
        .expect("declared above");
    let mapped_fill = em
        .affine_weight(&fill, 0, scale, shift)
        .expect("declared above");
    let t = em.mul_plain(tot, &mapped_mask, 0, Layout::Opaque);
    let t = em.add_plain(t, &mapped_fill, 0);
    let mut inv = poly_mapped(em, t, recip);
    if recip.newton_steps > 0 {
        let x = em.mul_plain(tot, &mask, 0, Layout::Opaque);
        let x = em.add_plain(x, &fill, 0);
        inv = newton_reciprocal(em, x, inv, recip.newton_steps);
    }
    es.iter().map(|&e| em.mul(e, inv)).collect()
}

/// A single-block vector of `q_dim` entries.
pub fn single(x: ValueId, len: usize) -> Vector {
    Vector {
        blocks: vec![x],
        len,
        gain: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lower::{manage_for_tests, params};
    use crate::reference::kernels;
    use cachemir_ir::fhe::interp::{Interpreter, KvState};

    fn val(i: usize) -> f32 {
        (((i * 7919 + 3) % 97) as f32 / 48.0 - 1.0) * 0.8
    }

    /// Six steps of rope + attention (4 heads of 16, K = 4 tokens per chunk, 3 chunks) against the kernels.
    fn run(slots: u32) {
        let p = params::by_name("INSECURE_N12").unwrap();
        let geo = Geometry::new(slots, 64).unwrap();
        let h = Heads {
            heads: 4,
            head_dim: 16,
            max_context: 12,
            cache_level: p.working_level,
        };
        let inv_freq: Vec<f32> = (0..8).map(|i| 1.0 / 10f32.powf(i as f32 / 4.0)).collect();
        let mut em = Emitter::new(p.literal.clone(), slots, p.working_level);
        let ins = rope_inputs(&mut em, &geo, &h, &inv_freq);
        let valid = valid_inputs(&mut em, &geo, &h);
        let q = em.input("q", geo.strided(64));
        let k = em.input("k", geo.strided(64));
        let v = em.input("v", geo.strided(64));
        let qr = rope(&mut em, &geo, &h, q, ins);
        let kr = rope(&mut em, &geo, &h, k, ins);
        let sm = Softmax::new(0.25, (-20.0, 20.0), 12);
        let mean: Vec<f64> = (0..64).map(|i| f64::from(val(i + 77))).collect();
        let y = attention(&mut em, &geo, &h, 0, qr, kr, v, &valid, &sm, Some(&mean));
        em.weight("ones", || vec![vec![1.0; slots as usize]]);
        let y = em.mul_plain(y, "ones", 0, geo.strided(64));
        em.output("y", y);
        let mut module = em.module;
        manage_for_tests(&mut module, p.working_level);
        let w = em.weights;
        let interp = Interpreter::new(&module, &w).unwrap();
        let mut state = KvState::default();
        let (mut keys, mut values) = (Vec::new(), Vec::new());
        for step in 0..6 {
            let mut inputs = std::collections::BTreeMap::new();
            for (name, t) in &w {
                if let Some(input) = name.strip_prefix("client.") {
                    inputs.insert(input.to_string(), t.row(step as u32).unwrap());
                }
            }
            let mk =
                |o: usize| -> Vec<f32> { (0..64).map(|i| val(i + 64 * o + 1000 * step)).collect() };
            let (qv, kv, vv) = (mk(0), mk(1), mk(2));
            for (name, x) in [("q", &qv), ("k", &kv), ("v", &vv)] {
                inputs.insert(name.into(), x.iter().map(|&a| f64::from(a)).collect());
            }
            let out = interp.run(&inputs, &mut state).unwrap();
            let qr = kernels::rope(&qv, 4, 16, &inv_freq, step);
            keys.push(kernels::rope(&kv, 4, 16, &inv_freq, step));
            values.push(vv);
            let expect = kernels::attention(&qr, &keys, &values, 4, 4, 16, 0.25);
            for (i, (g, e)) in out["y"].iter().zip(&expect).enumerate() {
                assert!(
                    (g - f64::from(*e)).abs() < 1e-4,
                    "step {step} y[{i}] = {g}, expected {e}"
                );
            }
        }
    }

    #[test]
    fn every_first_sum_lies_in_its_interval_and_fewer_squarings_never_cost_more() {
        for (scale, interval, n) in [
            (0.25, (-20.0, 20.0), 12),
            (0.125, (-90.0, 70.0), 128),
            (1.0, (-0.5, 0.6), 16),
        ] {
            let sm = Softmax::new(scale, interval, n);
            let reach: f64 = (scale * f64::max(-interval.0, interval.1)).max(1.0);
            let most = reach.log2().ceil() as u32;
            assert!(sm.squarings <= most);
            let all_squarings = Softmax::with_squarings(scale, interval, n, reach, most);
            assert!(sm.levels() <= all_squarings.levels());
            // The first sum is the mean of `exp(scale·s/2^r)` over the valid tokens: between its values
            // at the interval's ends.
            let div = f64::from(1u32 << sm.squarings);
            for s in [interval.0, interval.1] {
                let mean = (scale * s / div).exp();
                let (a, b) = sm.first.interval;
                assert!(a <= mean && mean <= b, "{mean} outside {a}..{b}");
            }
        }
    }

    #[test]
    fn attention_over_chunks_matches_the_reference_kernel() {
        run(256);
    }

    #[test]
    fn attention_with_one_token_per_chunk() {
        run(64);
    }
}
