//! The canonical embedding of `n` slots: slot values ↔ the coefficients of their preimage, by the
//! "special FFT" over the rotation group `5^j mod 4n`.
//!
//! Slot `j` of `n` slots is the evaluation of the preimage at `ζ^{5^j}`, `ζ = e^{iπ/2n}`; the
//! preimage's `2n` real coefficients are returned as `n` complex numbers (real parts first half,
//! imaginary parts second half of the polynomial). The transform does not depend on the ring
//! degree: a sparse packing in `Z[X^{N/2n}]` places the same coefficients `N/2n` apart.

use num_complex::Complex64;
use std::f64::consts::PI;

/// The special FFT for up to `max_slots` slots.
#[derive(Debug, Clone)]
pub struct Embedding {
    /// `5^j mod 4·max_slots` for `j < max_slots`.
    rot_group: Vec<usize>,
    /// `e^{2πik/m}` for `k ≤ m = 4·max_slots`.
    roots: Vec<Complex64>,
}

impl Embedding {
    /// The embedding for any power-of-two slot count up to `max_slots`.
    pub fn new(max_slots: usize) -> Self {
        let m = 4 * max_slots;
        let mut rot_group = Vec::with_capacity(max_slots);
        let mut g = 1usize;
        for _ in 0..max_slots {
            rot_group.push(g);
            g = g * 5 % m;
        }
        let roots = (0..=m)
            .map(|k| Complex64::from_polar(1.0, 2.0 * PI * k as f64 / m as f64))
            .collect();
        Self { rot_group, roots }
    }

    fn m(&self) -> usize {
        self.roots.len() - 1
    }

    /// Slot values → the coefficients of their preimage (inverse special FFT, in place).
    pub fn to_coefficients(&self, vals: &mut [Complex64]) {
        let size = vals.len();
        let m = self.m();
        let mut len = size;
        while len >= 2 {
            let (half, lenq) = (len / 2, 4 * len);
            for block in vals.chunks_exact_mut(len) {
                for j in 0..half {
                    let idx = (lenq - self.rot_group[j] % lenq) * (m / lenq);
                    let u = block[j] + block[j + half];
                    let v = (block[j] - block[j + half]) * self.roots[idx];
                    block[j] = u;
                    block[j + half] = v;
                }
            }
            len /= 2;
        }
        bit_reverse(vals);
        let inv = 1.0 / size as f64;
        vals.iter_mut().for_each(|v| *v *= inv);
    }

    /// The coefficients of a preimage → its slot values (special FFT, in place).
    pub fn to_slots(&self, vals: &mut [Complex64]) {
        let size = vals.len();
        let m = self.m();
        bit_reverse(vals);
        let mut len = 2;
        while len <= size {
            let (half, lenq) = (len / 2, 4 * len);
            for block in vals.chunks_exact_mut(len) {
                for j in 0..half {
                    let idx = (self.rot_group[j] % lenq) * (m / lenq);
                    let u = block[j];
                    let v = block[j + half] * self.roots[idx];
                    block[j] = u + v;
                    block[j + half] = u - v;
                }
            }
            len *= 2;
        }
    }
}

fn bit_reverse(vals: &mut [Complex64]) {
    let n = vals.len();
    let bits = n.trailing_zeros();
    if bits == 0 {
        return;
    }
    for i in 0..n {
        let j = i.reverse_bits() >> (usize::BITS - bits);
        if i < j {
            vals.swap(i, j);
        }
    }
}
