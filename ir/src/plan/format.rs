//! The byte layout of a `.plan` file (specified in `docs/plan-format.md`):
//!
//! ```text
//! offset  size  field
//!      0     8  magic b"CMIRPLAN"
//!      8     4  format version (u32 LE)
//!     12     8  structure section length S (u64 LE)
//!     20     8  weights section length W (u64 LE)
//!     28     4  CRC-32 of the structure section
//!     32     4  CRC-32 of the weights section
//!     36     4  CRC-32 of bytes 0..36
//!     40     S  structure section: UTF-8 RON
//!   40+S     W  weights section: little-endian numbers
//! ```

use super::structure::{ClientIo, DType, Stmt, Structure, WeightEntry};
use super::Plan;
use crate::error::{IrError, Result};
use crate::fhe::{Module, WeightDecl};
use crate::weights::{Weight, WeightData, Weights};

/// The first eight bytes of every plan.
pub const MAGIC: [u8; 8] = *b"CMIRPLAN";
/// The format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
const HEADER_LEN: usize = 40;

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// Serializes a plan (the module is already compacted by [`Plan::new`]).
pub(crate) fn write(plan: &Plan) -> Vec<u8> {
    let module = &plan.module;
    let mut weights_bytes = Vec::new();
    let mut entries = Vec::new();
    for (name, w) in &plan.weights {
        let offset = weights_bytes.len() as u64;
        let dtype = match &w.data {
            WeightData::F64(d) => {
                d.iter()
                    .for_each(|x| weights_bytes.extend_from_slice(&x.to_le_bytes()));
                DType::F64
            }
            WeightData::F32(d) => {
                d.iter()
                    .for_each(|x| weights_bytes.extend_from_slice(&x.to_le_bytes()));
                DType::F32
            }
        };
        entries.push(WeightEntry {
            name: name.clone(),
            dtype,
            rows: w.rows,
            cols: w.cols,
            offset,
        });
    }
    let program = module
        .op_ids()
        .map(|id| {
            let data = module.op(id);
            let results = data
                .results
                .iter()
                .filter_map(|&r| module.value_type(r).cloned())
                .collect();
            Stmt {
                op: data.op.clone(),
                results,
            }
        })
        .collect();
    let structure = Structure {
        params: module.params.clone(),
        keys: module.keys.clone(),
        kv_caches: module.kv_caches.clone(),
        client: ClientIo::of(module),
        tokenizer: plan.tokenizer.clone(),
        weights: entries,
        program,
    };
    let ron = ron::ser::to_string_pretty(&structure, ron::ser::PrettyConfig::default())
        .expect("plan structures always serialize to RON");
    let s = ron.as_bytes();
    let mut out = Vec::with_capacity(HEADER_LEN + s.len() + weights_bytes.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(&(weights_bytes.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(s).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&weights_bytes).to_le_bytes());
    let header_crc = crc32fast::hash(&out);
    out.extend_from_slice(&header_crc.to_le_bytes());
    out.extend_from_slice(s);
    out.extend_from_slice(&weights_bytes);
    out
}

fn need(section: &'static str, bytes: &[u8], end: u64) -> Result<()> {
    if (bytes.len() as u64) < end {
        Err(IrError::PlanTruncated {
            section,
            needed: end,
            available: bytes.len() as u64,
        })
    } else {
        Ok(())
    }
}

fn check_crc(section: &'static str, data: &[u8], stored: u32) -> Result<()> {
    let computed = crc32fast::hash(data);
    if computed == stored {
        Ok(())
    } else {
        Err(IrError::PlanChecksum {
            section,
            stored,
            computed,
        })
    }
}

fn read_weight(entry: &WeightEntry, section: &[u8]) -> Result<Weight> {
    let bad = |message: String| IrError::PlanWeight {
        name: entry.name.clone(),
        message,
    };
    let size: u64 = match entry.dtype {
        DType::F64 => 8,
        DType::F32 => 4,
    };
    let count = u64::from(entry.rows) * u64::from(entry.cols);
    let end = count
        .checked_mul(size)
        .and_then(|n| n.checked_add(entry.offset));
    let end = end.filter(|&e| e <= section.len() as u64).ok_or_else(|| {
        bad(format!(
            "{count} numbers at offset {} overrun the {}-byte weights section",
            entry.offset,
            section.len()
        ))
    })?;
    let bytes = &section[entry.offset as usize..end as usize];
    let data = match entry.dtype {
        DType::F64 => WeightData::F64(
            bytes
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("8")))
                .collect(),
        ),
        DType::F32 => WeightData::F32(
            bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4")))
                .collect(),
        ),
    };
    Ok(Weight {
        rows: entry.rows,
        cols: entry.cols,
        data,
    })
}

/// Parses and validates a plan.
pub(crate) fn read(bytes: &[u8]) -> Result<Plan> {
    need("header", bytes, 8)?;
    if bytes[..8] != MAGIC {
        return Err(IrError::PlanMagic);
    }
    need("header", bytes, 12)?;
    let version = u32_at(bytes, 8);
    if version != FORMAT_VERSION {
        return Err(IrError::PlanVersion {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    need("header", bytes, HEADER_LEN as u64)?;
    check_crc("header", &bytes[..36], u32_at(bytes, 36))?;
    let s_len = u64_at(bytes, 12);
    let w_len = u64_at(bytes, 20);
    let s_end = (HEADER_LEN as u64).saturating_add(s_len);
    need("structure section", bytes, s_end)?;
    let w_end = s_end.saturating_add(w_len);
    need("weights section", bytes, w_end)?;
    if (bytes.len() as u64) > w_end {
        return Err(IrError::PlanInconsistent {
            message: format!(
                "{} bytes after the weights section",
                bytes.len() as u64 - w_end
            ),
        });
    }
    let s = &bytes[HEADER_LEN..s_end as usize];
    let w = &bytes[s_end as usize..w_end as usize];
    check_crc("structure section", s, u32_at(bytes, 28))?;
    check_crc("weights section", w, u32_at(bytes, 32))?;

    let text = std::str::from_utf8(s).map_err(|e| IrError::PlanStructure {
        message: e.to_string(),
    })?;
    let structure: Structure = ron::from_str(text).map_err(|e| IrError::PlanStructure {
        message: e.to_string(),
    })?;

    let mut module = Module::new(structure.params);
    module.keys = structure.keys;
    module.kv_caches = structure.kv_caches;
    let mut weights = Weights::new();
    for entry in &structure.weights {
        let weight = read_weight(entry, w)?;
        if weights.insert(entry.name.clone(), weight).is_some() {
            return Err(IrError::PlanWeight {
                name: entry.name.clone(),
                message: "stored twice".into(),
            });
        }
        module.weights.insert(
            entry.name.clone(),
            WeightDecl {
                rows: entry.rows,
                cols: entry.cols,
            },
        );
    }
    for stmt in structure.program {
        module.push_op(stmt.op, stmt.results);
    }
    let mut plan = Plan::new(module, weights)?;
    if let Some(spec) = structure.tokenizer {
        plan = plan.with_tokenizer(spec)?;
    }
    if plan.client_io() != structure.client {
        return Err(IrError::PlanInconsistent {
            message: "the client I/O section disagrees with the program's inputs and outputs"
                .into(),
        });
    }
    Ok(plan)
}
