//! Micro-benchmarks of the CKKS primitives, as run by `cachemir-run bench primitives`.
//!
//! Each figure is the median over `runs` repetitions, in milliseconds, on the current rayon pool
//! (the CLI builds one with `--threads`). Precision figures are −log2 of the mean absolute slot
//! error against the plaintext result, values uniform in [−1, 1], public-key encryption.

use crate::ckks::{
    params::named_sets, Ciphertext, Decryptor, Encoder, Encryptor, Evaluator, KeyGenerator,
    Parameters, ParametersLiteral,
};
use crate::{Result, RuntimeError};
use cachemir_kernels::{CpuBackend, Sampler};
use serde::Serialize;
use std::sync::Arc;
use std::time::Instant;

/// What to benchmark.
#[derive(Debug, Clone)]
pub struct PrimitivesConfig {
    /// Named parameter set.
    pub params: String,
    /// `(Q limbs, P limbs)` of the benchmarked ciphertexts and keys; `None`: the whole set.
    pub limbs: Option<(usize, usize)>,
    /// Repetitions per operation (the median is reported).
    pub runs: usize,
}

/// Median timings of each primitive, in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct PrimitiveTimings {
    /// Forward NTT of one limb.
    pub ntt_limb_ms: f64,
    /// Ciphertext product with relinearization (no rescale).
    pub mul_relin_ms: f64,
    /// Ciphertext product, tensoring only.
    pub mul_tensor_ms: f64,
    /// Rescale of a degree-1 ciphertext.
    pub rescale_ms: f64,
    /// Product, relinearization and rescale, the last two sharing one ModDown by `P·q_l` (what
    /// programs run).
    pub mul_relin_rescale_ms: f64,
    /// One rotation (one key switch).
    pub rotate_ms: f64,
    /// Eight rotations of one ciphertext with a shared decomposition.
    pub rotate8_hoisted_ms: f64,
    /// Plaintext × ciphertext product.
    pub pt_mul_ms: f64,
    /// Encoding of a full slot vector.
    pub encode_ms: f64,
    /// Public-key encryption of an encoded plaintext.
    pub encrypt_ms: f64,
    /// Decryption and decoding.
    pub decrypt_ms: f64,
    /// Generation of one switching key: one call making the relinearization key and the eight
    /// rotation keys, divided by nine (the rotation keys are made in parallel across threads).
    pub switching_key_ms: f64,
}

/// The JSON object `cachemir-run bench primitives --json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct PrimitivesReport {
    /// Parameter set name.
    pub params: String,
    /// log2 N.
    pub log_n: u32,
    /// rayon threads used.
    pub threads: usize,
    /// Q limbs of the benchmarked ciphertexts.
    pub q_limbs: usize,
    /// P limbs of the keys.
    pub p_limbs: usize,
    /// log2(QP) of the benchmarked shape.
    pub log_qp: f64,
    /// Key-switching digits at the top level (`runtime::ckks::params::digit_size`).
    pub dnum: usize,
    /// Median timings.
    pub ops: PrimitiveTimings,
    /// Precision of mul + relinearize + rescale, fused (bits, mean error).
    pub mul_precision_bits: f64,
    /// Precision of one rotation (bits, mean error).
    pub rotate_precision_bits: f64,
}

/// The literal of the benchmarked shape: the set's first `q` Q primes and `p` P primes (repeating the
/// set's last P size if more are asked).
pub fn shape_literal(name: &str, limbs: Option<(usize, usize)>) -> Result<ParametersLiteral> {
    let sets = named_sets();
    let base = sets
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, l)| l.clone())
        .ok_or_else(|| RuntimeError::UnknownParameterSet {
            name: name.to_string(),
            known: sets.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
        })?;
    let Some((q, p)) = limbs else { return Ok(base) };
    if q == 0 || q > base.log_q.len() || p == 0 || p > 64 {
        return Err(RuntimeError::InvalidParameters {
            reason: format!(
                "--limbs {q}+{p}: the set has {} Q limbs; need 1..={} Q and 1..=64 P",
                base.log_q.len(),
                base.log_q.len()
            ),
        });
    }
    let last_p = *base.log_p.last().expect("sets have P primes");
    let log_p = (0..p)
        .map(|i| base.log_p.get(i).copied().unwrap_or(last_p))
        .collect();
    Ok(ParametersLiteral {
        log_q: base.log_q[..q].to_vec(),
        log_p,
        ..base
    })
}

fn median_ms(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..runs.max(1))
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn mean_bits(got: &[num_complex::Complex64], expect: &[f64]) -> f64 {
    let mean = got
        .iter()
        .zip(expect)
        .map(|(g, e)| (g - e).norm())
        .sum::<f64>()
        / expect.len() as f64;
    -mean.log2()
}

/// Runs the benchmark; `progress` is called with a short description before each phase.
pub fn primitives(
    config: &PrimitivesConfig,
    mut progress: impl FnMut(&str),
) -> Result<PrimitivesReport> {
    progress("building parameters");
    let literal = shape_literal(&config.params, config.limbs)?;
    let params = Arc::new(Parameters::new(literal)?);
    let backend = CpuBackend;
    let ring = params.ring().clone();
    let runs = config.runs;
    let slots = params.max_slots();
    let top = params.max_level();
    // Inputs at sqrt(q_top · Δ), so a product rescaled by the top prime lands at the default scale
    // (the top primes of `N16_BOOT` are 56-bit bootstrapping primes, not 45-bit scaling primes).
    let scale = (params.q()[top] as f64 * params.default_scale()).sqrt();

    progress("generating keys (relinearization, 8 rotations)");
    let mut kg = KeyGenerator::new(params.clone(), backend);
    let sk = kg.secret_key();
    let pk = kg.public_key(&sk);
    let steps: Vec<i64> = (1..=8).collect();
    let started = Instant::now();
    let keys = Arc::new(kg.evaluation_keys(&sk, &steps, false)?);
    let switching_key_ms = started.elapsed().as_secs_f64() * 1e3 / (steps.len() + 1) as f64;
    let encoder = Encoder::new(params.clone(), backend);
    let mut encryptor = Encryptor::new(params.clone(), backend, pk);
    let decryptor = Decryptor::new(params.clone(), backend, sk);
    let eval = Evaluator::new(params.clone(), backend, keys);

    let mut sampler = Sampler::from_os();
    let (x, y) = (
        sampler.uniform_reals(slots, -1.0, 1.0),
        sampler.uniform_reals(slots, -1.0, 1.0),
    );

    progress("timing");
    let mut limb = sampler.uniform(&ring, &[0]).limb(0).to_vec();
    let ntt_limb_ms = median_ms(runs * 4, || ring.ntt(0).forward(&mut limb));
    let mut pt = encoder.encode_real(&x, top, scale)?;
    let encode_ms = median_ms(runs, || {
        pt = encoder.encode_real(&x, top, scale).expect("valid slots")
    });
    let mut cx: Ciphertext = encryptor.encrypt(&pt);
    let encrypt_ms = median_ms(runs, || cx = encryptor.encrypt(&pt));
    let cy = encryptor.encrypt(&encoder.encode_real(&y, top, scale)?);
    let decrypt_ms = median_ms(runs, || {
        std::hint::black_box(encoder.decode(&decryptor.decrypt(&cx)));
    });
    let pt_mul_ms = median_ms(runs, || {
        std::hint::black_box(eval.mul_plain(&cx, &pt).expect("same level"));
    });
    let mul_tensor_ms = median_ms(runs, || {
        std::hint::black_box(eval.mul(&cx, &cy).expect("same level"));
    });
    let mut product = eval.mul_relin(&cx, &cy)?;
    let mul_relin_ms = median_ms(runs, || {
        product = eval.mul_relin(&cx, &cy).expect("same level")
    });
    let rescale_ms = median_ms(runs, || {
        std::hint::black_box(eval.rescale(&product).expect("level > 0"));
    });
    let mut rescaled = eval.mul_relin_rescale(&cx, &cy)?;
    let mul_relin_rescale_ms = median_ms(runs, || {
        rescaled = eval.mul_relin_rescale(&cx, &cy).expect("level > 0")
    });
    let mut rotated = eval.rotate(&cx, 1)?;
    let rotate_ms = median_ms(runs, || rotated = eval.rotate(&cx, 1).expect("key present"));
    let rotate8_hoisted_ms = median_ms(runs, || {
        std::hint::black_box(eval.rotate_hoisted(&cx, &steps).expect("keys present"));
    });

    progress("measuring precision");
    let xy: Vec<f64> = x.iter().zip(&y).map(|(a, b)| a * b).collect();
    let mul_precision_bits = mean_bits(&encoder.decode(&decryptor.decrypt(&rescaled)), &xy);
    let x_rot: Vec<f64> = (0..slots).map(|i| x[(i + 1) % slots]).collect();
    let rotate_precision_bits = mean_bits(&encoder.decode(&decryptor.decrypt(&rotated)), &x_rot);

    Ok(PrimitivesReport {
        params: config.params.clone(),
        log_n: params.log_n(),
        threads: rayon::current_num_threads(),
        q_limbs: params.q().len(),
        p_limbs: params.p().len(),
        log_qp: params.log_qp(),
        dnum: params.dnum(),
        ops: PrimitiveTimings {
            ntt_limb_ms,
            mul_relin_ms,
            mul_tensor_ms,
            rescale_ms,
            mul_relin_rescale_ms,
            rotate_ms,
            rotate8_hoisted_ms,
            pt_mul_ms,
            encode_ms,
            encrypt_ms,
            decrypt_ms,
            switching_key_ms,
        },
        mul_precision_bits,
        rotate_precision_bits,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_runs_at_a_small_shape_and_reports_sane_precision() {
        let config = PrimitivesConfig {
            params: "INSECURE_N12".into(),
            limbs: Some((4, 2)),
            runs: 1,
        };
        let r = primitives(&config, |_| {}).unwrap();
        assert_eq!((r.q_limbs, r.p_limbs, r.log_n), (4, 2, 12));
        assert!(
            r.mul_precision_bits > 20.0 && r.rotate_precision_bits > 20.0,
            "{r:?}"
        );
        assert!(shape_literal("INSECURE_N12", Some((30, 2))).is_err());
        assert!(shape_literal("nope", None).is_err());
    }
}
