//! Criterion bench of the per-limb NTT at N = 2^16 on every vector path this CPU runs, side by side
//! with `tfhe-ntt`'s `prime64` plan on the same primes (the sizes `N16_BOOT` uses: 42 and 45 bits
//! take AVX-512's IFMA product, 56–61 bits its 64-bit one), one limb hot in cache:
//!
//! `cargo bench -p cachemir-kernels --bench ntt`

use cachemir_kernels::{primes::ntt_primes, NttTable, Simd};
use criterion::{criterion_group, criterion_main, Criterion};

fn ntt(c: &mut Criterion) {
    let n = 1 << 16;
    for bits in [42, 45, 56, 60, 61] {
        let q = ntt_primes(16, &[bits], &[]).expect("N16_BOOT's prime sizes exist")[0];
        let theirs = tfhe_ntt::prime64::Plan::try_new(n, q).expect("an NTT-friendly prime");
        let mut limb: Vec<u64> = (0..n as u64)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % q)
            .collect();
        let mut group = c.benchmark_group(format!("ntt-n16-q{bits}"));
        for simd in Simd::supported() {
            let ours = NttTable::with_simd(n, q, simd).expect("a supported path");
            group.bench_function(format!("{}_forward", simd.name()), |b| {
                b.iter(|| ours.forward(&mut limb))
            });
            group.bench_function(format!("{}_inverse", simd.name()), |b| {
                b.iter(|| ours.inverse(&mut limb))
            });
        }
        group.bench_function("tfhe_ntt_forward", |b| b.iter(|| theirs.fwd(&mut limb)));
        group.bench_function("tfhe_ntt_inverse_normalized", |b| {
            b.iter(|| {
                theirs.inv(&mut limb);
                theirs.normalize(&mut limb);
            })
        });
        group.finish();
    }
}

criterion_group!(benches, ntt);
criterion_main!(benches);
