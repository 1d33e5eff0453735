//! Criterion benches of the CKKS primitives at the secure N = 2^16 set (`N16_BOOT`), at the shape
//! bootstrapping works at (25 Q + 5 P limbs) and at 10 + 5 limbs, on one thread:
//!
//! `cargo bench -p cachemir-runtime --bench ckks`
//!
//! For a one-shot JSON summary use `cachemir-run bench primitives --limbs 25+5 --threads 1 --json`.

use cachemir_kernels::{CpuBackend, Sampler};
use cachemir_runtime::bench::shape_literal;
use cachemir_runtime::ckks::{Encoder, Encryptor, Evaluator, KeyGenerator, Parameters};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::sync::Arc;

fn primitives(c: &mut Criterion) {
    // One thread, like the reference figures (ignore the error if a pool already exists).
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build_global();
    for (q, p) in [(25, 5), (10, 5)] {
        let params =
            Arc::new(Parameters::new(shape_literal("N16_BOOT", Some((q, p))).unwrap()).unwrap());
        let shape = format!("{q}+{p}");
        let mut kg = KeyGenerator::new(params.clone(), CpuBackend);
        let sk = kg.secret_key();
        let steps: Vec<i64> = (1..=8).collect();
        let keys = Arc::new(kg.evaluation_keys(&sk, &steps, false).unwrap());
        let encoder = Encoder::new(params.clone(), CpuBackend);
        let mut encryptor = Encryptor::with_secret_key(params.clone(), CpuBackend, sk);
        let eval = Evaluator::new(params.clone(), CpuBackend, keys);
        let values: Vec<f64> = (0..params.max_slots()).map(|i| (i as f64).sin()).collect();
        let pt = encoder
            .encode_real(&values, params.max_level(), params.default_scale())
            .unwrap();
        let (x, y) = (encryptor.encrypt(&pt), encryptor.encrypt(&pt));
        let product = eval.mul_relin(&x, &y).unwrap();
        let ring = params.ring().clone();
        let mut limb = Sampler::from_os().uniform(&ring, &[0]).limb(0).to_vec();

        let mut group = c.benchmark_group(format!("ckks-n16-{shape}"));
        group.sample_size(10);
        group.bench_function("ntt_limb", |b| b.iter(|| ring.ntt(0).forward(&mut limb)));
        group.bench_function("mul_tensor", |b| b.iter(|| eval.mul(&x, &y).unwrap()));
        group.bench_function("mul_relin", |b| b.iter(|| eval.mul_relin(&x, &y).unwrap()));
        group.bench_function("rescale", |b| b.iter(|| eval.rescale(&product).unwrap()));
        group.bench_function("rotate", |b| b.iter(|| eval.rotate(&x, 1).unwrap()));
        group.bench_with_input(BenchmarkId::new("rotate_hoisted", 8), &steps, |b, s| {
            b.iter(|| eval.rotate_hoisted(&x, s).unwrap())
        });
        group.finish();
    }
}

criterion_group!(benches, primitives);
criterion_main!(benches);
