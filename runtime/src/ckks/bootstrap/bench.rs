//! The bootstrapping benchmark behind `cachemir-run bench bootstrap`: key generation (or loading
//! from a [`super::key_cache`] directory), one bootstrap per run (median reported), precision on
//! complex slots with real and imaginary parts uniform in [−1, 1] (the worst slot and the mean of
//! the absolute errors in bits, and the mean over the real parts alone, as Lattigo measures).

use super::{key_cache, BootstrapConfig, BootstrapPhases, Bootstrapper};
use crate::ckks::{Decryptor, Encoder, Encryptor, Evaluator, KeyGenerator, Parameters};
use crate::Result;
use cachemir_kernels::{CpuBackend, Sampler};
use num_complex::Complex64;
use serde::Serialize;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// The JSON object of one bootstrapping benchmark.
#[derive(Debug, Clone, Serialize)]
pub struct BootstrapReport {
    /// Parameter set name (as given by the caller).
    pub params: String,
    /// log2 N.
    pub log_n: u32,
    /// Slots refreshed.
    pub slots: usize,
    /// rayon threads of the current pool.
    pub threads: usize,
    /// Median wall time of one bootstrap, in milliseconds.
    pub bootstrap_ms: f64,
    /// The phases of the median run.
    pub phases: BootstrapPhases,
    /// Levels left for computation after bootstrapping.
    pub levels_left: usize,
    /// −log2 of the mean absolute slot error.
    pub precision_mean_bits: f64,
    /// −log2 of the worst absolute slot error.
    pub precision_min_bits: f64,
    /// −log2 of the mean absolute error of the slots' real parts (Lattigo's measure).
    pub precision_real_mean_bits: f64,
    /// Building and encoding the DFT matrices, in milliseconds.
    pub setup_ms: f64,
    /// Generating the relinearization, rotation, conjugation and encapsulation keys, in
    /// milliseconds (reading them, when `keys_loaded`).
    pub keygen_ms: f64,
    /// Whether the keys came from the key cache instead of being generated.
    pub keys_loaded: bool,
    /// Bytes of all evaluation keys bootstrapping uses.
    pub key_bytes: usize,
    /// Number of rotation keys.
    pub rotation_keys: usize,
}

fn ms(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1e3
}

/// Generates keys for `config` (or loads them from `key_cache`, storing them there on a miss),
/// bootstraps `runs` fresh level-0 encryptions (at least one) of values uniform in `[−1, 1]` (real and
/// imaginary parts) and reports. `name` labels the parameters in the report; `progress` hears each
/// phase as it starts.
pub fn bench(
    name: &str,
    params: Arc<Parameters>,
    config: BootstrapConfig,
    runs: usize,
    key_cache: Option<&Path>,
    progress: impl FnMut(&str),
) -> Result<BootstrapReport> {
    bench_at(name, params, config, runs, key_cache, 1.0, progress)
}

/// [`bench`] with values uniform in `[−amplitude, amplitude]`: bootstrapping's error grows with its
/// inputs, which the noise-aware simulation models.
pub fn bench_at(
    name: &str,
    params: Arc<Parameters>,
    config: BootstrapConfig,
    runs: usize,
    key_cache: Option<&Path>,
    amplitude: f64,
    mut progress: impl FnMut(&str),
) -> Result<BootstrapReport> {
    let encoder = Encoder::new(params.clone(), CpuBackend);
    progress("encoding the DFT matrices");
    let start = Instant::now();
    let boot = Bootstrapper::new(&encoder, config)?;
    let setup_ms = ms(start);
    progress(match key_cache {
        Some(_) => "loading or generating the bootstrapping keys",
        None => "generating the bootstrapping keys",
    });
    let start = Instant::now();
    let configs = std::slice::from_ref(boot.config());
    let (sk, keys, keys_loaded) = match key_cache {
        Some(dir) => {
            let cached = key_cache::load_or_generate(dir, &params, configs)?;
            (cached.secret, cached.keys, cached.loaded)
        }
        None => {
            let mut kg = KeyGenerator::new(params.clone(), CpuBackend);
            let sk = kg.secret_key();
            let keys = kg.bootstrapping_keys(&sk, configs, &[])?;
            (sk, keys, false)
        }
    };
    let keygen_ms = ms(start);
    let key_bytes = keys.byte_size();
    let mut encryptor = Encryptor::with_secret_key(params.clone(), CpuBackend, sk.clone());
    let decryptor = Decryptor::new(params.clone(), CpuBackend, sk);
    let eval = Evaluator::new(params.clone(), CpuBackend, Arc::new(keys));
    let slots = boot.config().slots;
    let mut sampler = Sampler::from_os();
    let mut times = Vec::new();
    let (mut sum, mut sum_re, mut worst, mut count, mut levels_left) = (0.0, 0.0, 0.0f64, 0, 0);
    let runs = runs.max(1);
    for run in 0..runs {
        progress(&format!("bootstrap {}/{runs}", run + 1));
        let re = sampler.uniform_reals(slots, -amplitude, amplitude);
        let im = sampler.uniform_reals(slots, -amplitude, amplitude);
        let z: Vec<Complex64> = re
            .iter()
            .zip(&im)
            .map(|(&a, &b)| Complex64::new(a, b))
            .collect();
        let ct = encryptor.encrypt(&encoder.encode(&z, 0, params.default_scale())?);
        let start = Instant::now();
        let (out, phases) = eval.bootstrap_timed(&ct, &boot)?;
        times.push((ms(start), phases));
        levels_left = out.level();
        for (g, w) in encoder.decode(&decryptor.decrypt(&out)).iter().zip(&z) {
            let e = (g - w).norm();
            sum += e;
            sum_re += (g.re - w.re).abs();
            worst = worst.max(e);
            count += 1;
        }
    }
    times.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (bootstrap_ms, phases) = times[times.len() / 2];
    Ok(BootstrapReport {
        params: name.to_string(),
        log_n: params.log_n(),
        slots,
        threads: rayon::current_num_threads(),
        bootstrap_ms,
        phases,
        levels_left,
        precision_mean_bits: -(sum / count as f64).log2(),
        precision_min_bits: -worst.log2(),
        precision_real_mean_bits: -(sum_re / count as f64).log2(),
        setup_ms,
        keygen_ms,
        keys_loaded,
        key_bytes,
        rotation_keys: boot.rotation_keys().len(),
    })
}
