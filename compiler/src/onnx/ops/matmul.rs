//! `MatMul` with numpy semantics (1-D promotion, broadcast batch axes).

use super::elementwise::{broadcast_index, broadcast_shape};
use super::EvalError;
use crate::onnx::tensor::Tensor;

/// `MatMul` of f32 tensors, accumulated in f64.
pub fn matmul(a: &Tensor, b: &Tensor) -> Result<Tensor, EvalError> {
    let (Some(x), Some(y)) = (a.as_f32(), b.as_f32()) else {
        return Err(format!(
            "MatMul of {:?} and {:?} (only f32)",
            a.dtype(),
            b.dtype()
        ));
    };
    let (mut sa, mut sb) = (a.shape.clone(), b.shape.clone());
    if sa.is_empty() || sb.is_empty() {
        return Err("MatMul of a scalar".into());
    }
    let a1 = sa.len() == 1;
    let b1 = sb.len() == 1;
    if a1 {
        sa.insert(0, 1);
    }
    if b1 {
        sb.push(1);
    }
    let (m, k) = (sa[sa.len() - 2], sa[sa.len() - 1]);
    let (k2, n) = (sb[sb.len() - 2], sb[sb.len() - 1]);
    if k != k2 {
        return Err(format!(
            "MatMul of {:?} and {:?}: inner dimensions differ",
            a.shape, b.shape
        ));
    }
    let batch = broadcast_shape(&sa[..sa.len() - 2], &sb[..sb.len() - 2])?;
    let ia = broadcast_index(&sa[..sa.len() - 2], &batch);
    let ib = broadcast_index(&sb[..sb.len() - 2], &batch);
    let mut out = vec![0f32; ia.len() * m * n];
    for (bi, (&pa, &pb)) in ia.iter().zip(&ib).enumerate() {
        let xa = &x[pa * m * k..(pa + 1) * m * k];
        let yb = &y[pb * k * n..(pb + 1) * k * n];
        let o = &mut out[bi * m * n..(bi + 1) * m * n];
        for i in 0..m {
            let mut acc = vec![0f64; n];
            for p in 0..k {
                let xv = f64::from(xa[i * k + p]);
                for (j, a) in acc.iter_mut().enumerate() {
                    *a += xv * f64::from(yb[p * n + j]);
                }
            }
            for j in 0..n {
                o[i * n + j] = acc[j] as f32;
            }
        }
    }
    let mut shape = batch;
    if !a1 {
        shape.push(m);
    }
    if !b1 {
        shape.push(n);
    }
    Ok(Tensor::f32(shape, out))
}
