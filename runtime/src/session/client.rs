//! The client: holds the secret key, generates the evaluation keys a plan needs, encodes and encrypts its
//! inputs with their declared layouts, and decrypts and decodes its outputs.

use super::protocol::{plan_fingerprint, StepReply, StepRequest, StepStats};
use super::SessionKeys;
use crate::ckks::{
    Ciphertext, Decryptor, Encoder, Encryptor, EvaluationKeys, KeyGenerator, Parameters, SecretKey,
};
use crate::executor::bootstrap_configs;
use crate::{Result, RuntimeError};
use cachemir_ir::fhe::{Module, Type};
use cachemir_ir::plan::{ClientIo, IoDecl, Plan};
use cachemir_kernels::Backend;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A decrypted step reply.
#[derive(Debug, Clone, PartialEq)]
pub struct StepOutputs {
    /// Each output of the plan, decoded with its layout.
    pub values: BTreeMap<String, Vec<f64>>,
    /// The server's statistics for the step, if it sent them.
    pub stats: Option<StepStats>,
}

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
        Self::with_secret_key(params, backend, secret)
    }

    /// A client holding `secret` (made for `params`), e.g. one read back from a [`super::KeyStore`].
    pub fn with_secret_key(params: Arc<Parameters>, backend: B, secret: SecretKey) -> Self {
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

    /// The secret key (for the client's own key store; it must never reach a server).
    pub fn secret_key(&self) -> &SecretKey {
        &self.secret
    }

    /// The evaluation keys a module needs: relinearization always, its declared rotations (made only
    /// for the highest level its ciphertexts reach, so a program on 10 of 25 levels gets keys 5×
    /// smaller), conjugation if asked, and the bootstrapping keys of its `bootstrap` ops.
    pub fn evaluation_keys(&self, module: &Module) -> Result<EvaluationKeys> {
        let steps: Vec<i64> = module.keys.rotations.iter().map(|s| s.0 as i64).collect();
        let configs = bootstrap_configs(module, &self.params)?;
        let mut generator = KeyGenerator::new(self.params.clone(), self.backend.clone());
        let mut keys = if configs.is_empty() {
            generator.evaluation_keys(&self.secret, &[], module.keys.conjugate)?
        } else {
            generator.bootstrapping_keys(&self.secret, &configs, &[])?
        };
        let top = module
            .op_ids()
            .flat_map(|id| module.op(id).results.iter())
            .filter_map(|&v| match module.value_type(v) {
                Some(Type::Ct(t)) => Some(t.level.0 as usize),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        generator.add_rotation_keys(&mut keys, &self.secret, &steps, top)?;
        Ok(keys)
    }

    /// What opens a session for `plan`: its fingerprint and the evaluation keys it needs, serialized
    /// (the keys themselves are dropped once serialized, and their memory returned to the system).
    pub fn open_session(&self, plan: &Plan) -> Result<SessionKeys> {
        let evaluation_keys = self.evaluation_keys(plan.module())?.to_bytes(&self.params);
        release_freed_memory();
        Ok(SessionKeys {
            plan_fingerprint: plan_fingerprint(plan),
            evaluation_keys: evaluation_keys.into(),
        })
    }

    /// The [`StepRequest`] for token `position`: each of the plan's inputs encoded and encrypted
    /// (the session id left empty, for the transport to fill in).
    pub fn step_request(
        &mut self,
        io: &ClientIo,
        position: u32,
        values: &BTreeMap<String, Vec<f64>>,
    ) -> Result<StepRequest> {
        let mut inputs = BTreeMap::new();
        for decl in &io.inputs {
            let x = values.get(&decl.name).ok_or_else(|| RuntimeError::Plan {
                reason: format!("no values for input \"{}\"", decl.name),
            })?;
            inputs.insert(
                decl.name.clone(),
                self.encrypt(decl, x)?.to_bytes(&self.params),
            );
        }
        Ok(StepRequest {
            session_id: String::new(),
            position,
            inputs,
        })
    }

    /// Decrypts a [`StepReply`]: each of the plan's outputs decoded, and the server's step statistics.
    pub fn read_reply(&self, io: &ClientIo, msg: StepReply) -> Result<StepOutputs> {
        let mut out = BTreeMap::new();
        for decl in &io.outputs {
            let bytes = msg
                .outputs
                .get(&decl.name)
                .ok_or_else(|| RuntimeError::Plan {
                    reason: format!("the reply lacks output \"{}\"", decl.name),
                })?;
            let ct = Ciphertext::from_bytes(&self.params, bytes)?;
            out.insert(decl.name.clone(), self.decrypt(decl, &ct)?);
        }
        Ok(StepOutputs {
            values: out,
            stats: msg.stats,
        })
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

/// Returns freed heap memory to the system. glibc keeps large freed blocks in its heap once its
/// mmap threshold has grown, so without this a client that made gigabytes of keys holds them for
/// the whole session (at `N16_BOOT`, 12 GB while uploading 3.6 GB of keys).
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory of the allocator's own heap; it is safe to
    // call at any time from any thread.
    unsafe {
        libc::malloc_trim(0);
    }
}
