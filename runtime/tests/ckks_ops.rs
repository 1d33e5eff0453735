//! Every CKKS operation against plaintext arithmetic on the slots, at the insecure test set
//! `INSECURE_N12` (N = 2^12, scale 2^40). Each test states its tolerance in bits of precision:
//! −log2 of the largest slot error, values uniform in [−1, 1] (real and imaginary parts). Fresh
//! public-key encryptions at this size measure about 24 bits worst-slot (27 mean), secret-key ones
//! about 29; thresholds leave ~2 bits of margin.

use cachemir_kernels::CpuBackend;
use cachemir_runtime::ckks::{Ciphertext, Encryptor, Evaluator, KeyGenerator, Parameters};
use cachemir_runtime::RuntimeError;
use num_complex::Complex64;

mod support;

use support::{random_complex as random, Ctx};

const ROTATIONS: [i64; 5] = [1, 2, -1, 5, 100];

impl Ctx {
    fn encrypt(&mut self, z: &[Complex64], level: usize) -> Ciphertext {
        let pt = self
            .encoder
            .encode(z, level, self.params.default_scale())
            .unwrap();
        self.encryptor.encrypt(&pt)
    }

    fn decrypt(&self, ct: &Ciphertext) -> Vec<Complex64> {
        self.encoder.decode(&self.decryptor.decrypt(ct))
    }

    /// Bits of precision of `ct` against `expect`, asserted ≥ `min_bits`.
    fn assert_bits(&self, what: &str, ct: &Ciphertext, expect: &[Complex64], min_bits: f64) {
        let got = self.decrypt(ct);
        assert_eq!(got.len(), expect.len(), "{what}: slot count");
        let err = got
            .iter()
            .zip(expect)
            .map(|(a, b)| (a - b).norm())
            .fold(0.0, f64::max);
        let bits = -err.log2();
        assert!(bits >= min_bits, "{what}: {bits:.1} bits < {min_bits}");
    }
}

fn slot_map(a: &[Complex64], f: impl Fn(usize) -> Complex64) -> Vec<Complex64> {
    (0..a.len()).map(f).collect()
}

#[test]
fn encrypt_decrypt_and_additive_ops() {
    let mut c = Ctx::new(Parameters::named("INSECURE_N12").unwrap(), &ROTATIONS, true);
    let slots = c.params.max_slots();
    let (x, y) = (random(slots, 1), random(slots, 2));
    let top = c.params.max_level();
    let (cx, cy) = (c.encrypt(&x, top), c.encrypt(&y, top));
    // The context encrypts with the secret key; the public-key path has √N times more noise.
    c.assert_bits("secret-key encrypt", &cx, &x, 26.0);
    let pk = KeyGenerator::new(c.params.clone(), CpuBackend).public_key(&c.secret);
    let pt = c.encoder.encode(&x, top, c.params.default_scale()).unwrap();
    let public_ct = Encryptor::new(c.params.clone(), CpuBackend, pk).encrypt(&pt);
    c.assert_bits("public-key encrypt", &public_ct, &x, 22.0);
    c.assert_bits(
        "add",
        &c.eval.add(&cx, &cy).unwrap(),
        &slot_map(&x, |i| x[i] + y[i]),
        22.0,
    );
    c.assert_bits(
        "sub",
        &c.eval.sub(&cx, &cy).unwrap(),
        &slot_map(&x, |i| x[i] - y[i]),
        22.0,
    );
    c.assert_bits("neg", &c.eval.neg(&cx), &slot_map(&x, |i| -x[i]), 22.0);
    let py = c.encoder.encode(&y, top, c.params.default_scale()).unwrap();
    c.assert_bits(
        "add_plain",
        &c.eval.add_plain(&cx, &py).unwrap(),
        &slot_map(&x, |i| x[i] + y[i]),
        22.0,
    );
    c.assert_bits(
        "sub_plain",
        &c.eval.sub_plain(&cx, &py).unwrap(),
        &slot_map(&x, |i| x[i] - y[i]),
        22.0,
    );
    let k = Complex64::new(0.75, -0.3);
    c.assert_bits(
        "add_const",
        &c.eval.add_const(&cx, k).unwrap(),
        &slot_map(&x, |i| x[i] + k),
        22.0,
    );
    c.assert_bits(
        "mul_int",
        &c.eval.mul_int(&cx, -3),
        &slot_map(&x, |i| x[i] * -3.0),
        21.0,
    );
    let dropped = c.eval.drop_to_level(&cx, 2).unwrap();
    assert_eq!(dropped.level(), 2);
    c.assert_bits("drop_to_level", &dropped, &x, 22.0);
}

#[test]
fn multiplicative_ops_with_rescale() {
    let mut c = Ctx::new(Parameters::named("INSECURE_N12").unwrap(), &ROTATIONS, true);
    let slots = c.params.max_slots();
    let (x, y) = (random(slots, 3), random(slots, 4));
    let top = c.params.max_level();
    let (cx, cy) = (c.encrypt(&x, top), c.encrypt(&y, top));
    let xy = slot_map(&x, |i| x[i] * y[i]);

    let product = c.eval.mul_relin(&cx, &cy).unwrap();
    assert_eq!(product.degree(), 1);
    let rescaled = c.eval.rescale(&product).unwrap();
    assert_eq!(rescaled.level(), top - 1);
    c.assert_bits("mul_relin + rescale", &rescaled, &xy, 19.0);
    // The degree-2 product decrypts correctly before relinearization too.
    c.assert_bits(
        "mul (degree 2)",
        &c.eval.rescale(&c.eval.mul(&cx, &cy).unwrap()).unwrap(),
        &xy,
        19.0,
    );

    let py = c.encoder.encode(&y, top, c.params.default_scale()).unwrap();
    c.assert_bits(
        "mul_plain + rescale",
        &c.eval
            .rescale(&c.eval.mul_plain(&cx, &py).unwrap())
            .unwrap(),
        &xy,
        19.0,
    );

    let mc = c
        .eval
        .rescale(&c.eval.mul_const(&cx, -1.625).unwrap())
        .unwrap();
    assert!(
        (mc.scale() / cx.scale() - 1.0).abs() < 1e-12,
        "mul_const + rescale keeps the scale"
    );
    c.assert_bits(
        "mul_const + rescale",
        &mc,
        &slot_map(&x, |i| x[i] * -1.625),
        19.0,
    );

    // Relinearization and rescale fused (one ModDown by P·q_l): same level and scale as the two
    // steps, same precision.
    let fused = c.eval.mul_relin_rescale(&cx, &cy).unwrap();
    assert_eq!((fused.level(), fused.degree()), (top - 1, 1));
    assert!((fused.scale() / rescaled.scale() - 1.0).abs() < 1e-12);
    c.assert_bits("mul_relin_rescale", &fused, &xy, 19.0);

    // A chain of squarings through every level, both ways: x^(2^k) stays accurate on |x| ≤ 1.
    let unit: Vec<Complex64> = x.iter().map(|v| v / 2f64.sqrt()).collect();
    let (mut acc, mut acc_fused) = (c.encrypt(&unit, top), c.encrypt(&unit, top));
    let mut expect = unit;
    for level in (0..top).rev() {
        acc = c
            .eval
            .rescale(&c.eval.mul_relin(&acc, &acc).unwrap())
            .unwrap();
        acc_fused = c.eval.mul_relin_rescale(&acc_fused, &acc_fused).unwrap();
        expect.iter_mut().for_each(|v| *v = *v * *v);
        assert_eq!((acc.level(), acc_fused.level()), (level, level));
    }
    c.assert_bits("squaring chain to level 0", &acc, &expect, 14.0);
    c.assert_bits("fused squaring chain to level 0", &acc_fused, &expect, 14.0);
    assert!(
        matches!(
            c.eval.mul_relin_rescale(&acc_fused, &acc_fused),
            Err(RuntimeError::LevelTooLow { .. })
        ),
        "no rescale below level 0"
    );
}

#[test]
fn rotations_conjugation_and_hoisting() {
    let mut c = Ctx::new(Parameters::named("INSECURE_N12").unwrap(), &ROTATIONS, true);
    for slots in [c.params.max_slots(), 256, 8] {
        let x = random(slots, slots as u64);
        let cx = c.encrypt(&x, 3);
        for &step in &ROTATIONS {
            let expect = slot_map(&x, |i| {
                x[(i as i64 + step).rem_euclid(slots as i64) as usize]
            });
            c.assert_bits(
                &format!("rotate {step} over {slots} slots"),
                &c.eval.rotate(&cx, step).unwrap(),
                &expect,
                20.0,
            );
        }
        let hoisted = c.eval.rotate_hoisted(&cx, &ROTATIONS).unwrap();
        for (ct, &step) in hoisted.iter().zip(&ROTATIONS) {
            let expect = slot_map(&x, |i| {
                x[(i as i64 + step).rem_euclid(slots as i64) as usize]
            });
            c.assert_bits(&format!("hoisted rotate {step}"), ct, &expect, 20.0);
        }
        let sum = slot_map(&x, |i| {
            x[i] + ROTATIONS
                .iter()
                .map(|&step| x[(i as i64 + step).rem_euclid(slots as i64) as usize])
                .sum::<Complex64>()
        });
        c.assert_bits(
            "x plus its rotations",
            &c.eval.add_rotations(&cx, &ROTATIONS).unwrap(),
            &sum,
            18.0,
        );
        c.assert_bits(
            "conjugate",
            &c.eval.conjugate(&cx).unwrap(),
            &slot_map(&x, |i| x[i].conj()),
            20.0,
        );
    }
}

#[test]
fn mismatches_are_typed_errors() {
    let mut c = Ctx::new(Parameters::named("INSECURE_N12").unwrap(), &ROTATIONS, true);
    let x = random(16, 9);
    let (a, b) = (c.encrypt(&x, 3), c.encrypt(&x, 2));
    assert!(matches!(
        c.eval.add(&a, &b),
        Err(RuntimeError::LevelMismatch {
            left: 3,
            right: 2,
            ..
        })
    ));
    let scaled = c.eval.mul_const(&a, 2.0).unwrap();
    assert!(matches!(
        c.eval.add(&a, &scaled),
        Err(RuntimeError::ScaleMismatch { .. })
    ));
    let other_slots = c.encrypt(&random(32, 1), 3);
    assert!(matches!(
        c.eval.mul(&a, &other_slots),
        Err(RuntimeError::SlotMismatch {
            left: 16,
            right: 32,
            ..
        })
    ));
    assert!(matches!(
        c.eval.rotate(&a, 3),
        Err(RuntimeError::MissingRotationKey { step: 3, .. })
    ));
    let low = c.eval.drop_to_level(&a, 0).unwrap();
    assert!(matches!(
        c.eval.rescale(&low),
        Err(RuntimeError::LevelTooLow { .. })
    ));
    assert!(matches!(
        c.eval.relinearize(&a),
        Err(RuntimeError::Degree {
            degree: 1,
            expected: 2,
            ..
        })
    ));
    let deg2 = c.eval.mul(&a, &a).unwrap();
    assert!(matches!(
        c.eval.rotate(&deg2, 1),
        Err(RuntimeError::Degree { .. })
    ));
    assert!(matches!(
        c.eval.drop_to_level(&b, 3),
        Err(RuntimeError::LevelTooLow { .. })
    ));
    let keyless = Evaluator::new(c.params.clone(), CpuBackend, Default::default());
    assert!(matches!(
        keyless.relinearize(&deg2),
        Err(RuntimeError::MissingRelinearizationKey)
    ));
}
