//! Hybrid key switching and the operations built on it: relinearization, rotations (single and
//! hoisted), conjugation.
//!
//! A polynomial `c` at level `l` is decomposed once ("ModUp"): for each digit of |P| primes, its
//! residues are extended to every other prime of `Q_l ∪ P`. The inner product with a switching key
//! and a division by P ("ModDown") finish the switch. Hoisted rotations decompose once and apply
//! each automorphism to the decomposed digits, fused into the inner product.
//!
//! Double hoisting ([`Extended`], Bossuat et al. 2021): rotations whose results are only summed (the
//! linear transforms) stay over `Q_l ∪ P`, encrypting `P·m`: baby steps skip their ModDown, a giant
//! step divides only `c_1` by P before switching it, and the sum is divided by P once.
//!
//! A key switch followed by a rescale divides by `P·q_l` in one ModDown
//! ([`Evaluator::rescale_extended`]): the rescale's own transforms (an inverse NTT of `q_l` and a
//! forward NTT of every other limb, per polynomial) disappear. Products that are rescaled at once
//! ([`Evaluator::mul_relin_rescale`]) and linear transforms take this path.

use super::keys::{conjugation_element, galois_element, SwitchingKey};
use super::{Ciphertext, Evaluator};
use crate::{Result, RuntimeError};
use cachemir_kernels::{Backend, PMultiple, RnsPoly};

/// A polynomial decomposed for key switching: one evaluation-form polynomial over `Q_l ∪ P` per digit.
#[derive(Debug, Clone)]
pub struct Decomposed {
    digits: Vec<RnsPoly>,
}

/// A degree-1 ciphertext over `Q_l ∪ P` encrypting `P·m` (double hoisting), with the scale and slot
/// count of `m`.
#[derive(Debug, Clone)]
pub(crate) struct Extended {
    pub(crate) c0: RnsPoly,
    pub(crate) c1: RnsPoly,
    pub(crate) scale: f64,
    pub(crate) slots: usize,
}

impl Extended {
    /// The level of `m` (the Q limbs).
    fn level(&self, p_count: usize) -> usize {
        self.c0.limb_count() - p_count - 1
    }
}

impl<B: Backend> Evaluator<B> {
    /// ModUp: decomposes an evaluation-form polynomial over `Q_l` into its key-switching digits.
    pub fn decompose(&self, c: &RnsPoly) -> Decomposed {
        let ring = self.params.ring();
        let level = c.limb_count() - 1;
        let alpha = self.params.digit_size();
        let mut coeff = c.clone();
        self.backend.to_coeff(ring, &mut coeff);
        let qp = ring.qp_indices(level);
        let digits = (0..(level + 1).div_ceil(alpha))
            .map(|j| {
                let digit = j * alpha..((j + 1) * alpha).min(level + 1);
                self.backend.mod_up(ring, c, &coeff, digit, &qp)
            })
            .collect();
        Decomposed { digits }
    }

    /// Inner product with `key` and ModDown: returns `(k_0, k_1)` over `Q_l` with
    /// `k_0 + k_1·s ≈ σ(c)·s'` (σ the automorphism `galois`, identity if `None`).
    fn switch(
        &self,
        d: &Decomposed,
        key: &SwitchingKey,
        galois: Option<u64>,
    ) -> Result<(RnsPoly, RnsPoly)> {
        let ring = self.params.ring();
        let permutation = galois.map(|g| ring.galois_permutation(g)).transpose()?;
        let (b, a) = self.backend.key_switch_inner_product(
            ring,
            &d.digits,
            &key.digits,
            permutation.as_deref(),
            None,
        );
        let p_count = self.params.p().len();
        Ok((
            self.backend.mod_down(ring, b, p_count),
            self.backend.mod_down(ring, a, p_count),
        ))
    }

    /// Relinearizes a degree-2 ciphertext to degree 1 with the relinearization key.
    pub fn relinearize(&self, ct: &Ciphertext) -> Result<Ciphertext> {
        Ok(self.mod_down_extended(self.relinearize_extended(ct)?))
    }

    /// Relinearizes a degree-2 ciphertext, keeping the result over `Q_l ∪ P` (no ModDown): the key
    /// switch of `c_2` plus `P·(c_0, c_1)`.
    pub(crate) fn relinearize_extended(&self, ct: &Ciphertext) -> Result<Extended> {
        if ct.degree() != 2 {
            return Err(RuntimeError::Degree {
                op: "relinearize",
                degree: ct.degree(),
                expected: 2,
            });
        }
        let key = self
            .keys
            .relinearization
            .as_ref()
            .ok_or(RuntimeError::MissingRelinearizationKey)?;
        let p_mod_q = self.params.p_mod_q(ct.level());
        let (c0, c1) = self.backend.key_switch_inner_product(
            self.params.ring(),
            &self.decompose(&ct.polys[2]).digits,
            &key.digits,
            None,
            Some(PMultiple {
                polys: &ct.polys[..2],
                p_mod_q: &p_mod_q,
            }),
        );
        Ok(Extended {
            c0,
            c1,
            scale: ct.scale,
            slots: ct.slots,
        })
    }

    /// `x += P·ct` (`ct` degree 1 at `x`'s level; scales are not compared).
    pub(crate) fn add_to_extended(&self, x: &mut Extended, ct: &Ciphertext) -> Result<()> {
        Self::require_degree_one("add_to_extended", ct)?;
        let level = x.level(self.params.p().len());
        if ct.level() != level {
            return Err(RuntimeError::LevelMismatch {
                op: "add_to_extended",
                left: level,
                right: ct.level(),
            });
        }
        self.add_p_multiple(x, &ct.polys);
        Ok(())
    }

    /// `(x.c_0, x.c_1) += P·(c_0, c_1)` on the Q limbs (`polys` over `Q_l`, `x` over `Q_l ∪ P`);
    /// `polys` may hold `c_0` alone.
    fn add_p_multiple(&self, x: &mut Extended, polys: &[RnsPoly]) {
        let ring = self.params.ring();
        let p_mod_q = self.params.p_mod_q(polys[0].limb_count() - 1);
        for (acc, c) in [&mut x.c0, &mut x.c1].into_iter().zip(polys) {
            self.backend.mul_scalar_add_assign(ring, acc, c, &p_mod_q);
        }
    }

    /// Switches a degree-1 ciphertext to the secret `key` encrypts under (the key's level must
    /// cover the ciphertext's).
    pub(crate) fn switch_secret(&self, ct: &Ciphertext, key: &SwitchingKey) -> Result<Ciphertext> {
        Self::require_degree_one("switch_secret", ct)?;
        if ct.level() > key.level() {
            return Err(RuntimeError::LevelTooLow {
                op: "switch_secret",
                needed: ct.level(),
                level: key.level(),
            });
        }
        let (k0, k1) = self.switch(&self.decompose(&ct.polys[1]), key, None)?;
        let mut c0 = ct.polys[0].clone();
        self.backend.add_assign(self.params.ring(), &mut c0, &k0);
        Ok(Ciphertext {
            polys: vec![c0, k1],
            scale: ct.scale,
            slots: ct.slots,
        })
    }

    fn galois_key(&self, step: i64, galois: u64) -> Result<&SwitchingKey> {
        self.keys
            .galois
            .get(&galois)
            .ok_or(RuntimeError::MissingRotationKey { step, galois })
    }

    /// Applies the automorphism `galois` to a degree-1 ciphertext whose `c_1` is already decomposed.
    fn automorphism_decomposed(
        &self,
        ct: &Ciphertext,
        d: &Decomposed,
        step: i64,
        galois: u64,
    ) -> Result<Ciphertext> {
        let key = self.galois_key_at(step, galois, ct.level())?;
        let (k0, k1) = self.switch(d, key, Some(galois))?;
        let ring = self.params.ring();
        let mut c0 = self.backend.automorphism(ring, &ct.polys[0], galois)?;
        self.backend.add_assign(ring, &mut c0, &k0);
        Ok(Ciphertext {
            polys: vec![c0, k1],
            scale: ct.scale,
            slots: ct.slots,
        })
    }

    fn require_degree_one(op: &'static str, ct: &Ciphertext) -> Result<()> {
        if ct.degree() != 1 {
            return Err(RuntimeError::Degree {
                op,
                degree: ct.degree(),
                expected: 1,
            });
        }
        Ok(())
    }

    /// Rotates the slots left by `step` (negative: right), cyclically over the ciphertext's slots.
    pub fn rotate(&self, ct: &Ciphertext, step: i64) -> Result<Ciphertext> {
        Self::require_degree_one("rotate", ct)?;
        let galois = galois_element(&self.params, step);
        if galois == 1 {
            return Ok(ct.clone());
        }
        self.automorphism_decomposed(ct, &self.decompose(&ct.polys[1]), step, galois)
    }

    /// Rotations of one ciphertext by several steps, sharing one decomposition (hoisting).
    pub fn rotate_hoisted(&self, ct: &Ciphertext, steps: &[i64]) -> Result<Vec<Ciphertext>> {
        Self::require_degree_one("rotate_hoisted", ct)?;
        let d = self.decompose(&ct.polys[1]);
        steps
            .iter()
            .map(|&step| match galois_element(&self.params, step) {
                1 => Ok(ct.clone()),
                g => self.automorphism_decomposed(ct, &d, step, g),
            })
            .collect()
    }

    /// `ct + Σ rot(ct, step)` over `steps`, with one decomposition and one ModDown (double
    /// hoisting): the rotations stay over `Q_l ∪ P` until their sum is divided by P. A stage of a
    /// trace, `(1 + σ_s)(1 + σ_{2s}) = 1 + σ_s + σ_{2s} + σ_{3s}`, costs one ModUp, three inner
    /// products and one ModDown instead of two of each.
    pub fn add_rotations(&self, ct: &Ciphertext, steps: &[i64]) -> Result<Ciphertext> {
        Self::require_degree_one("add_rotations", ct)?;
        let mut total = self.extend(ct);
        for rotated in self.rotate_hoisted_extended(ct, steps)? {
            self.add_extended_assign(&mut total, &rotated);
        }
        Ok(self.mod_down_extended(total))
    }

    /// `acc += x` over `Q_l ∪ P` (same level; scales are not compared).
    pub(crate) fn add_extended_assign(&self, acc: &mut Extended, x: &Extended) {
        let ring = self.params.ring();
        self.backend.add_assign(ring, &mut acc.c0, &x.c0);
        self.backend.add_assign(ring, &mut acc.c1, &x.c1);
    }

    /// `P·ct` over `Q_l ∪ P` (`ct` degree 1; the P limbs are zero): exact.
    pub(crate) fn extend(&self, ct: &Ciphertext) -> Extended {
        let qp = self.params.ring().qp_indices(ct.level());
        let zero = RnsPoly::zero(ct.polys[0].n(), &qp, cachemir_kernels::Form::Eval);
        let mut x = Extended {
            c0: zero.clone(),
            c1: zero,
            scale: ct.scale,
            slots: ct.slots,
        };
        self.add_p_multiple(&mut x, &ct.polys);
        x
    }

    /// The key of `galois`, checked to cover `level`.
    fn galois_key_at(&self, step: i64, galois: u64, level: usize) -> Result<&SwitchingKey> {
        let key = self.galois_key(step, galois)?;
        if level > key.level() {
            return Err(RuntimeError::LevelTooLow {
                op: "rotation key",
                needed: level,
                level: key.level(),
            });
        }
        Ok(key)
    }

    /// Rotations of `ct` by `steps` sharing one decomposition, kept over `Q_l ∪ P` (no ModDown).
    pub(crate) fn rotate_hoisted_extended(
        &self,
        ct: &Ciphertext,
        steps: &[i64],
    ) -> Result<Vec<Extended>> {
        Self::require_degree_one("rotate_hoisted", ct)?;
        let ring = self.params.ring();
        let d = self.decompose(&ct.polys[1]);
        let p_mod_q = self.params.p_mod_q(ct.level());
        steps
            .iter()
            .map(|&step| match galois_element(&self.params, step) {
                1 => Ok(self.extend(ct)),
                g => {
                    let key = self.galois_key_at(step, g, ct.level())?;
                    let permutation = ring.galois_permutation(g)?;
                    // σ(c_0)·P joins the inner product, through the same permutation.
                    let (c0, c1) = self.backend.key_switch_inner_product(
                        ring,
                        &d.digits,
                        &key.digits,
                        Some(&permutation),
                        Some(PMultiple {
                            polys: &ct.polys[..1],
                            p_mod_q: &p_mod_q,
                        }),
                    );
                    Ok(Extended {
                        c0,
                        c1,
                        scale: ct.scale,
                        slots: ct.slots,
                    })
                }
            })
            .collect()
    }

    /// Rotates an extended ciphertext, keeping it extended: only `c_1` is divided by P, then switched.
    pub(crate) fn rotate_extended(&self, x: Extended, step: i64) -> Result<Extended> {
        let galois = galois_element(&self.params, step);
        if galois == 1 {
            return Ok(x);
        }
        let ring = self.params.ring();
        let c1 = self.backend.mod_down(ring, x.c1, self.params.p().len());
        let key = self.galois_key_at(step, galois, c1.limb_count() - 1)?;
        let permutation = ring.galois_permutation(galois)?;
        let d = self.decompose(&c1);
        let (mut c0, c1) = self.backend.key_switch_inner_product(
            ring,
            &d.digits,
            &key.digits,
            Some(&permutation),
            None,
        );
        let rotated = self.backend.automorphism(ring, &x.c0, galois)?;
        self.backend.add_assign(ring, &mut c0, &rotated);
        Ok(Extended {
            c0,
            c1,
            scale: x.scale,
            slots: x.slots,
        })
    }

    /// Divides an extended ciphertext by P: the ciphertext over `Q_l`.
    pub(crate) fn mod_down_extended(&self, x: Extended) -> Ciphertext {
        self.divide_extended(x, self.params.p().len(), 1.0)
    }

    /// Divides an extended ciphertext by `P·q_l` in one ModDown: the rescaled ciphertext over
    /// `Q_{l−1}` (scale divided by `q_l`), as [`Evaluator::rescale`] after ModDown would give it
    /// up to one rounding.
    pub(crate) fn rescale_extended(&self, x: Extended) -> Result<Ciphertext> {
        let p_count = self.params.p().len();
        let level = x.level(p_count);
        if level == 0 {
            return Err(RuntimeError::LevelTooLow {
                op: "rescale",
                needed: 1,
                level,
            });
        }
        let q_l = self.params.q()[level] as f64;
        Ok(self.divide_extended(x, p_count + 1, q_l))
    }

    /// `x` divided by the primes of its last `count` limbs, its scale by `scale_divisor`.
    fn divide_extended(&self, x: Extended, count: usize, scale_divisor: f64) -> Ciphertext {
        let ring = self.params.ring();
        Ciphertext {
            polys: vec![
                self.backend.mod_down(ring, x.c0, count),
                self.backend.mod_down(ring, x.c1, count),
            ],
            scale: x.scale / scale_divisor,
            slots: x.slots,
        }
    }

    /// Complex conjugation of every slot.
    pub fn conjugate(&self, ct: &Ciphertext) -> Result<Ciphertext> {
        Self::require_degree_one("conjugate", ct)?;
        let galois = conjugation_element(&self.params);
        self.automorphism_decomposed(ct, &self.decompose(&ct.polys[1]), 0, galois)
    }
}
