//! Parsing a GGUF file (versions 2 and 3): header, metadata, tensor table, data offsets.
//! Every read is bounds-checked; a malformed file gives [`CompileError::Gguf`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{CompileError, Result};

/// A metadata value.
#[derive(Debug, Clone, PartialEq)]
pub enum MetaValue {
    /// Any unsigned or signed integer type.
    Int(i128),
    /// f32 or f64.
    Float(f64),
    /// bool.
    Bool(bool),
    /// A UTF-8 string.
    String(String),
    /// An array.
    Array(Vec<MetaValue>),
}

impl MetaValue {
    /// The value as a non-negative integer.
    pub fn as_usize(&self) -> Option<usize> {
        match self {
            MetaValue::Int(i) => usize::try_from(*i).ok(),
            _ => None,
        }
    }

    /// The value as a float (integers convert).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            MetaValue::Float(f) => Some(*f),
            MetaValue::Int(i) => Some(*i as f64),
            _ => None,
        }
    }
}

/// One entry of the tensor table.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    /// ggml dimensions, fastest first (`ne[0]` is the row length).
    pub dims: Vec<usize>,
    /// ggml type code.
    pub ggml_type: u32,
    /// Absolute byte offset of the data in the file.
    pub offset: usize,
}

/// A parsed GGUF file with its bytes.
#[derive(Debug, Clone)]
pub struct GgufFile {
    /// The file (for errors).
    pub path: PathBuf,
    /// Format version.
    pub version: u32,
    /// Metadata by key.
    pub meta: BTreeMap<String, MetaValue>,
    /// Tensors by name.
    pub tensors: BTreeMap<String, TensorInfo>,
    /// The whole file.
    pub bytes: Vec<u8>,
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
    path: &'a Path,
}

impl Reader<'_> {
    fn err(&self, what: &str) -> CompileError {
        CompileError::Gguf {
            path: self.path.into(),
            reason: format!("{what} at byte {}", self.pos),
        }
    }
    fn take(&mut self, n: usize) -> Result<&[u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| self.err("unexpected end of file"))?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().unwrap_or_default(),
        ))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().unwrap_or_default(),
        ))
    }
    fn len(&mut self) -> Result<usize> {
        let n = self.u64()?;
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.b.len())
            .ok_or_else(|| self.err(&format!("length {n} exceeds the file")))
    }
    fn string(&mut self) -> Result<String> {
        let n = self.len()?;
        let s = self.take(n)?;
        String::from_utf8(s.to_vec()).map_err(|_| self.err("string is not UTF-8"))
    }
    fn value(&mut self, ty: u32, depth: usize) -> Result<MetaValue> {
        let b = |r: &mut Self, n: usize| -> Result<Vec<u8>> { Ok(r.take(n)?.to_vec()) };
        Ok(match ty {
            0 => MetaValue::Int(i128::from(b(self, 1)?[0])),
            1 => MetaValue::Int(i128::from(b(self, 1)?[0] as i8)),
            2 => MetaValue::Int(i128::from(u16::from_le_bytes(
                b(self, 2)?.try_into().unwrap_or_default(),
            ))),
            3 => MetaValue::Int(i128::from(i16::from_le_bytes(
                b(self, 2)?.try_into().unwrap_or_default(),
            ))),
            4 => MetaValue::Int(i128::from(self.u32()?)),
            5 => MetaValue::Int(i128::from(self.u32()? as i32)),
            6 => MetaValue::Float(f64::from(f32::from_bits(self.u32()?))),
            7 => MetaValue::Bool(b(self, 1)?[0] != 0),
            8 => MetaValue::String(self.string()?),
            9 => {
                if depth > 4 {
                    return Err(self.err("arrays nested too deeply"));
                }
                let item = self.u32()?;
                let n = self.len()?;
                let mut v = Vec::with_capacity(n.min(1 << 16));
                for _ in 0..n {
                    v.push(self.value(item, depth + 1)?);
                }
                MetaValue::Array(v)
            }
            10 => MetaValue::Int(i128::from(self.u64()?)),
            11 => MetaValue::Int(i128::from(self.u64()? as i64)),
            12 => MetaValue::Float(f64::from_bits(self.u64()?)),
            other => return Err(self.err(&format!("unknown metadata type {other}"))),
        })
    }
}

impl GgufFile {
    /// Reads and parses the GGUF file at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| CompileError::Io {
            path: path.into(),
            source,
        })?;
        Self::parse(bytes, path)
    }

    /// Parses GGUF `bytes`; `path` names the file in errors.
    pub fn parse(bytes: Vec<u8>, path: &Path) -> Result<Self> {
        let mut r = Reader {
            b: &bytes,
            pos: 0,
            path,
        };
        if r.take(4)? != b"GGUF" {
            return Err(CompileError::Gguf {
                path: path.into(),
                reason: "bad magic (not a GGUF file)".into(),
            });
        }
        let version = r.u32()?;
        if !(2..=3).contains(&version) {
            return Err(CompileError::Gguf {
                path: path.into(),
                reason: format!("version {version} is not supported (2 or 3)"),
            });
        }
        let n_tensors = r.len()?;
        let n_meta = r.len()?;
        let mut meta = BTreeMap::new();
        for _ in 0..n_meta {
            let key = r.string()?;
            let ty = r.u32()?;
            let v = r.value(ty, 0)?;
            meta.insert(key, v);
        }
        let mut infos = Vec::with_capacity(n_tensors.min(1 << 16));
        for _ in 0..n_tensors {
            let name = r.string()?;
            let n_dims = r.u32()? as usize;
            if n_dims > 4 {
                return Err(r.err(&format!("tensor `{name}` has {n_dims} dimensions")));
            }
            let mut dims = Vec::with_capacity(n_dims);
            for _ in 0..n_dims {
                dims.push(r.len()?);
            }
            let ggml_type = r.u32()?;
            let offset = r.len()?;
            infos.push((name, dims, ggml_type, offset));
        }
        let align = meta
            .get("general.alignment")
            .and_then(MetaValue::as_usize)
            .unwrap_or(32)
            .max(1);
        let data_start = r.pos.div_ceil(align) * align;
        let mut tensors = BTreeMap::new();
        for (name, dims, ggml_type, offset) in infos {
            let offset = data_start
                .checked_add(offset)
                .filter(|&o| o <= bytes.len())
                .ok_or_else(|| CompileError::Gguf {
                    path: path.into(),
                    reason: format!("tensor `{name}` starts beyond the end of the file"),
                })?;
            tensors.insert(
                name,
                TensorInfo {
                    dims,
                    ggml_type,
                    offset,
                },
            );
        }
        Ok(Self {
            path: path.into(),
            version,
            meta,
            tensors,
            bytes,
        })
    }

    /// Metadata `key` as an integer, or an error naming it.
    pub fn meta_usize(&self, key: &str) -> Result<usize> {
        self.meta
            .get(key)
            .and_then(MetaValue::as_usize)
            .ok_or_else(|| self.error(format!("metadata `{key}` is missing or not an integer")))
    }

    /// Metadata `key` as a float, if present.
    pub fn meta_f64(&self, key: &str) -> Option<f64> {
        self.meta.get(key).and_then(MetaValue::as_f64)
    }

    /// An error about this file.
    pub fn error(&self, reason: String) -> CompileError {
        CompileError::Gguf {
            path: self.path.clone(),
            reason,
        }
    }

    /// Tensor `name` dequantized to f32, with its ggml dimensions.
    pub fn tensor_f32(&self, name: &str) -> Result<(Vec<usize>, Vec<f32>)> {
        let info = self
            .tensors
            .get(name)
            .ok_or_else(|| self.error(format!("tensor `{name}` is missing")))?;
        let n = crate::onnx::tensor::checked_numel(&info.dims)
            .ok_or_else(|| self.error(format!("tensor `{name}` is too large")))?;
        let data = super::dequant::dequantize(info.ggml_type, &self.bytes[info.offset..], n)
            .map_err(|e| self.error(format!("tensor `{name}`: {e}")))?;
        Ok((info.dims.clone(), data))
    }
}
