//! A GGUF Llama (`general.architecture = "llama"`) as a [`Llama`].
//!
//! ggml stores a linear weight as `out` rows of `in` values (`ne = [in, out]`); we transpose to
//! `[in, out]`. `attn_q`/`attn_k` rows were permuted by llama.cpp's converter for its interleaved
//! RoPE: each head's rows are stored as `(pair i, half j)` instead of `(half j, pair i)`; we undo
//! it (reshape `[n_head, hd/2, 2, in]`, swap axes 1 and 2) to get the rotate-half layout.
//! Llama-3 RoPE scaling arrives as the `rope_freqs.weight` tensor of per-pair divisors.

use std::path::Path;

use super::file::{GgufFile, MetaValue};
use crate::error::Result;
use crate::llama::{AttentionParams, Layer, Llama, Matrix, Norm};

/// Reads the GGUF Llama at `path`.
pub fn load_llama(path: &Path) -> Result<Llama> {
    from_file(&GgufFile::open(path)?)
}

fn matrix(f: &GgufFile, name: &str) -> Result<Matrix> {
    let (dims, data) = f.tensor_f32(name)?;
    match dims.as_slice() {
        // ggml [ne0, ne1]: ne1 rows of ne0 values.
        &[cols, rows] => Ok(Matrix { rows, cols, data }),
        other => Err(f.error(format!("tensor `{name}` has dims {other:?}, expected 2"))),
    }
}

fn vector(f: &GgufFile, name: &str, len: usize) -> Result<Vec<f32>> {
    let (dims, data) = f.tensor_f32(name)?;
    if data.len() != len {
        return Err(f.error(format!(
            "tensor `{name}` has dims {dims:?}, expected [{len}]"
        )));
    }
    Ok(data)
}

/// Undoes llama.cpp's Q/K row permutation of an `[out, in]` matrix with `heads` heads.
fn unpermute(m: &Matrix, heads: usize) -> Matrix {
    let hd = m.rows / heads;
    let half = hd / 2;
    let mut data = vec![0f32; m.data.len()];
    for h in 0..heads {
        for i in 0..half {
            for j in 0..2 {
                let src = h * hd + i * 2 + j;
                let dst = h * hd + j * half + i;
                data[dst * m.cols..(dst + 1) * m.cols]
                    .copy_from_slice(&m.data[src * m.cols..(src + 1) * m.cols]);
            }
        }
    }
    Matrix {
        rows: m.rows,
        cols: m.cols,
        data,
    }
}

/// The [`Llama`] in a parsed GGUF file.
pub fn from_file(f: &GgufFile) -> Result<Llama> {
    match f.meta.get("general.architecture") {
        Some(MetaValue::String(a)) if a == "llama" => {}
        other => {
            return Err(f.error(format!(
                "general.architecture is {other:?}, expected \"llama\""
            )))
        }
    }
    let layers = f.meta_usize("llama.block_count")?;
    let hidden = f.meta_usize("llama.embedding_length")?;
    let heads = f.meta_usize("llama.attention.head_count")?;
    let kv_heads = f
        .meta
        .get("llama.attention.head_count_kv")
        .and_then(MetaValue::as_usize)
        .unwrap_or(heads);
    if heads == 0 || kv_heads == 0 || hidden % heads != 0 || heads % kv_heads != 0 {
        return Err(f.error(format!(
            "inconsistent heads: hidden {hidden}, heads {heads}, kv heads {kv_heads}"
        )));
    }
    let head_dim = f
        .meta
        .get("llama.attention.key_length")
        .and_then(MetaValue::as_usize)
        .unwrap_or(hidden / heads);
    if !head_dim.is_multiple_of(2) {
        return Err(f.error(format!("odd head size {head_dim}")));
    }
    let eps = f
        .meta_f64("llama.attention.layer_norm_rms_epsilon")
        .unwrap_or(1e-5) as f32;
    let base = f.meta_f64("llama.rope.freq_base").unwrap_or(10_000.0);
    let rot = f
        .meta
        .get("llama.rope.dimension_count")
        .and_then(MetaValue::as_usize)
        .unwrap_or(head_dim);
    if rot != head_dim {
        return Err(f.error(format!(
            "partial RoPE ({rot} of {head_dim} dims) is not supported"
        )));
    }
    let mut inv_freq: Vec<f32> = (0..head_dim / 2)
        .map(|i| (1.0 / base.powf((2 * i) as f64 / head_dim as f64)) as f32)
        .collect();
    if f.tensors.contains_key("rope_freqs.weight") {
        let factors = vector(f, "rope_freqs.weight", head_dim / 2)?;
        for (x, d) in inv_freq.iter_mut().zip(factors) {
            *x /= d;
        }
    }
    let attn = AttentionParams {
        q_heads: heads,
        kv_heads,
        head_dim,
        scale: 1.0 / (head_dim as f32).sqrt(),
        inv_freq,
    };
    let embed = matrix(f, "token_embd.weight")?;
    if embed.cols != hidden {
        return Err(f.error(format!(
            "token_embd.weight rows have {} values, hidden size is {hidden}",
            embed.cols
        )));
    }
    let mut out = Vec::with_capacity(layers);
    for i in 0..layers {
        let t = |s: &str| format!("blk.{i}.{s}.weight");
        let linear = |s: &str| -> Result<Matrix> { Ok(matrix(f, &t(s))?.transposed()) };
        out.push(Layer {
            attn_norm: Norm {
                gain: vector(f, &t("attn_norm"), hidden)?,
                eps,
            },
            wq: unpermute(&matrix(f, &t("attn_q"))?, heads).transposed(),
            wk: unpermute(&matrix(f, &t("attn_k"))?, kv_heads).transposed(),
            wv: linear("attn_v")?,
            wo: linear("attn_output")?,
            attn: attn.clone(),
            mlp_norm: Norm {
                gain: vector(f, &t("ffn_norm"), hidden)?,
                eps,
            },
            w_gate: linear("ffn_gate")?,
            w_up: linear("ffn_up")?,
            w_down: linear("ffn_down")?,
        });
    }
    let final_norm = Norm {
        gain: vector(f, "output_norm.weight", hidden)?,
        eps,
    };
    let lm_head = if f.tensors.contains_key("output.weight") {
        Some(matrix(f, "output.weight")?)
    } else {
        None
    };
    Ok(Llama {
        embed,
        layers: out,
        final_norm,
        lm_head,
    })
}
