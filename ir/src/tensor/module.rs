//! A tensor-IR module: the weight table, the values and the nodes of one decode step, in
//! program order.

use super::op::Op;
use super::verify::result_len;
use super::weight::{Weight, WeightTable};
use crate::arena::{Arena, Id};
use crate::error::Result;

/// A value: a vector of `len` f32.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Value {
    /// Number of entries (`vec<len>`).
    pub len: usize,
}

/// Id of a [`Value`].
pub type ValueId = Id<Value>;

/// One op applied to operands; `result` is the value it defines (none for [`Op::Output`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The op.
    pub op: Op,
    /// Operands, `op.arity()` of them.
    pub args: Vec<ValueId>,
    /// The defined value.
    pub result: Option<ValueId>,
}

/// Id of a [`Node`].
pub type NodeId = Id<Node>;

/// A decode step: weights, values, and nodes in execution order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Module {
    /// Weights by name.
    pub weights: WeightTable,
    /// Every value, numbered in definition order.
    pub values: Arena<Value>,
    /// Nodes in program order.
    pub nodes: Arena<Node>,
}

impl Module {
    /// An empty module.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) weight `name`.
    pub fn add_weight(&mut self, name: impl Into<String>, weight: Weight) {
        self.weights.insert(name.into(), weight);
    }

    /// Appends `op` applied to `args`; checks the typing rule and returns the result value
    /// (`None` for [`Op::Output`]).
    pub fn push(&mut self, op: Op, args: &[ValueId]) -> Result<Option<ValueId>> {
        let at = format!("%{} ({})", self.values.len(), op.keyword());
        let lens: Vec<usize> = args
            .iter()
            .map(|&a| {
                self.values
                    .get(a)
                    .map(|v| v.len)
                    .ok_or_else(|| crate::IrError::TensorVerify {
                        at: at.clone(),
                        message: format!("operand %{} is not defined", a.index()),
                    })
            })
            .collect::<Result<_>>()?;
        let len = result_len(&op, &lens, &self.weights)
            .map_err(|message| crate::IrError::TensorVerify { at, message })?;
        let result = len.map(|len| self.values.push(Value { len }));
        self.nodes.push(Node {
            op,
            args: args.to_vec(),
            result,
        });
        Ok(result)
    }

    /// Like [`Module::push`] for an op with a result (everything but [`Op::Output`]).
    pub fn push_value(&mut self, op: Op, args: &[ValueId]) -> Result<ValueId> {
        let keyword = op.keyword();
        self.push(op, args)?
            .ok_or_else(|| crate::IrError::TensorVerify {
                at: keyword.into(),
                message: "the op defines no value".into(),
            })
    }

    /// The number of attention layers (KV caches) the step uses: 1 + the largest `layer`.
    pub fn num_layers(&self) -> usize {
        self.nodes
            .iter()
            .filter_map(|(_, n)| match n.op {
                Op::Attention { layer, .. } => Some(layer + 1),
                _ => None,
            })
            .max()
            .unwrap_or(0)
    }
}
