//! A read-only view of one folded run of an ONNX graph: producers, dynamic cones, values as
//! flat f32 vectors. The recognizer's block matchers work on this view.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::CompileError;
use crate::onnx::eval::Run;
use crate::onnx::graph::{Graph, Node};
use crate::onnx::ops::Op;
use crate::onnx::tensor::{DType, Tensor};

/// The graph, the values of one run at a fixed past length, and lookup tables.
pub struct View<'g> {
    /// The graph.
    pub graph: &'g Graph,
    /// The run (values and the dynamic set).
    pub run: Run,
    /// Value name → index of the node that produces it.
    pub producer: BTreeMap<String, usize>,
    /// Values that depend on `position_ids` only (the RoPE tables).
    pub positional: BTreeSet<String>,
}

impl<'g> View<'g> {
    /// Builds the view; `position` names the position input, if the graph has one.
    pub fn new(graph: &'g Graph, run: Run, position: Option<&str>) -> Self {
        let mut producer = BTreeMap::new();
        for (i, n) in graph.nodes.iter().enumerate() {
            for o in n.raw.outputs.iter().filter(|o| !o.is_empty()) {
                producer.insert(o.clone(), i);
            }
        }
        let mut positional = BTreeSet::new();
        if let Some(p) = position {
            positional.insert(p.to_string());
        }
        for n in &graph.nodes {
            let dyn_inputs: Vec<&String> =
                n.raw.inputs.iter().filter(|i| run.is_dynamic(i)).collect();
            if !dyn_inputs.is_empty() && dyn_inputs.iter().all(|i| positional.contains(*i)) {
                for o in &n.raw.outputs {
                    if run.is_dynamic(o) {
                        positional.insert(o.clone());
                    }
                }
            }
        }
        Self {
            graph,
            run,
            producer,
            positional,
        }
    }

    /// The node at `index`.
    pub fn node(&self, index: usize) -> &'g Node {
        &self.graph.nodes[index]
    }

    /// The tensor of `name` in the run.
    pub fn tensor(&self, name: &str) -> Option<&Tensor> {
        self.run.lookup(self.graph, name)
    }

    /// Whether `name` depends on runtime data.
    pub fn is_dynamic(&self, name: &str) -> bool {
        self.run.is_dynamic(name)
    }

    /// The f32 elements of `name`, flattened.
    pub fn floats(&self, name: &str) -> Vec<f32> {
        self.tensor(name)
            .and_then(Tensor::as_f32)
            .map(<[f32]>::to_vec)
            .unwrap_or_default()
    }

    /// The static f32 tensor of `name`, if it is one.
    pub fn static_f32(&self, name: &str) -> Option<&Tensor> {
        self.tensor(name)
            .filter(|t| !self.is_dynamic(name) && t.dtype() == DType::F32)
    }

    /// Follows `name` back through identities and f32→f32 casts.
    pub fn canon(&self, name: &str) -> String {
        let mut cur = name.to_string();
        while let Some(&i) = self.producer.get(&cur) {
            let n = self.node(i);
            let pass = match &n.op {
                Op::Identity => true,
                Op::Cast(DType::F32) => self
                    .tensor(&n.raw.inputs[0])
                    .is_some_and(|t| t.dtype() == DType::F32),
                _ => false,
            };
            if !pass || n.raw.inputs.is_empty() {
                break;
            }
            cur = n.raw.inputs[0].clone();
        }
        cur
    }

    /// The dynamic backward cone of `sinks`: nodes reached walking back over dynamic values,
    /// stopping at `stops`; also the dynamic leaves reached (stops and graph inputs).
    pub fn cone(
        &self,
        sinks: &[&str],
        stops: &BTreeSet<String>,
    ) -> (BTreeSet<usize>, BTreeSet<String>) {
        let mut nodes = BTreeSet::new();
        let mut leaves = BTreeSet::new();
        let mut seen = BTreeSet::new();
        let mut stack: Vec<String> = sinks.iter().map(|s| s.to_string()).collect();
        while let Some(v) = stack.pop() {
            if !seen.insert(v.clone()) || !self.is_dynamic(&v) {
                continue;
            }
            if stops.contains(&v) {
                leaves.insert(v);
                continue;
            }
            match self.producer.get(&v) {
                Some(&i) => {
                    if nodes.insert(i) {
                        stack.extend(
                            self.node(i)
                                .raw
                                .inputs
                                .iter()
                                .filter(|x| !x.is_empty())
                                .cloned(),
                        );
                    }
                }
                None => {
                    leaves.insert(v);
                }
            }
        }
        (nodes, leaves)
    }

    /// Nodes that read `name`.
    pub fn consumers(&self, name: &str) -> Vec<usize> {
        self.graph
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.raw.inputs.iter().any(|i| i == name))
            .map(|(i, _)| i)
            .collect()
    }

    /// An "unrecognized" error at node `index`.
    pub fn error(&self, index: usize, block: &str, reason: impl Into<String>) -> CompileError {
        let n = self.node(index);
        CompileError::Unrecognized {
            node: n.raw.name.clone(),
            op_type: n.raw.op_type.clone(),
            opset: n.raw.opset,
            block: block.to_string(),
            reason: reason.into(),
        }
    }
}
