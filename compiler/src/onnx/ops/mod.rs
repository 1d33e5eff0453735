//! ONNX ops: one import function per op type, registered by name, and the op semantics.
//!
//! Import turns a [`RawNode`] (op type, attributes, opset) into an [`Op`]; it is where opset
//! differences are resolved (for instance `axes` as an attribute before opset 13/18 and as an
//! input after). [`eval`] runs an op on concrete tensors: the frontend uses it to constant-fold
//! the shape plumbing of an export and to run the graph once on sample inputs, which gives every
//! value a shape and lets the recognizer check each Llama block numerically.
//!
//! To add an op: write its import function in the file of its family, add a line to [`REGISTRY`],
//! and its semantics in [`eval`] (see `docs/dev/adding-an-onnx-op.md`).

mod attrs;
mod elementwise;
mod layout;
mod llama;
mod matmul;
mod reduce;

use super::graph::RawNode;
use super::tensor::{DType, Tensor};
use crate::error::{CompileError, Result};

pub use elementwise::{BinOp, UnOp};

/// An imported ONNX op with its attributes resolved for its opset.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// `Constant`: the value attribute.
    Constant(Tensor),
    /// `Identity`, and a single-input `Concat`.
    Identity,
    /// `Cast` to an element type.
    Cast(DType),
    /// `Shape` with optional `start`/`end` (opset 15).
    Shape {
        /// First axis.
        start: i64,
        /// One past the last axis (`None` = rank).
        end: Option<i64>,
    },
    /// `Size`.
    Size,
    /// `Reshape` (shape as input 1).
    Reshape {
        /// `allowzero` attribute.
        allowzero: bool,
    },
    /// `Flatten` at an axis: `[d0..d(a-1)] × [da..]` as a 2-D tensor.
    Flatten(i64),
    /// `Unsqueeze`: axes as attribute (opset < 13) or input 1.
    Unsqueeze(Option<Vec<i64>>),
    /// `Squeeze`: axes as attribute (opset < 13), input 1, or none (all unit axes).
    Squeeze(Option<Vec<i64>>),
    /// `Concat` along an axis.
    Concat(i64),
    /// `Slice` (starts, ends, axes, steps as inputs; opset ≥ 10).
    Slice,
    /// `Gather` along an axis.
    Gather(i64),
    /// `GatherND` with batch dims.
    GatherNd(usize),
    /// `Expand` (shape as input 1).
    Expand,
    /// `Transpose` (`None` = reverse the axes).
    Transpose(Option<Vec<i64>>),
    /// `Range(start, limit, delta)`.
    Range,
    /// `ConstantOfShape` with the fill value.
    ConstantOfShape(Tensor),
    /// `Trilu` (k as optional input 1).
    Trilu {
        /// Keep the upper triangle.
        upper: bool,
    },
    /// Broadcasting binary op.
    Binary(BinOp),
    /// Unary op.
    Unary(UnOp),
    /// `Where(cond, x, y)`.
    Where,
    /// `MatMul` (numpy semantics).
    MatMul,
    /// `ReduceMean` over axes (attribute before opset 18, input after).
    ReduceMean {
        /// Axes from the attribute (opset < 18).
        axes: Option<Vec<i64>>,
        /// Keep reduced axes as size 1.
        keepdims: bool,
    },
    /// `Softmax`: along one axis (opset ≥ 13), or (`flatten`, opset < 13) over all axes from
    /// `axis` on, the input coerced to 2-D.
    Softmax {
        /// The axis.
        axis: i64,
        /// Opset < 13 semantics.
        flatten: bool,
    },
    /// `RMSNormalization` (opset 23).
    RmsNormalization {
        /// First normalized axis.
        axis: i64,
        /// Epsilon added to the mean square.
        epsilon: f32,
    },
    /// `RotaryEmbedding` (opset 23).
    RotaryEmbedding {
        /// Interleaved (GPT-J) layout instead of rotate-half.
        interleaved: bool,
        /// Number of heads (needed for 3D input).
        num_heads: usize,
        /// Rotated prefix of each head (0 = all).
        rotary_embedding_dim: usize,
    },
    /// `Attention` (opset 23), 4D inputs, without past-KV inputs.
    Attention {
        /// Score scale (`None` = 1/√head_dim).
        scale: Option<f32>,
        /// Causal masking.
        is_causal: bool,
    },
}

/// Signature of an import function.
pub type ImportFn = fn(&RawNode) -> Result<Op>;

/// Every supported op type of the default ONNX domain with its import function.
pub const REGISTRY: &[(&str, ImportFn)] = &[
    ("Constant", attrs::import_constant),
    ("Identity", |_| Ok(Op::Identity)),
    ("Cast", elementwise::import_cast),
    ("Shape", layout::import_shape),
    ("Size", |_| Ok(Op::Size)),
    ("Reshape", layout::import_reshape),
    ("Flatten", layout::import_flatten),
    ("Unsqueeze", layout::import_unsqueeze),
    ("Squeeze", layout::import_squeeze),
    ("Concat", layout::import_concat),
    ("Slice", layout::import_slice),
    ("Gather", layout::import_gather),
    ("GatherND", layout::import_gather_nd),
    ("Expand", |_| Ok(Op::Expand)),
    ("Transpose", layout::import_transpose),
    ("Range", |_| Ok(Op::Range)),
    ("ConstantOfShape", attrs::import_constant_of_shape),
    ("Trilu", layout::import_trilu),
    ("Add", |_| Ok(Op::Binary(BinOp::Add))),
    ("Sub", |_| Ok(Op::Binary(BinOp::Sub))),
    ("Mul", |_| Ok(Op::Binary(BinOp::Mul))),
    ("Div", |_| Ok(Op::Binary(BinOp::Div))),
    ("Pow", |_| Ok(Op::Binary(BinOp::Pow))),
    ("Max", elementwise::import_max),
    ("Min", elementwise::import_min),
    ("Equal", |_| Ok(Op::Binary(BinOp::Equal))),
    ("Less", |_| Ok(Op::Binary(BinOp::Less))),
    ("LessOrEqual", |_| Ok(Op::Binary(BinOp::LessOrEqual))),
    ("Greater", |_| Ok(Op::Binary(BinOp::Greater))),
    ("GreaterOrEqual", |_| Ok(Op::Binary(BinOp::GreaterOrEqual))),
    ("And", |_| Ok(Op::Binary(BinOp::And))),
    ("Or", |_| Ok(Op::Binary(BinOp::Or))),
    ("Not", |_| Ok(Op::Unary(UnOp::Not))),
    ("Neg", |_| Ok(Op::Unary(UnOp::Neg))),
    ("Sqrt", |_| Ok(Op::Unary(UnOp::Sqrt))),
    ("Reciprocal", |_| Ok(Op::Unary(UnOp::Reciprocal))),
    ("Sigmoid", |_| Ok(Op::Unary(UnOp::Sigmoid))),
    ("Exp", |_| Ok(Op::Unary(UnOp::Exp))),
    ("Cos", |_| Ok(Op::Unary(UnOp::Cos))),
    ("Sin", |_| Ok(Op::Unary(UnOp::Sin))),
    ("IsNaN", |_| Ok(Op::Unary(UnOp::IsNaN))),
    ("IsInf", elementwise::import_is_inf),
    ("Where", |_| Ok(Op::Where)),
    ("MatMul", |_| Ok(Op::MatMul)),
    ("ReduceMean", reduce::import_reduce_mean),
    ("Softmax", reduce::import_softmax),
    ("RMSNormalization", llama::import_rms_normalization),
    ("RotaryEmbedding", llama::import_rotary_embedding),
    ("Attention", llama::import_attention),
];

/// Imports one node: looks its op type up in [`REGISTRY`] (default domain only).
pub fn import(node: &RawNode) -> Result<Op> {
    let entry = REGISTRY.iter().find(|(name, _)| *name == node.op_type);
    match entry {
        Some((_, f)) if node.domain.is_empty() => f(node),
        _ => Err(CompileError::UnsupportedOp {
            node: node.name.clone(),
            op_type: node.op_type.clone(),
            domain: node.domain.clone(),
            opset: node.opset,
        }),
    }
}

/// An error of [`eval`]: a message the caller wraps with the node's name.
pub type EvalError = String;

/// Runs `op` on concrete inputs (`None` = omitted optional input). Returns the outputs in order.
pub fn eval(op: &Op, inputs: &[Option<&Tensor>]) -> std::result::Result<Vec<Tensor>, EvalError> {
    let arg = |i: usize| -> std::result::Result<&Tensor, EvalError> {
        inputs
            .get(i)
            .copied()
            .flatten()
            .ok_or_else(|| format!("input {i} is missing"))
    };
    let one = |t: Tensor| Ok(vec![t]);
    match op {
        Op::Constant(t) => one(t.clone()),
        Op::Identity => one(arg(0)?.clone()),
        Op::Cast(to) => one(elementwise::cast(arg(0)?, *to)),
        Op::Shape { start, end } => one(layout::shape(arg(0)?, *start, *end)),
        Op::Size => one(Tensor::i64(vec![], vec![arg(0)?.numel() as i64])),
        Op::Reshape { allowzero } => one(layout::reshape(arg(0)?, arg(1)?, *allowzero)?),
        Op::Flatten(axis) => one(layout::flatten(arg(0)?, *axis)?),
        Op::Unsqueeze(axes) => one(layout::unsqueeze(
            arg(0)?,
            axes.as_deref(),
            inputs.get(1).copied().flatten(),
        )?),
        Op::Squeeze(axes) => one(layout::squeeze(
            arg(0)?,
            axes.as_deref(),
            inputs.get(1).copied().flatten(),
        )?),
        Op::Concat(axis) => {
            let ts = inputs
                .iter()
                .map(|t| t.ok_or("missing Concat input".to_string()))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            one(layout::concat(&ts, *axis)?)
        }
        Op::Slice => one(layout::slice(
            arg(0)?,
            arg(1)?,
            arg(2)?,
            inputs.get(3).copied().flatten(),
            inputs.get(4).copied().flatten(),
        )?),
        Op::Gather(axis) => one(layout::gather(arg(0)?, arg(1)?, *axis)?),
        Op::GatherNd(b) => one(layout::gather_nd(arg(0)?, arg(1)?, *b)?),
        Op::Expand => one(layout::expand(arg(0)?, arg(1)?)?),
        Op::Transpose(perm) => one(layout::transpose(arg(0)?, perm.as_deref())?),
        Op::Range => one(layout::range(arg(0)?, arg(1)?, arg(2)?)?),
        Op::ConstantOfShape(value) => one(layout::constant_of_shape(arg(0)?, value)?),
        Op::Trilu { upper } => one(layout::trilu(
            arg(0)?,
            inputs.get(1).copied().flatten(),
            *upper,
        )?),
        Op::Binary(b) => one(elementwise::binary(*b, arg(0)?, arg(1)?)?),
        Op::Unary(u) => one(elementwise::unary(*u, arg(0)?)?),
        Op::Where => one(elementwise::where_(arg(0)?, arg(1)?, arg(2)?)?),
        Op::MatMul => one(matmul::matmul(arg(0)?, arg(1)?)?),
        Op::ReduceMean { axes, keepdims } => one(reduce::reduce_mean(
            arg(0)?,
            axes.as_deref(),
            inputs.get(1).copied().flatten(),
            *keepdims,
        )?),
        Op::Softmax { axis, flatten } => one(reduce::softmax(arg(0)?, *axis, *flatten)?),
        Op::RmsNormalization { axis, epsilon } => {
            one(llama::rms_normalization(arg(0)?, arg(1)?, *axis, *epsilon)?)
        }
        Op::RotaryEmbedding {
            interleaved,
            num_heads,
            rotary_embedding_dim,
        } => one(llama::rotary_embedding(
            arg(0)?,
            arg(1)?,
            arg(2)?,
            inputs.get(3).copied().flatten(),
            *interleaved,
            *num_heads,
            *rotary_embedding_dim,
        )?),
        Op::Attention { scale, is_causal } => llama::attention(
            arg(0)?,
            arg(1)?,
            arg(2)?,
            inputs.get(3).copied().flatten(),
            *scale,
            *is_causal,
        ),
    }
}

#[cfg(test)]
mod tests;
