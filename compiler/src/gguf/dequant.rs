//! Dequantization of ggml tensor types to f32: F32, F16, BF16, Q4_0, Q4_1, Q8_0 (blocks of 32).

use crate::onnx::load::f16_to_f32;

/// ggml type codes this reader dequantizes.
pub const SUPPORTED: [(u32, &str); 6] = [
    (0, "F32"),
    (1, "F16"),
    (30, "BF16"),
    (2, "Q4_0"),
    (3, "Q4_1"),
    (8, "Q8_0"),
];

fn f16(b: &[u8]) -> f32 {
    f16_to_f32(u16::from_le_bytes([b[0], b[1]]))
}

/// Dequantizes `n` values of ggml type `ty` from the start of `bytes`.
pub fn dequantize(ty: u32, bytes: &[u8], n: usize) -> Result<Vec<f32>, String> {
    let need = |size: usize| -> Result<&[u8], String> {
        bytes
            .get(..size)
            .ok_or_else(|| format!("needs {size} bytes, the file has {} left", bytes.len()))
    };
    let blocks = |block_bytes: usize| -> Result<std::slice::ChunksExact<'_, u8>, String> {
        if !n.is_multiple_of(32) {
            return Err(format!(
                "{n} values is not a whole number of 32-value blocks"
            ));
        }
        Ok(need(n / 32 * block_bytes)?.chunks_exact(block_bytes))
    };
    let mut out = Vec::with_capacity(n);
    match ty {
        0 => out.extend(
            need(4 * n)?
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        ),
        1 => out.extend(need(2 * n)?.chunks_exact(2).map(f16)),
        30 => out.extend(
            need(2 * n)?
                .chunks_exact(2)
                .map(|b| f32::from_bits(u32::from(u16::from_le_bytes([b[0], b[1]])) << 16)),
        ),
        // Q4_0: f16 d, 16 bytes of nibbles; x = (q − 8)·d; low nibbles are values 0..16, high 16..32.
        2 => {
            for blk in blocks(18)? {
                let d = f16(&blk[0..2]);
                let qs = &blk[2..18];
                out.extend(qs.iter().map(|&q| (f32::from(q & 0x0f) - 8.0) * d));
                out.extend(qs.iter().map(|&q| (f32::from(q >> 4) - 8.0) * d));
            }
        }
        // Q4_1: f16 d, f16 m, 16 bytes of nibbles; x = q·d + m.
        3 => {
            for blk in blocks(20)? {
                let (d, m) = (f16(&blk[0..2]), f16(&blk[2..4]));
                let qs = &blk[4..20];
                out.extend(qs.iter().map(|&q| f32::from(q & 0x0f) * d + m));
                out.extend(qs.iter().map(|&q| f32::from(q >> 4) * d + m));
            }
        }
        // Q8_0: f16 d, 32 signed bytes; x = q·d.
        8 => {
            for blk in blocks(34)? {
                let d = f16(&blk[0..2]);
                out.extend(blk[2..34].iter().map(|&q| f32::from(q as i8) * d));
            }
        }
        other => {
            let names: Vec<&str> = SUPPORTED.iter().map(|(_, s)| *s).collect();
            return Err(format!(
                "ggml type {other} is not supported (supported: {})",
                names.join(", ")
            ));
        }
    }
    Ok(out)
}
