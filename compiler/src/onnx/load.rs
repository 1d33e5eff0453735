//! Reading an ONNX file: protobuf decoding, tensors (raw, typed and external data), attributes.
//!
//! The protobuf types of `onnx-protobuf` never leave this file: it returns a [`Graph`] of the
//! frontend's own types.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use onnx_protobuf::{
    attribute_proto::AttributeType, tensor_proto::DataLocation, type_proto, AttributeProto,
    Message, ModelProto, TensorProto, ValueInfoProto,
};

use super::graph::{Attr, Dim, Graph, Node, RawNode, ValueInfo};
use super::ops;
use super::tensor::{checked_numel, Tensor};
use crate::error::{CompileError, Result};

/// Reads, decodes and imports the ONNX model at `path` (external data files are looked up in
/// the model's folder).
pub fn load_model(path: &Path) -> Result<Graph> {
    let bytes = std::fs::read(path).map_err(|source| CompileError::Io {
        path: path.into(),
        source,
    })?;
    decode_model(&bytes, path)
}

/// Decodes and imports an ONNX model from `bytes`; `path` names the file in errors and locates
/// external data.
pub fn decode_model(bytes: &[u8], path: &Path) -> Result<Graph> {
    let not_onnx = |reason: String| CompileError::NotOnnx {
        path: path.into(),
        reason,
    };
    let model = ModelProto::parse_from_bytes(bytes).map_err(|e| not_onnx(e.to_string()))?;
    if model.ir_version <= 0 {
        return Err(not_onnx(
            "no ir_version (empty or not an ONNX ModelProto)".into(),
        ));
    }
    let Some(graph) = model.graph.as_ref() else {
        return Err(not_onnx("the model has no graph".into()));
    };
    if graph.node.is_empty() {
        return Err(not_onnx("the graph has no nodes".into()));
    }
    let mut opsets = BTreeMap::new();
    for o in &model.opset_import {
        let domain = if o.domain == "ai.onnx" {
            String::new()
        } else {
            o.domain.clone()
        };
        opsets.insert(domain, o.version);
    }
    let Some(&opset) = opsets.get("") else {
        return Err(not_onnx(
            "no opset_import for the default ONNX domain".into(),
        ));
    };
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();

    let mut initializers = BTreeMap::new();
    for t in &graph.initializer {
        initializers.insert(t.name.clone(), read_tensor(t, path, &dir)?);
    }
    let inputs = graph
        .input
        .iter()
        .filter(|v| !initializers.contains_key(&v.name))
        .map(value_info)
        .collect::<Vec<_>>();
    let outputs = graph.output.iter().map(value_info).collect::<Vec<_>>();

    let mut defined: BTreeSet<String> = initializers.keys().cloned().collect();
    defined.extend(inputs.iter().map(|v| v.name.clone()));
    let mut nodes = Vec::with_capacity(graph.node.len());
    for (index, n) in graph.node.iter().enumerate() {
        let name = if n.name.is_empty() {
            format!("#{index}")
        } else {
            n.name.clone()
        };
        let domain = if n.domain == "ai.onnx" {
            String::new()
        } else {
            n.domain.clone()
        };
        let node_opset = opsets.get(&domain).copied().unwrap_or(0);
        let mut attrs = BTreeMap::new();
        for a in &n.attribute {
            attrs.insert(a.name.clone(), read_attr(a, path, &dir, &name)?);
        }
        let raw = RawNode {
            name,
            op_type: n.op_type.clone(),
            domain,
            opset: node_opset,
            inputs: n.input.clone(),
            outputs: n.output.clone(),
            attrs,
        };
        for input in raw.inputs.iter().filter(|i| !i.is_empty()) {
            if !defined.contains(input) {
                return Err(CompileError::BadNode {
                    node: raw.name.clone(),
                    op_type: raw.op_type.clone(),
                    opset: raw.opset,
                    reason: format!("input `{input}` is not defined before the node (the graph is not topologically sorted or is truncated)"),
                });
            }
        }
        defined.extend(raw.outputs.iter().filter(|o| !o.is_empty()).cloned());
        let op = ops::import(&raw)?;
        nodes.push(Node { raw, op });
    }
    for out in &outputs {
        if !defined.contains(&out.name) {
            return Err(not_onnx(format!(
                "graph output `{}` is produced by no node",
                out.name
            )));
        }
    }
    Ok(Graph {
        path: path.into(),
        opset,
        inputs,
        outputs,
        initializers,
        nodes,
    })
}

fn value_info(v: &ValueInfoProto) -> ValueInfo {
    let mut elem_type = 0;
    let mut dims = Vec::new();
    if let Some(type_proto::Value::TensorType(t)) = v.type_.as_ref().and_then(|t| t.value.as_ref())
    {
        elem_type = t.elem_type;
        if let Some(shape) = t.shape.as_ref() {
            for d in &shape.dim {
                dims.push(match &d.value {
                    Some(onnx_protobuf::tensor_shape_proto::dimension::Value::DimValue(n))
                        if *n >= 0 =>
                    {
                        Dim::Fixed(*n as usize)
                    }
                    Some(onnx_protobuf::tensor_shape_proto::dimension::Value::DimParam(s)) => {
                        Dim::Symbolic(s.clone())
                    }
                    _ => Dim::Symbolic(String::new()),
                });
            }
        }
    }
    ValueInfo {
        name: v.name.clone(),
        elem_type,
        dims,
    }
}

fn read_attr(a: &AttributeProto, path: &Path, dir: &Path, node: &str) -> Result<Attr> {
    Ok(match a.type_.enum_value() {
        Ok(AttributeType::INT) => Attr::Int(a.i),
        Ok(AttributeType::FLOAT) => Attr::Float(a.f),
        Ok(AttributeType::INTS) => Attr::Ints(a.ints.clone()),
        Ok(AttributeType::FLOATS) => Attr::Floats(a.floats.clone()),
        Ok(AttributeType::STRING) => Attr::String(a.s.clone()),
        Ok(AttributeType::TENSOR) => match a.t.as_ref() {
            Some(t) => Attr::Tensor(read_tensor(t, path, dir).map_err(|e| match e {
                CompileError::BadTensor { path, reason, .. } => CompileError::BadTensor {
                    path,
                    tensor: format!("{node}.{}", a.name),
                    reason,
                },
                other => other,
            })?),
            None => Attr::Other,
        },
        _ => Attr::Other,
    })
}

/// Element size in bytes and decoder of an ONNX element type stored as raw little-endian bytes.
fn read_tensor(t: &TensorProto, path: &Path, dir: &Path) -> Result<Tensor> {
    let bad = |reason: String| CompileError::BadTensor {
        path: path.into(),
        tensor: t.name.clone(),
        reason,
    };
    let mut shape = Vec::with_capacity(t.dims.len());
    for &d in &t.dims {
        shape.push(usize::try_from(d).map_err(|_| bad(format!("negative dimension {d}")))?);
    }
    let n = checked_numel(&shape).ok_or_else(|| bad(format!("shape {shape:?} is too large")))?;
    let external;
    let raw: &[u8] = if t.data_location.enum_value() == Ok(DataLocation::EXTERNAL) {
        external = read_external(t, path, dir)?;
        &external
    } else {
        &t.raw_data
    };
    let has_raw = !raw.is_empty() || t.data_location.enum_value() == Ok(DataLocation::EXTERNAL);
    let check_len = |got: usize, what: &str| {
        if got == n {
            Ok(())
        } else {
            Err(bad(format!(
                "{what} holds {got} elements, the shape {shape:?} needs {n}"
            )))
        }
    };
    let elem = |size: usize| -> Result<std::slice::ChunksExact<'_, u8>> {
        if raw.len() != n * size {
            return Err(bad(format!(
                "raw data has {} bytes, the shape {shape:?} needs {}",
                raw.len(),
                n * size
            )));
        }
        Ok(raw.chunks_exact(size))
    };
    let tensor = match t.data_type {
        // FLOAT
        1 if has_raw => Tensor::f32(
            shape.clone(),
            elem(4)?
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
        ),
        1 => {
            check_len(t.float_data.len(), "float_data")?;
            Tensor::f32(shape.clone(), t.float_data.clone())
        }
        // DOUBLE
        11 if has_raw => Tensor::f32(
            shape.clone(),
            elem(8)?
                .map(|b| f64::from_le_bytes(b.try_into().unwrap_or([0; 8])) as f32)
                .collect(),
        ),
        11 => {
            check_len(t.double_data.len(), "double_data")?;
            Tensor::f32(
                shape.clone(),
                t.double_data.iter().map(|&x| x as f32).collect(),
            )
        }
        // FLOAT16
        10 if has_raw => Tensor::f32(
            shape.clone(),
            elem(2)?
                .map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]])))
                .collect(),
        ),
        10 => {
            check_len(t.int32_data.len(), "int32_data")?;
            Tensor::f32(
                shape.clone(),
                t.int32_data.iter().map(|&x| f16_to_f32(x as u16)).collect(),
            )
        }
        // INT64
        7 if has_raw => Tensor::i64(
            shape.clone(),
            elem(8)?
                .map(|b| i64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
                .collect(),
        ),
        7 => {
            check_len(t.int64_data.len(), "int64_data")?;
            Tensor::i64(shape.clone(), t.int64_data.clone())
        }
        // INT32
        6 if has_raw => Tensor::i64(
            shape.clone(),
            elem(4)?
                .map(|b| i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])))
                .collect(),
        ),
        2..=6 if !has_raw => {
            check_len(t.int32_data.len(), "int32_data")?;
            Tensor::i64(
                shape.clone(),
                t.int32_data.iter().map(|&x| i64::from(x)).collect(),
            )
        }
        // INT8 / UINT8
        3 => Tensor::i64(
            shape.clone(),
            elem(1)?.map(|b| i64::from(b[0] as i8)).collect(),
        ),
        2 => Tensor::i64(shape.clone(), elem(1)?.map(|b| i64::from(b[0])).collect()),
        // BOOL
        9 if has_raw => Tensor::bool(shape.clone(), elem(1)?.map(|b| b[0] != 0).collect()),
        9 => {
            check_len(t.int32_data.len(), "int32_data")?;
            Tensor::bool(
                shape.clone(),
                t.int32_data.iter().map(|&x| x != 0).collect(),
            )
        }
        other => return Err(bad(format!("unsupported element type {other}"))),
    };
    Ok(tensor)
}

/// Reads the bytes of an external-data tensor (`location`, `offset`, `length` entries).
fn read_external(t: &TensorProto, path: &Path, dir: &Path) -> Result<Vec<u8>> {
    let mut location = None;
    let mut offset = 0u64;
    let mut length = None;
    for kv in &t.external_data {
        match kv.key.as_str() {
            "location" => location = Some(kv.value.clone()),
            "offset" => offset = kv.value.parse().unwrap_or(u64::MAX),
            "length" => length = Some(kv.value.parse().unwrap_or(u64::MAX)),
            _ => {}
        }
    }
    let Some(location) = location else {
        return Err(CompileError::BadTensor {
            path: path.into(),
            tensor: t.name.clone(),
            reason: "external data without a `location` entry".into(),
        });
    };
    let err = |reason: String| CompileError::ExternalData {
        path: path.into(),
        tensor: t.name.clone(),
        location: location.clone(),
        reason,
    };
    let rel = PathBuf::from(&location);
    if rel
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(err(
            "the location must be a relative path inside the model's folder".into(),
        ));
    }
    let file = dir.join(&rel);
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(&file)
        .map_err(|e| err(format!("cannot open {}: {e}", file.display())))?;
    let size = f.metadata().map_err(|e| err(e.to_string()))?.len();
    let length = length.unwrap_or(size.saturating_sub(offset));
    if offset.checked_add(length).is_none_or(|end| end > size) {
        return Err(err(format!(
            "bytes {offset}..{} lie outside the file ({size} bytes)",
            offset.saturating_add(length)
        )));
    }
    if length > (super::tensor::MAX_ELEMENTS as u64) * 8 {
        return Err(err(format!("{length} bytes is too large")));
    }
    let mut buf = vec![0u8; length as usize];
    f.seek(SeekFrom::Start(offset))
        .map_err(|e| err(e.to_string()))?;
    f.read_exact(&mut buf).map_err(|e| err(e.to_string()))?;
    Ok(buf)
}

/// IEEE half to single precision.
pub(crate) fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let frac = u32::from(h & 0x3ff);
    let bits = match (exp, frac) {
        (0, 0) => sign,
        (0, _) => {
            // subnormal: frac * 2^-24
            let v = frac as f32 * (1.0 / 16_777_216.0);
            return if sign != 0 { -v } else { v };
        }
        (0x1f, 0) => sign | 0x7f80_0000,
        (0x1f, _) => sign | 0x7fc0_0000,
        _ => sign | ((exp + 112) << 23) | (frac << 13),
    };
    f32::from_bits(bits)
}
