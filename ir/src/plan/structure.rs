//! The RON structure section of a plan: parameters, keys, KV-cache layout, client I/O, weight directory and
//! the program (ops in order; results are numbered densely in definition order, so `%n` in the text form is
//! the n-th result here).

use crate::fhe::{CtType, KeySet, KvCacheDecl, Module, Op, Type};
use crate::params::CkksParamsLiteral;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One client-side input or output: its name and ciphertext type (the layout is the encoding rule; the level
/// and scale are where the client encrypts or what it decrypts).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IoDecl {
    /// Input or output name.
    pub name: String,
    /// Ciphertext type.
    pub ty: CtType,
}

/// How the client encodes inputs and decodes outputs, in program order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientIo {
    /// Inputs the client encrypts.
    pub inputs: Vec<IoDecl>,
    /// Outputs the client decrypts.
    pub outputs: Vec<IoDecl>,
}

impl ClientIo {
    /// The client I/O of `module` (inputs and outputs with ciphertext types, in program order).
    pub fn of(module: &Module) -> Self {
        let mut inputs = Vec::new();
        let mut outputs = Vec::new();
        for id in module.op_ids() {
            let data = module.op(id);
            let (list, name, value) = match &data.op {
                Op::Input { name } => match data.results.first() {
                    Some(&r) => (&mut inputs, name, r),
                    None => continue,
                },
                Op::Output { name, value } => (&mut outputs, name, *value),
                _ => continue,
            };
            if let Some(Type::Ct(ty)) = module.value_type(value) {
                list.push(IoDecl {
                    name: name.clone(),
                    ty: ty.clone(),
                });
            }
        }
        Self { inputs, outputs }
    }
}

/// Element type of a stored weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum DType {
    /// Little-endian IEEE 754 binary64.
    F64,
    /// Little-endian IEEE 754 binary32.
    F32,
}

/// Where one weight's numbers sit in the weights section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct WeightEntry {
    pub(crate) name: String,
    pub(crate) dtype: DType,
    pub(crate) rows: u32,
    pub(crate) cols: u32,
    /// Byte offset in the weights section.
    pub(crate) offset: u64,
}

/// One op with its result types.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Stmt {
    pub(crate) op: Op,
    pub(crate) results: Vec<Type>,
}

/// The whole structure section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Structure {
    pub(crate) params: CkksParamsLiteral,
    pub(crate) keys: KeySet,
    pub(crate) kv_caches: BTreeMap<String, KvCacheDecl>,
    pub(crate) client: ClientIo,
    /// The model's tokenizer, if it has one (plans without this field load with none).
    #[serde(default)]
    pub(crate) tokenizer: Option<super::text::TokenizerSpec>,
    pub(crate) weights: Vec<WeightEntry>,
    pub(crate) program: Vec<Stmt>,
}
