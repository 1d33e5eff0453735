//! Levelled CKKS operations on ciphertexts (server side): additions, products, rescaling, level
//! drops. Key-switching operations (relinearize, rotate, conjugate, hoisted rotations) are in
//! `keyswitch.rs`. Every binary operation checks level, scale and slot count and returns a typed
//! error on a mismatch; the caller aligns operands explicitly.

use super::encoder::{coeffs_to_poly, residue_of};
use super::{Ciphertext, EvaluationKeys, Parameters, Plaintext};
use crate::{Result, RuntimeError};
use cachemir_kernels::{Backend, RnsPoly};
use num_complex::Complex64;
use std::sync::Arc;

/// Two scales are equal when their log2 differ by less than this.
const SCALE_TOLERANCE_LOG2: f64 = 1e-9;

/// Evaluates homomorphic operations with the server's evaluation keys.
#[derive(Debug, Clone)]
pub struct Evaluator<B: Backend> {
    pub(crate) params: Arc<Parameters>,
    pub(crate) backend: B,
    pub(crate) keys: Arc<EvaluationKeys>,
}

fn check_same(
    op: &'static str,
    level: (usize, usize),
    scale: Option<(f64, f64)>,
    slots: (usize, usize),
) -> Result<()> {
    if level.0 != level.1 {
        return Err(RuntimeError::LevelMismatch {
            op,
            left: level.0,
            right: level.1,
        });
    }
    if slots.0 != slots.1 {
        return Err(RuntimeError::SlotMismatch {
            op,
            left: slots.0,
            right: slots.1,
        });
    }
    if let Some((a, b)) = scale {
        if (a.log2() - b.log2()).abs() > SCALE_TOLERANCE_LOG2 {
            return Err(RuntimeError::ScaleMismatch {
                op,
                left: a.log2(),
                right: b.log2(),
            });
        }
    }
    Ok(())
}

impl<B: Backend> Evaluator<B> {
    /// An evaluator with the given evaluation keys.
    pub fn new(params: Arc<Parameters>, backend: B, keys: Arc<EvaluationKeys>) -> Self {
        Self {
            params,
            backend,
            keys,
        }
    }

    /// The parameters.
    pub fn params(&self) -> &Arc<Parameters> {
        &self.params
    }

    fn combine_assign(
        &self,
        op: &'static str,
        a: &mut Ciphertext,
        b: &Ciphertext,
        subtract: bool,
    ) -> Result<()> {
        check_same(
            op,
            (a.level(), b.level()),
            Some((a.scale, b.scale)),
            (a.slots, b.slots),
        )?;
        let ring = self.params.ring();
        let n = self.params.n();
        while a.polys.len() < b.polys.len() {
            a.polys.push(RnsPoly::zero(
                n,
                b.polys[0].primes(),
                cachemir_kernels::Form::Eval,
            ));
        }
        for (x, y) in a.polys.iter_mut().zip(&b.polys) {
            if subtract {
                self.backend.sub_assign(ring, x, y);
            } else {
                self.backend.add_assign(ring, x, y);
            }
        }
        Ok(())
    }

    /// `a += b` (same level, scale and slots).
    pub fn add_assign(&self, a: &mut Ciphertext, b: &Ciphertext) -> Result<()> {
        self.combine_assign("add", a, b, false)
    }

    /// `a + b`.
    pub fn add(&self, a: &Ciphertext, b: &Ciphertext) -> Result<Ciphertext> {
        let mut out = a.clone();
        self.add_assign(&mut out, b)?;
        Ok(out)
    }

    /// `a -= b`.
    pub fn sub_assign(&self, a: &mut Ciphertext, b: &Ciphertext) -> Result<()> {
        self.combine_assign("sub", a, b, true)
    }

    /// `a − b`.
    pub fn sub(&self, a: &Ciphertext, b: &Ciphertext) -> Result<Ciphertext> {
        let mut out = a.clone();
        self.sub_assign(&mut out, b)?;
        Ok(out)
    }

    /// `−a`.
    pub fn neg(&self, a: &Ciphertext) -> Ciphertext {
        let mut out = a.clone();
        out.polys
            .iter_mut()
            .for_each(|p| self.backend.neg_assign(self.params.ring(), p));
        out
    }

    /// `ct += pt` (same level, scale and slots).
    pub fn add_plain_assign(&self, ct: &mut Ciphertext, pt: &Plaintext) -> Result<()> {
        check_same(
            "add_plain",
            (ct.level(), pt.level()),
            Some((ct.scale, pt.scale)),
            (ct.slots, pt.slots),
        )?;
        self.backend
            .add_assign(self.params.ring(), &mut ct.polys[0], &pt.poly);
        Ok(())
    }

    /// `ct + pt`.
    pub fn add_plain(&self, ct: &Ciphertext, pt: &Plaintext) -> Result<Ciphertext> {
        let mut out = ct.clone();
        self.add_plain_assign(&mut out, pt)?;
        Ok(out)
    }

    /// `ct − pt`.
    pub fn sub_plain(&self, ct: &Ciphertext, pt: &Plaintext) -> Result<Ciphertext> {
        check_same(
            "sub_plain",
            (ct.level(), pt.level()),
            Some((ct.scale, pt.scale)),
            (ct.slots, pt.slots),
        )?;
        let mut out = ct.clone();
        self.backend
            .sub_assign(self.params.ring(), &mut out.polys[0], &pt.poly);
        Ok(out)
    }

    /// `ct *= pt` slot-wise; the scale becomes `ct.scale · pt.scale`.
    pub fn mul_plain_assign(&self, ct: &mut Ciphertext, pt: &Plaintext) -> Result<()> {
        check_same(
            "mul_plain",
            (ct.level(), pt.level()),
            None,
            (ct.slots, pt.slots),
        )?;
        ct.polys
            .iter_mut()
            .for_each(|p| self.backend.mul_assign(self.params.ring(), p, &pt.poly));
        ct.scale *= pt.scale;
        Ok(())
    }

    /// `ct · pt` slot-wise.
    pub fn mul_plain(&self, ct: &Ciphertext, pt: &Plaintext) -> Result<Ciphertext> {
        let mut out = ct.clone();
        self.mul_plain_assign(&mut out, pt)?;
        Ok(out)
    }

    /// The residues of the constant polynomial `round(c.re·scale) + round(c.im·scale)·X^{N/2}` per
    /// prime, as point-wise multipliers: `X^{N/2}` evaluates to `i` in every slot.
    fn constant_residues(&self, level: usize, value: f64) -> Vec<u64> {
        (0..=level)
            .map(|i| residue_of(value, self.params.ring().modulus(i)))
            .collect()
    }

    /// `ct + c` in every slot (`c` complex).
    pub fn add_const(&self, ct: &Ciphertext, c: Complex64) -> Result<Ciphertext> {
        let mut out = ct.clone();
        let ring = self.params.ring();
        if c.re != 0.0 {
            let re = self.constant_residues(ct.level(), c.re * ct.scale);
            self.backend.add_scalar_assign(ring, &mut out.polys[0], &re);
        }
        if c.im != 0.0 {
            let n = self.params.n();
            let mut coeffs = vec![0f64; n];
            coeffs[n / 2] = c.im * ct.scale;
            let poly = coeffs_to_poly(&self.params, &self.backend, &coeffs, ct.level());
            let pt = Plaintext {
                poly,
                scale: ct.scale,
                slots: ct.slots,
            };
            self.add_plain_assign(&mut out, &pt)?;
        }
        Ok(out)
    }

    /// `ct · c` in every slot for a real `c`: multiplies by `round(c·q_level)` and the scale by
    /// `q_level`, so that a following rescale restores the input scale exactly.
    pub fn mul_const(&self, ct: &Ciphertext, c: f64) -> Result<Ciphertext> {
        self.mul_const_scaled(ct, c, self.params.q()[ct.level()] as f64)
    }

    /// `ct · c` for a real `c` encoded at an explicit `scale` (multiplies by `round(c·scale)`; the
    /// ciphertext's scale is multiplied by `scale`).
    pub fn mul_const_scaled(&self, ct: &Ciphertext, c: f64, scale: f64) -> Result<Ciphertext> {
        let residues = self.constant_residues(ct.level(), c * scale);
        let mut out = ct.clone();
        out.polys.iter_mut().for_each(|p| {
            self.backend
                .mul_scalar_assign(self.params.ring(), p, &residues)
        });
        out.scale *= scale;
        Ok(out)
    }

    /// `ct · k` for an integer `k` (scale unchanged, no level consumed).
    pub fn mul_int(&self, ct: &Ciphertext, k: i64) -> Ciphertext {
        let residues: Vec<u64> = (0..=ct.level())
            .map(|i| self.params.ring().modulus(i).reduce_i64(k))
            .collect();
        let mut out = ct.clone();
        out.polys.iter_mut().for_each(|p| {
            self.backend
                .mul_scalar_assign(self.params.ring(), p, &residues)
        });
        out
    }

    /// The degree-2 product `(a_0 b_0, a_0 b_1 + a_1 b_0, a_1 b_1)` without relinearization.
    pub fn mul(&self, a: &Ciphertext, b: &Ciphertext) -> Result<Ciphertext> {
        check_same("mul", (a.level(), b.level()), None, (a.slots, b.slots))?;
        for ct in [a, b] {
            if ct.degree() != 1 {
                return Err(RuntimeError::Degree {
                    op: "mul",
                    degree: ct.degree(),
                    expected: 1,
                });
            }
        }
        let ring = self.params.ring();
        let (a0, a1, b0, b1) = (&a.polys[0], &a.polys[1], &b.polys[0], &b.polys[1]);
        let [d0] = self.backend.dot(ring, &[([a0], b0)]);
        let [d1] = self.backend.dot(ring, &[([a0], b1), ([a1], b0)]);
        let [d2] = self.backend.dot(ring, &[([a1], b1)]);
        Ok(Ciphertext {
            polys: vec![d0, d1, d2],
            scale: a.scale * b.scale,
            slots: a.slots,
        })
    }

    /// `a · b` relinearized to degree 1 (scale `a.scale · b.scale`; rescale separately).
    pub fn mul_relin(&self, a: &Ciphertext, b: &Ciphertext) -> Result<Ciphertext> {
        let product = self.mul(a, b)?;
        self.relinearize(&product)
    }

    /// `a · b` relinearized and rescaled (one level down, scale `a.scale · b.scale / q_l`), the
    /// relinearization's ModDown and the rescale sharing one division by `P·q_l`.
    pub fn mul_relin_rescale(&self, a: &Ciphertext, b: &Ciphertext) -> Result<Ciphertext> {
        self.relinearize_rescale(&self.mul(a, b)?)
    }

    /// A degree-2 ciphertext relinearized and rescaled in one ModDown by `P·q_l`.
    pub fn relinearize_rescale(&self, ct: &Ciphertext) -> Result<Ciphertext> {
        self.rescale_extended(self.relinearize_extended(ct)?)
    }

    /// `out = a · b` relinearized, reusing `out`'s storage.
    pub fn mul_relin_into(
        &self,
        a: &Ciphertext,
        b: &Ciphertext,
        out: &mut Ciphertext,
    ) -> Result<()> {
        *out = self.mul_relin(a, b)?;
        Ok(())
    }

    /// Divides by the last prime `q_level` (rounding) and drops it: level − 1, scale / q_level.
    pub fn rescale_assign(&self, ct: &mut Ciphertext) -> Result<()> {
        let level = ct.level();
        if level == 0 {
            return Err(RuntimeError::LevelTooLow {
                op: "rescale",
                needed: 1,
                level,
            });
        }
        ct.polys
            .iter_mut()
            .for_each(|p| self.backend.divide_round_by_last(self.params.ring(), p));
        ct.scale /= self.params.q()[level] as f64;
        Ok(())
    }

    /// The rescaled copy of `ct`.
    pub fn rescale(&self, ct: &Ciphertext) -> Result<Ciphertext> {
        let mut out = ct.clone();
        self.rescale_assign(&mut out)?;
        Ok(out)
    }

    /// Drops `ct` to `level` without dividing (scale unchanged).
    pub fn drop_to_level(&self, ct: &Ciphertext, level: usize) -> Result<Ciphertext> {
        if level > ct.level() {
            return Err(RuntimeError::LevelTooLow {
                op: "drop_to_level",
                needed: level,
                level: ct.level(),
            });
        }
        Ok(Ciphertext {
            polys: ct.polys.iter().map(|p| p.prefix(level + 1)).collect(),
            scale: ct.scale,
            slots: ct.slots,
        })
    }
}
