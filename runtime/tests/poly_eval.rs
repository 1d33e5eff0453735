//! Encrypted Chebyshev evaluation against an independent plaintext reference
//! (`T_k(x) = cos(k·arccos x)`), at an insecure N = 2^12 set with 12 levels of 40-bit primes
//! (scale 2^40). Precision is −log2 of the worst slot error over 2048 slots.

use cachemir_runtime::approx::Chebyshev;
use cachemir_runtime::ckks::poly_eval::{chebyshev_depth, PowerBasis};
use cachemir_runtime::ckks::Ciphertext;
use cachemir_runtime::RuntimeError;
mod support;

use support::{deep_n12, uniform, Ctx};

/// The reference: Σ c_k cos(k·arccos u), u the point mapped onto [−1, 1].
fn reference(coeffs: &[f64], a: f64, b: f64, x: f64) -> f64 {
    let u = ((2.0 * x - a - b) / (b - a)).clamp(-1.0, 1.0);
    let theta = u.acos();
    coeffs
        .iter()
        .enumerate()
        .map(|(k, c)| c * (k as f64 * theta).cos())
        .sum()
}

impl Ctx {
    fn encrypt(&mut self, x: &[f64]) -> Ciphertext {
        let pt = self
            .encoder
            .encode_real(x, self.params.max_level(), self.params.default_scale())
            .unwrap();
        self.encryptor.encrypt(&pt)
    }

    /// Worst-slot bits of precision of `ct` against `want`.
    fn bits(&self, ct: &Ciphertext, want: &[f64]) -> f64 {
        let got = self.encoder.decode(&self.decryptor.decrypt(ct));
        let err = got
            .iter()
            .zip(want)
            .map(|(g, w)| (g.re - w).abs().max(g.im.abs()))
            .fold(0.0, f64::max);
        -err.log2()
    }
}

#[test]
fn random_polynomials_consume_exactly_log_degree_levels() {
    let mut c = Ctx::new(deep_n12(), &[], false);
    let slots = c.params.max_slots();
    let x = uniform(slots, -1.0, 1.0, 1);
    let ct = c.encrypt(&x);
    let target = c.params.default_scale();
    for (degree, min_bits) in [
        (1, 25.0),
        (2, 25.0),
        (3, 25.0),
        (7, 24.0),
        (8, 24.0),
        (15, 23.0),
        (31, 22.0),
        (63, 21.0),
    ] {
        // Coefficients decaying like a smooth function's: |c_k| ≤ 1/(k+1).
        let coeffs: Vec<f64> = uniform(degree + 1, -1.0, 1.0, 100 + degree as u64)
            .iter()
            .enumerate()
            .map(|(k, v)| v / (k + 1) as f64)
            .collect();
        let mut basis = PowerBasis::new(ct.clone());
        let (out, stats) = c
            .eval
            .evaluate_chebyshev_basis(&mut basis, &coeffs, target)
            .unwrap();
        // The cost model counts the same ciphertext products.
        assert_eq!(
            stats.basis_products + stats.tree_products,
            cachemir_ir::cost::poly_products(coeffs.len()),
            "degree {degree}: {stats:?}"
        );
        let depth = chebyshev_depth(degree, true);
        assert_eq!(depth, (degree as f64 + 1.0).log2().ceil() as usize);
        assert_eq!(ct.level() - out.level(), depth, "degree {degree}");
        assert_eq!(out.scale(), target, "degree {degree}: output scale");
        let want: Vec<f64> = x
            .iter()
            .map(|&v| reference(&coeffs, -1.0, 1.0, v))
            .collect();
        let bits = c.bits(&out, &want);
        eprintln!("degree {degree}: {bits:.1} bits, depth {depth}");
        assert!(
            bits >= min_bits,
            "degree {degree}: {bits:.1} bits < {min_bits}"
        );
    }
}

#[test]
fn interval_map_costs_one_level_and_odd_polynomials_skip_even_powers() {
    let mut c = Ctx::new(deep_n12(), &[], false);
    let slots = c.params.max_slots();
    let (a, b) = (-3.0, 5.0);
    let x = uniform(slots, a, b, 2);
    let ct = c.encrypt(&x);
    let poly = Chebyshev::interpolate(|t| (t / 2.0).sin(), a, b, 15).unwrap();
    let out = c
        .eval
        .evaluate_chebyshev(&ct, &poly, c.params.default_scale())
        .unwrap();
    assert_eq!(ct.level() - out.level(), chebyshev_depth(15, false));
    assert_eq!(chebyshev_depth(15, false), 5);
    let want: Vec<f64> = x
        .iter()
        .map(|&v| reference(poly.coeffs(), a, b, v))
        .collect();
    let bits = c.bits(&out, &want);
    assert!(bits >= 21.0, "{bits:.1} bits");

    // An odd polynomial on [−1, 1] (only odd coefficients): the power basis skips even baby steps.
    let xs = uniform(slots, -1.0, 1.0, 3);
    let cts = c.encrypt(&xs);
    let odd: Vec<f64> = (0..32)
        .map(|k| if k % 2 == 1 { 1.0 / k as f64 } else { 0.0 })
        .collect();
    let full: Vec<f64> = (0..32).map(|k| 1.0 / (k + 1) as f64).collect();
    let mut odd_basis = PowerBasis::new(cts.clone());
    let (odd_ct, odd_stats) = c
        .eval
        .evaluate_chebyshev_basis(&mut odd_basis, &odd, c.params.default_scale())
        .unwrap();
    let mut full_basis = PowerBasis::new(cts.clone());
    let (_, full_stats) = c
        .eval
        .evaluate_chebyshev_basis(&mut full_basis, &full, c.params.default_scale())
        .unwrap();
    assert!(odd_basis.get(2).is_some() && odd_basis.get(6).is_none());
    assert!(
        odd_stats.basis_products < full_stats.basis_products,
        "{odd_stats:?} vs {full_stats:?}"
    );
    eprintln!("odd {odd_stats:?}, full {full_stats:?}");
    // Baby-step giant-step: far fewer products than the 31 of Horner/Clenshaw.
    assert!(
        full_stats.basis_products + full_stats.tree_products <= 16,
        "{full_stats:?}"
    );
    let want: Vec<f64> = xs.iter().map(|&v| reference(&odd, -1.0, 1.0, v)).collect();
    let bits = c.bits(&odd_ct, &want);
    assert!(bits >= 21.0, "odd: {bits:.1} bits");
}

#[test]
fn shared_basis_and_too_few_levels() {
    let mut c = Ctx::new(deep_n12(), &[], false);
    let slots = c.params.max_slots();
    let x = uniform(slots, -1.0, 1.0, 4);
    let ct = c.encrypt(&x);
    // Two polynomials on one basis: the second reuses the first's powers.
    let mut basis = PowerBasis::new(ct.clone());
    let p1: Vec<f64> = (0..16).map(|k| 0.5f64.powi(k)).collect();
    let p2: Vec<f64> = (0..16).map(|k| (-0.5f64).powi(k)).collect();
    let scale = c.params.default_scale();
    let (o1, s1) = c
        .eval
        .evaluate_chebyshev_basis(&mut basis, &p1, scale)
        .unwrap();
    let (o2, s2) = c
        .eval
        .evaluate_chebyshev_basis(&mut basis, &p2, scale)
        .unwrap();
    assert!(
        s1.basis_products > 0 && s2.basis_products == 0,
        "{s1:?} {s2:?}"
    );
    for (out, p) in [(o1, &p1), (o2, &p2)] {
        let want: Vec<f64> = x.iter().map(|&v| reference(p, -1.0, 1.0, v)).collect();
        assert!(c.bits(&out, &want) >= 21.0);
    }
    // Level 2 cannot host a degree-7 polynomial (depth 3): a typed error, no panic.
    let low = c.eval.drop_to_level(&ct, 2).unwrap();
    let poly = Chebyshev::from_coeffs(vec![0.1; 8], -1.0, 1.0).unwrap();
    assert!(matches!(
        c.eval.evaluate_chebyshev(&low, &poly, scale),
        Err(RuntimeError::LevelTooLow { .. })
    ));
}
