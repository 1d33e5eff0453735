//! Reductions: `ReduceMean` and `Softmax`.

use super::attrs::{bad, int, ints};
use super::layout::{axis, ints_of};
use super::{EvalError, Op};
use crate::error::Result;
use crate::onnx::graph::RawNode;
use crate::onnx::tensor::{strides, Tensor};

/// `ReduceMean`: axes attribute before opset 18, optional input since.
pub fn import_reduce_mean(node: &RawNode) -> Result<Op> {
    if int(node, "noop_with_empty_axes", 0)? != 0 {
        return Err(bad(node, "noop_with_empty_axes = 1 is not supported"));
    }
    let keepdims = int(node, "keepdims", 1)? != 0;
    let axes = if node.opset < 18 {
        Some(ints(node, "axes")?.unwrap_or_default())
    } else {
        None
    };
    Ok(Op::ReduceMean { axes, keepdims })
}

/// `Softmax`: one axis (default −1) since opset 13; before, the input is coerced to 2-D at
/// `axis` (default 1) and normalized over the trailing block.
pub fn import_softmax(node: &RawNode) -> Result<Op> {
    let flatten = node.opset < 13;
    let default = if flatten { 1 } else { -1 };
    Ok(Op::Softmax {
        axis: int(node, "axis", default)?,
        flatten,
    })
}

/// `ReduceMean` over axes (empty = all), accumulated in f64.
pub fn reduce_mean(
    t: &Tensor,
    attr: Option<&[i64]>,
    input: Option<&Tensor>,
    keepdims: bool,
) -> Result<Tensor, EvalError> {
    let x = t.as_f32().ok_or("ReduceMean of a non-f32 tensor")?;
    let axes = match (attr, input) {
        (Some(a), _) => a.to_vec(),
        (None, Some(i)) => ints_of(i)?,
        (None, None) => vec![],
    };
    let rank = t.shape.len();
    let mut red = vec![false; rank];
    if axes.is_empty() {
        red.iter_mut().for_each(|r| *r = true);
    }
    for &a in &axes {
        red[axis(a, rank)?] = true;
    }
    let kept: Vec<usize> = (0..rank)
        .map(|d| if red[d] { 1 } else { t.shape[d] })
        .collect();
    let n_out: usize = kept.iter().product();
    let count: usize = (0..rank).filter(|&d| red[d]).map(|d| t.shape[d]).product();
    let ks = strides(&kept);
    let src = strides(&t.shape);
    let mut acc = vec![0f64; n_out];
    for (f, &v) in x.iter().enumerate() {
        let mut o = 0;
        for d in 0..rank {
            if !red[d] {
                o += ((f / src[d]) % t.shape[d]) * ks[d];
            }
        }
        acc[o] += f64::from(v);
    }
    let data = acc
        .iter()
        .map(|&s| (s / count.max(1) as f64) as f32)
        .collect();
    let shape = if keepdims {
        kept
    } else {
        (0..rank).filter(|&d| !red[d]).map(|d| t.shape[d]).collect()
    };
    Ok(Tensor::f32(shape, data))
}

/// `Softmax` along `axis` (or over the block from `axis` on, with `flatten`).
pub fn softmax(t: &Tensor, ax: i64, flatten: bool) -> Result<Tensor, EvalError> {
    let x = t.as_f32().ok_or("Softmax of a non-f32 tensor")?;
    let a = axis(ax, t.shape.len())?;
    let (len, inner) = if flatten {
        (t.shape[a..].iter().product(), 1)
    } else {
        (t.shape[a], t.shape[a + 1..].iter().product())
    };
    let outer: usize = t.shape[..a].iter().product();
    let mut out = vec![0f32; x.len()];
    for o in 0..outer {
        for i in 0..inner {
            let at = |j: usize| (o * len + j) * inner + i;
            let mx = (0..len).map(|j| x[at(j)]).fold(f32::NEG_INFINITY, f32::max);
            let mut sum = 0f64;
            for j in 0..len {
                let e = f64::from(x[at(j)] - mx).exp();
                out[at(j)] = e as f32;
                sum += e;
            }
            for j in 0..len {
                out[at(j)] = (f64::from(out[at(j)]) / sum) as f32;
            }
        }
    }
    Ok(Tensor::f32(t.shape.clone(), out))
}
