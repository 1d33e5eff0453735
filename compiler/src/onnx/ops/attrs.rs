//! Attribute access for import functions, and the ops whose whole content is an attribute.

use super::Op;
use crate::error::{CompileError, Result};
use crate::onnx::graph::{Attr, RawNode};
use crate::onnx::tensor::Tensor;

/// An error about `node`.
pub fn bad(node: &RawNode, reason: impl Into<String>) -> CompileError {
    CompileError::BadNode {
        node: node.name.clone(),
        op_type: node.op_type.clone(),
        opset: node.opset,
        reason: reason.into(),
    }
}

/// Integer attribute `name`, or `default`.
pub fn int(node: &RawNode, name: &str, default: i64) -> Result<i64> {
    match node.attrs.get(name) {
        None => Ok(default),
        Some(Attr::Int(i)) => Ok(*i),
        Some(other) => Err(bad(
            node,
            format!("attribute `{name}` must be an int, found {other:?}"),
        )),
    }
}

/// Float attribute `name`, if present.
pub fn float(node: &RawNode, name: &str) -> Result<Option<f32>> {
    match node.attrs.get(name) {
        None => Ok(None),
        Some(Attr::Float(f)) => Ok(Some(*f)),
        Some(other) => Err(bad(
            node,
            format!("attribute `{name}` must be a float, found {other:?}"),
        )),
    }
}

/// Ints attribute `name`, if present.
pub fn ints(node: &RawNode, name: &str) -> Result<Option<Vec<i64>>> {
    match node.attrs.get(name) {
        None => Ok(None),
        Some(Attr::Ints(v)) => Ok(Some(v.clone())),
        Some(other) => Err(bad(
            node,
            format!("attribute `{name}` must be ints, found {other:?}"),
        )),
    }
}

/// `Constant`: only the `value` (tensor) and scalar/list forms a Llama export uses.
pub fn import_constant(node: &RawNode) -> Result<Op> {
    let t = match (
        node.attrs.get("value"),
        node.attrs.get("value_float"),
        node.attrs.get("value_int"),
        node.attrs.get("value_ints"),
        node.attrs.get("value_floats"),
    ) {
        (Some(Attr::Tensor(t)), ..) => t.clone(),
        (_, Some(Attr::Float(f)), ..) => Tensor::f32(vec![], vec![*f]),
        (_, _, Some(Attr::Int(i)), ..) => Tensor::i64(vec![], vec![*i]),
        (_, _, _, Some(Attr::Ints(v)), _) => Tensor::i64(vec![v.len()], v.clone()),
        (_, _, _, _, Some(Attr::Floats(v))) => Tensor::f32(vec![v.len()], v.clone()),
        _ => return Err(bad(node, "no supported value attribute (value, value_float, value_int, value_ints, value_floats)")),
    };
    Ok(Op::Constant(t))
}

/// `ConstantOfShape`: fill value from the `value` attribute (default f32 zero).
pub fn import_constant_of_shape(node: &RawNode) -> Result<Op> {
    match node.attrs.get("value") {
        None => Ok(Op::ConstantOfShape(Tensor::f32(vec![1], vec![0.0]))),
        Some(Attr::Tensor(t)) if t.numel() == 1 => Ok(Op::ConstantOfShape(t.clone())),
        Some(other) => Err(bad(
            node,
            format!("`value` must be a one-element tensor, found {other:?}"),
        )),
    }
}
