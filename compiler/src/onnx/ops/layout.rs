//! Shape and layout ops: Shape, Reshape, (Un)Squeeze, Concat, Slice, Gather(ND), Expand,
//! Transpose, Range, ConstantOfShape, Trilu. Most are "take these flat indices" ([`take`]).

use super::attrs::{bad, int, ints};
use super::elementwise::{broadcast_index, broadcast_shape};
use super::{EvalError, Op};
use crate::error::Result;
use crate::onnx::graph::RawNode;
use crate::onnx::tensor::{checked_numel_computed, strides, Data, Tensor};

type R<T> = std::result::Result<T, EvalError>;

/// `Shape` (`start`/`end` since opset 15).
pub fn import_shape(node: &RawNode) -> Result<Op> {
    let start = int(node, "start", 0)?;
    let end = node
        .attrs
        .get("end")
        .map(|_| int(node, "end", 0))
        .transpose()?;
    Ok(Op::Shape { start, end })
}

/// `Reshape` (`allowzero` since opset 14).
pub fn import_reshape(node: &RawNode) -> Result<Op> {
    Ok(Op::Reshape {
        allowzero: int(node, "allowzero", 0)? != 0,
    })
}

/// `Flatten` (`axis`, default 1).
pub fn import_flatten(node: &RawNode) -> Result<Op> {
    Ok(Op::Flatten(int(node, "axis", 1)?))
}

/// `Unsqueeze`: axes attribute before opset 13, input since.
pub fn import_unsqueeze(node: &RawNode) -> Result<Op> {
    if node.opset < 13 {
        let axes = ints(node, "axes")?.ok_or_else(|| bad(node, "missing `axes` attribute"))?;
        Ok(Op::Unsqueeze(Some(axes)))
    } else {
        Ok(Op::Unsqueeze(None))
    }
}

/// `Squeeze`: axes attribute before opset 13, optional input since.
pub fn import_squeeze(node: &RawNode) -> Result<Op> {
    if node.opset < 13 {
        Ok(Op::Squeeze(Some(ints(node, "axes")?.unwrap_or_default())))
    } else {
        Ok(Op::Squeeze(None))
    }
}

/// `Concat`; a single input is an identity.
pub fn import_concat(node: &RawNode) -> Result<Op> {
    if node.inputs.len() == 1 {
        return Ok(Op::Identity);
    }
    Ok(Op::Concat(int(node, "axis", i64::MIN).and_then(|a| {
        if a == i64::MIN {
            Err(bad(node, "missing `axis` attribute"))
        } else {
            Ok(a)
        }
    })?))
}

/// `Slice`: inputs form (opset ≥ 10) only.
pub fn import_slice(node: &RawNode) -> Result<Op> {
    if node.opset < 10 {
        return Err(bad(
            node,
            "Slice before opset 10 (attribute form) is not supported",
        ));
    }
    Ok(Op::Slice)
}

/// `Gather`.
pub fn import_gather(node: &RawNode) -> Result<Op> {
    Ok(Op::Gather(int(node, "axis", 0)?))
}

/// `GatherND`.
pub fn import_gather_nd(node: &RawNode) -> Result<Op> {
    let b = int(node, "batch_dims", 0)?;
    Ok(Op::GatherNd(
        usize::try_from(b).map_err(|_| bad(node, "negative batch_dims"))?,
    ))
}

/// `Transpose`.
pub fn import_transpose(node: &RawNode) -> Result<Op> {
    Ok(Op::Transpose(ints(node, "perm")?))
}

/// `Trilu`.
pub fn import_trilu(node: &RawNode) -> Result<Op> {
    Ok(Op::Trilu {
        upper: int(node, "upper", 1)? != 0,
    })
}

/// The i64 elements of a shape/axes/indices tensor.
pub fn ints_of(t: &Tensor) -> R<Vec<i64>> {
    t.as_i64()
        .map(<[i64]>::to_vec)
        .ok_or_else(|| format!("expected an int64 tensor, found {:?}", t.dtype()))
}

/// Normalizes a possibly negative axis for rank `rank`.
pub fn axis(a: i64, rank: usize) -> R<usize> {
    let r = rank as i64;
    let v = if a < 0 { a + r } else { a };
    if (0..r).contains(&v) {
        Ok(v as usize)
    } else {
        Err(format!("axis {a} is out of range for rank {rank}"))
    }
}

/// A tensor of `shape` whose k-th element is `t`'s element at flat index `idx[k]`.
pub fn take(t: &Tensor, idx: &[usize], shape: Vec<usize>) -> Tensor {
    let data = match &t.data {
        Data::F32(v) => Data::F32(idx.iter().map(|&i| v[i]).collect()),
        Data::I64(v) => Data::I64(idx.iter().map(|&i| v[i]).collect()),
        Data::Bool(v) => Data::Bool(idx.iter().map(|&i| v[i]).collect()),
    };
    Tensor { shape, data }
}

fn check_size(shape: &[usize]) -> R<usize> {
    checked_numel_computed(shape).ok_or_else(|| format!("shape {shape:?} is too large"))
}

/// `Shape`.
pub fn shape(t: &Tensor, start: i64, end: Option<i64>) -> Tensor {
    let r = t.shape.len() as i64;
    let clampi = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
    let s = clampi(start);
    let e = clampi(end.unwrap_or(r)).max(s);
    let dims: Vec<i64> = t.shape[s..e].iter().map(|&d| d as i64).collect();
    Tensor::i64(vec![dims.len()], dims)
}

/// `Reshape`.
pub fn reshape(t: &Tensor, target: &Tensor, allowzero: bool) -> R<Tensor> {
    let spec = ints_of(target)?;
    let mut out = Vec::with_capacity(spec.len());
    let mut infer = None;
    for (i, &d) in spec.iter().enumerate() {
        match d {
            0 if !allowzero => out.push(
                *t.shape
                    .get(i)
                    .ok_or("Reshape copies a dimension beyond the input rank")?,
            ),
            -1 if infer.is_none() => {
                infer = Some(i);
                out.push(1);
            }
            d if d >= 0 => out.push(d as usize),
            _ => return Err(format!("bad Reshape target {spec:?}")),
        }
    }
    let n = t.numel();
    if let Some(i) = infer {
        let rest = check_size(&out)?;
        if rest == 0 || !n.is_multiple_of(rest) {
            return Err(format!("cannot reshape {:?} to {spec:?}", t.shape));
        }
        out[i] = n / rest;
    }
    if check_size(&out)? != n {
        return Err(format!("cannot reshape {:?} to {spec:?}", t.shape));
    }
    Ok(Tensor {
        shape: out,
        data: t.data.clone(),
    })
}

/// `Flatten`.
pub fn flatten(t: &Tensor, ax: i64) -> R<Tensor> {
    let rank = t.shape.len();
    let a = if ax == rank as i64 {
        rank
    } else {
        axis(ax, rank)?
    };
    let shape = vec![t.shape[..a].iter().product(), t.shape[a..].iter().product()];
    Ok(Tensor {
        shape,
        data: t.data.clone(),
    })
}

/// `Unsqueeze`.
pub fn unsqueeze(t: &Tensor, attr: Option<&[i64]>, input: Option<&Tensor>) -> R<Tensor> {
    let axes = match (attr, input) {
        (Some(a), _) => a.to_vec(),
        (None, Some(i)) => ints_of(i)?,
        (None, None) => return Err("Unsqueeze without axes".into()),
    };
    let rank = t.shape.len() + axes.len();
    let mut norm = axes.iter().map(|&a| axis(a, rank)).collect::<R<Vec<_>>>()?;
    norm.sort_unstable();
    let mut shape = t.shape.clone();
    for a in norm {
        shape.insert(a, 1);
    }
    Ok(Tensor {
        shape,
        data: t.data.clone(),
    })
}

/// `Squeeze`.
pub fn squeeze(t: &Tensor, attr: Option<&[i64]>, input: Option<&Tensor>) -> R<Tensor> {
    let axes = match (attr, input) {
        (Some(a), _) if !a.is_empty() => a.to_vec(),
        (_, Some(i)) => ints_of(i)?,
        _ => (0..t.shape.len() as i64)
            .filter(|&a| t.shape[a as usize] == 1)
            .collect(),
    };
    let norm = axes
        .iter()
        .map(|&a| axis(a, t.shape.len()))
        .collect::<R<Vec<_>>>()?;
    if norm.iter().any(|&a| t.shape[a] != 1) {
        return Err(format!("Squeeze of a non-unit axis in {:?}", t.shape));
    }
    let shape = t
        .shape
        .iter()
        .enumerate()
        .filter(|(i, _)| !norm.contains(i))
        .map(|(_, &d)| d)
        .collect();
    Ok(Tensor {
        shape,
        data: t.data.clone(),
    })
}

/// `Concat`.
pub fn concat(ts: &[&Tensor], ax: i64) -> R<Tensor> {
    let first = ts.first().ok_or("Concat without inputs")?;
    let rank = first.shape.len();
    let a = axis(ax, rank)?;
    let dtype = first.dtype();
    let mut shape = first.shape.clone();
    shape[a] = 0;
    for t in ts {
        if t.shape.len() != rank || t.dtype() != dtype {
            return Err(format!("Concat of {:?} and {:?}", first.shape, t.shape));
        }
        for d in 0..rank {
            if d != a && t.shape[d] != first.shape[d] {
                return Err(format!(
                    "Concat of {:?} and {:?} along axis {a}",
                    first.shape, t.shape
                ));
            }
        }
        shape[a] += t.shape[a];
    }
    check_size(&shape)?;
    let outer: usize = shape[..a].iter().product();
    let mut parts: Vec<Tensor> = Vec::new();
    let mut idx_all: Vec<(usize, usize)> = Vec::new();
    for o in 0..outer {
        for (k, t) in ts.iter().enumerate() {
            let block: usize = t.shape[a..].iter().product();
            for j in 0..block {
                idx_all.push((k, o * block + j));
            }
        }
    }
    parts.extend(ts.iter().map(|t| (*t).clone()));
    let data = match dtype {
        crate::onnx::tensor::DType::F32 => Data::F32(
            idx_all
                .iter()
                .map(|&(k, i)| parts[k].as_f32().map_or(0.0, |v| v[i]))
                .collect(),
        ),
        crate::onnx::tensor::DType::I64 => Data::I64(
            idx_all
                .iter()
                .map(|&(k, i)| parts[k].as_i64().map_or(0, |v| v[i]))
                .collect(),
        ),
        crate::onnx::tensor::DType::Bool => Data::Bool(
            idx_all
                .iter()
                .map(|&(k, i)| parts[k].as_bool().is_some_and(|v| v[i]))
                .collect(),
        ),
    };
    Ok(Tensor { shape, data })
}

/// `Slice(data, starts, ends, axes?, steps?)`.
pub fn slice(
    t: &Tensor,
    starts: &Tensor,
    ends: &Tensor,
    axes: Option<&Tensor>,
    steps: Option<&Tensor>,
) -> R<Tensor> {
    let starts = ints_of(starts)?;
    let ends = ints_of(ends)?;
    let rank = t.shape.len();
    let axes = match axes {
        Some(a) => ints_of(a)?,
        None => (0..starts.len() as i64).collect(),
    };
    let steps = match steps {
        Some(s) => ints_of(s)?,
        None => vec![1; starts.len()],
    };
    if ends.len() != starts.len() || axes.len() != starts.len() || steps.len() != starts.len() {
        return Err("Slice inputs of different lengths".into());
    }
    let mut begin = vec![0i64; rank];
    let mut step = vec![1i64; rank];
    let mut shape = t.shape.clone();
    for k in 0..starts.len() {
        let a = axis(axes[k], rank)?;
        let dim = t.shape[a] as i64;
        let s = steps[k];
        if s == 0 {
            return Err("Slice step 0".into());
        }
        let norm = |v: i64| if v < 0 { v.saturating_add(dim) } else { v };
        let (lo, hi) = if s > 0 { (0, dim) } else { (-1, dim - 1) };
        let st = norm(starts[k]).clamp(lo, hi);
        let en = norm(ends[k]).clamp(lo, hi);
        let len = if s > 0 {
            (en - st + s - 1).div_euclid(s).max(0)
        } else {
            (st - en + (-s) - 1).div_euclid(-s).max(0)
        };
        begin[a] = st;
        step[a] = s;
        shape[a] = len as usize;
    }
    let src = strides(&t.shape);
    let n = check_size(&shape)?;
    let out_strides = strides(&shape);
    let idx: Vec<usize> = (0..n)
        .map(|f| {
            let mut off = 0i64;
            for d in 0..rank {
                let c = (f / out_strides[d]) % shape[d].max(1);
                off += (begin[d] + c as i64 * step[d]) * src[d] as i64;
            }
            off as usize
        })
        .collect();
    Ok(take(t, &idx, shape))
}

/// `Gather` along `axis`.
pub fn gather(t: &Tensor, indices: &Tensor, ax: i64) -> R<Tensor> {
    let a = axis(ax, t.shape.len())?;
    let ind = ints_of(indices)?;
    let dim = t.shape[a] as i64;
    let ind = ind
        .iter()
        .map(|&i| {
            let j = if i < 0 { i + dim } else { i };
            if (0..dim).contains(&j) {
                Ok(j as usize)
            } else {
                Err(format!("Gather index {i} out of range for dimension {dim}"))
            }
        })
        .collect::<R<Vec<_>>>()?;
    let outer: usize = t.shape[..a].iter().product();
    let inner: usize = t.shape[a + 1..].iter().product();
    let mut shape = t.shape[..a].to_vec();
    shape.extend_from_slice(&indices.shape);
    shape.extend_from_slice(&t.shape[a + 1..]);
    check_size(&shape)?;
    let mut idx = Vec::new();
    for o in 0..outer {
        for &i in &ind {
            for j in 0..inner {
                idx.push((o * t.shape[a] + i) * inner + j);
            }
        }
    }
    Ok(take(t, &idx, shape))
}

/// `GatherND`.
pub fn gather_nd(t: &Tensor, indices: &Tensor, batch_dims: usize) -> R<Tensor> {
    let ind = ints_of(indices)?;
    let q = indices.shape.len();
    let k = *indices.shape.last().ok_or("GatherND with scalar indices")?;
    if batch_dims + k > t.shape.len() || batch_dims >= q {
        return Err("GatherND index depth exceeds the data rank".into());
    }
    let batch: usize = t.shape[..batch_dims].iter().product();
    let per_batch: usize = t.shape[batch_dims..].iter().product();
    let slice_shape = &t.shape[batch_dims + k..];
    let slice_len: usize = slice_shape.iter().product();
    let src = strides(&t.shape[batch_dims..]);
    let tuples = ind.len() / k.max(1);
    let tuples_per_batch = tuples / batch.max(1);
    let mut idx = Vec::new();
    for tup in 0..tuples {
        let b = tup / tuples_per_batch.max(1);
        let mut off = b * per_batch;
        for d in 0..k {
            let dim = t.shape[batch_dims + d] as i64;
            let v = ind[tup * k + d];
            let v = if v < 0 { v + dim } else { v };
            if !(0..dim).contains(&v) {
                return Err(format!("GatherND index {v} out of range"));
            }
            off += v as usize * src[d];
        }
        idx.extend(off..off + slice_len);
    }
    let mut shape = indices.shape[..q - 1].to_vec();
    shape.extend_from_slice(slice_shape);
    Ok(take(t, &idx, shape))
}

/// `Expand`.
pub fn expand(t: &Tensor, target: &Tensor) -> R<Tensor> {
    let spec = ints_of(target)?;
    let spec = spec
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| "negative Expand dim".to_string()))
        .collect::<R<Vec<_>>>()?;
    let shape = broadcast_shape(&t.shape, &spec)?;
    let idx = broadcast_index(&t.shape, &shape);
    Ok(take(t, &idx, shape))
}

/// `Transpose`.
pub fn transpose(t: &Tensor, perm: Option<&[i64]>) -> R<Tensor> {
    let rank = t.shape.len();
    let perm: Vec<usize> = match perm {
        Some(p) => p.iter().map(|&a| axis(a, rank)).collect::<R<_>>()?,
        None => (0..rank).rev().collect(),
    };
    let mut seen = vec![false; rank];
    for &p in &perm {
        if std::mem::replace(&mut seen[p], true) {
            return Err(format!("bad Transpose perm {perm:?}"));
        }
    }
    if perm.len() != rank {
        return Err(format!("Transpose perm {perm:?} for rank {rank}"));
    }
    let shape: Vec<usize> = perm.iter().map(|&p| t.shape[p]).collect();
    let src = strides(&t.shape);
    let out_strides = strides(&shape);
    let n = t.numel();
    let idx: Vec<usize> = (0..n)
        .map(|f| {
            (0..rank)
                .map(|d| ((f / out_strides[d]) % shape[d]) * src[perm[d]])
                .sum()
        })
        .collect();
    Ok(take(t, &idx, shape))
}

/// `Range`.
pub fn range(start: &Tensor, limit: &Tensor, delta: &Tensor) -> R<Tensor> {
    match (&start.data, &limit.data, &delta.data) {
        (Data::I64(s), Data::I64(l), Data::I64(d))
            if s.len() == 1 && l.len() == 1 && d.len() == 1 =>
        {
            let (s, l, d) = (s[0], l[0], d[0]);
            if d == 0 {
                return Err("Range delta 0".into());
            }
            let n = ((l - s) as f64 / d as f64).ceil().max(0.0) as usize;
            check_size(&[n])?;
            Ok(Tensor::i64(
                vec![n],
                (0..n as i64).map(|i| s + i * d).collect(),
            ))
        }
        (Data::F32(s), Data::F32(l), Data::F32(d))
            if s.len() == 1 && l.len() == 1 && d.len() == 1 =>
        {
            let (s, l, d) = (s[0], l[0], d[0]);
            let n = ((l - s) / d).ceil();
            if !n.is_finite() {
                return Err("Range with a non-finite length".into());
            }
            let n = n.max(0.0) as usize;
            check_size(&[n])?;
            Ok(Tensor::f32(
                vec![n],
                (0..n).map(|i| s + i as f32 * d).collect(),
            ))
        }
        _ => Err("Range of non-scalar or mixed inputs".into()),
    }
}

/// `ConstantOfShape`.
pub fn constant_of_shape(shape: &Tensor, value: &Tensor) -> R<Tensor> {
    let dims = ints_of(shape)?
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| "negative ConstantOfShape dim".to_string()))
        .collect::<R<Vec<_>>>()?;
    let n = check_size(&dims)?;
    Ok(take(value, &vec![0; n], dims))
}

/// `Trilu` over the last two axes.
pub fn trilu(t: &Tensor, k: Option<&Tensor>, upper: bool) -> R<Tensor> {
    let k = match k {
        Some(k) => *ints_of(k)?.first().ok_or("Trilu k is empty")?,
        None => 0,
    };
    let r = t.shape.len();
    if r < 2 {
        return Err("Trilu of rank < 2".into());
    }
    let (rows, cols) = (t.shape[r - 2], t.shape[r - 1]);
    let keep: Vec<bool> = (0..t.numel())
        .map(|f| {
            let i = ((f / cols) % rows) as i64;
            let j = (f % cols) as i64;
            if upper {
                j - i >= k
            } else {
                j - i <= k
            }
        })
        .collect();
    let data = match &t.data {
        Data::F32(v) => Data::F32(
            v.iter()
                .zip(&keep)
                .map(|(&x, &m)| if m { x } else { 0.0 })
                .collect(),
        ),
        Data::I64(v) => Data::I64(
            v.iter()
                .zip(&keep)
                .map(|(&x, &m)| if m { x } else { 0 })
                .collect(),
        ),
        Data::Bool(v) => Data::Bool(v.iter().zip(&keep).map(|(&x, &m)| x && m).collect()),
    };
    Ok(Tensor {
        shape: t.shape.clone(),
        data,
    })
}
