//! The cleartext interpreter of the FHE IR: the oracle for lowering and packing passes.
//!
//! Slots are complex `f64` (conjugation matters). Rotations are cyclic over each value's slot count, masks
//! and products are slot-wise, polynomials are evaluated by Clenshaw's recurrence in the Chebyshev basis,
//! and level-management ops (rescale, level drop, relinearize, bootstrap) leave values unchanged: only the
//! types track levels and scales. The KV cache lives in a [`KvState`] that persists between steps.
//! No keys, no noise: results are exact up to `f64` rounding.

use super::module::{Module, OpId, ValueId};
use super::op::Op;
use super::types::{Layout, Type};
use super::verify::op_label;
use crate::error::{IrError, Result};
use crate::weights::Weights;
use num_complex::Complex64;
use std::collections::BTreeMap;

/// The contents of the encrypted KV caches between steps (in clear).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KvState {
    /// Per cache: tokens stored so far and the chunks written (missing chunks are zero).
    pub caches: BTreeMap<String, KvCacheState>,
}

/// One KV cache's contents.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KvCacheState {
    /// Tokens appended so far.
    pub tokens: u32,
    /// Chunk contents by index (slot vectors).
    pub chunks: BTreeMap<u32, Vec<Complex64>>,
}

#[derive(Debug, Clone)]
enum Val {
    Slots(Vec<Complex64>),
    Scalar(f64),
}

/// Runs a verified module on clear slot vectors.
pub struct Interpreter<'a> {
    module: &'a Module,
    weights: &'a Weights,
}

fn c(x: f64) -> Complex64 {
    Complex64::new(x, 0.0)
}

/// Cyclic left rotation: `out[i] = x[(i + step) mod n]`.
fn rotate(x: &[Complex64], step: i64) -> Vec<Complex64> {
    let n = x.len();
    if n == 0 {
        return Vec::new();
    }
    let k = step.rem_euclid(n as i64) as usize;
    let mut out = Vec::with_capacity(n);
    out.extend_from_slice(&x[k..]);
    out.extend_from_slice(&x[..k]);
    out
}

/// Chebyshev series `Σ coeffs[k] T_k(y)` by Clenshaw's recurrence.
fn chebyshev(coeffs: &[f64], y: Complex64) -> Complex64 {
    let mut b1 = Complex64::new(0.0, 0.0);
    let mut b2 = Complex64::new(0.0, 0.0);
    for &ck in coeffs.iter().skip(1).rev() {
        let b0 = y * b1 * 2.0 - b2 + ck;
        b2 = b1;
        b1 = b0;
    }
    y * b1 - b2 + coeffs.first().copied().unwrap_or(0.0)
}

impl<'a> Interpreter<'a> {
    /// An interpreter for `module` (verified here) reading plaintexts from `weights`.
    pub fn new(module: &'a Module, weights: &'a Weights) -> Result<Self> {
        module.verify()?;
        Ok(Self { module, weights })
    }

    /// Runs one step on raw slot vectors (one per input, of the input's slot count) and returns the raw slot
    /// vectors of the outputs. `state` is read by `kv_read` and updated by `kv_append`.
    pub fn run_slots(
        &self,
        inputs: &BTreeMap<String, Vec<Complex64>>,
        state: &mut KvState,
    ) -> Result<BTreeMap<String, Vec<Complex64>>> {
        self.run_slots_observed(inputs, state, &mut |_, _| {})
    }

    /// [`Self::run_slots`], showing `observe` the slots of each op's first result as it is computed
    /// (a `bootstrap`'s result equals its input, so this also reveals what bootstrapping receives).
    /// `observe` may change them: the noise-aware simulation adds the engine's errors there.
    pub fn run_slots_observed(
        &self,
        inputs: &BTreeMap<String, Vec<Complex64>>,
        state: &mut KvState,
        observe: &mut dyn FnMut(OpId, &mut [Complex64]),
    ) -> Result<BTreeMap<String, Vec<Complex64>>> {
        let m = self.module;
        let mut remaining = vec![0u32; m.num_values()];
        for (v, n) in m.use_counts().iter() {
            remaining[v.index()] = *n;
        }
        let mut vals: Vec<Option<Val>> = vec![None; m.num_values()];
        let mut outputs = BTreeMap::new();
        for id in m.op_ids() {
            let data = m.op(id);
            let err = |message: String| IrError::Interp {
                op: op_label(m, id),
                message,
            };
            let get = |v: ValueId| -> Result<&Val> {
                vals[v.index()]
                    .as_ref()
                    .ok_or_else(|| err(format!("%{} has no value", v.index())))
            };
            let slots = |v: ValueId| -> Result<&[Complex64]> {
                match get(v)? {
                    Val::Slots(s) => Ok(s),
                    Val::Scalar(_) => Err(err(format!("%{} is a scalar", v.index()))),
                }
            };
            let result_slots = |k: usize| -> usize {
                match data.results.get(k).and_then(|&r| m.value_type(r)) {
                    Some(Type::Ct(t)) => t.slots.0 as usize,
                    Some(Type::Pt(p)) => p.slots.0 as usize,
                    _ => 0,
                }
            };
            let mut out: Vec<Val> = match &data.op {
                Op::Input { name } => {
                    let x = inputs
                        .get(name)
                        .ok_or_else(|| err(format!("no value for input \"{name}\"")))?;
                    if x.len() != result_slots(0) {
                        return Err(err(format!(
                            "input \"{name}\" has {} slots, expected {}",
                            x.len(),
                            result_slots(0)
                        )));
                    }
                    vec![Val::Slots(x.clone())]
                }
                Op::Output { name, value } => {
                    outputs.insert(name.clone(), slots(*value)?.to_vec());
                    vec![]
                }
                Op::Const { value } => vec![Val::Scalar(*value)],
                Op::Plain { weight } => {
                    let w = self
                        .weights
                        .get(&weight.name)
                        .ok_or_else(|| err(format!("no weight \"{}\"", weight.name)))?;
                    let row = w.row(weight.index).ok_or_else(|| {
                        err(format!("no row {} in \"{}\"", weight.index, weight.name))
                    })?;
                    if row.len() != result_slots(0) {
                        return Err(err(format!(
                            "weight \"{}\" rows have {} entries",
                            weight.name,
                            row.len()
                        )));
                    }
                    vec![Val::Slots(row.into_iter().map(c).collect())]
                }
                Op::Add { lhs, rhs } | Op::Sub { lhs, rhs } => {
                    let sign = if matches!(data.op, Op::Add { .. }) {
                        1.0
                    } else {
                        -1.0
                    };
                    let a = slots(*lhs)?;
                    let out = match get(*rhs)? {
                        Val::Slots(b) => a.iter().zip(b).map(|(x, y)| x + y * sign).collect(),
                        Val::Scalar(k) => a.iter().map(|x| x + k * sign).collect(),
                    };
                    vec![Val::Slots(out)]
                }
                Op::MulPlain { ct: lhs, pt: rhs } | Op::MulCt { lhs, rhs } => {
                    let (a, b) = (slots(*lhs)?, slots(*rhs)?);
                    vec![Val::Slots(a.iter().zip(b).map(|(x, y)| x * y).collect())]
                }
                Op::MulConst { ct, constant, .. } => {
                    let Val::Scalar(k) = *get(*constant)? else {
                        return Err(err("constant operand is not a scalar".into()));
                    };
                    vec![Val::Slots(slots(*ct)?.iter().map(|x| x * k).collect())]
                }
                Op::Relinearize { input }
                | Op::Rescale { input }
                | Op::LevelDrop { input, .. }
                | Op::Bootstrap { input, .. } => vec![Val::Slots(slots(*input)?.to_vec())],
                Op::Rotate { input, step } => {
                    vec![Val::Slots(rotate(slots(*input)?, i64::from(step.0)))]
                }
                Op::RotateHoisted { input, steps } => {
                    let x = slots(*input)?;
                    steps
                        .iter()
                        .map(|s| Val::Slots(rotate(x, i64::from(s.0))))
                        .collect()
                }
                Op::Conjugate { input } => vec![Val::Slots(
                    slots(*input)?.iter().map(Complex64::conj).collect(),
                )],
                Op::LinearTransform {
                    input,
                    diagonals,
                    offsets,
                    ..
                } => {
                    let x = slots(*input)?;
                    let w = self
                        .weights
                        .get(diagonals)
                        .ok_or_else(|| err(format!("no weight \"{diagonals}\"")))?;
                    let n = x.len();
                    let mut out = vec![Complex64::new(0.0, 0.0); n];
                    for (k, off) in offsets.iter().enumerate() {
                        let diag = w
                            .row(k as u32)
                            .filter(|r| r.len() == n)
                            .ok_or_else(|| err(format!("bad row {k} of \"{diagonals}\"")))?;
                        let shift = i64::from(off.0).rem_euclid(n as i64) as usize;
                        for i in 0..n {
                            out[i] += x[(i + shift) % n] * diag[i];
                        }
                    }
                    vec![Val::Slots(out)]
                }
                Op::PolyEval {
                    input,
                    coeffs,
                    interval: (a, b),
                } => {
                    let x = slots(*input)?;
                    let out = x
                        .iter()
                        .map(|&v| chebyshev(coeffs, (v * 2.0 - (a + b)) / (b - a)))
                        .collect();
                    vec![Val::Slots(out)]
                }
                Op::KvRead { cache, chunk } => {
                    let decl = &m.kv_caches[cache];
                    let stored = state.caches.get(cache).and_then(|s| s.chunks.get(chunk));
                    let n = decl.chunk.slots.0 as usize;
                    vec![Val::Slots(
                        stored
                            .cloned()
                            .unwrap_or_else(|| vec![Complex64::new(0.0, 0.0); n]),
                    )]
                }
                Op::KvAppend { cache, value } => {
                    let decl = &m.kv_caches[cache];
                    let x = slots(*value)?.to_vec();
                    let st = state.caches.entry(cache.clone()).or_default();
                    let t = decl.tokens_per_chunk;
                    let chunk = st.tokens / t;
                    if chunk >= decl.chunks {
                        return Err(err(format!(
                            "KV cache \"{cache}\" is full ({} tokens)",
                            u64::from(decl.chunks) * u64::from(t)
                        )));
                    }
                    let shift = i64::from(st.tokens % t) * i64::from(decl.token_stride);
                    let moved = rotate(&x, -shift);
                    let slot = st
                        .chunks
                        .entry(chunk)
                        .or_insert_with(|| vec![Complex64::new(0.0, 0.0); x.len()]);
                    for (s, v) in slot.iter_mut().zip(moved) {
                        *s += v;
                    }
                    st.tokens += 1;
                    vec![]
                }
            };
            data.op.visit_operands(|&v| {
                let r = &mut remaining[v.index()];
                *r = r.saturating_sub(1);
                if *r == 0 {
                    vals[v.index()] = None;
                }
            });
            if let Some(Val::Slots(x)) = out.first_mut() {
                observe(id, x);
            }
            for (&r, v) in data.results.iter().zip(out) {
                if remaining[r.index()] > 0 {
                    vals[r.index()] = Some(v);
                }
            }
        }
        Ok(outputs)
    }

    /// Runs one step on logical vectors: encodes each input with its declared layout, runs, and decodes each
    /// output (real parts) with its value's layout.
    pub fn run(
        &self,
        inputs: &BTreeMap<String, Vec<f64>>,
        state: &mut KvState,
    ) -> Result<BTreeMap<String, Vec<f64>>> {
        self.run_observed(inputs, state, &mut |_, _| {})
    }

    /// [`Self::run`] with the observer of [`Self::run_slots_observed`].
    pub fn run_observed(
        &self,
        inputs: &BTreeMap<String, Vec<f64>>,
        state: &mut KvState,
        observe: &mut dyn FnMut(OpId, &mut [Complex64]),
    ) -> Result<BTreeMap<String, Vec<f64>>> {
        let m = self.module;
        let mut slots = BTreeMap::new();
        let mut out_layouts = BTreeMap::new();
        for id in m.op_ids() {
            let data = m.op(id);
            match &data.op {
                Op::Input { name } => {
                    let Some(Type::Ct(t)) = m.value_type(data.results[0]) else {
                        continue;
                    };
                    let x = inputs.get(name).ok_or_else(|| IrError::Interp {
                        op: format!("input \"{name}\""),
                        message: "no value given".into(),
                    })?;
                    let enc = t.layout.encode(x, t.slots).map_err(|e| IrError::Interp {
                        op: format!("input \"{name}\""),
                        message: e.to_string(),
                    })?;
                    slots.insert(name.clone(), enc.into_iter().map(c).collect());
                }
                Op::Output { name, value } => {
                    let layout = m
                        .value_type(*value)
                        .and_then(Type::as_ct)
                        .map_or(Layout::Opaque, |t| t.layout.clone());
                    out_layouts.insert(name.clone(), layout);
                }
                _ => {}
            }
        }
        let raw = self.run_slots_observed(&slots, state, observe)?;
        let mut out = BTreeMap::new();
        for (name, s) in raw {
            let re: Vec<f64> = s.iter().map(|z| z.re).collect();
            let layout = out_layouts.get(&name).cloned().unwrap_or(Layout::Opaque);
            let v = layout.decode(&re).map_err(|e| IrError::Interp {
                op: format!("output \"{name}\""),
                message: e.to_string(),
            })?;
            out.insert(name, v);
        }
        Ok(out)
    }
}
