//! Public-key encryption: `(u·b + e_0 + m, u·a + e_1)` with a ternary `u` (anyone holding the public key).

use super::{Ciphertext, Parameters, Plaintext, PublicKey};
use cachemir_kernels::{Backend, RnsPoly, Sampler};
use std::sync::Arc;

/// Encrypts plaintexts under a public key.
#[derive(Debug)]
pub struct Encryptor<B: Backend> {
    params: Arc<Parameters>,
    backend: B,
    key: PublicKey,
    sampler: Sampler,
}

impl<B: Backend> Encryptor<B> {
    /// An encryptor for `key`, drawing randomness from the operating system.
    pub fn new(params: Arc<Parameters>, backend: B, key: PublicKey) -> Self {
        Self {
            params,
            backend,
            key,
            sampler: Sampler::from_os(),
        }
    }

    /// Encrypts `pt` at its own level, scale and slot count.
    pub fn encrypt(&mut self, pt: &Plaintext) -> Ciphertext {
        let ring = self.params.ring().clone();
        let n = self.params.n();
        let primes = pt.poly.primes().to_vec();
        let small = |s: &mut Sampler, ternary: bool| {
            let coeffs = if ternary { s.ternary(n) } else { s.gaussian(n) };
            let mut p = RnsPoly::from_signed(&ring, &primes, &coeffs);
            self.backend.to_eval(&ring, &mut p);
            p
        };
        let u = small(&mut self.sampler, true);
        let e0 = small(&mut self.sampler, false);
        let e1 = small(&mut self.sampler, false);
        let positions: Vec<usize> = (0..primes.len()).collect();
        let (b, a) = (
            self.key.b.select_limbs(&positions),
            self.key.a.select_limbs(&positions),
        );
        let mut c0 = e0;
        self.backend.mul_add_assign(&ring, &mut c0, &u, &b);
        self.backend.add_assign(&ring, &mut c0, &pt.poly);
        let mut c1 = e1;
        self.backend.mul_add_assign(&ring, &mut c1, &u, &a);
        Ciphertext {
            polys: vec![c0, c1],
            scale: pt.scale,
            slots: pt.slots,
        }
    }
}
