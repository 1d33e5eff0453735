//! Precision at the secure `N16_BOOT` set (N = 2^16, 128-bit), and its full-slot bootstrap: too
//! slow for the default test run.
//!
//! `cargo test --release -p cachemir-runtime --test secure_set -- --ignored --nocapture`
//!
//! The bootstrap test keeps its keys in `target/tmp/keys` (about 5 GB, `ckks::bootstrap::key_cache`): the first
//! run generates them (about a minute), later runs read them.

use cachemir_kernels::{CpuBackend, Sampler};
use cachemir_runtime::ckks::bootstrap::{bench, BootstrapConfig};
use cachemir_runtime::ckks::{Decryptor, Encoder, Encryptor, Evaluator, KeyGenerator, Parameters};
use std::path::Path;
use std::sync::Arc;

/// A full-slot bootstrap at `N16_BOOT`: 9 levels left, ≥ 20 bits mean and ≥ 16 bits worst slot
/// precision on uniform complex values, bootstrapping keys within 16 GiB.
#[test]
#[ignore = "secure N = 2^16 bootstrapping takes minutes and ~14 GB; run with --ignored"]
fn secure_set_full_slot_bootstrap_meets_its_targets() {
    let params = Arc::new(Parameters::named("N16_BOOT").unwrap());
    let config = BootstrapConfig::for_named_set("N16_BOOT", &params, params.max_slots()).unwrap();
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("keys");
    let report = bench::bench("N16_BOOT", params, config, 1, Some(&cache), |_| ()).unwrap();
    eprintln!("{}", serde_json::to_string(&report).unwrap());
    assert!(report.levels_left >= 9, "{report:?}");
    assert!(report.precision_mean_bits >= 20.0, "{report:?}");
    assert!(report.precision_min_bits >= 16.0, "{report:?}");
    assert!(report.key_bytes <= 16 << 30, "{report:?}");
}

/// mul + relinearize + rescale at the top compute level (the 45-bit scaling primes), public-key
/// encryption, uniform values in [−1, 1]: ≥ 25 bits of mean precision; and a rotation.
#[test]
#[ignore = "secure N = 2^16 parameters take about a minute; run with --ignored"]
fn secure_set_mul_and_rotate_precision() {
    let params = Arc::new(Parameters::named("N16_BOOT").unwrap());
    assert!(params.is_secure());
    let mut kg = KeyGenerator::new(params.clone(), CpuBackend);
    let sk = kg.secret_key();
    let pk = kg.public_key(&sk);
    let keys = Arc::new(kg.evaluation_keys(&sk, &[1], false).unwrap());
    let encoder = Encoder::new(params.clone(), CpuBackend);
    let mut encryptor = Encryptor::new(params.clone(), CpuBackend, pk);
    let decryptor = Decryptor::new(params.clone(), CpuBackend, sk);
    let eval = Evaluator::new(params.clone(), CpuBackend, keys);
    let slots = params.max_slots();
    let mut sampler = Sampler::from_seed([7; 32]);
    let x = sampler.uniform_reals(slots, -1.0, 1.0);
    let y = sampler.uniform_reals(slots, -1.0, 1.0);
    // Level 9 is the top of the 45-bit compute chain (q_1 … q_9); bootstrapping primes sit above it.
    let level = 9;
    let scale = params.default_scale();
    let cx = encryptor.encrypt(&encoder.encode_real(&x, level, scale).unwrap());
    let cy = encryptor.encrypt(&encoder.encode_real(&y, level, scale).unwrap());
    let product = eval.rescale(&eval.mul_relin(&cx, &cy).unwrap()).unwrap();
    let got = encoder.decode(&decryptor.decrypt(&product));
    let mean_err = got
        .iter()
        .zip(x.iter().zip(&y))
        .map(|(g, (a, b))| (g - a * b).norm())
        .sum::<f64>()
        / slots as f64;
    let bits = -mean_err.log2();
    println!("N16_BOOT mul+relin+rescale precision: {bits:.2} bits (mean)");
    assert!(bits >= 25.0, "{bits:.2} bits");

    let rotated = encoder.decode(&decryptor.decrypt(&eval.rotate(&cx, 1).unwrap()));
    let mean_err = (0..slots)
        .map(|i| (rotated[i] - x[(i + 1) % slots]).norm())
        .sum::<f64>()
        / slots as f64;
    println!(
        "N16_BOOT rotate precision: {:.2} bits (mean)",
        -mean_err.log2()
    );
    assert!(-mean_err.log2() >= 25.0);
}
