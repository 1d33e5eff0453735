//! The FHE module: one decode-step program (ops in order over values in an arena) plus the declarations the
//! verifier needs — CKKS parameters, the key set, weight shapes and the KV-cache layout.
//!
//! The program's structure is private: passes mutate it only through the rewrite API in [`super::rewrite`].

use super::op::Op;
use super::types::{CtType, Type};
use super::units::RotStep;
use crate::arena::{Arena, Id};
use crate::params::CkksParamsLiteral;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Id of a value.
pub type ValueId = Id<Value>;
/// Id of an op.
pub type OpId = Id<OpData>;

/// A value: its declared type and the op defining it.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    /// Declared type (checked by the verifier against the defining op's typing rule).
    pub ty: Type,
    /// The op defining the value.
    pub def: OpId,
    /// Which result of `def` this is.
    pub result_index: u32,
}

/// An op with the values it defines.
#[derive(Debug, Clone, PartialEq)]
pub struct OpData {
    /// The operation.
    pub op: Op,
    /// Its results, in order.
    pub results: Vec<ValueId>,
}

/// The evaluation keys the program may use (besides relinearization, always present).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySet {
    /// Rotation keys as left rotations, normalized modulo the slot count of the rotated value.
    pub rotations: BTreeSet<RotStep>,
    /// Whether the conjugation key is present.
    pub conjugate: bool,
    /// Whether bootstrapping keys are present.
    pub bootstrap: bool,
}

/// Shape of a weight matrix: `rows` plaintext vectors of `cols` slots each. The numbers live in the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeightDecl {
    /// Number of rows (plaintext vectors).
    pub rows: u32,
    /// Entries per row.
    pub cols: u32,
}

/// An encrypted KV cache that persists on the server between decode steps: `chunks` ciphertexts of type
/// `chunk`, each holding `tokens_per_chunk` tokens, token `p` of a chunk shifted right by `p · token_stride`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KvCacheDecl {
    /// Number of ciphertexts (the cache holds `chunks · tokens_per_chunk` tokens at most).
    pub chunks: u32,
    /// Tokens per ciphertext.
    pub tokens_per_chunk: u32,
    /// Slot distance between consecutive tokens of a chunk.
    pub token_stride: u32,
    /// Type of every chunk: the level and scale at which the cache persists.
    pub chunk: CtType,
}

/// Links of the op order (a doubly linked list over op ids, as Cranelift's `Layout`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Link {
    pub(crate) prev: Option<OpId>,
    pub(crate) next: Option<OpId>,
    pub(crate) live: bool,
}

/// One decode-step FHE program with its declarations.
#[derive(Debug, Clone, PartialEq)]
pub struct Module {
    /// CKKS parameters: the modulus chain the levels and rescales refer to.
    pub params: CkksParamsLiteral,
    /// Evaluation keys available.
    pub keys: KeySet,
    /// Weight shapes by name.
    pub weights: BTreeMap<String, WeightDecl>,
    /// KV caches by name.
    pub kv_caches: BTreeMap<String, KvCacheDecl>,
    pub(crate) values: Arena<Value>,
    pub(crate) ops: Arena<OpData>,
    pub(crate) links: Vec<Link>,
    pub(crate) head: Option<OpId>,
    pub(crate) tail: Option<OpId>,
    pub(crate) live_ops: usize,
}

impl Module {
    /// An empty program over `params` with no keys, weights or caches.
    pub fn new(params: CkksParamsLiteral) -> Self {
        Self {
            params,
            keys: KeySet::default(),
            weights: BTreeMap::new(),
            kv_caches: BTreeMap::new(),
            values: Arena::new(),
            ops: Arena::new(),
            links: Vec::new(),
            head: None,
            tail: None,
            live_ops: 0,
        }
    }

    /// The op ids in program order.
    pub fn op_ids(&self) -> OpIter<'_> {
        OpIter {
            module: self,
            next: self.head,
        }
    }

    /// The first op in program order.
    pub fn first_op(&self) -> Option<OpId> {
        self.head
    }

    /// The last op in program order.
    pub fn last_op(&self) -> Option<OpId> {
        self.tail
    }

    /// Number of ops in the program.
    pub fn num_ops(&self) -> usize {
        self.live_ops
    }

    /// The op `id` names. Panics on an id not from this module (ids are only made by it).
    pub fn op(&self, id: OpId) -> &OpData {
        &self.ops[id]
    }

    /// Whether `id` names an op still in the program.
    pub fn is_live(&self, id: OpId) -> bool {
        self.links.get(id.index()).is_some_and(|l| l.live)
    }

    /// The value `id` names, or `None` if out of range (possible in unverified modules).
    pub fn value(&self, id: ValueId) -> Option<&Value> {
        self.values.get(id)
    }

    /// The type of value `id`, or `None` if out of range.
    pub fn value_type(&self, id: ValueId) -> Option<&Type> {
        self.values.get(id).map(|v| &v.ty)
    }

    /// Mutable access to a value's declared type (e.g. to set the layout a lowering produces).
    pub fn value_type_mut(&mut self, id: ValueId) -> Option<&mut Type> {
        self.values.get_mut(id).map(|v| &mut v.ty)
    }

    /// Number of values ever created (ids are below this).
    pub fn num_values(&self) -> usize {
        self.values.len()
    }

    /// The op after `id` in program order.
    pub fn next_op(&self, id: OpId) -> Option<OpId> {
        self.links.get(id.index()).and_then(|l| l.next)
    }

    /// The op before `id` in program order.
    pub fn prev_op(&self, id: OpId) -> Option<OpId> {
        self.links.get(id.index()).and_then(|l| l.prev)
    }

    /// How many times each value is used by ops of the program (a side table; unused values are absent).
    pub fn use_counts(&self) -> crate::arena::SecondaryMap<Value, u32> {
        let mut counts = crate::arena::SecondaryMap::new();
        for id in self.op_ids() {
            self.ops[id].op.visit_operands(|&v| {
                let c = counts.get(v).copied().unwrap_or(0);
                counts.insert(v, c + 1);
            });
        }
        counts
    }

    /// A copy whose values are renumbered densely in definition order and whose dead ops are dropped
    /// (what the text printer and the plan writer emit, so output does not depend on rewrite history).
    pub fn compacted(&self) -> Module {
        let mut out = Module::new(self.params.clone());
        out.keys = self.keys.clone();
        out.weights = self.weights.clone();
        out.kv_caches = self.kv_caches.clone();
        let mut map: BTreeMap<ValueId, ValueId> = BTreeMap::new();
        for id in self.op_ids() {
            let data = &self.ops[id];
            let mut op = data.op.clone();
            op.visit_operands_mut(|v| {
                if let Some(n) = map.get(v) {
                    *v = *n;
                } else {
                    // A dangling operand keeps an out-of-range id so the verifier still reports it.
                    *v = ValueId::from_index(u32::MAX);
                }
            });
            let types = data
                .results
                .iter()
                .map(|&r| self.values[r].ty.clone())
                .collect();
            let (_, new) = out.push_op(op, types);
            for (&old, n) in data.results.iter().zip(new) {
                map.insert(old, n);
            }
        }
        out
    }
}

/// Iterator over op ids in program order.
pub struct OpIter<'a> {
    module: &'a Module,
    next: Option<OpId>,
}

impl Iterator for OpIter<'_> {
    type Item = OpId;
    fn next(&mut self) -> Option<OpId> {
        let id = self.next?;
        self.next = self.module.links[id.index()].next;
        Some(id)
    }
}
