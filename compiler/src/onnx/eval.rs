//! Runs an imported graph on concrete inputs, and marks which values depend on runtime data.
//!
//! A value is *dynamic* if it depends on the data (not only the shape) of an input named dynamic
//! by the caller; everything else is a constant once the input shapes are fixed. `Shape` and
//! `Size` cut the dependency: this is how the shape plumbing of an export constant-folds once
//! B = 1, S = 1 and the past length P are fixed.

use std::collections::{BTreeMap, BTreeSet};

use super::graph::Graph;
use super::ops::{eval, Op};
use super::tensor::Tensor;
use crate::error::{CompileError, Result};

/// Every value of one run of a graph.
#[derive(Debug, Clone, Default)]
pub struct Run {
    /// Value name → its tensor in this run (graph inputs and node outputs; initializers stay in
    /// the graph, see [`Run::lookup`]).
    pub values: BTreeMap<String, Tensor>,
    /// Names of the values that depend on the data of a dynamic input.
    pub dynamic: BTreeSet<String>,
}

impl Run {
    /// The tensor of `name`, if computed (inputs and node outputs).
    pub fn get(&self, name: &str) -> Option<&Tensor> {
        self.values.get(name)
    }

    /// The tensor of `name`: a computed value or an initializer of `graph`.
    pub fn lookup<'a>(&'a self, graph: &'a Graph, name: &str) -> Option<&'a Tensor> {
        self.values
            .get(name)
            .or_else(|| graph.initializers.get(name))
    }

    /// Whether `name` depends on a dynamic input's data.
    pub fn is_dynamic(&self, name: &str) -> bool {
        self.dynamic.contains(name)
    }
}

/// Runs `graph` on `feeds` (one tensor per graph input). `dynamic` names the inputs whose data is
/// not known at compile time.
pub fn run(
    graph: &Graph,
    feeds: &BTreeMap<String, Tensor>,
    dynamic: &BTreeSet<String>,
) -> Result<Run> {
    let mut r = Run::default();
    for input in &graph.inputs {
        let t = feeds
            .get(&input.name)
            .ok_or_else(|| CompileError::NotDecoder {
                reason: format!("no value for graph input `{}`", input.name),
            })?;
        r.values.insert(input.name.clone(), t.clone());
        if dynamic.contains(&input.name) {
            r.dynamic.insert(input.name.clone());
        }
    }
    for node in &graph.nodes {
        let inputs: Vec<Option<&Tensor>> = node
            .raw
            .inputs
            .iter()
            .map(|n| {
                if n.is_empty() {
                    None
                } else {
                    r.lookup(graph, n)
                }
            })
            .collect();
        let outs = eval(&node.op, &inputs).map_err(|reason| CompileError::BadNode {
            node: node.raw.name.clone(),
            op_type: node.raw.op_type.clone(),
            opset: node.raw.opset,
            reason,
        })?;
        let is_dyn = !matches!(node.op, Op::Shape { .. } | Op::Size)
            && node.raw.inputs.iter().any(|i| r.dynamic.contains(i));
        let named: Vec<&String> = node.raw.outputs.iter().filter(|o| !o.is_empty()).collect();
        if named.len() > outs.len() {
            return Err(CompileError::BadNode {
                node: node.raw.name.clone(),
                op_type: node.raw.op_type.clone(),
                opset: node.raw.opset,
                reason: format!(
                    "{} outputs requested, the op computes {}",
                    named.len(),
                    outs.len()
                ),
            });
        }
        for (name, t) in node.raw.outputs.iter().zip(outs) {
            if name.is_empty() {
                continue;
            }
            if is_dyn {
                r.dynamic.insert(name.clone());
            }
            r.values.insert(name.clone(), t);
        }
    }
    Ok(r)
}
