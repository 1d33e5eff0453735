//! What the CKKS integration tests share: a context of keys, encoder, encryptor, decryptor and
//! evaluator for one parameter set, and reproducible random inputs.
// Each test file compiles this module on its own and uses part of it.
#![allow(dead_code)]

use cachemir_kernels::{CpuBackend, Sampler};
use cachemir_runtime::ckks::{
    Decryptor, Encoder, Encryptor, Evaluator, KeyGenerator, Parameters, ParametersLiteral,
    SecretDistribution, SecretKey,
};
use num_complex::Complex64;
use std::sync::Arc;

/// Keys and the four CKKS roles for one parameter set (secret-key encryption).
pub struct Ctx {
    pub params: Arc<Parameters>,
    pub encoder: Encoder<CpuBackend>,
    pub encryptor: Encryptor<CpuBackend>,
    pub decryptor: Decryptor<CpuBackend>,
    pub eval: Evaluator<CpuBackend>,
    pub secret: SecretKey,
}

impl Ctx {
    /// A context whose evaluation keys cover exactly `rotations` (and conjugation if asked).
    pub fn new(params: Parameters, rotations: &[i64], conjugation: bool) -> Self {
        let params = Arc::new(params);
        let mut kg = KeyGenerator::new(params.clone(), CpuBackend);
        let sk = kg.secret_key();
        let keys = Arc::new(kg.evaluation_keys(&sk, rotations, conjugation).unwrap());
        Ctx {
            encoder: Encoder::new(params.clone(), CpuBackend),
            encryptor: Encryptor::with_secret_key(params.clone(), CpuBackend, sk.clone()),
            decryptor: Decryptor::new(params.clone(), CpuBackend, sk.clone()),
            eval: Evaluator::new(params.clone(), CpuBackend, keys),
            secret: sk,
            params,
        }
    }
}

/// An insecure N = 2^12 set with 12 levels of 40-bit primes (scale 2^40), for deep circuits.
pub fn deep_n12() -> Parameters {
    Parameters::new(ParametersLiteral {
        log_n: 12,
        log_q: std::iter::once(60).chain([40; 12]).collect(),
        log_p: vec![61, 61],
        log_default_scale: 40,
        secret: SecretDistribution::Dense,
    })
    .unwrap()
}

fn sampler(seed: u64) -> Sampler {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    Sampler::from_seed(bytes)
}

/// `n` reals uniform in `[lo, hi)`, reproducible from `seed`.
pub fn uniform(n: usize, lo: f64, hi: f64, seed: u64) -> Vec<f64> {
    sampler(seed).uniform_reals(n, lo, hi)
}

/// `n` complex values with real and imaginary parts uniform in `[−1, 1)`, reproducible from `seed`.
pub fn random_complex(n: usize, seed: u64) -> Vec<Complex64> {
    let parts = sampler(seed).uniform_reals(2 * n, -1.0, 1.0);
    parts
        .chunks(2)
        .map(|p| Complex64::new(p[0], p[1]))
        .collect()
}
