//! The plaintext math of the tensor-IR ops, in f64 accumulation over f32 data. Used by the
//! reference executor and by the ONNX recognizer to check each recognized block numerically.

/// `y = x · W`, `W` row-major `[x.len(), out]`.
pub fn mat_vec(x: &[f32], w: &[f32], out: usize) -> Vec<f32> {
    let mut acc = vec![0f64; out];
    for (i, &xi) in x.iter().enumerate() {
        let row = &w[i * out..(i + 1) * out];
        let xi = f64::from(xi);
        for (a, &wv) in acc.iter_mut().zip(row) {
            *a += xi * f64::from(wv);
        }
    }
    acc.into_iter().map(|a| a as f32).collect()
}

/// `z = E · x`, `E` row-major `[vocab, x.len()]`.
pub fn lm_head(x: &[f32], table: &[f32], vocab: usize) -> Vec<f32> {
    let h = x.len();
    (0..vocab)
        .map(|r| {
            table[r * h..(r + 1) * h]
                .iter()
                .zip(x)
                .map(|(&e, &v)| f64::from(e) * f64::from(v))
                .sum::<f64>() as f32
        })
        .collect()
}

/// RMSNorm: `x / sqrt(mean(x²) + eps) ⊙ gain`.
pub fn rms_norm(x: &[f32], gain: &[f32], eps: f32) -> Vec<f32> {
    let ms = x.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / x.len().max(1) as f64;
    let inv = 1.0 / (ms + f64::from(eps)).sqrt();
    x.iter()
        .zip(gain)
        .map(|(&v, &g)| (f64::from(v) * inv) as f32 * g)
        .collect()
}

/// Rotate-half RoPE of `x` (`heads · head_dim`) at position `pos`.
pub fn rope(x: &[f32], heads: usize, head_dim: usize, inv_freq: &[f32], pos: usize) -> Vec<f32> {
    let half = head_dim / 2;
    let mut out = x.to_vec();
    for (i, &f) in inv_freq.iter().enumerate().take(half) {
        // As the exports do: the angle in f32 (position · inv_freq), then cos/sin.
        let theta = pos as f32 * f;
        let (s, c) = (theta.sin(), theta.cos());
        for h in 0..heads {
            let (a, b) = (h * head_dim + i, h * head_dim + i + half);
            let (x1, x2) = (x[a], x[b]);
            out[a] = x1 * c - x2 * s;
            out[b] = x2 * c + x1 * s;
        }
    }
    out
}

/// Attention of one query (`q_heads · head_dim`) over `keys`/`values` (one `kv_heads · head_dim`
/// row per cached token, the new token last). Query head `h` reads KV head `h / (q_heads/kv_heads)`.
pub fn attention(
    q: &[f32],
    keys: &[Vec<f32>],
    values: &[Vec<f32>],
    q_heads: usize,
    kv_heads: usize,
    head_dim: usize,
    scale: f32,
) -> Vec<f32> {
    let group = q_heads / kv_heads.max(1);
    let mut out = vec![0f32; q_heads * head_dim];
    for h in 0..q_heads {
        let kh = h / group.max(1);
        let qh = &q[h * head_dim..(h + 1) * head_dim];
        let scores: Vec<f64> = keys
            .iter()
            .map(|k| {
                qh.iter()
                    .zip(&k[kh * head_dim..(kh + 1) * head_dim])
                    .map(|(&a, &b)| f64::from(a) * f64::from(b))
                    .sum::<f64>()
                    * f64::from(scale)
            })
            .collect();
        let w = softmax_f64(&scores);
        let mut acc = vec![0f64; head_dim];
        for (wj, v) in w.iter().zip(values) {
            for (a, &vv) in acc.iter_mut().zip(&v[kh * head_dim..(kh + 1) * head_dim]) {
                *a += wj * f64::from(vv);
            }
        }
        for (o, a) in out[h * head_dim..(h + 1) * head_dim].iter_mut().zip(acc) {
            *o = a as f32;
        }
    }
    out
}

fn softmax_f64(x: &[f64]) -> Vec<f64> {
    let mx = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = x.iter().map(|&v| (v - mx).exp()).collect();
    let s: f64 = e.iter().sum();
    e.into_iter().map(|v| v / s).collect()
}

/// Softmax over all entries.
pub fn softmax(x: &[f32]) -> Vec<f32> {
    softmax_f64(&x.iter().map(|&v| f64::from(v)).collect::<Vec<_>>())
        .into_iter()
        .map(|v| v as f32)
        .collect()
}

/// SiLU: `x · sigmoid(x)`.
pub fn silu(x: &[f32]) -> Vec<f32> {
    x.iter().map(|&v| v / (1.0 + (-v).exp())).collect()
}

/// Largest `|a − b|` over paired entries (∞ if the lengths differ).
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return f32::INFINITY;
    }
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}
