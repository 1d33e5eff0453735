//! Where bootstrapping's error comes from: one full-slot bootstrap at `N16_BOOT` under a variant,
//! with the error measured two ways (the complex norm our bench reports, and the real part's
//! absolute error, Lattigo's measure). Keys are generated each run (about a minute).
//!
//! `cargo run --release -p cachemir-runtime --example bootstrap_precision -- [dense|h192] [RATIO] [real]`
//!
//! - `h192`: a main secret of Hamming weight 192 (Lattigo's; not rated secure at `N16_BOOT`'s
//!   log2 QP = 1661) instead of the dense one, to see what the secret's rounding noise costs;
//! - `RATIO`: `log2(q_0/Δ)` at ModRaise (default 8): EvalMod amplifies errors made before it by
//!   `2^RATIO`;
//! - `real`: imaginary parts zero, as in Lattigo's benchmark.
//!
//! Findings and figures: `docs/design/ckks.md`, Bootstrapping.

use cachemir_kernels::{CpuBackend, Sampler};
use cachemir_runtime::ckks::bootstrap::{BootstrapConfig, Bootstrapper};
use cachemir_runtime::ckks::{
    Decryptor, Encoder, Encryptor, Evaluator, KeyGenerator, Parameters, SecretDistribution,
};
use num_complex::Complex64;
use std::sync::Arc;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let has = |word: &str| args.iter().any(|a| a == word);
    let ratio = args.iter().find_map(|a| a.parse::<u32>().ok());
    let mut literal = Parameters::named("N16_BOOT")?.literal().clone();
    if has("h192") {
        literal.secret = SecretDistribution::FixedHamming(192);
    }
    let params = Arc::new(Parameters::new(literal)?);
    let mut config = BootstrapConfig::for_named_set("N16_BOOT", &params, params.max_slots())?;
    if let Some(r) = ratio {
        config.log_message_ratio = r;
    }
    let encoder = Encoder::new(params.clone(), CpuBackend);
    let boot = Bootstrapper::new(&encoder, config)?;
    let mut keygen = KeyGenerator::new(params.clone(), CpuBackend);
    let sk = keygen.secret_key();
    let keys = keygen.bootstrapping_keys(&sk, std::slice::from_ref(boot.config()), &[])?;
    let mut encryptor = Encryptor::with_secret_key(params.clone(), CpuBackend, sk.clone());
    let decryptor = Decryptor::new(params.clone(), CpuBackend, sk);
    let eval = Evaluator::new(params.clone(), CpuBackend, Arc::new(keys));

    let slots = params.max_slots();
    let mut sampler = Sampler::from_os();
    let re = sampler.uniform_reals(slots, -1.0, 1.0);
    let im = if has("real") {
        vec![0.0; slots]
    } else {
        sampler.uniform_reals(slots, -1.0, 1.0)
    };
    let z: Vec<Complex64> = re
        .iter()
        .zip(&im)
        .map(|(&a, &b)| Complex64::new(a, b))
        .collect();
    let ct = encryptor.encrypt(&encoder.encode(&z, 0, params.default_scale())?);
    let out = eval.bootstrap(&ct, &boot)?;
    let got = encoder.decode(&decryptor.decrypt(&out));
    let mean = |err: &dyn Fn(Complex64) -> f64| {
        -(got.iter().zip(&z).map(|(g, w)| err(g - w)).sum::<f64>() / slots as f64).log2()
    };
    println!(
        "secret {} ratio {} real {}: {:.2} bits mean (complex norm), {:.2} bits mean (real part)",
        if has("h192") { "h192" } else { "dense" },
        boot.config().log_message_ratio,
        has("real"),
        mean(&|e| e.norm()),
        mean(&|e| e.re.abs()),
    );
    Ok(())
}
