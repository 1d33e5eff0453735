//! The frontend's ONNX graph: protobuf-free, with every node imported into an [`Op`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::ops::Op;
use super::tensor::Tensor;

/// One dimension of a graph input or output as declared in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dim {
    /// A fixed size.
    Fixed(usize),
    /// A symbolic size (`batch_size`, `past_sequence_length`, ...) or an unnamed one.
    Symbolic(String),
}

/// A declared graph input or output.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueInfo {
    /// Value name.
    pub name: String,
    /// ONNX element type code (1 = FLOAT, 7 = INT64, 9 = BOOL, ...).
    pub elem_type: i32,
    /// Declared dimensions (empty if the file gives no shape).
    pub dims: Vec<Dim>,
}

/// An attribute value of a node, before import.
#[derive(Debug, Clone, PartialEq)]
pub enum Attr {
    /// `i`.
    Int(i64),
    /// `f`.
    Float(f32),
    /// `ints`.
    Ints(Vec<i64>),
    /// `floats`.
    Floats(Vec<f32>),
    /// `s` (bytes, usually UTF-8).
    String(Vec<u8>),
    /// `t`.
    Tensor(Tensor),
    /// A kind the frontend does not use (graph, sparse tensor, type proto, lists of those).
    Other,
}

/// A node as read from the file: its op type and raw attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct RawNode {
    /// Node name, or `#index` if the file leaves it empty.
    pub name: String,
    /// ONNX op type.
    pub op_type: String,
    /// Domain (`` = default ONNX domain).
    pub domain: String,
    /// Opset version imported by the model for the node's domain.
    pub opset: i64,
    /// Input value names (`` for an omitted optional input).
    pub inputs: Vec<String>,
    /// Output value names.
    pub outputs: Vec<String>,
    /// Attributes by name.
    pub attrs: BTreeMap<String, Attr>,
}

/// An imported node: the raw node plus its typed op.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Name, op type, opset, inputs, outputs and attributes as in the file.
    pub raw: RawNode,
    /// The imported op.
    pub op: Op,
}

impl Node {
    /// Node name.
    pub fn name(&self) -> &str {
        &self.raw.name
    }
}

/// An ONNX model after loading and import.
#[derive(Debug, Clone, PartialEq)]
pub struct Graph {
    /// The file it came from (for error messages).
    pub path: PathBuf,
    /// Opset of the default ONNX domain.
    pub opset: i64,
    /// Graph inputs that are not initializers.
    pub inputs: Vec<ValueInfo>,
    /// Graph outputs.
    pub outputs: Vec<ValueInfo>,
    /// Initializers by name.
    pub initializers: BTreeMap<String, Tensor>,
    /// Nodes in topological order.
    pub nodes: Vec<Node>,
}
