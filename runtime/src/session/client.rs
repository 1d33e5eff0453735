//! The client: holds the secret key, generates the evaluation keys a plan needs, encodes and encrypts its
//! inputs with their declared layouts, and decrypts and decodes its outputs.

use crate::ckks::{
    Ciphertext, Decryptor, Encoder, Encryptor, EvaluationKeys, KeyGenerator, Parameters, SecretKey,
};
use crate::{Result, RuntimeError};
use cachemir_ir::fhe::KeySet;
use cachemir_ir::plan::IoDecl;
use cachemir_kernels::Backend;
use std::sync::Arc;

/// The key holder of a session.
pub struct Client<B: Backend + Clone> {
    params: Arc<Parameters>,
    backend: B,
    secret: SecretKey,
    encoder: Encoder<B>,
    encryptor: Encryptor<B>,
    decryptor: Decryptor<B>,
}

impl<B: Backend + Clone> Client<B> {
    /// A client with a fresh secret key for `params`.
    pub fn new(params: Arc<Parameters>, backend: B) -> Self {
        let secret = KeyGenerator::new(params.clone(), backend.clone()).secret_key();
        Self {
            encoder: Encoder::new(params.clone(), backend.clone()),
            encryptor: Encryptor::with_secret_key(params.clone(), backend.clone(), secret.clone()),
            decryptor: Decryptor::new(params.clone(), backend.clone(), secret.clone()),
            params,
            backend,
            secret,
        }
    }

    /// The parameters.
    pub fn params(&self) -> &Arc<Parameters> {
        &self.params
    }

    /// The evaluation keys a plan declares (relinearization always, its rotations, conjugation if asked).
    pub fn evaluation_keys(&self, keys: &KeySet) -> Result<EvaluationKeys> {
        let steps: Vec<i64> = keys.rotations.iter().map(|s| s.0 as i64).collect();
        KeyGenerator::new(self.params.clone(), self.backend.clone()).evaluation_keys(
            &self.secret,
            &steps,
            keys.conjugate,
        )
    }

    /// Encodes `values` with the input's layout and encrypts them at its level and (nominal) scale.
    pub fn encrypt(&mut self, input: &IoDecl, values: &[f64]) -> Result<Ciphertext> {
        let ty = &input.ty;
        let slots = ty
            .layout
            .encode(values, ty.slots)
            .map_err(|e| RuntimeError::Plan {
                reason: format!("input \"{}\": {e}", input.name),
            })?;
        let pt = self
            .encoder
            .encode_real(&slots, ty.level.0 as usize, 2f64.powf(ty.scale.0))?;
        Ok(self.encryptor.encrypt(&pt))
    }

    /// Decrypts an output and decodes it with its layout (real parts).
    pub fn decrypt(&self, output: &IoDecl, ct: &Ciphertext) -> Result<Vec<f64>> {
        let slots: Vec<f64> = self
            .encoder
            .decode(&self.decryptor.decrypt(ct))
            .iter()
            .map(|z| z.re)
            .collect();
        output
            .ty
            .layout
            .decode(&slots)
            .map_err(|e| RuntimeError::Plan {
                reason: format!("output \"{}\": {e}", output.name),
            })
    }
}
