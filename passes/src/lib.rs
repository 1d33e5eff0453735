//! `cachemir-passes`: analyses and transforms over the Cachemir IRs, the pass manager and the pipelines.
//!
//! Audience: anyone writing or scheduling a pass (see `docs/dev/writing-a-pass.md`).
//! Contract: a [`Pass`] has a stable kebab-case name (CLI flag, `CACHEMIR_DUMP` value, filetest folder),
//! mutates a module only through the IR's rewrite API, and returns a typed [`PassError`]. The
//! [`PassManager`] runs a pipeline (a plain `Vec<Box<dyn Pass>>` from [`pipelines`]), verifies after every
//! pass in tests and debug builds, dumps before/after text on request and times every pass.

pub mod bootstrap;
pub mod check;
pub mod cleanup;
mod error;
pub mod keys;
mod manager;
mod pass;
pub mod pipelines;
pub mod scale;

pub use error::PassError;
pub use manager::{DumpConfig, PassManager, PassRecord};
pub use pass::{Changed, Ir, Pass, PassCx};
