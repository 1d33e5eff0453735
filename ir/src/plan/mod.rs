//! The `.plan` file: the only contract between the compile side and the run side.
//!
//! A plan holds the FHE program of one decode step with everything the runtime and the client need: the CKKS
//! parameter literal, the evaluation keys the program uses (rotation steps, conjugation, bootstrapping), the
//! KV-cache layout (what persists between steps, at which level and scale), how the client encodes inputs and
//! decodes outputs, and the weights as plaintext numbers. The byte format is specified in
//! `docs/plan-format.md`: a versioned header, a RON structure section and a little-endian binary weights
//! section, each covered by a CRC-32.
//!
//! Loading ([`Plan::from_bytes`]) validates magic, version, checksums, weight extents and references, then
//! runs the verifier; every failure is a typed [`crate::IrError`], never a panic.

pub mod client;
mod format;
mod inspect;
mod structure;
pub mod text;

pub use format::{FORMAT_VERSION, MAGIC};
pub use inspect::{inspect, InspectReport, KvSummary};
pub use structure::{ClientIo, IoDecl};

use crate::error::{IrError, Result};
use crate::fhe::Module;
use crate::weights::Weights;
use std::path::Path;

/// A validated plan: a verified module and the weights it refers to (names and shapes agree).
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    module: Module,
    weights: Weights,
    tokenizer: Option<text::TokenizerSpec>,
}

impl Plan {
    /// A plan from a module and its weights. Fails unless the module verifies, every declared weight has
    /// numbers of its declared shape, and no undeclared weight is given.
    pub fn new(module: Module, weights: Weights) -> Result<Self> {
        module.verify()?;
        for (name, decl) in &module.weights {
            let w = weights.get(name).ok_or_else(|| IrError::PlanWeight {
                name: name.clone(),
                message: "declared by the program but not given".into(),
            })?;
            if (w.rows, w.cols) != (decl.rows, decl.cols)
                || w.len() as u64 != u64::from(w.rows) * u64::from(w.cols)
            {
                return Err(IrError::PlanWeight {
                    name: name.clone(),
                    message: format!(
                        "{} numbers as {}×{}, declared {}×{}",
                        w.len(),
                        w.rows,
                        w.cols,
                        decl.rows,
                        decl.cols
                    ),
                });
            }
        }
        if let Some(extra) = weights.keys().find(|k| !module.weights.contains_key(*k)) {
            return Err(IrError::PlanWeight {
                name: extra.clone(),
                message: "not declared by the program".into(),
            });
        }
        Ok(Self {
            module: module.compacted(),
            weights,
            tokenizer: None,
        })
    }

    /// The plan with the model's tokenizer in its client section (checked to load).
    pub fn with_tokenizer(mut self, spec: text::TokenizerSpec) -> Result<Self> {
        text::TextCodec::new(spec.clone())?;
        self.tokenizer = Some(spec);
        Ok(self)
    }

    /// The model's tokenizer, if the plan carries one.
    pub fn tokenizer(&self) -> Option<&text::TokenizerSpec> {
        self.tokenizer.as_ref()
    }

    /// The program with its declarations (parameters, keys, weight shapes, KV caches).
    pub fn module(&self) -> &Module {
        &self.module
    }

    /// The weights by name.
    pub fn weights(&self) -> &Weights {
        &self.weights
    }

    /// The CKKS parameter literal.
    pub fn params(&self) -> &crate::CkksParamsLiteral {
        &self.module.params
    }

    /// How the client encodes each input and decodes each output.
    pub fn client_io(&self) -> ClientIo {
        ClientIo::of(&self.module)
    }

    /// The plan in the `.plan` byte format.
    pub fn to_bytes(&self) -> Vec<u8> {
        format::write(self)
    }

    /// Reads and fully validates a plan from bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        format::read(bytes)
    }

    /// Writes the plan to `path`.
    pub fn write_file(&self, path: &Path) -> Result<()> {
        std::fs::write(path, self.to_bytes()).map_err(|source| IrError::Io {
            path: path.display().to_string(),
            source,
        })
    }

    /// Reads and validates the plan at `path`.
    pub fn read_file(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| IrError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_bytes(&bytes)
    }
}
