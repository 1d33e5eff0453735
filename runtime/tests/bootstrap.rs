//! Full- and sparse-packing bootstrapping at an insecure toy set: N = 2^10 (512 slots), a dense
//! ternary main secret refreshed through an ephemeral secret of Hamming weight 32 (`K = 13` bounds
//! `|I|` but with probability 2^−60 per bootstrap at this N), chain `q_0` 60 bits | 2 × 40-bit computation levels |
//! 12 × 60-bit bootstrapping levels (SlotsToCoeffs 2, EvalMod 8, CoeffsToSlots 2), scale 2^40.
//! Values uniform in [−1, 1] (real and imaginary parts).

use cachemir_ir::bootstrap_sine;
use cachemir_kernels::CpuBackend;
use cachemir_runtime::approx::Chebyshev;
use cachemir_runtime::ckks::bootstrap::eval_mod::EvalMod;
use cachemir_runtime::ckks::bootstrap::{bench, message_ratio::message_ratio};
use cachemir_runtime::ckks::bootstrap::{BootstrapConfig, Bootstrapper};
use cachemir_runtime::ckks::keys::galois_element;
use cachemir_runtime::ckks::{
    Ciphertext, Decryptor, Embedding, Encoder, Encryptor, EvaluationKeys, Evaluator, KeyGenerator,
    Parameters, ParametersLiteral, SecretDistribution,
};
use cachemir_runtime::RuntimeError;
use num_complex::Complex64;
use std::f64::consts::PI;
use std::path::Path;
use std::sync::Arc;

mod support;

use support::random_complex as random;

/// The toy set of the module docs.
fn toy_params() -> Arc<Parameters> {
    let lit = ParametersLiteral {
        log_n: 10,
        log_q: [60, 40, 40].into_iter().chain([60; 12]).collect(),
        log_p: vec![61, 61, 61],
        log_default_scale: 40,
        secret: SecretDistribution::Dense,
    };
    Arc::new(Parameters::new(lit).unwrap())
}

fn config(slots: usize) -> BootstrapConfig {
    BootstrapConfig {
        slots,
        log_message_ratio: 10,
        cts_budget: 2,
        stc_budget: 2,
        k: 13,
        sine_degree: 31,
        double_angle: 3,
        output_scale: 2f64.powi(40),
        ephemeral_hamming_weight: Some(32),
    }
}

/// Worst `|EvalMod(x) − sin(2πx)|` in plaintext over `x = I + ε`, `|I| ≤ k`, `|ε| ≤ 2^−ratio`.
fn worst_near_integers(eval_plain: impl Fn(f64) -> f64, k: u32, log_message_ratio: u32) -> f64 {
    let e = 2f64.powi(-(log_message_ratio as i32));
    (-(k as i64)..=k as i64)
        .flat_map(|i| (0..=200).map(move |j| i as f64 + e * (j as f64 / 100.0 - 1.0)))
        .map(|x| (eval_plain(x) - (2.0 * PI * x).sin()).abs())
        .fold(0.0, f64::max)
}

#[test]
fn eval_mod_plaintext_model_is_a_sine_near_the_integers() {
    // The toy configuration and N16_BOOT's (q_0/Δ = 2^8: the widest neighbourhoods).
    for ratio in [config(512).log_message_ratio, 8] {
        let c = config(512);
        let m = EvalMod::new(c.k, c.sine_degree, c.double_angle, ratio).unwrap();
        assert_eq!(m.depth(), 8);
        let fitted = worst_near_integers(|x| m.eval_plain(x), c.k, ratio);
        assert!(fitted < 1e-12, "ratio 2^{ratio}: {fitted:e}");
        // Interpolating the same cosine on the whole interval is far less accurate there.
        let k = f64::from(c.k);
        let r = 2f64.powi(c.double_angle as i32);
        let cosine = |t: f64| (2.0 * PI * (k * t - 0.25) / r).cos();
        let interpolant = Chebyshev::interpolate(cosine, -1.0, 1.0, c.sine_degree).unwrap();
        let doubled =
            |x: f64| (0..c.double_angle).fold(interpolant.eval(x / k), |y, _| 2.0 * y * y - 1.0);
        let interpolated = worst_near_integers(doubled, c.k, ratio);
        eprintln!(
            "EvalMod near the integers, q0/Δ = 2^{ratio}: fitted {fitted:.1e}, interpolated {interpolated:.1e}"
        );
        assert!(
            interpolated > 5.0 * fitted,
            "{interpolated:e} vs {fitted:e}"
        );
    }
}

#[test]
fn full_and_sparse_slot_bootstrap_refresh_a_level_zero_ciphertext() {
    let params = toy_params();
    let encoder = Encoder::new(params.clone(), CpuBackend);
    let sparse = 16;
    let boots = [
        Bootstrapper::new(&encoder, config(params.max_slots())).unwrap(),
        Bootstrapper::new(&encoder, config(sparse)).unwrap(),
    ];
    let mut kg = KeyGenerator::new(params.clone(), CpuBackend);
    let sk = kg.secret_key();
    let plain_keys = kg
        .evaluation_keys(
            &sk,
            &boots[0].rotation_keys().keys().copied().collect::<Vec<_>>(),
            true,
        )
        .unwrap();
    let keys = Arc::new(
        kg.bootstrapping_keys(&sk, &[config(params.max_slots()), config(sparse)], &[])
            .unwrap(),
    );
    let mut encryptor = Encryptor::with_secret_key(params.clone(), CpuBackend, sk.clone());
    let decryptor = Decryptor::new(params.clone(), CpuBackend, sk);
    let eval = Evaluator::new(params.clone(), CpuBackend, keys);

    for boot in &boots {
        let slots = boot.config().slots;
        let z = random(slots, 9);
        let ct = encryptor.encrypt(&encoder.encode(&z, 0, params.default_scale()).unwrap());
        let out = eval.bootstrap(&ct, boot).unwrap();
        assert_eq!(out.level(), params.max_level() - boot.depth());
        assert_eq!(out.level(), 2, "two computation levels left");
        assert_eq!(out.scale(), config(slots).output_scale);
        assert_eq!(out.slots(), slots);
        let got = encoder.decode(&decryptor.decrypt(&out));
        let errs: Vec<f64> = got.iter().zip(&z).map(|(g, w)| (g - w).norm()).collect();
        let mean = errs.iter().sum::<f64>() / errs.len() as f64;
        let worst = errs.iter().copied().fold(0.0, f64::max);
        eprintln!(
            "bootstrap N=2^10, {slots} slots: {:.1} bits mean, {:.1} bits worst slot",
            -mean.log2(),
            -worst.log2()
        );
        assert!(
            -mean.log2() >= 22.0,
            "{slots} slots: mean {:.1} bits",
            -mean.log2()
        );
        assert!(
            -worst.log2() >= 20.0,
            "{slots} slots: worst {:.1} bits",
            -worst.log2()
        );
    }
    // Two real ciphertexts refreshed as one complex one.
    let boot = &boots[0];
    let slots = params.max_slots();
    let (x, y): (Vec<f64>, Vec<f64>) = random(slots, 21).iter().map(|z| (z.re, z.im)).unzip();
    let scale = params.default_scale();
    let ca = encryptor.encrypt(&encoder.encode_real(&x, 0, scale).unwrap());
    let cb = encryptor.encrypt(&encoder.encode_real(&y, 0, scale).unwrap());
    let (oa, ob) = eval.bootstrap_real_pair(&ca, &cb, boot).unwrap();
    for (out, want, what) in [(&oa, &x, "a"), (&ob, &y, "b")] {
        assert_eq!(out.scale(), scale);
        assert_eq!(out.level(), 2);
        let got = encoder.decode(&decryptor.decrypt(out));
        let worst = got
            .iter()
            .zip(want)
            .map(|(g, w)| (g - w).norm())
            .fold(0.0, f64::max);
        eprintln!("real pair, {what}: {:.1} bits worst slot", -worst.log2());
        assert!(
            -worst.log2() >= 20.0,
            "pair {what}: {:.1} bits",
            -worst.log2()
        );
    }
    // A ciphertext of another slot count is refused.
    let other = encryptor.encrypt(&encoder.encode(&random(32, 1), 0, 2f64.powi(40)).unwrap());
    assert!(eval.bootstrap(&other, &boots[1]).is_err());
    // Without encapsulation keys, a dense-secret bootstrap is refused rather than wrong.
    let without = Evaluator::new(params.clone(), CpuBackend, Arc::new(plain_keys));
    assert!(matches!(
        without.bootstrap(&oa, boot),
        Err(RuntimeError::MissingEncapsulationKeys)
    ));
}

/// One bootstrapping circuit at the toy set with its keys, encryptor and decryptor.
struct Toy {
    params: Arc<Parameters>,
    encoder: Encoder<CpuBackend>,
    boot: Bootstrapper,
    encryptor: Encryptor<CpuBackend>,
    decryptor: Decryptor<CpuBackend>,
    eval: Evaluator<CpuBackend>,
}

impl Toy {
    /// Full slots, message ratio `2^ratio_bits`.
    fn new(ratio_bits: u32) -> Self {
        let params = toy_params();
        let encoder = Encoder::new(params.clone(), CpuBackend);
        let config = BootstrapConfig {
            log_message_ratio: ratio_bits,
            ..config(params.max_slots())
        };
        let boot = Bootstrapper::new(&encoder, config.clone()).unwrap();
        let mut kg = KeyGenerator::new(params.clone(), CpuBackend);
        let sk = kg.secret_key();
        let keys = Arc::new(kg.bootstrapping_keys(&sk, &[config], &[]).unwrap());
        Self {
            encryptor: Encryptor::with_secret_key(params.clone(), CpuBackend, sk.clone()),
            decryptor: Decryptor::new(params.clone(), CpuBackend, sk),
            eval: Evaluator::new(params.clone(), CpuBackend, keys),
            params,
            encoder,
            boot,
        }
    }

    /// Encrypts `z` at level 0.
    fn encrypt(&mut self, z: &[Complex64]) -> Ciphertext {
        let pt = self
            .encoder
            .encode(z, 0, self.params.default_scale())
            .unwrap();
        self.encryptor.encrypt(&pt)
    }

    fn decrypt(&self, ct: &Ciphertext) -> Vec<Complex64> {
        self.encoder.decode(&self.decryptor.decrypt(ct))
    }
}

/// Each bootstrapping rotation key is made at the highest level a transform rotates by it at, no
/// lower: SlotsToCoeffs' keys sit below EvalMod's levels, so the keys take less memory than
/// top-level ones for the same steps (the refresh test above runs with them).
#[test]
fn bootstrapping_rotation_keys_are_made_at_the_level_they_serve() {
    let params = toy_params();
    let cfg = config(params.max_slots());
    let needed = cfg.rotation_keys(&params).unwrap();
    let top = params.max_level();
    let eval_mod = EvalMod::new(
        cfg.k,
        cfg.sine_degree,
        cfg.double_angle,
        cfg.log_message_ratio,
    );
    let stc_top = top - cfg.cts_budget - eval_mod.unwrap().depth();
    assert!(needed.values().any(|&level| level == top));
    assert!(needed.values().any(|&level| level <= stc_top));
    let mut kg = KeyGenerator::new(params.clone(), CpuBackend);
    let sk = kg.secret_key();
    let keys = kg.bootstrapping_keys(&sk, &[cfg], &[]).unwrap();
    for (&step, &level) in &needed {
        let key = &keys.galois[&galois_element(&params, step)];
        assert!(
            key.level() >= level,
            "step {step}: key level {} < {level}",
            key.level()
        );
    }
    let steps: Vec<i64> = needed.keys().copied().collect();
    let at_top = kg.evaluation_keys(&sk, &steps, true).unwrap();
    let galois_bytes = |k: &EvaluationKeys| k.galois.values().map(|g| g.byte_size()).sum::<usize>();
    assert!(
        galois_bytes(&keys) < galois_bytes(&at_top),
        "{} bytes, {} at the top level",
        galois_bytes(&keys),
        galois_bytes(&at_top)
    );
}

/// Mean `|a − b|` over the slots.
fn mean_error(a: &[Complex64], b: &[Complex64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).norm()).sum::<f64>() / a.len() as f64
}

/// Large inputs: bootstrapping's error is then EvalMod's sine distortion, which
/// `cachemir_ir::bootstrap_sine::apply` predicts slot by slot; what it leaves is the noise floor.
#[test]
fn the_sine_distortion_predicts_the_error_of_large_inputs() {
    let ratio_bits = 8;
    let mut toy = Toy::new(ratio_bits);
    let slots = toy.params.max_slots();
    let amplitude = 8.0;
    let z: Vec<_> = random(slots, 5).iter().map(|v| v * amplitude).collect();
    let ct = toy.encrypt(&z);
    let got = toy.decrypt(&toy.eval.bootstrap(&ct, &toy.boot).unwrap());
    let (ratio, _) = message_ratio(toy.params.q()[0] as f64, ct.scale(), ratio_bits);
    let mut predicted = z.clone();
    bootstrap_sine::apply(&mut predicted, ratio, &Embedding::new(slots));
    let (error, unexplained) = (mean_error(&got, &z), mean_error(&got, &predicted));
    eprintln!(
        "amplitude {amplitude}: error {:.1} bits, {:.1} bits beside the predicted distortion",
        -error.log2(),
        -unexplained.log2()
    );
    assert!(error > 2f64.powi(-20), "the sine distorts: {error:e}");
    assert!(unexplained < error / 64.0, "{unexplained:e} of {error:e}");
}

/// Bootstrapping's error is mostly absolute: a small input boosted by `2^b` before the refresh (and
/// divided after) comes back with the same values and less error, down to the noise the output's
/// own rescalings add (here 28.6 → 32.2 bits at `b = 9`).
#[test]
fn a_boosted_bootstrap_divides_the_error_of_a_small_input() {
    let mut toy = Toy::new(10);
    let slots = toy.params.max_slots();
    let z: Vec<_> = random(slots, 7).iter().map(|v| v / 512.0).collect();
    let ct = toy.encrypt(&z);
    let plain = toy.decrypt(&toy.eval.bootstrap(&ct, &toy.boot).unwrap());
    let out = toy.eval.bootstrap_boosted(&ct, &toy.boot, 9).unwrap();
    assert_eq!(out.scale(), toy.params.default_scale());
    let boosted = toy.decrypt(&out);
    let (before, after) = (mean_error(&plain, &z), mean_error(&boosted, &z));
    eprintln!(
        "amplitude 2^-9: {:.1} bits plain, {:.1} bits boosted by 2^9",
        -before.log2(),
        -after.log2()
    );
    assert!(after < before / 8.0, "{after:e} against {before:e}");
    assert!(toy.eval.bootstrap_boosted(&ct, &toy.boot, 31).is_err());
}

/// The bootstrappable test set the executor's tests use, configured by name.
#[test]
fn the_insecure_bootstrappable_set_refreshes_through_its_named_configuration() {
    let params = Arc::new(Parameters::named("INSECURE_N12_BOOT").unwrap());
    let cfg = BootstrapConfig::for_named_set("INSECURE_N12_BOOT", &params, 64).unwrap();
    // A fresh cache directory: the first run generates and stores the keys, the second reads them.
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("keys-{}", std::process::id()));
    for loaded in [false, true] {
        let report = bench::bench(
            "INSECURE_N12_BOOT",
            params.clone(),
            cfg.clone(),
            1,
            Some(&cache),
            |_| (),
        )
        .unwrap();
        eprintln!("{}", serde_json::to_string(&report).unwrap());
        assert_eq!(report.keys_loaded, loaded);
        assert_eq!(report.levels_left, 9);
        assert!(report.precision_mean_bits >= 20.0, "{report:?}");
        assert!(report.precision_min_bits >= 16.0, "{report:?}");
    }
    // A damaged cache file is regenerated, not trusted.
    for entry in std::fs::read_dir(&cache).unwrap() {
        let path = entry.unwrap().path();
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, bytes).unwrap();
    }
    let report = bench::bench(
        "INSECURE_N12_BOOT",
        params.clone(),
        cfg,
        1,
        Some(&cache),
        |_| (),
    );
    assert!(!report.unwrap().keys_loaded);
    std::fs::remove_dir_all(&cache).unwrap();
    assert!(BootstrapConfig::for_named_set("INSECURE_N12", &params, 64).is_err());
}

/// Timing and key size at a larger insecure set (N = 2^13 by default, `CACHEMIR_BOOT_LOG_N` to
/// change, `CACHEMIR_BOOT_RATIO` for log2(q_0/Δ); dense secret with encapsulation, budgets 3/3). Run with
/// `cargo test --release -p cachemir-runtime --test bootstrap -- --ignored --nocapture`.
#[test]
#[ignore]
fn bootstrap_timing_at_a_larger_insecure_set() {
    let log_n: u32 = std::env::var("CACHEMIR_BOOT_LOG_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(13);
    let lit = ParametersLiteral {
        log_n,
        log_q: [60, 40, 40].into_iter().chain([60; 14]).collect(),
        log_p: vec![61, 61, 61, 61],
        log_default_scale: 40,
        secret: SecretDistribution::Dense,
    };
    let params = Arc::new(Parameters::new(lit).unwrap());
    let slots = params.max_slots();
    let cfg = BootstrapConfig {
        cts_budget: 3,
        stc_budget: 3,
        log_message_ratio: std::env::var("CACHEMIR_BOOT_RATIO")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(10),
        ..config(slots)
    };
    let report = bench::bench(
        &format!("insecure-h32-n{log_n}"),
        params,
        cfg,
        1,
        None,
        |_| (),
    )
    .unwrap();
    println!("{}", serde_json::to_string(&report).unwrap());
    assert_eq!(report.levels_left, 2);
    assert!(report.precision_min_bits >= 18.0, "{report:?}");
}
