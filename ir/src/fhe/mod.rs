//! The FHE IR: one decode step as an ordered list of CKKS ops over packed ciphertexts.
//!
//! Every ciphertext value's type ([`CtType`]) carries its level, scale, slot count, layout and degree, and
//! every [`Op`] variant documents its typing rule, so the [`verify()`] pass catches a mismatch at the op that causes
//! it. Ops stay close to CKKS evaluator primitives so the runtime can execute a plan op by op.
//!
//! - [`Module`]: declarations (parameters, keys, weight shapes, KV caches) and the program.
//! - [`rewrite`]: the only way passes change a program.
//! - [`infer`]: the typing rules; [`verify()`]: the verifier.
//! - [`print`](mod@print)/[`parse`]: the text form ([`crate::text::TextForm`]).
//! - [`interp`]: the cleartext interpreter, the oracle for lowering passes.
//! - [`Builder`]: appends ops with result types computed by the typing rules.

mod builder;
pub mod infer;
pub mod interp;
mod module;
mod op;
pub mod parse;
pub mod print;
mod problem;
pub mod rewrite;
mod types;
mod units;
mod verify;

pub use builder::Builder;
pub use module::{KeySet, KvCacheDecl, Module, OpData, OpId, OpIter, Value, ValueId, WeightDecl};
pub use op::{Op, WeightRef, MAX_BOOST};
pub use problem::Problem;
pub use types::{CtType, Layout, LayoutError, PtType, Type};
pub use units::{Level, LogScale, RotStep, SlotCount, SCALE_TOLERANCE_BITS};
pub use verify::{op_label, verify};
