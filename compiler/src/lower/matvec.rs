//! Vector×matrix products in Cachemir's interleaved replicated packing (IRP).
//!
//! For a block `x` in the strided layout, [`replicate`] builds the IRP layout with `log2 K` rotations.
//! For each (input block, output block) pair, one BSGS `linear_transform` with `D/K` diagonals at offsets
//! `m·K²` (`m < D/K`) computes, at slot `c·K + j`, the partial products `x[r]·W[r, c]` for the `K` rows
//! `r = (c + m·K + j) mod D` of diagonal `m`; the products of every input block are summed, then `log2 K`
//! rotations reduce each group of `K` slots into slot `c·K`, and a mask keeps those slots. Total:
//! `d_in·d_out / S` plaintexts, multiplicative depth 2 (weights, mask), and the result is again strided.
//! With `K = 1` this is the diagonal method (`D` diagonals, no reduction, no mask).

use super::emit::Emitter;
use super::geometry::Geometry;
use super::vector::Vector;
use cachemir_ir::fhe::ValueId;

/// Name of the weight holding the stride mask (1 at slots `c·K`).
pub const STRIDE_MASK: &str = "mask.stride";

/// Strided → IRP: `x ← x + rotate(x, (K − 1)·2^t)` for `t < log2 K`.
pub fn replicate(em: &mut Emitter, geo: &Geometry, x: ValueId) -> ValueId {
    let mut v = x;
    for t in 0..geo.log_k() {
        v = em.add_rotated(v, i64::from(geo.k - 1) << t);
    }
    v
}

/// Sums each group of `K` consecutive slots into its first slot (`log2 K` rotations), then masks.
pub fn reduce_and_mask(em: &mut Emitter, geo: &Geometry, acc: ValueId, len: u32) -> ValueId {
    if geo.k == 1 {
        em.set_layout(acc, geo.strided(len));
        return acc;
    }
    let mut v = acc;
    for t in 0..geo.log_k() {
        v = em.add_rotated(v, 1 << t);
    }
    let k = geo.k as usize;
    let s = geo.slots as usize;
    em.weight(STRIDE_MASK, || {
        vec![(0..s).map(|i| if i % k == 0 { 1.0 } else { 0.0 }).collect()]
    });
    em.mul_plain(v, STRIDE_MASK, 0, geo.strided(len))
}

/// `y = x · W` for `W` given entrywise (`w(r, c)`, `r < x.len`, `c < out_len`); `x.gain` is folded into the
/// rows of `W`. Weights are stored as `{name}.{input block}.{output block}`, one diagonal per row.
pub fn matvec(
    em: &mut Emitter,
    geo: &Geometry,
    x: &Vector,
    out_len: usize,
    name: &str,
    w: impl Fn(usize, usize) -> f32,
) -> Vector {
    let (d, k, s) = (geo.d as usize, geo.k as usize, geo.slots as usize);
    let diagonals = d / k;
    let baby = (diagonals as f64).sqrt().ceil() as usize;
    let baby = baby.next_power_of_two();
    let offsets: Vec<i64> = (0..diagonals).map(|m| (m * k * k) as i64).collect();
    let reps: Vec<ValueId> = x.blocks.iter().map(|&b| replicate(em, geo, b)).collect();
    let mut blocks = Vec::new();
    for co in 0..geo.blocks(out_len) {
        let len = geo.block_len(out_len, co);
        let mut acc: Option<ValueId> = None;
        for (ci, &rep) in reps.iter().enumerate() {
            let wname = format!("{name}.{ci}.{co}");
            em.weight(&wname, || {
                (0..diagonals)
                    .map(|m| {
                        let mut row = vec![0.0; s];
                        for c in 0..d {
                            let col = co * d + c;
                            if col >= out_len {
                                continue;
                            }
                            for j in 0..k {
                                let r = ci * d + (c + m * k + j) % d;
                                if r < x.len {
                                    let g = x.gain.as_ref().map_or(1.0, |g| f64::from(g[r]));
                                    row[c * k + j] = g * f64::from(w(r, col));
                                }
                            }
                        }
                        row
                    })
                    .collect()
            });
            let lt = em.linear_transform(
                rep,
                &wname,
                offsets.clone(),
                (baby * k * k) as u32,
                geo.strided(len),
            );
            acc = Some(match acc {
                None => lt,
                Some(a) => em.add(a, lt),
            });
        }
        let acc = acc.expect("a vector has at least one block");
        blocks.push(reduce_and_mask(em, geo, acc, len));
    }
    Vector {
        blocks,
        len: out_len,
        gain: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lower::{manage_for_tests, params};
    use cachemir_ir::fhe::interp::{Interpreter, KvState};
    use std::collections::BTreeMap;

    fn pseudo(i: usize) -> f32 {
        ((i * 7919 + 13) % 101) as f32 / 50.0 - 1.0
    }

    fn run(slots: u32, d: u32, n_in: usize, n_out: usize) {
        let p = params::by_name("INSECURE_N12").unwrap();
        let geo = Geometry::new(slots, d).unwrap();
        let mut em = Emitter::new(p.literal.clone(), slots, p.working_level);
        let mut blocks = Vec::new();
        for b in 0..geo.blocks(n_in) {
            blocks.push(em.input(&format!("x{b}"), geo.strided(geo.block_len(n_in, b))));
        }
        let x = Vector {
            blocks,
            len: n_in,
            gain: None,
        };
        let y = matvec(&mut em, &geo, &x, n_out, "w", |r, c| pseudo(r * n_out + c));
        for (b, &blk) in y.blocks.iter().enumerate() {
            em.output(&format!("y{b}"), blk);
        }
        let mut module = em.module;
        manage_for_tests(&mut module, p.working_level);
        let xs: Vec<f64> = (0..n_in).map(|i| f64::from(pseudo(i + 1000))).collect();
        let mut inputs = BTreeMap::new();
        for b in 0..geo.blocks(n_in) {
            let lo = b * d as usize;
            let hi = (lo + d as usize).min(n_in);
            inputs.insert(format!("x{b}"), xs[lo..hi].to_vec());
        }
        let out = Interpreter::new(&module, &em.weights)
            .unwrap()
            .run(&inputs, &mut KvState::default())
            .unwrap();
        for c in 0..n_out {
            let expect: f64 = (0..n_in)
                .map(|r| xs[r] * f64::from(pseudo(r * n_out + c)))
                .sum();
            let got = out[&format!("y{}", c / d as usize)][c % d as usize];
            assert!(
                (got - expect).abs() < 1e-4,
                "y[{c}] = {got}, expected {expect}"
            );
        }
    }

    #[test]
    fn irp_square() {
        run(256, 64, 64, 64);
    }

    #[test]
    fn irp_rectangular_multi_block() {
        run(256, 64, 128, 200);
        run(256, 64, 64, 128);
    }

    #[test]
    fn diagonal_method() {
        run(64, 64, 64, 128);
    }
}
