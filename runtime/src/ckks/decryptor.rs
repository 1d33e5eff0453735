//! Decryption with the secret key (client side): `m = c_0 + c_1·s (+ c_2·s²)`.

use super::{Ciphertext, Parameters, Plaintext, SecretKey};
use cachemir_kernels::Backend;
use std::sync::Arc;

/// Decrypts ciphertexts; holds the secret key, so it exists only on the client.
#[derive(Debug)]
pub struct Decryptor<B: Backend> {
    params: Arc<Parameters>,
    backend: B,
    key: SecretKey,
}

impl<B: Backend> Decryptor<B> {
    /// A decryptor for `key`.
    pub fn new(params: Arc<Parameters>, backend: B, key: SecretKey) -> Self {
        Self {
            params,
            backend,
            key,
        }
    }

    /// Decrypts a ciphertext of any degree into a plaintext with its scale, at level `min(level, 1)`:
    /// the message is far below `q_0·q_1`, so the two lowest primes determine it and the others are
    /// not computed.
    pub fn decrypt(&self, ct: &Ciphertext) -> Plaintext {
        let ring = self.params.ring();
        let positions: Vec<usize> = (0..=ct.level().min(1)).collect();
        let s = self.key.poly.select_limbs(&positions);
        // Horner: ((c_d·s + c_{d-1})·s + …) + c_0.
        let mut acc = ct.polys[ct.degree()].select_limbs(&positions);
        for c in ct.polys[..ct.degree()].iter().rev() {
            self.backend.mul_assign(ring, &mut acc, &s);
            self.backend
                .add_assign(ring, &mut acc, &c.select_limbs(&positions));
        }
        Plaintext {
            poly: acc,
            scale: ct.scale,
            slots: ct.slots,
        }
    }
}
