//! Encryption, with the public key — `(u·b + e_0 + m, u·a + e_1)`, ternary `u` — or with the secret
//! key — `(−a·s + e + m, a)`, uniform `a` — which the client, holding `s`, prefers: its noise is
//! about √N times smaller.

use super::{Ciphertext, Parameters, Plaintext, PublicKey, SecretKey};
use cachemir_kernels::{Backend, RnsPoly, Sampler};
use std::sync::Arc;

#[derive(Debug)]
enum EncryptionKey {
    Public(PublicKey),
    Secret(SecretKey),
}

/// Encrypts plaintexts under a public or a secret key.
#[derive(Debug)]
pub struct Encryptor<B: Backend> {
    params: Arc<Parameters>,
    backend: B,
    key: EncryptionKey,
    sampler: Sampler,
}

impl<B: Backend> Encryptor<B> {
    /// A public-key encryptor, drawing randomness from the operating system.
    pub fn new(params: Arc<Parameters>, backend: B, key: PublicKey) -> Self {
        Self {
            params,
            backend,
            key: EncryptionKey::Public(key),
            sampler: Sampler::from_os(),
        }
    }

    /// A secret-key encryptor (client side).
    pub fn with_secret_key(params: Arc<Parameters>, backend: B, key: SecretKey) -> Self {
        Self {
            params,
            backend,
            key: EncryptionKey::Secret(key),
            sampler: Sampler::from_os(),
        }
    }

    fn small(&mut self, primes: &[usize], ternary: bool) -> RnsPoly {
        let ring = self.params.ring();
        let n = self.params.n();
        let coeffs = if ternary {
            self.sampler.ternary(n)
        } else {
            self.sampler.gaussian(n)
        };
        let mut p = RnsPoly::from_signed(ring, primes, &coeffs);
        self.backend.to_eval(ring, &mut p);
        p
    }

    /// Encrypts `pt` at its own level, scale and slot count.
    pub fn encrypt(&mut self, pt: &Plaintext) -> Ciphertext {
        let ring = self.params.ring().clone();
        let primes = pt.poly.primes().to_vec();
        let positions: Vec<usize> = (0..primes.len()).collect();
        let mut c0 = self.small(&primes, false);
        let c1 = match &self.key {
            EncryptionKey::Public(pk) => {
                let (b, a) = (pk.b.select_limbs(&positions), pk.a.select_limbs(&positions));
                let u = self.small(&primes, true);
                self.backend.mul_add_assign(&ring, &mut c0, &u, &b);
                let mut c1 = self.small(&primes, false);
                self.backend.mul_add_assign(&ring, &mut c1, &u, &a);
                c1
            }
            EncryptionKey::Secret(sk) => {
                let s = sk.poly.select_limbs(&positions);
                let a = self.sampler.uniform(&ring, &primes);
                let mut a_s = a.clone();
                self.backend.mul_assign(&ring, &mut a_s, &s);
                self.backend.sub_assign(&ring, &mut c0, &a_s);
                a
            }
        };
        self.backend.add_assign(&ring, &mut c0, &pt.poly);
        Ciphertext {
            polys: vec![c0, c1],
            scale: pt.scale,
            slots: pt.slots,
        }
    }
}
