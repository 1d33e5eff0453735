//! Ciphertexts and keys survive a byte round trip; truncated, corrupted, foreign or mislabelled
//! bytes are typed errors (never a panic), checked at every truncation length and many bit flips.

use cachemir_kernels::CpuBackend;
use cachemir_runtime::ckks::{
    Ciphertext, Decryptor, Encoder, Encryptor, EvaluationKeys, Evaluator, KeyGenerator, Parameters,
    PublicKey, SecretKey,
};
use cachemir_runtime::RuntimeError;
use std::sync::Arc;

#[test]
fn round_trips_and_rejections() {
    let params = Arc::new(Parameters::named("INSECURE_N10").unwrap());
    let mut kg = KeyGenerator::new(params.clone(), CpuBackend);
    let sk = kg.secret_key();
    let pk = kg.public_key(&sk);
    let keys = kg.evaluation_keys(&sk, &[1, -3], true).unwrap();
    let encoder = Encoder::new(params.clone(), CpuBackend);
    let values: Vec<f64> = (0..64).map(|i| (i as f64 / 10.0).sin()).collect();
    let ct = Encryptor::new(params.clone(), CpuBackend, pk.clone()).encrypt(
        &encoder
            .encode_real(&values, 2, params.default_scale())
            .unwrap(),
    );

    let bytes = ct.to_bytes(&params);
    let back = Ciphertext::from_bytes(&params, &bytes).unwrap();
    assert_eq!(back, ct);
    // Bit-packing: 50- and 40-bit primes take their width, not 64 bits.
    assert!(
        bytes.len() < ct.byte_size() * 3 / 4,
        "{} vs {}",
        bytes.len(),
        ct.byte_size()
    );
    // The client's secret key round-trips: the restored key decrypts.
    let sk_bytes = sk.to_bytes(&params);
    let restored = SecretKey::from_bytes(&params, &sk_bytes).unwrap();
    let decrypted =
        encoder.decode(&Decryptor::new(params.clone(), CpuBackend, restored).decrypt(&back));
    assert!(decrypted
        .iter()
        .zip(&values)
        .all(|(a, b)| (a.re - b).abs() < 1e-6));
    assert!(SecretKey::from_bytes(&params, &sk_bytes[..sk_bytes.len() - 1]).is_err());
    assert!(SecretKey::from_bytes(&params, &pk.to_bytes(&params)).is_err());

    assert_eq!(
        PublicKey::from_bytes(&params, &pk.to_bytes(&params)).unwrap(),
        pk
    );
    let key_bytes = keys.to_bytes(&params);
    // Keys travel as their b halves and a seed: about half of the residues.
    assert!(
        key_bytes.len() < keys.byte_size() * 3 / 8,
        "{} vs {}",
        key_bytes.len(),
        keys.byte_size()
    );
    assert_eq!(
        EvaluationKeys::from_bytes(&params, &key_bytes).unwrap(),
        keys
    );

    // Every truncation is an error.
    for len in 0..bytes.len() {
        assert!(
            matches!(
                Ciphertext::from_bytes(&params, &bytes[..len]),
                Err(RuntimeError::Decode { .. })
            ),
            "length {len}"
        );
    }
    // Bit flips anywhere are detected.
    for pos in (0..bytes.len()).step_by(7) {
        let mut bad = bytes.clone();
        bad[pos] ^= 1 << (pos % 8);
        assert!(
            matches!(
                Ciphertext::from_bytes(&params, &bad),
                Err(RuntimeError::Decode { .. })
            ),
            "flip at {pos}"
        );
    }
    // A ciphertext read as a key, and keys read under other parameters, are refused.
    assert!(PublicKey::from_bytes(&params, &bytes).is_err());
    let other = Parameters::named("INSECURE_N12").unwrap();
    let err = EvaluationKeys::from_bytes(&other, &key_bytes).unwrap_err();
    assert!(err.to_string().contains("other CKKS parameters"), "{err}");
}

/// Re-seals edited bytes with a valid checksum, so the structural checks behind it are exercised.
fn resealed(mut bytes: Vec<u8>, edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    bytes.truncate(bytes.len() - 4);
    edit(&mut bytes);
    let crc = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    bytes
}

#[test]
fn structural_checks_behind_the_checksum() {
    let params = Arc::new(Parameters::named("INSECURE_N10").unwrap());
    let mut kg = KeyGenerator::new(params.clone(), CpuBackend);
    let sk = kg.secret_key();
    let encoder = Encoder::new(params.clone(), CpuBackend);
    let ct = Encryptor::with_secret_key(params.clone(), CpuBackend, sk).encrypt(
        &encoder
            .encode_real(&[0.5; 8], 1, params.default_scale())
            .unwrap(),
    );
    let bytes = ct.to_bytes(&params);
    // Header: magic 0..4, version 4..6, kind 6, fingerprint 7..15; payload: slots 15..19, scale 19..27, count 27, level 28..32.
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (resealed(bytes.clone(), |b| b[4] = 9), "version 9"),
        (resealed(bytes.clone(), |b| b[15] = 3), "slot count 3"),
        (resealed(bytes.clone(), |b| b[27] = 5), "5 polynomials"),
        (resealed(bytes.clone(), |b| b[28] = 7), "level 7"),
        (resealed(bytes.clone(), |b| b.push(0)), "trailing"),
        (resealed(bytes.clone(), |b| b[32..39].fill(0xff)), "≥ prime"),
    ];
    for (bad, expect) in cases {
        let err = Ciphertext::from_bytes(&params, &bad).unwrap_err();
        assert!(
            err.to_string().contains(expect),
            "expected `{expect}` in `{err}`"
        );
    }
}

/// Rotation keys made for a lower level: smaller, serialized with their level, correct up to it and
/// refused (typed error) for a ciphertext above it.
#[test]
fn rotation_keys_below_the_top_level() {
    let params = Arc::new(Parameters::named("INSECURE_N12").unwrap());
    let mut kg = KeyGenerator::new(params.clone(), CpuBackend);
    let sk = kg.secret_key();
    let mut keys = kg.evaluation_keys(&sk, &[], false).unwrap();
    kg.add_rotation_keys(&mut keys, &sk, &[1, 2], 3).unwrap();
    let full = kg.evaluation_keys(&sk, &[1], false).unwrap();
    let (low, top) = (
        keys.galois.values().next().unwrap(),
        full.galois.values().next().unwrap(),
    );
    assert_eq!((low.level(), top.level()), (3, params.max_level()));
    assert!(
        low.byte_size() * 2 <= top.byte_size(),
        "{} vs {}",
        low.byte_size(),
        top.byte_size()
    );
    let keys = EvaluationKeys::from_bytes(&params, &keys.to_bytes(&params)).unwrap();

    let encoder = Encoder::new(params.clone(), CpuBackend);
    let mut encryptor =
        cachemir_runtime::ckks::Encryptor::with_secret_key(params.clone(), CpuBackend, sk.clone());
    let decryptor = Decryptor::new(params.clone(), CpuBackend, sk);
    let eval = Evaluator::new(params.clone(), CpuBackend, Arc::new(keys));
    let values: Vec<f64> = (0..64).map(|i| (i as f64 * 0.3).cos()).collect();
    let mut at = |level| {
        encryptor.encrypt(
            &encoder
                .encode_real(&values, level, params.default_scale())
                .unwrap(),
        )
    };
    let low_ct = at(3);
    let rotated = encoder.decode(&decryptor.decrypt(&eval.rotate(&low_ct, 1).unwrap()));
    for (i, z) in rotated.iter().enumerate().take(64) {
        assert!((z.re - values[(i + 1) % 64]).abs() < 1e-6, "slot {i}");
    }
    assert!(matches!(
        eval.rotate(&at(5), 1),
        Err(RuntimeError::LevelTooLow { .. })
    ));
}
