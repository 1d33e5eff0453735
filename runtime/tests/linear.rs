//! BSGS linear transforms against a naive dense matrix-vector product, at `INSECURE_N12`
//! (N = 2^12, scale 2^40). Precision is −log2 of the worst slot error; entries are uniform in the
//! complex unit square, scaled by 1/(number of diagonals) so outputs stay in [−1, 1]-ish.

use cachemir_runtime::ckks::linear::LinearTransform;
use cachemir_runtime::ckks::{Ciphertext, Parameters};
use cachemir_runtime::RuntimeError;
use num_complex::Complex64;
mod support;

use support::{random_complex as random, Ctx};

/// The dense matrix with `M[i][(i + k) mod n] = d_k[i]`, and `M·x` the schoolbook way.
fn naive(n: usize, diagonals: &[(i64, Vec<Complex64>)], x: &[Complex64]) -> Vec<Complex64> {
    let mut m = vec![vec![Complex64::new(0.0, 0.0); n]; n];
    for (k, d) in diagonals {
        for i in 0..n {
            m[i][(i as i64 + k).rem_euclid(n as i64) as usize] += d[i];
        }
    }
    m.iter()
        .map(|row| row.iter().zip(x).map(|(a, b)| a * b).sum())
        .collect()
}

impl Ctx {
    fn encrypt(&mut self, z: &[Complex64]) -> Ciphertext {
        let pt = self
            .encoder
            .encode(z, self.params.max_level(), self.params.default_scale())
            .unwrap();
        self.encryptor.encrypt(&pt)
    }

    fn bits(&self, ct: &Ciphertext, want: &[Complex64]) -> f64 {
        let got = self.encoder.decode(&self.decryptor.decrypt(ct));
        assert_eq!(got.len(), want.len());
        let err = got
            .iter()
            .zip(want)
            .map(|(g, w)| (g - w).norm())
            .fold(0.0, f64::max);
        -err.log2()
    }
}

fn diagonals(n: usize, ks: &[i64], seed: u64) -> Vec<(i64, Vec<Complex64>)> {
    let scale = 1.0 / ks.len() as f64;
    ks.iter()
        .enumerate()
        .map(|(t, &k)| {
            let d = random(n, seed + t as u64)
                .iter()
                .map(|z| z * scale)
                .collect();
            (k, d)
        })
        .collect()
}

#[test]
fn banded_and_scattered_diagonals_at_full_slots() {
    let n = 2048;
    let ks: Vec<i64> = (0..16).chain([100, -3, 1000]).collect();
    let diags = diagonals(n, &ks, 10);
    let x = random(n, 1);
    for giant in [None, Some(8)] {
        let lt = LinearTransform::new(n, diags.clone(), giant).unwrap();
        let steps = lt.rotation_steps();
        match giant {
            // A giant rotation weighs 4 baby ones: 18 baby steps (cost 18) beat g = 8's 7 baby
            // and 4 giant steps (7 + 4·4 = 23).
            None => assert_eq!((lt.giant(), steps.len()), (n, 18), "{steps:?}"),
            // BSGS: fewer rotation keys than non-zero diagonals (18 besides k = 0).
            Some(_) => assert_eq!(steps, vec![1, 2, 3, 4, 5, 6, 7, 8, 96, 1000, 2040]),
        }
        let mut c = Ctx::new(Parameters::named("INSECURE_N12").unwrap(), &steps, false);
        let ct = c.encrypt(&x);
        let encoded = lt.encode(&c.encoder, ct.level()).unwrap();
        let out = c.eval.linear_transform(&ct, &encoded).unwrap();
        assert_eq!(out.level(), ct.level() - 1);
        assert_eq!(out.scale(), ct.scale());
        let bits = c.bits(&out, &naive(n, &diags, &x));
        eprintln!(
            "full slots, {} diagonals, g = {}, {} keys: {bits:.1} bits",
            ks.len(),
            lt.giant(),
            steps.len()
        );
        assert!(bits >= 22.0, "{bits:.1} bits");
    }
}

#[test]
fn dense_matrix_at_sparse_slots_and_forced_giant_step() {
    let n = 64;
    let matrix: Vec<Vec<Complex64>> = (0..n)
        .map(|i| {
            random(n, 500 + i as u64)
                .iter()
                .map(|z| z / n as f64)
                .collect()
        })
        .collect();
    let x = random(n, 2);
    let want: Vec<Complex64> = matrix
        .iter()
        .map(|row| row.iter().zip(&x).map(|(a, b)| a * b).sum())
        .collect();
    for giant in [None, Some(2)] {
        let lt = LinearTransform::from_dense(&matrix, giant).unwrap();
        assert_eq!(lt.diagonal_indices().count(), n);
        let steps = lt.rotation_steps();
        if giant.is_none() {
            // All 64 diagonals: g = 16 needs 15 baby + 3 giant rotations (cost 15 + 3·4 = 27;
            // g = 8 costs 7 + 7·4 = 35, g = 32 costs 31 + 4).
            assert_eq!((lt.giant(), steps.len()), (16, 18));
        }
        let mut c = Ctx::new(Parameters::named("INSECURE_N12").unwrap(), &steps, false);
        let ct = c.encrypt(&x);
        let encoded = lt.encode(&c.encoder, ct.level()).unwrap();
        let out = c.eval.linear_transform(&ct, &encoded).unwrap();
        let bits = c.bits(&out, &want);
        assert!(bits >= 22.0, "giant {giant:?}: {bits:.1} bits");
    }
}

#[test]
fn main_diagonal_only_and_the_zero_matrix() {
    let n = 64;
    let diags = diagonals(n, &[0], 3);
    let x = random(n, 4);
    let mut c = Ctx::new(Parameters::named("INSECURE_N12").unwrap(), &[], false);
    let ct = c.encrypt(&x);
    let lt = LinearTransform::new(n, diags.clone(), None).unwrap();
    assert!(lt.rotation_steps().is_empty());
    let encoded = lt.encode(&c.encoder, ct.level()).unwrap();
    let out = c.eval.linear_transform(&ct, &encoded).unwrap();
    let bits = c.bits(&out, &naive(n, &diags, &x));
    assert!(bits >= 22.0, "main diagonal: {bits:.1} bits");
    let zero = LinearTransform::new(n, Vec::new(), None).unwrap();
    let encoded = zero.encode(&c.encoder, ct.level()).unwrap();
    let out = c.eval.linear_transform(&ct, &encoded).unwrap();
    assert_eq!((out.level(), out.scale()), (ct.level() - 1, ct.scale()));
    let bits = c.bits(&out, &vec![Complex64::new(0.0, 0.0); n]);
    assert!(bits >= 22.0, "zero matrix: {bits:.1} bits");
}

#[test]
fn errors_are_typed() {
    let n = 16;
    let diags = diagonals(n, &[0, 1, 5], 3);
    let lt = LinearTransform::new(n, diags.clone(), Some(4)).unwrap();
    assert_eq!(lt.rotation_steps(), vec![1, 4]);
    // Keys for step 1 only: the giant rotation by 4 is missing.
    let mut c = Ctx::new(Parameters::named("INSECURE_N12").unwrap(), &[1], false);
    let ct = c.encrypt(&random(n, 4));
    let encoded = lt.encode(&c.encoder, ct.level()).unwrap();
    assert!(matches!(
        c.eval.linear_transform(&ct, &encoded),
        Err(RuntimeError::MissingRotationKey { step: 4, .. })
    ));
    let low = c.eval.drop_to_level(&ct, 3).unwrap();
    assert!(matches!(
        c.eval.linear_transform(&low, &encoded),
        Err(RuntimeError::LevelMismatch { .. })
    ));
    let other = c.encrypt(&random(2 * n, 5));
    assert!(matches!(
        c.eval.linear_transform(&other, &encoded),
        Err(RuntimeError::SlotMismatch { .. })
    ));
    assert!(LinearTransform::new(n, vec![(0, vec![Complex64::new(1.0, 0.0); 3])], None).is_err());
    assert!(LinearTransform::new(n, diags.clone(), Some(3)).is_err());
    assert!(LinearTransform::new(12, Vec::new(), None).is_err());
    assert!(
        LinearTransform::new(n, vec![diags[0].clone(), (16, diags[0].1.clone())], None).is_err()
    );
}
