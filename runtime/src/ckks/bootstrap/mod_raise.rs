//! ModRaise: a level-0 ciphertext read as integers and re-embedded modulo the whole chain.
//!
//! A ciphertext at level 0 decrypts to `t = c_0 + c_1·s mod q_0`. Lifting `c_0, c_1` to their centered
//! representatives and reducing them modulo `q_0 ⋯ q_L` gives a ciphertext that decrypts to
//! `t + q_0·I(X)` with a small integer polynomial `I` (`|I_k| ≲ (‖s‖_1 + 1)/2`, in practice a few
//! standard deviations of `sqrt(h/12)` for a secret of Hamming weight `h`). EvalMod removes `q_0·I`.

use crate::ckks::{Ciphertext, Evaluator};
use crate::{Result, RuntimeError};
use cachemir_kernels::{Backend, Form, RnsPoly};

impl<B: Backend> Evaluator<B> {
    /// Raises a level-0 ciphertext to `level` (scale and slots unchanged; the message gains `q_0·I`).
    pub fn mod_raise(&self, ct: &Ciphertext, level: usize) -> Result<Ciphertext> {
        if ct.level() != 0 {
            return Err(RuntimeError::LevelMismatch {
                op: "mod_raise",
                left: ct.level(),
                right: 0,
            });
        }
        if level > self.params.max_level() {
            return Err(RuntimeError::LevelTooLow {
                op: "mod_raise",
                needed: level,
                level: self.params.max_level(),
            });
        }
        let ring = self.params.ring();
        let q0 = ring.modulus(0);
        let primes = ring.q_indices(level);
        let polys = ct
            .polys
            .iter()
            .map(|p| {
                let mut coeff = p.clone();
                self.backend.to_coeff(ring, &mut coeff);
                let centered: Vec<i64> = coeff.limb(0).iter().map(|&x| q0.center(x)).collect();
                let mut data = Vec::with_capacity(centered.len() * primes.len());
                for &i in &primes {
                    let m = ring.modulus(i);
                    data.extend(centered.iter().map(|&x| m.reduce_i64(x)));
                }
                let mut raised = RnsPoly::from_raw(p.n(), primes.clone(), data, Form::Coeff);
                self.backend.to_eval(ring, &mut raised);
                raised
            })
            .collect();
        Ok(Ciphertext {
            polys,
            scale: ct.scale,
            slots: ct.slots,
        })
    }
}
