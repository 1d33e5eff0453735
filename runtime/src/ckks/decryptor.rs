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

    /// Decrypts a ciphertext of any degree into a plaintext at its level and scale.
    pub fn decrypt(&self, ct: &Ciphertext) -> Plaintext {
        let ring = self.params.ring();
        let positions: Vec<usize> = (0..=ct.level()).collect();
        let s = self.key.poly.select_limbs(&positions);
        // Horner: ((c_d·s + c_{d-1})·s + …) + c_0.
        let mut acc = ct.polys[ct.degree()].clone();
        for c in ct.polys[..ct.degree()].iter().rev() {
            self.backend.mul_assign(ring, &mut acc, &s);
            self.backend.add_assign(ring, &mut acc, c);
        }
        Plaintext {
            poly: acc,
            scale: ct.scale,
            slots: ct.slots,
        }
    }
}
