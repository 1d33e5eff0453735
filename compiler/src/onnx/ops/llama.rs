//! The opset-23 transformer ops: `RMSNormalization`, `RotaryEmbedding`, `Attention`.

use super::attrs::{bad, float, int};
use super::layout::{axis, ints_of};
use super::{EvalError, Op};
use crate::error::Result;
use crate::onnx::graph::RawNode;
use crate::onnx::tensor::{Data, Tensor};

/// `RMSNormalization` (opset 23).
pub fn import_rms_normalization(node: &RawNode) -> Result<Op> {
    Ok(Op::RmsNormalization {
        axis: int(node, "axis", -1)?,
        epsilon: float(node, "epsilon")?.unwrap_or(1e-5),
    })
}

/// `RotaryEmbedding` (opset 23).
pub fn import_rotary_embedding(node: &RawNode) -> Result<Op> {
    let nonneg =
        |v: i64, what: &str| usize::try_from(v).map_err(|_| bad(node, format!("negative {what}")));
    Ok(Op::RotaryEmbedding {
        interleaved: int(node, "interleaved", 0)? != 0,
        num_heads: nonneg(int(node, "num_heads", 0)?, "num_heads")?,
        rotary_embedding_dim: nonneg(
            int(node, "rotary_embedding_dim", 0)?,
            "rotary_embedding_dim",
        )?,
    })
}

/// `Attention` (opset 23): 4-D inputs, no past-KV inputs, no causal flag, no softcap.
pub fn import_attention(node: &RawNode) -> Result<Op> {
    if node.inputs.len() > 4 && node.inputs[4..].iter().any(|i| !i.is_empty()) {
        return Err(bad(node, "past_key/past_value inputs of Attention are not supported (exports pass the concatenated cache)"));
    }
    if float(node, "softcap")?.is_some_and(|s| s != 0.0) {
        return Err(bad(node, "softcap is not supported"));
    }
    if node.outputs.iter().skip(1).any(|o| !o.is_empty()) {
        return Err(bad(
            node,
            "only the first output (Y) of Attention is supported",
        ));
    }
    let is_causal = int(node, "is_causal", 0)? != 0;
    if is_causal {
        return Err(bad(
            node,
            "is_causal = 1 is not supported (exports pass an explicit mask)",
        ));
    }
    Ok(Op::Attention {
        scale: float(node, "scale")?,
        is_causal,
    })
}

type R<T> = std::result::Result<T, EvalError>;

/// `RMSNormalization`: x / sqrt(mean(x², axes ≥ axis) + eps) · scale.
pub fn rms_normalization(x: &Tensor, scale: &Tensor, ax: i64, eps: f32) -> R<Tensor> {
    let (Some(v), Some(g)) = (x.as_f32(), scale.as_f32()) else {
        return Err("RMSNormalization of non-f32 tensors".into());
    };
    let a = axis(ax, x.shape.len())?;
    let inner: usize = x.shape[a..].iter().product();
    if inner == 0 || g.len() != inner {
        return Err(format!(
            "RMSNormalization scale of {} elements for rows of {inner}",
            g.len()
        ));
    }
    let mut out = vec![0f32; v.len()];
    for (row, o) in v.chunks(inner).zip(out.chunks_mut(inner)) {
        let ms = row
            .iter()
            .map(|&t| f64::from(t) * f64::from(t))
            .sum::<f64>()
            / inner as f64;
        let inv = 1.0 / (ms + f64::from(eps)).sqrt();
        for j in 0..inner {
            o[j] = (f64::from(row[j]) * inv) as f32 * g[j];
        }
    }
    Ok(Tensor::f32(x.shape.clone(), out))
}

/// `RotaryEmbedding` on a 4-D `[B, H, S, D]` or 3-D `[B, S, H·D]` input.
pub fn rotary_embedding(
    x: &Tensor,
    cos: &Tensor,
    sin: &Tensor,
    position_ids: Option<&Tensor>,
    interleaved: bool,
    num_heads: usize,
    rot_dim: usize,
) -> R<Tensor> {
    let v = x.as_f32().ok_or("RotaryEmbedding of non-f32 input")?;
    let (Some(c), Some(s)) = (cos.as_f32(), sin.as_f32()) else {
        return Err("RotaryEmbedding caches must be f32".into());
    };
    let (b, h, sq, d, four_d) = match x.shape.as_slice() {
        &[b, h, s, d] => (b, h, s, d, true),
        &[b, s, hd] if num_heads > 0 && hd % num_heads == 0 => {
            (b, num_heads, s, hd / num_heads, false)
        }
        other => return Err(format!("RotaryEmbedding input of shape {other:?}")),
    };
    let rot = if rot_dim == 0 { d } else { rot_dim };
    if rot > d || rot % 2 != 0 {
        return Err(format!("rotary_embedding_dim {rot} for head size {d}"));
    }
    let half = rot / 2;
    // cos/sin row for (batch, seq) position.
    let pos = position_ids.map(ints_of).transpose()?;
    let row = |bi: usize, si: usize| -> R<usize> {
        match &pos {
            Some(p) => {
                let q = *p.get(bi * sq + si).ok_or("position_ids too short")?;
                let q = usize::try_from(q).map_err(|_| "negative position id".to_string())?;
                if (q + 1) * half > c.len() {
                    return Err(format!("position {q} beyond the cos cache"));
                }
                Ok(q)
            }
            None => {
                if c.len() != b * sq * half || s.len() != c.len() {
                    return Err(format!(
                        "cos cache of {} elements for [B={b}, S={sq}, {half}]",
                        c.len()
                    ));
                }
                Ok(bi * sq + si)
            }
        }
    };
    let mut out = v.to_vec();
    for bi in 0..b {
        for hi in 0..h {
            for si in 0..sq {
                let r = row(bi, si)?;
                let base = if four_d {
                    ((bi * h + hi) * sq + si) * d
                } else {
                    ((bi * sq + si) * h + hi) * d
                };
                for i in 0..half {
                    let (cv, sv) = (c[r * half + i], s[r * half + i]);
                    let (i1, i2) = if interleaved {
                        (base + 2 * i, base + 2 * i + 1)
                    } else {
                        (base + i, base + i + half)
                    };
                    let (x1, x2) = (v[i1], v[i2]);
                    out[i1] = x1 * cv - x2 * sv;
                    out[i2] = x2 * cv + x1 * sv;
                }
            }
        }
    }
    Ok(Tensor::f32(x.shape.clone(), out))
}

/// `Attention` on 4-D `[B, H, S, D]` inputs with an optional bool or additive mask.
pub fn attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    mask: Option<&Tensor>,
    scale: Option<f32>,
    _is_causal: bool,
) -> R<Vec<Tensor>> {
    let (Some(qd), Some(kd), Some(vd)) = (q.as_f32(), k.as_f32(), v.as_f32()) else {
        return Err("Attention of non-f32 inputs".into());
    };
    let (&[b, hq, s, d], &[b2, hk, l, d2], &[b3, hv, l2, dv]) =
        (q.shape.as_slice(), k.shape.as_slice(), v.shape.as_slice())
    else {
        return Err("Attention supports 4-D inputs only".into());
    };
    if b2 != b || b3 != b || d2 != d || hv != hk || l2 != l || hk == 0 || hq % hk != 0 {
        return Err(format!(
            "Attention shapes {:?} {:?} {:?}",
            q.shape, k.shape, v.shape
        ));
    }
    let group = hq / hk;
    let scale = f64::from(scale.unwrap_or(1.0 / (d as f32).sqrt()));
    let mask_shape = [b, hq, s, l];
    let mask_idx = mask.map(|m| super::elementwise::broadcast_index(&m.shape, &mask_shape));
    if let (Some(m), Some(_)) = (mask, &mask_idx) {
        super::elementwise::broadcast_shape(&m.shape, &mask_shape)
            .ok()
            .filter(|sh| sh.as_slice() == mask_shape)
            .ok_or_else(|| {
                format!(
                    "Attention mask {:?} does not broadcast to {mask_shape:?}",
                    m.shape
                )
            })?;
    }
    let mut out = vec![0f32; b * hq * s * dv];
    for bi in 0..b {
        for h in 0..hq {
            let kh = h / group;
            for si in 0..s {
                let qrow = &qd[((bi * hq + h) * s + si) * d..][..d];
                let mut scores = vec![0f64; l];
                for (j, sc) in scores.iter_mut().enumerate() {
                    let krow = &kd[((bi * hk + kh) * l + j) * d..][..d];
                    let dot: f64 = qrow
                        .iter()
                        .zip(krow)
                        .map(|(&a, &c)| f64::from(a) * f64::from(c))
                        .sum();
                    *sc = dot * scale;
                    if let (Some(m), Some(idx)) = (mask, &mask_idx) {
                        let flat = ((bi * hq + h) * s + si) * l + j;
                        match &m.data {
                            Data::Bool(mb) if !mb[idx[flat]] => *sc = f64::NEG_INFINITY,
                            Data::F32(mf) => *sc += f64::from(mf[idx[flat]]),
                            Data::Bool(_) => {}
                            Data::I64(_) => return Err("int64 Attention mask".into()),
                        }
                    }
                }
                let mx = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let mut w: Vec<f64> = scores
                    .iter()
                    .map(|&x| if mx.is_finite() { (x - mx).exp() } else { 0.0 })
                    .collect();
                let sum: f64 = w.iter().sum();
                if sum > 0.0 {
                    w.iter_mut().for_each(|x| *x /= sum);
                }
                let o = &mut out[((bi * hq + h) * s + si) * dv..][..dv];
                for (j, &wj) in w.iter().enumerate() {
                    let vrow = &vd[((bi * hk + kh) * l + j) * dv..][..dv];
                    for (oe, &ve) in o.iter_mut().zip(vrow) {
                        *oe += (wj * f64::from(ve)) as f32;
                    }
                }
            }
        }
    }
    Ok(vec![Tensor::f32(vec![b, hq, s, dv], out)])
}
