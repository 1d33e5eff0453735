//! Elementwise ops with numpy broadcasting: arithmetic, comparisons, logic, `Where`, `Cast`.

use super::attrs::{bad, int};
use super::{EvalError, Op};
use crate::error::Result;
use crate::onnx::graph::RawNode;
use crate::onnx::tensor::{checked_numel_computed, strides, DType, Data, Tensor};

/// A broadcasting binary op.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `Add`.
    Add,
    /// `Sub`.
    Sub,
    /// `Mul`.
    Mul,
    /// `Div` (integer division truncates, as onnxruntime).
    Div,
    /// `Pow`.
    Pow,
    /// Two-input `Max`.
    Max,
    /// Two-input `Min`.
    Min,
    /// `Equal`.
    Equal,
    /// `Less`.
    Less,
    /// `LessOrEqual`.
    LessOrEqual,
    /// `Greater`.
    Greater,
    /// `GreaterOrEqual`.
    GreaterOrEqual,
    /// `And`.
    And,
    /// `Or`.
    Or,
}

/// A unary op.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnOp {
    /// `Neg`.
    Neg,
    /// `Sqrt`.
    Sqrt,
    /// `Reciprocal`.
    Reciprocal,
    /// `Sigmoid`.
    Sigmoid,
    /// `Exp`.
    Exp,
    /// `Cos`.
    Cos,
    /// `Sin`.
    Sin,
    /// `Not`.
    Not,
    /// `IsNaN`.
    IsNaN,
    /// `IsInf` (both signs).
    IsInf,
}

/// `Cast`: the `to` attribute (FLOAT/DOUBLE/FLOAT16 → f32, integers → i64, BOOL → bool).
pub fn import_cast(node: &RawNode) -> Result<Op> {
    let to = int(node, "to", 0)?;
    let dtype = match to {
        1 | 10 | 11 | 16 => DType::F32,
        2..=7 | 12 | 13 => DType::I64,
        9 => DType::Bool,
        other => {
            return Err(bad(
                node,
                format!("cast to element type {other} is not supported"),
            ))
        }
    };
    Ok(Op::Cast(dtype))
}

/// `Max` with exactly two inputs.
pub fn import_max(node: &RawNode) -> Result<Op> {
    two_inputs(node, BinOp::Max)
}

/// `Min` with exactly two inputs.
pub fn import_min(node: &RawNode) -> Result<Op> {
    two_inputs(node, BinOp::Min)
}

fn two_inputs(node: &RawNode, op: BinOp) -> Result<Op> {
    match node.inputs.len() {
        1 => Ok(Op::Identity),
        2 => Ok(Op::Binary(op)),
        n => Err(bad(node, format!("{n} inputs; only 1 or 2 are supported"))),
    }
}

/// `IsInf`: only the default (detect both signs).
pub fn import_is_inf(node: &RawNode) -> Result<Op> {
    if int(node, "detect_negative", 1)? != 1 || int(node, "detect_positive", 1)? != 1 {
        return Err(bad(
            node,
            "only detect_negative = detect_positive = 1 is supported",
        ));
    }
    Ok(Op::Unary(UnOp::IsInf))
}

/// Converts `t` to `to`.
pub fn cast(t: &Tensor, to: DType) -> Tensor {
    let shape = t.shape.clone();
    match (&t.data, to) {
        (Data::F32(v), DType::F32) => Tensor::f32(shape, v.clone()),
        (Data::F32(v), DType::I64) => Tensor::i64(shape, v.iter().map(|&x| x as i64).collect()),
        (Data::F32(v), DType::Bool) => Tensor::bool(shape, v.iter().map(|&x| x != 0.0).collect()),
        (Data::I64(v), DType::F32) => Tensor::f32(shape, v.iter().map(|&x| x as f32).collect()),
        (Data::I64(v), DType::I64) => Tensor::i64(shape, v.clone()),
        (Data::I64(v), DType::Bool) => Tensor::bool(shape, v.iter().map(|&x| x != 0).collect()),
        (Data::Bool(v), DType::F32) => {
            Tensor::f32(shape, v.iter().map(|&x| f32::from(u8::from(x))).collect())
        }
        (Data::Bool(v), DType::I64) => {
            Tensor::i64(shape, v.iter().map(|&x| i64::from(x)).collect())
        }
        (Data::Bool(v), DType::Bool) => Tensor::bool(shape, v.clone()),
    }
}

/// Numpy broadcast of two shapes.
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> std::result::Result<Vec<usize>, EvalError> {
    let rank = a.len().max(b.len());
    let mut out = vec![0; rank];
    for i in 0..rank {
        let da = if i + a.len() >= rank {
            a[i + a.len() - rank]
        } else {
            1
        };
        let db = if i + b.len() >= rank {
            b[i + b.len() - rank]
        } else {
            1
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return Err(format!("shapes {a:?} and {b:?} do not broadcast")),
        };
    }
    checked_numel_computed(&out).ok_or_else(|| format!("broadcast shape {out:?} is too large"))?;
    Ok(out)
}

/// For each element of `out_shape`, the flat index into a tensor of shape `shape` broadcast to it.
pub fn broadcast_index(shape: &[usize], out_shape: &[usize]) -> Vec<usize> {
    let rank = out_shape.len();
    let src_strides = strides(shape);
    let mut eff = vec![0; rank];
    for i in 0..shape.len() {
        let o = rank - shape.len() + i;
        eff[o] = if shape[i] == 1 { 0 } else { src_strides[i] };
    }
    let n: usize = out_shape.iter().product();
    let mut idx = Vec::with_capacity(n);
    let mut counter = vec![0usize; rank];
    let mut flat = 0usize;
    for _ in 0..n {
        idx.push(flat);
        for d in (0..rank).rev() {
            counter[d] += 1;
            flat += eff[d];
            if counter[d] < out_shape[d] {
                break;
            }
            flat -= eff[d] * counter[d];
            counter[d] = 0;
        }
    }
    idx
}

fn zip<T: Copy, U>(a: &[T], ia: &[usize], b: &[T], ib: &[usize], f: impl Fn(T, T) -> U) -> Vec<U> {
    ia.iter().zip(ib).map(|(&i, &j)| f(a[i], b[j])).collect()
}

/// A broadcasting binary op.
pub fn binary(op: BinOp, a: &Tensor, b: &Tensor) -> std::result::Result<Tensor, EvalError> {
    let shape = broadcast_shape(&a.shape, &b.shape)?;
    let ia = broadcast_index(&a.shape, &shape);
    let ib = broadcast_index(&b.shape, &shape);
    use BinOp::*;
    let data = match (&a.data, &b.data) {
        (Data::F32(x), Data::F32(y)) => match op {
            Add => Data::F32(zip(x, &ia, y, &ib, |p, q| p + q)),
            Sub => Data::F32(zip(x, &ia, y, &ib, |p, q| p - q)),
            Mul => Data::F32(zip(x, &ia, y, &ib, |p, q| p * q)),
            Div => Data::F32(zip(x, &ia, y, &ib, |p, q| p / q)),
            Pow => Data::F32(zip(x, &ia, y, &ib, pow_f32)),
            Max => Data::F32(zip(x, &ia, y, &ib, f32::max)),
            Min => Data::F32(zip(x, &ia, y, &ib, f32::min)),
            Equal => Data::Bool(zip(x, &ia, y, &ib, |p, q| p == q)),
            Less => Data::Bool(zip(x, &ia, y, &ib, |p, q| p < q)),
            LessOrEqual => Data::Bool(zip(x, &ia, y, &ib, |p, q| p <= q)),
            Greater => Data::Bool(zip(x, &ia, y, &ib, |p, q| p > q)),
            GreaterOrEqual => Data::Bool(zip(x, &ia, y, &ib, |p, q| p >= q)),
            And | Or => return Err(format!("{op:?} needs bool inputs")),
        },
        (Data::I64(x), Data::I64(y)) => match op {
            Add => Data::I64(zip(x, &ia, y, &ib, i64::wrapping_add)),
            Sub => Data::I64(zip(x, &ia, y, &ib, i64::wrapping_sub)),
            Mul => Data::I64(zip(x, &ia, y, &ib, i64::wrapping_mul)),
            Div => {
                if ib.iter().any(|&j| y[j] == 0) {
                    return Err("integer division by zero".into());
                }
                Data::I64(zip(x, &ia, y, &ib, i64::wrapping_div))
            }
            Pow => Data::I64(zip(x, &ia, y, &ib, |p, q| {
                p.wrapping_pow(q.clamp(0, 63) as u32)
            })),
            Max => Data::I64(zip(x, &ia, y, &ib, i64::max)),
            Min => Data::I64(zip(x, &ia, y, &ib, i64::min)),
            Equal => Data::Bool(zip(x, &ia, y, &ib, |p, q| p == q)),
            Less => Data::Bool(zip(x, &ia, y, &ib, |p, q| p < q)),
            LessOrEqual => Data::Bool(zip(x, &ia, y, &ib, |p, q| p <= q)),
            Greater => Data::Bool(zip(x, &ia, y, &ib, |p, q| p > q)),
            GreaterOrEqual => Data::Bool(zip(x, &ia, y, &ib, |p, q| p >= q)),
            And | Or => return Err(format!("{op:?} needs bool inputs")),
        },
        (Data::Bool(x), Data::Bool(y)) => match op {
            And => Data::Bool(zip(x, &ia, y, &ib, |p, q| p && q)),
            Or => Data::Bool(zip(x, &ia, y, &ib, |p, q| p || q)),
            Equal => Data::Bool(zip(x, &ia, y, &ib, |p, q| p == q)),
            _ => return Err(format!("{op:?} on bool inputs is not supported")),
        },
        (Data::F32(x), Data::I64(_)) if op == Pow => {
            let y = cast(b, DType::F32);
            let y = y.as_f32().unwrap_or(&[]);
            Data::F32(zip(x, &ia, y, &ib, pow_f32))
        }
        _ => {
            return Err(format!(
                "{op:?} of {:?} and {:?} inputs",
                a.dtype(),
                b.dtype()
            ))
        }
    };
    Ok(Tensor { shape, data })
}

/// `x^y`, exact for the small integer exponents exports use (x² in RMSNorm).
fn pow_f32(x: f32, y: f32) -> f32 {
    if y == 2.0 {
        x * x
    } else {
        x.powf(y)
    }
}

/// A unary op.
pub fn unary(op: UnOp, a: &Tensor) -> std::result::Result<Tensor, EvalError> {
    use UnOp::*;
    let shape = a.shape.clone();
    match (&a.data, op) {
        (Data::Bool(x), Not) => Ok(Tensor::bool(shape, x.iter().map(|&v| !v).collect())),
        (Data::I64(x), Neg) => Ok(Tensor::i64(
            shape,
            x.iter().map(|&v| v.wrapping_neg()).collect(),
        )),
        (Data::F32(x), IsNaN) => Ok(Tensor::bool(shape, x.iter().map(|v| v.is_nan()).collect())),
        (Data::F32(x), IsInf) => Ok(Tensor::bool(
            shape,
            x.iter().map(|v| v.is_infinite()).collect(),
        )),
        (Data::F32(x), _) => {
            let f: fn(f32) -> f32 = match op {
                Neg => |v| -v,
                Sqrt => f32::sqrt,
                Reciprocal => |v| 1.0 / v,
                Sigmoid => |v| 1.0 / (1.0 + (-v).exp()),
                Exp => f32::exp,
                Cos => f32::cos,
                Sin => f32::sin,
                Not | IsNaN | IsInf => return Err(format!("{op:?} on f32")),
            };
            Ok(Tensor::f32(shape, x.iter().map(|&v| f(v)).collect()))
        }
        _ => Err(format!("{op:?} on {:?} input", a.dtype())),
    }
}

/// `Where(cond, x, y)` with broadcasting.
pub fn where_(c: &Tensor, x: &Tensor, y: &Tensor) -> std::result::Result<Tensor, EvalError> {
    let cond = c.as_bool().ok_or("Where condition must be bool")?;
    let shape = broadcast_shape(&broadcast_shape(&c.shape, &x.shape)?, &y.shape)?;
    let ic = broadcast_index(&c.shape, &shape);
    let ix = broadcast_index(&x.shape, &shape);
    let iy = broadcast_index(&y.shape, &shape);
    let pick = |k: usize| cond[ic[k]];
    let n = ic.len();
    let data = match (&x.data, &y.data) {
        (Data::F32(a), Data::F32(b)) => Data::F32(
            (0..n)
                .map(|k| if pick(k) { a[ix[k]] } else { b[iy[k]] })
                .collect(),
        ),
        (Data::I64(a), Data::I64(b)) => Data::I64(
            (0..n)
                .map(|k| if pick(k) { a[ix[k]] } else { b[iy[k]] })
                .collect(),
        ),
        (Data::Bool(a), Data::Bool(b)) => Data::Bool(
            (0..n)
                .map(|k| if pick(k) { a[ix[k]] } else { b[iy[k]] })
                .collect(),
        ),
        _ => return Err(format!("Where of {:?} and {:?}", x.dtype(), y.dtype())),
    };
    Ok(Tensor { shape, data })
}
