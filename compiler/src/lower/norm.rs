//! RMSNorm over strided blocks, in units: `u = Σ (x/√top)²` summed into every stride slot (`log2 D`
//! rotations), so `u ≤ 1` for the calibrated `top`; an initial `1/√(u/n + eps/top)` by a Chebyshev
//! polynomial, Newton steps (in the bounded units of `range`), and one product per block with the
//! blocks pre-scaled by `1/√top` off the polynomial's path. The gain is left pending on the result
//! ([`Vector::gain`]) so the next vector×matrix product folds it into its weights.
//!
//! When the first position's sums of squares differ from the others' by more than
//! [`FIRST_POSITION_SPLIT`] (an attention sink), `top` depends on the position: both `1/√top` factors
//! come from the client's first-position indicator (one input per step, [`first_position_input`]),
//! as `ind ⊙ (f_first − f) + f`, each one ct×ct product where a plaintext product was: no level more.

use super::activation::{newton_rsqrt, rsqrt_mean, Approx};
use super::emit::Emitter;
use super::geometry::Geometry;
use super::range::{NewtonUnits, Ranges};
use super::vector::Vector;
use cachemir_ir::fhe::{Layout, ValueId};

/// The spread (ratio of `top`s) above which the first position gets its own units.
pub const FIRST_POSITION_SPLIT: f64 = 4.0;

/// The calibrated sums of squares of one RMSNorm, in the units its lowering uses.
#[derive(Debug, Clone, PartialEq)]
pub struct NormUnits {
    /// `top` at the positions after the first (all positions when not split).
    pub top: f64,
    /// `top` at the first position, when it differs by more than [`FIRST_POSITION_SPLIT`].
    pub first_top: Option<f64>,
    /// The approximation of `1/√(u/n + eps/top)` over the units `u` of every position.
    pub approx: Approx,
    eps_unit: f64,
}

impl NormUnits {
    /// Units for `n` entries with `eps`, from the sum-of-squares intervals after the first position
    /// (`later`) and at it (`first`); at least one is given.
    pub fn new(n: f64, eps: f64, later: Option<(f64, f64)>, first: Option<(f64, f64)>) -> Self {
        let (later, first) = match (later, first) {
            (Some(l), f) => (l, f),
            (None, Some(f)) => (f, None),
            (None, None) => ((1.0, 1.0), None),
        };
        let split = first.filter(|f| {
            let r = f.1 / later.1;
            !(1.0 / FIRST_POSITION_SPLIT..=FIRST_POSITION_SPLIT).contains(&r)
        });
        let (top, first_top, lo) = match (split, first) {
            (Some(f), _) => (later.1, Some(f.1), (later.0 / later.1).min(f.0 / f.1)),
            (None, Some(f)) => {
                let top = later.1.max(f.1);
                (top, None, later.0.min(f.0) / top)
            }
            (None, None) => (later.1, None, later.0 / later.1),
        };
        let top = top.max(f64::MIN_POSITIVE);
        let eps_unit = eps / top;
        let interval = (lo.clamp(1e-12, 0.5), 1.0);
        Self {
            top,
            first_top,
            approx: rsqrt_mean(n, eps_unit, interval),
            eps_unit,
        }
    }
}

/// The first-position indicator (1 in every slot at position 0, else 0), created once.
pub fn first_position_input(em: &mut Emitter, geo: &Geometry, max_context: usize) -> ValueId {
    let name = "pos.first";
    let s = geo.slots as usize;
    em.weight(&format!("client.{name}"), || {
        (0..max_context.max(1))
            .map(|p| vec![if p == 0 { 1.0 } else { 0.0 }; s])
            .collect()
    });
    em.input(
        name,
        Layout::Strided {
            len: geo.slots,
            stride: 1,
        },
    )
}

/// `x ⊙ f` with `f` per entry of `x`'s blocks (`f(i)`, `f_first(i)` at the first position): a scalar
/// or plaintext product when `first` is `None`, else one ct×ct product with `ind ⊙ (f_first − f) + f`.
fn scale_blocks(
    em: &mut Emitter,
    geo: &Geometry,
    x: &Vector,
    f: &dyn Fn(usize) -> f64,
    first: Option<(ValueId, &dyn Fn(usize) -> f64)>,
    name: &str,
) -> Vec<ValueId> {
    let (d, k, s) = (geo.d as usize, geo.k as usize, geo.slots as usize);
    let row = |b: usize, g: &dyn Fn(usize) -> f64| {
        let mut row = vec![0.0; s];
        for c in 0..d {
            if b * d + c < x.len {
                row[c * k] = g(b * d + c);
            }
        }
        row
    };
    let uniform = (1..x.len).all(|i| f(i) == f(0));
    let blocks = x.blocks.iter().enumerate();
    match first {
        None if uniform => x.blocks.iter().map(|&b| em.mul_scalar(b, f(0))).collect(),
        None => {
            let wname = name.to_string();
            em.weight(&wname, || (0..x.blocks.len()).map(|b| row(b, f)).collect());
            blocks
                .map(|(i, &b)| {
                    let layout = geo.strided(geo.block_len(x.len, i));
                    em.mul_plain(b, &wname, i as u32, layout)
                })
                .collect()
        }
        Some((ind, f_first)) => {
            let wname = format!("{name}.by-position");
            em.weight(&wname, || {
                (0..x.blocks.len())
                    .flat_map(|b| {
                        let delta = |i: usize| f_first(i) - f(i);
                        [row(b, &delta), row(b, f)]
                    })
                    .collect()
            });
            blocks
                .map(|(i, &b)| {
                    let layout = geo.strided(geo.block_len(x.len, i));
                    let delta = em.mul_plain(ind, &wname, 2 * i as u32, layout.clone());
                    let fac = em.add_plain(delta, &wname, 2 * i as u32 + 1);
                    em.set_layout(fac, layout.clone());
                    let y = em.mul(b, fac);
                    em.set_layout(y, layout);
                    y
                })
                .collect()
        }
    }
}

/// `x / √(mean(x²) + eps)`, with `gain` pending, in the units `units`. A pending gain `s` on `x` is read
/// by the sum of squares and applied by the output's pre-scale (no level more). The Newton iterates run in
/// the units of [`NewtonUnits`], bounded by the iterate bound of `ranges`; the result's blocks
/// (`|x_i|/rms ≤ √n`) by its target, with the factor pending. `first` is the first-position indicator,
/// needed when `units` split the first position.
#[allow(clippy::too_many_arguments)]
pub fn rms_norm(
    em: &mut Emitter,
    geo: &Geometry,
    x: &Vector,
    gain: Vec<f32>,
    units: &NormUnits,
    ranges: &Ranges,
    first: Option<ValueId>,
    name: &str,
) -> Vector {
    let n = x.len as f64;
    let approx = &units.approx;
    let unit = 1.0 / units.top.sqrt();
    let first_unit = units.first_top.map(|t| 1.0 / t.sqrt());
    let split = first.zip(first_unit);
    let pending_in = |i: usize| x.gain.as_ref().map_or(1.0, |g| f64::from(g[i]));
    // The polynomial's change of variable `s ↦ scale·s + shift` is folded into the pre-scale of the
    // squares (`√scale`) and the plaintext added after the sum, so it spends no level of its own.
    let (scale, shift) = approx.unit_map();
    let sq = |i: usize| pending_in(i) * unit * scale.sqrt();
    let sq_first = move |i: usize| pending_in(i) * first_unit.unwrap_or(unit) * scale.sqrt();
    let scaled = scale_blocks(
        em,
        geo,
        x,
        &sq,
        split.map(|(ind, _)| (ind, &sq_first as &dyn Fn(usize) -> f64)),
        &format!("sq.{name}"),
    );
    let mut s = None;
    for b in scaled {
        let sq = em.mul(b, b);
        s = Some(match s {
            None => sq,
            Some(acc) => em.add(acc, sq),
        });
    }
    let mut s = s.expect("a vector has at least one block");
    for t in 0..geo.d.trailing_zeros() {
        s = em.add_rotated(s, i64::from(geo.k) << t);
    }
    // `t = scale·s + shift` on the stride. Slots off it keep `t = 0`, the image of the interval's
    // midpoint, where the polynomial and Newton steps stay tame (their products with those slots are
    // zero anyway).
    let interval = approx.interval;
    let fill = format!("fill.{name}");
    let (k, slots) = (geo.k as usize, geo.slots as usize);
    em.weight(&fill, || {
        vec![(0..slots)
            .map(|i| if i % k == 0 { shift } else { 0.0 })
            .collect()]
    });
    let t = if geo.k > 1 {
        em.add_plain(s, &fill, 0)
    } else {
        em.add_scalar(s, shift)
    };
    // `1/√m` for the mean in units `m = u/n + eps/top`, as `y' = β/√m` (the polynomial's coefficients
    // times β, `h' = −m/(2β²)`).
    let newton = NewtonUnits::choose(
        interval.0 / n + units.eps_unit,
        interval.1 / n + units.eps_unit,
        ranges.iterate_bound(),
    );
    let beta = newton.beta;
    let coeffs = approx.fit.coeffs.iter().map(|c| c * beta).collect();
    let y0 = em.poly(t, coeffs, (-1.0, 1.0));
    // `h' = −m/(2β²)` with `s = (t − shift)/scale`.
    let h = em.mul_scalar(t, -0.5 / (n * beta * beta * scale));
    let h = em.add_scalar(
        h,
        0.5 * shift / (n * beta * beta * scale) - 0.5 * units.eps_unit / (beta * beta),
    );
    let y = newton_rsqrt(em, h, y0, approx.newton_steps, newton.chained);
    // `1/√(mean(x²) + eps) = y'/(β·√top)`: the blocks are multiplied by `s/(β·κ·√top)` (`s` the
    // pending gain on `x`) while the chain above runs (no level on its path), so the products hold
    // `x/(κ·rms)` in true units, and only `κ` (a power of two bringing `√n` under the target) stays
    // pending: a residual stream carried in small units would otherwise reach bootstrapping small.
    let kappa = ranges.gains(&[n.sqrt()]).map_or(1.0, |g| f64::from(g[0]));
    let out = move |i: usize| pending_in(i) * unit / (beta * kappa);
    let out_first = move |i: usize| pending_in(i) * first_unit.unwrap_or(unit) / (beta * kappa);
    let pre = scale_blocks(
        em,
        geo,
        &Vector {
            gain: None,
            ..x.clone()
        },
        &out,
        split.map(|(ind, _)| (ind, &out_first as &dyn Fn(usize) -> f64)),
        &format!("out.{name}"),
    );
    let blocks = pre.into_iter().map(|b| em.mul(b, y)).collect();
    Vector {
        blocks,
        len: x.len,
        gain: Some(
            gain.iter()
                .map(|&g| (f64::from(g) * kappa) as f32)
                .collect(),
        ),
    }
}

/// Applies a pending gain (one plaintext product per block); a vector without one is returned as is.
pub fn apply_gain(em: &mut Emitter, geo: &Geometry, x: &Vector, name: &str) -> Vector {
    let Some(g) = &x.gain else {
        return x.clone();
    };
    let (d, k, s) = (geo.d as usize, geo.k as usize, geo.slots as usize);
    let wname = format!("gain.{name}");
    em.weight(&wname, || {
        (0..x.blocks.len())
            .map(|b| {
                let mut row = vec![0.0; s];
                for c in 0..d {
                    if let Some(&v) = g.get(b * d + c) {
                        row[c * k] = f64::from(v);
                    }
                }
                row
            })
            .collect()
    });
    let blocks = x
        .blocks
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            let layout = geo.strided(geo.block_len(x.len, i));
            em.mul_plain(b, &wname, i as u32, layout)
        })
        .collect();
    Vector {
        blocks,
        len: x.len,
        gain: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lower::{manage_for_tests, params};
    use crate::reference::kernels;
    use cachemir_ir::fhe::interp::{Interpreter, KvState};
    use std::collections::BTreeMap;

    #[test]
    fn rms_norm_matches_the_reference_kernel() {
        let p = params::by_name("INSECURE_N12").unwrap();
        let geo = Geometry::new(256, 64).unwrap();
        let mut em = Emitter::new(p.literal.clone(), 256, p.working_level);
        let x = em.input("x", geo.strided(64));
        let xv = Vector {
            blocks: vec![x],
            len: 64,
            gain: None,
        };
        let gain: Vec<f32> = (0..64).map(|i| 0.5 + i as f32 / 64.0).collect();
        let units = NormUnits::new(64.0, 1e-5, Some((1.0, 400.0)), None);
        let ranges = Ranges::new(&p.literal);
        let y = rms_norm(&mut em, &geo, &xv, gain.clone(), &units, &ranges, None, "t");
        let y = apply_gain(&mut em, &geo, &y, "g");
        em.output("y", y.blocks[0]);
        let mut module = em.module;
        manage_for_tests(&mut module, p.working_level);
        let xs: Vec<f32> = (0..64)
            .map(|i| ((i * 37 % 17) as f32 - 8.0) / 3.0)
            .collect();
        let inputs =
            BTreeMap::from([("x".to_string(), xs.iter().map(|&v| f64::from(v)).collect())]);
        let out = Interpreter::new(&module, &em.weights)
            .unwrap()
            .run(&inputs, &mut KvState::default())
            .unwrap();
        let expect = kernels::rms_norm(&xs, &gain, 1e-5);
        for (g, e) in out["y"].iter().zip(&expect) {
            assert!((g - f64::from(*e)).abs() < 1e-4, "{g} vs {e}");
        }
    }
}
