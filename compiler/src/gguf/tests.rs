//! GGUF reader and dequantization against hand-computed blocks; malformed files.

use std::path::Path;

use super::dequant::dequantize;
use super::file::{GgufFile, MetaValue};
use crate::CompileError;

fn f16_bits(x: f32) -> [u8; 2] {
    // Exact for the values used here (small powers of two and their multiples).
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exp = ((bits >> 23) & 0xff) as i32 - 127 + 15;
    let frac = ((bits >> 13) & 0x3ff) as u16;
    let h = if x == 0.0 {
        sign
    } else {
        sign | ((exp as u16) << 10) | frac
    };
    h.to_le_bytes()
}

#[test]
fn q4_1_block() {
    // d = 0.5, m = -1; nibble j of byte j → value j, high nibble → 15 − j.
    let mut blk = Vec::new();
    blk.extend(f16_bits(0.5));
    blk.extend(f16_bits(-1.0));
    blk.extend((0..16u8).map(|j| j | ((15 - j) << 4)));
    let out = dequantize(3, &blk, 32).unwrap();
    for j in 0..16 {
        assert_eq!(out[j], j as f32 * 0.5 - 1.0);
        assert_eq!(out[j + 16], (15 - j) as f32 * 0.5 - 1.0);
    }
}

#[test]
fn q4_0_and_q8_0_blocks() {
    let mut blk = Vec::new();
    blk.extend(f16_bits(2.0));
    blk.extend((0..16u8).map(|j| j | (8 << 4)));
    let out = dequantize(2, &blk, 32).unwrap();
    assert_eq!(out[0], -16.0);
    assert_eq!(out[15], 14.0);
    assert!(out[16..].iter().all(|&v| v == 0.0));

    let mut blk = Vec::new();
    blk.extend(f16_bits(0.25));
    blk.extend((0..32i8).map(|j| (j - 16) as u8));
    let out = dequantize(8, &blk, 32).unwrap();
    assert_eq!(out[0], -4.0);
    assert_eq!(out[31], 3.75);
}

#[test]
fn f16_bf16_f32() {
    assert_eq!(
        dequantize(1, &[0x00, 0x3c, 0x00, 0xc0], 2).unwrap(),
        vec![1.0, -2.0]
    );
    assert_eq!(dequantize(30, &[0x80, 0x3f], 1).unwrap(), vec![1.0]);
    assert_eq!(dequantize(0, &1.5f32.to_le_bytes(), 1).unwrap(), vec![1.5]);
    assert!(dequantize(14, &[0; 256], 256)
        .unwrap_err()
        .contains("not supported"));
    assert!(dequantize(3, &[0; 19], 32)
        .unwrap_err()
        .contains("needs 20 bytes"));
}

/// A minimal GGUF v3 file: two metadata entries and one F32 tensor.
fn tiny_gguf() -> Vec<u8> {
    let mut b = Vec::new();
    let s = |b: &mut Vec<u8>, x: &str| {
        b.extend((x.len() as u64).to_le_bytes());
        b.extend(x.as_bytes());
    };
    b.extend(b"GGUF");
    b.extend(3u32.to_le_bytes());
    b.extend(1u64.to_le_bytes()); // tensors
    b.extend(2u64.to_le_bytes()); // metadata
    s(&mut b, "general.architecture");
    b.extend(8u32.to_le_bytes());
    s(&mut b, "llama");
    s(&mut b, "llama.block_count");
    b.extend(4u32.to_le_bytes());
    b.extend(7u32.to_le_bytes());
    s(&mut b, "t");
    b.extend(2u32.to_le_bytes());
    b.extend(2u64.to_le_bytes());
    b.extend(1u64.to_le_bytes());
    b.extend(0u32.to_le_bytes()); // F32
    b.extend(0u64.to_le_bytes());
    while b.len() % 32 != 0 {
        b.push(0);
    }
    b.extend(1.0f32.to_le_bytes());
    b.extend(2.0f32.to_le_bytes());
    b
}

#[test]
fn parses_a_tiny_file() {
    let f = GgufFile::parse(tiny_gguf(), Path::new("tiny.gguf")).unwrap();
    assert_eq!(f.meta.get("llama.block_count"), Some(&MetaValue::Int(7)));
    assert_eq!(f.tensor_f32("t").unwrap(), (vec![2, 1], vec![1.0, 2.0]));
    let e = super::llama::from_file(&f).unwrap_err();
    assert!(e.to_string().contains("llama.embedding_length"), "{e}");
}

#[test]
fn malformed_files_are_typed_errors() {
    let good = tiny_gguf();
    for cut in 0..good.len() - 8 {
        match GgufFile::parse(good[..cut].to_vec(), Path::new("cut.gguf")) {
            Ok(f) => assert!(f.tensor_f32("t").is_err()),
            Err(e) => assert!(matches!(e, CompileError::Gguf { .. }), "{e:?}"),
        }
    }
    let e = GgufFile::parse(b"ONNX....".to_vec(), Path::new("x.gguf")).unwrap_err();
    assert!(e.to_string().contains("bad magic"), "{e}");
    let mut huge = good.clone();
    huge[16..24].copy_from_slice(&u64::MAX.to_le_bytes()); // metadata count
    assert!(GgufFile::parse(huge, Path::new("huge.gguf")).is_err());
}
