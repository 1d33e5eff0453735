//! RMSNorm over strided blocks: `Σ (x/√top)²` summed into every stride slot (`log2 D` rotations), an initial
//! `1/√(s/n + eps)` by a Chebyshev polynomial, Newton steps (in the bounded units of `range`), and one
//! product per block. The gain is left
//! pending on the result ([`Vector::gain`]) so the next vector×matrix product folds it into its weights.

use super::activation::{newton_rsqrt, Approx};
use super::emit::Emitter;
use super::geometry::Geometry;
use super::range::{NewtonUnits, Ranges};
use super::vector::Vector;

/// `x / √(mean(x²) + eps)`, with `gain` pending. A pending gain `s` on `x` is read by the sum of squares
/// (one plaintext product per block instead of a scalar one) and stays pending on the result, folded into
/// `gain`. The Newton iterates run in the units of [`NewtonUnits`], bounded by the iterate bound of
/// `ranges`; the result's blocks (`|x_i|/rms ≤ √n`) by its target, with the factor pending.
#[allow(clippy::too_many_arguments)]
pub fn rms_norm(
    em: &mut Emitter,
    geo: &Geometry,
    x: &Vector,
    eps: f64,
    gain: Vec<f32>,
    approx: &Approx,
    ranges: &Ranges,
    name: &str,
) -> Vector {
    let n = x.len as f64;
    // `Σ x²` can reach tens of thousands, far beyond what bootstrapping refreshes (|v| ≲ q_0/(Δ·2^8)):
    // the blocks are scaled by `1/√top` first (`top` the interval's upper end), so the sum lies in
    // `[a/top, 1]`, and the polynomial and Newton steps read it in those units.
    let top = approx.interval.1.max(f64::MIN_POSITIVE);
    let unit = 1.0 / top.sqrt();
    let scaled = match &x.gain {
        None => x.blocks.iter().map(|&b| em.mul_scalar(b, unit)).collect(),
        Some(g) => {
            let g: Vec<f32> = g.iter().map(|&v| (f64::from(v) * unit) as f32).collect();
            let with_gain = Vector {
                gain: Some(g),
                ..x.clone()
            };
            apply_gain(em, geo, &with_gain, &format!("sq.{name}")).blocks
        }
    };
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
    // Slots off the stride hold 0, outside the interval: fill them with the interval's midpoint so the
    // polynomial and Newton steps stay tame there (their products with those slots are zero anyway).
    let interval = (approx.interval.0 / top, approx.interval.1 / top);
    let mid = 0.5 * (interval.0 + interval.1);
    let fill = format!("fill.{name}");
    let (k, slots) = (geo.k as usize, geo.slots as usize);
    em.weight(&fill, || {
        vec![(0..slots)
            .map(|i| if i % k == 0 { 0.0 } else { mid })
            .collect()]
    });
    let s = if geo.k > 1 {
        em.add_plain(s, &fill, 0)
    } else {
        s
    };
    // `1/√m` for the mean `m = top·s/n + eps`, as `y' = β/√m` (the polynomial's coefficients times β,
    // `h' = −m/(2β²)`); the result's `1/β` joins the pending gain.
    let units = NewtonUnits::choose(
        approx.interval.0 / n + eps,
        top / n + eps,
        ranges.iterate_bound(),
    );
    let beta = units.beta;
    let coeffs = approx.fit.coeffs.iter().map(|c| c * beta).collect();
    let y0 = em.poly(s, coeffs, interval);
    let h = em.mul_scalar(s, -0.5 * top / (n * beta * beta));
    let h = em.add_scalar(h, -0.5 * eps / (beta * beta));
    let y = newton_rsqrt(em, h, y0, approx.newton_steps, units.chained);
    let blocks = x.blocks.iter().map(|&b| em.mul(b, y)).collect();
    let pending = super::range::combine(Some(&gain), x.gain.as_deref()).expect("gain is given");
    Vector {
        blocks,
        len: x.len,
        gain: Some(
            pending
                .iter()
                .map(|&g| (f64::from(g) / beta) as f32)
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
    use crate::lower::{activation, manage_for_tests, params};
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
        let a = activation::rsqrt_mean(64.0, 1e-5, (1.0, 400.0));
        let ranges = Ranges::new(&p.literal);
        let y = rms_norm(&mut em, &geo, &xv, 1e-5, gain.clone(), &a, &ranges, "t");
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
