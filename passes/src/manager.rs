//! The pass manager: runs passes in order, verifies after each (tests and debug builds, or on request),
//! dumps before/after text (`CACHEMIR_DUMP=<pass>[,<pass>…]` or `all`; to stderr, or to files in
//! `CACHEMIR_DUMP_DIR`), times each pass in a `tracing` span and wraps errors with the pass name.

use crate::error::PassError;
use crate::pass::{Changed, Ir, Pass, PassCx};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Which passes to dump and where.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DumpConfig {
    /// Pass names to dump; `None` dumps no pass, `Some(empty)` dumps every pass.
    pub passes: Option<BTreeSet<String>>,
    /// Directory for `<index>-<pass>.before.fhe` / `.after.fhe`; stderr if `None`.
    pub dir: Option<PathBuf>,
}

impl DumpConfig {
    /// From `CACHEMIR_DUMP` (comma-separated pass names, or `all`) and `CACHEMIR_DUMP_DIR`.
    pub fn from_env() -> Self {
        let passes = std::env::var("CACHEMIR_DUMP")
            .ok()
            .filter(|s| !s.is_empty())
            .map(|s| {
                if s == "all" {
                    BTreeSet::new()
                } else {
                    s.split(',').map(|p| p.trim().to_string()).collect()
                }
            });
        let dir = std::env::var_os("CACHEMIR_DUMP_DIR").map(PathBuf::from);
        Self { passes, dir }
    }

    fn wants(&self, pass: &str) -> bool {
        self.passes
            .as_ref()
            .is_some_and(|set| set.is_empty() || set.contains(pass))
    }
}

/// What one pass did in a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassRecord {
    /// Pass name.
    pub name: &'static str,
    /// Whether it changed the module.
    pub changed: Changed,
    /// Wall time.
    pub elapsed: Duration,
}

/// Runs a pipeline of passes over a module.
pub struct PassManager<M: Ir = cachemir_ir::fhe::Module> {
    passes: Vec<Box<dyn Pass<M>>>,
    verify_each: bool,
    dump: DumpConfig,
}

impl<M: Ir> PassManager<M> {
    /// A manager for `passes`; verifies after each pass in debug builds (and tests), dumps per the
    /// environment.
    pub fn new(passes: Vec<Box<dyn Pass<M>>>) -> Self {
        Self {
            passes,
            verify_each: cfg!(debug_assertions),
            dump: DumpConfig::from_env(),
        }
    }

    /// Forces verification after each pass on or off.
    pub fn verify_each(mut self, on: bool) -> Self {
        self.verify_each = on;
        self
    }

    /// Sets the dump configuration (instead of the environment's).
    pub fn dump(mut self, dump: DumpConfig) -> Self {
        self.dump = dump;
        self
    }

    /// The pass names in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.passes.iter().map(|p| p.name()).collect()
    }

    fn emit(&self, index: usize, pass: &str, stage: &str, module: &M) -> Result<(), PassError> {
        let text = module.to_text();
        match &self.dump.dir {
            None => {
                eprintln!(";; ---- {stage} {pass} ----\n{text}");
                Ok(())
            }
            Some(dir) => {
                let path = dir.join(format!("{index:02}-{pass}.{stage}.fhe"));
                std::fs::create_dir_all(dir)
                    .and_then(|()| std::fs::write(&path, text))
                    .map_err(|source| PassError::Dump {
                        path: path.display().to_string(),
                        source,
                    })
            }
        }
    }

    /// Runs every pass in order; stops at the first error, named with its pass.
    pub fn run(&self, module: &mut M, cx: &mut PassCx) -> Result<Vec<PassRecord>, PassError> {
        let mut records = Vec::with_capacity(self.passes.len());
        for (index, pass) in self.passes.iter().enumerate() {
            let name = pass.name();
            let span = tracing::info_span!("pass", name);
            let _guard = span.enter();
            let dump = self.dump.wants(name);
            if dump {
                self.emit(index, name, "before", module)?;
            }
            let start = Instant::now();
            let changed = pass.run(module, cx).map_err(|e| PassError::InPass {
                pass: name,
                source: Box::new(e),
            })?;
            let elapsed = start.elapsed();
            tracing::info!(
                ?changed,
                elapsed_us = elapsed.as_micros() as u64,
                "pass finished"
            );
            if dump {
                self.emit(index, name, "after", module)?;
            }
            if self.verify_each {
                module
                    .verify_ir()
                    .map_err(|source| PassError::VerifyAfter { pass: name, source })?;
            }
            records.push(PassRecord {
                name,
                changed,
                elapsed,
            });
        }
        Ok(records)
    }
}
