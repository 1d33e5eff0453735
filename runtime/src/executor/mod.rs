//! The plan executor (server side): runs one decode step of an FHE IR program on ciphertexts.
//!
//! Values are computed in program order and dropped after their last use. Every op runs on CKKS;
//! `bootstrap` uses the configuration of the plan's named parameter set
//! ([`BootstrapConfig::for_params`]), one [`Bootstrapper`] per slot count the plan refreshes, built
//! when the executor is. The IR types carry nominal
//! scales (powers of two); ciphertexts carry exact ones, which drift from the nominal by the ratio
//! `q_l / 2^log_q[l]` of each prime they are rescaled by (≈ 2^-21 for the shipped chains). Two rules keep
//! them together:
//! - plaintexts and constants are encoded at the consumer: an added weight row at the ciphertext's exact
//!   scale, a multiplied one (or constant) at the scale that makes the product's exact scale equal
//!   `2^nominal · q_l / 2^log_q[l]`, so a following rescale lands exactly on the nominal scale;
//! - adding two ciphertexts whose exact scales differ by less than [`SCALE_RECONCILE_LOG2`] (the residue
//!   of ct × ct products) takes the left operand's scale: a relative error below 7·10⁻⁶ on the right one.
//!   A larger difference is a bug in the plan and is reported, not absorbed.
//!
//! A bootstrap returns exactly the default scale, which is the nominal one.
//!
//! A `relinearize` or `linear_transform` whose only reader is a `rescale` runs fused with it (one
//! ModDown by `P·q_l` instead of a ModDown and a rescale): the rescaled value is computed at the
//! producer and the `rescale` op is skipped.

mod kv_cache;

pub use kv_cache::{KvCacheState, KvState};

use crate::approx::Chebyshev;
use crate::ckks::bootstrap::{BootstrapConfig, Bootstrapper};
use crate::ckks::linear::LinearTransform;
use crate::ckks::{Ciphertext, Encoder, Evaluator, Parameters, Plaintext};
use crate::{Result, RuntimeError};
use cachemir_ir::fhe::{op_label, CtType, Module, Op, OpId, Type, ValueId};
use cachemir_ir::weights::Weights;
use cachemir_kernels::Backend;
use num_complex::Complex64;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// The outputs of one step and what it cost.
#[derive(Debug)]
pub struct StepResult {
    /// Output ciphertexts by name.
    pub outputs: BTreeMap<String, Ciphertext>,
    /// Counts and time.
    pub stats: StepStats,
}

/// What one step executed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepStats {
    /// Wall time, milliseconds.
    pub millis: f64,
    /// Bootstraps.
    pub bootstraps: u32,
    /// Rotations (each step of a hoisted batch and each KV append counts one).
    pub rotations: u32,
    /// Key switches: rotations, conjugations and relinearizations.
    pub key_switches: u32,
    /// Wall time by op kind (mnemonic), milliseconds; a rescale fused into its producer counts with
    /// the producer.
    pub op_millis: BTreeMap<&'static str, f64>,
}

impl StepStats {
    fn count(&mut self, op: &Op) {
        let (rotations, other_switches) = match op {
            Op::Rotate { .. } | Op::KvAppend { .. } => (1, 0),
            Op::RotateHoisted { steps, .. } => (steps.len() as u32, 0),
            Op::Conjugate { .. } | Op::Relinearize { .. } => (0, 1),
            _ => (0, 0),
        };
        self.rotations += rotations;
        self.key_switches += rotations + other_switches;
        self.bootstraps += u32::from(matches!(op, Op::Bootstrap { .. }));
    }
}

/// Largest |log2| ratio of exact scales that an addition reconciles.
pub const SCALE_RECONCILE_LOG2: f64 = 1e-5;

enum Val {
    Ct(Ciphertext),
    /// A weight row, encoded by its consumer at the scale it needs.
    Row {
        values: Vec<f64>,
        level: usize,
    },
    Scalar(f64),
}

/// The encoded bootstrapping circuits of a plan, by slot count: they depend on the parameters and
/// not on the keys, so the sessions of one plan share them.
pub type Bootstrappers = BTreeMap<usize, Bootstrapper>;

/// Encodes the bootstrapping circuit of every slot count `module` refreshes.
pub fn bootstrappers<B: Backend + Clone>(
    module: &Module,
    params: &Arc<Parameters>,
    backend: B,
) -> Result<Bootstrappers> {
    let encoder = Encoder::new(params.clone(), backend);
    bootstrap_configs(module, params)?
        .into_iter()
        .map(|config| Ok((config.slots, Bootstrapper::new(&encoder, config)?)))
        .collect()
}

/// Executes one plan's program with the server's evaluator.
pub struct Executor<'p, B: Backend> {
    module: &'p Module,
    weights: &'p Weights,
    eval: Evaluator<B>,
    encoder: Encoder<B>,
    bootstrappers: Arc<Bootstrappers>,
    /// Producers that run fused with the `rescale` op that is their result's only reader.
    fused_rescales: HashMap<OpId, OpId>,
}

/// The `relinearize` and `linear_transform` ops whose result is read only by a `rescale`, mapped to
/// that `rescale`.
fn fused_rescales(module: &Module) -> HashMap<OpId, OpId> {
    let uses = module.use_counts();
    let producer: HashMap<ValueId, OpId> = module
        .op_ids()
        .flat_map(|id| module.op(id).results.iter().map(move |&r| (r, id)))
        .collect();
    module
        .op_ids()
        .filter_map(|id| match module.op(id).op {
            Op::Rescale { input } if uses.get(input).copied() == Some(1) => {
                let source = *producer.get(&input)?;
                matches!(
                    module.op(source).op,
                    Op::Relinearize { .. } | Op::LinearTransform { .. }
                )
                .then_some((source, id))
            }
            _ => None,
        })
        .collect()
}

/// The bootstrapping configurations a module needs under `params`: one per slot count its
/// `bootstrap` ops refresh (none if it has no bootstrap). The client generates keys for them.
pub fn bootstrap_configs(module: &Module, params: &Parameters) -> Result<Vec<BootstrapConfig>> {
    let slot_counts: std::collections::BTreeSet<usize> = module
        .op_ids()
        .filter_map(|id| match &module.op(id).op {
            Op::Bootstrap { input, .. } => match module.value_type(*input) {
                Some(Type::Ct(t)) => Some(t.slots.0 as usize),
                _ => None,
            },
            _ => None,
        })
        .collect();
    slot_counts
        .into_iter()
        .map(|slots| {
            BootstrapConfig::for_params(params, slots).map_err(|e| RuntimeError::Plan {
                reason: format!("the plan bootstraps {slots}-slot ciphertexts: {e}"),
            })
        })
        .collect()
}

impl<'p, B: Backend + Clone> Executor<'p, B> {
    /// An executor for `module` (verified here) reading weight rows from `weights`, evaluating with `eval`
    /// (whose parameters must be the module's); it encodes the module's bootstrapping circuits.
    pub fn new(
        module: &'p Module,
        weights: &'p Weights,
        eval: Evaluator<B>,
        backend: B,
    ) -> Result<Self> {
        let shared = Arc::new(bootstrappers(module, eval.params(), backend.clone())?);
        Self::with_bootstrappers(module, weights, eval, backend, shared)
    }

    /// As [`Self::new`], with bootstrapping circuits encoded once by [`bootstrappers`] for this
    /// module and parameters.
    pub fn with_bootstrappers(
        module: &'p Module,
        weights: &'p Weights,
        eval: Evaluator<B>,
        backend: B,
        bootstrappers: Arc<Bootstrappers>,
    ) -> Result<Self> {
        module.verify().map_err(|e| RuntimeError::Plan {
            reason: e.to_string(),
        })?;
        if eval.params().literal() != &module.params {
            return Err(RuntimeError::Plan {
                reason: "the evaluation keys were made for other CKKS parameters".into(),
            });
        }
        let encoder = Encoder::new(eval.params().clone(), backend);
        Ok(Self {
            module,
            weights,
            eval,
            encoder,
            bootstrappers,
            fused_rescales: fused_rescales(module),
        })
    }

    /// The parameters.
    pub fn params(&self) -> &Arc<Parameters> {
        self.eval.params()
    }

    /// The program.
    pub fn module(&self) -> &'p Module {
        self.module
    }

    fn nominal_scale(&self, ty: &CtType) -> f64 {
        2f64.powf(ty.scale.0)
    }

    /// The exact scale a product at `level` must have so that rescaling lands on its nominal scale.
    fn product_scale(&self, level: usize, nominal_log: f64) -> f64 {
        let p = self.params();
        let bits = p.literal().log_q[level] as f64;
        2f64.powf(nominal_log - bits) * p.q()[level] as f64
    }

    fn encode_row(
        &self,
        values: &[f64],
        level: usize,
        scale: f64,
        slots: usize,
    ) -> Result<Plaintext> {
        if values.len() != slots {
            return Err(RuntimeError::Plan {
                reason: format!("weight row of {} values for {slots} slots", values.len()),
            });
        }
        self.encoder.encode_real(values, level, scale)
    }

    /// Runs one step: `inputs` by name (encrypted by the client per the plan's I/O), `state` read by
    /// `kv_read` and updated by `kv_append`. Returns the output ciphertexts by name and what the step did.
    pub fn run(
        &self,
        inputs: &BTreeMap<String, Ciphertext>,
        state: &mut KvState,
    ) -> Result<StepResult> {
        let started = std::time::Instant::now();
        let m = self.module;
        let mut remaining = vec![0u32; m.num_values()];
        for (v, n) in m.use_counts().iter() {
            remaining[v.index()] = *n;
        }
        let mut vals: Vec<Option<Val>> = (0..m.num_values()).map(|_| None).collect();
        let mut outputs = BTreeMap::new();
        let mut stats = StepStats::default();
        let done_early: HashSet<OpId> = self.fused_rescales.values().copied().collect();
        for id in m.op_ids() {
            let data = m.op(id);
            stats.count(&data.op);
            if !done_early.contains(&id) {
                let fused = self.fused_rescales.get(&id);
                let op_started = std::time::Instant::now();
                let results =
                    self.execute(id, fused.is_some(), inputs, state, &vals, &mut outputs)?;
                *stats.op_millis.entry(data.op.mnemonic()).or_default() +=
                    op_started.elapsed().as_secs_f64() * 1e3;
                let targets = fused.map_or(&data.results, |&rescale| &m.op(rescale).results);
                for (r, v) in targets.iter().zip(results) {
                    if remaining[r.index()] > 0 {
                        vals[r.index()] = Some(v);
                    }
                }
            }
            for operand in data.op.operands() {
                let n = &mut remaining[operand.index()];
                *n = n.saturating_sub(1);
                if *n == 0 {
                    vals[operand.index()] = None;
                }
            }
        }
        stats.millis = started.elapsed().as_secs_f64() * 1e3;
        Ok(StepResult { outputs, stats })
    }

    /// Runs op `id`; with `rescale` (a fused producer) it returns its result rescaled.
    fn execute(
        &self,
        id: OpId,
        rescale: bool,
        inputs: &BTreeMap<String, Ciphertext>,
        state: &mut KvState,
        vals: &[Option<Val>],
        outputs: &mut BTreeMap<String, Ciphertext>,
    ) -> Result<Vec<Val>> {
        let m = self.module;
        let data = m.op(id);
        let fail = |reason: String| RuntimeError::Execution {
            op: op_label(m, id),
            reason,
        };
        let at = |e: RuntimeError| fail(e.to_string());
        let get = |v: ValueId| {
            vals[v.index()]
                .as_ref()
                .ok_or_else(|| fail(format!("%{} has no value", v.index())))
        };
        let ct = |v: ValueId| match get(v)? {
            Val::Ct(c) => Ok(c),
            _ => Err(fail(format!("%{} is not a ciphertext", v.index()))),
        };
        let result_ct = || match data.results.first().and_then(|&r| m.value_type(r)) {
            Some(Type::Ct(t)) => Ok(t.clone()),
            _ => Err(fail("result is not a ciphertext".into())),
        };
        let eval = &self.eval;
        let one = |c: Ciphertext| Ok(vec![Val::Ct(c)]);
        match &data.op {
            Op::Input { name } => {
                let ty = result_ct()?;
                let c = inputs
                    .get(name)
                    .ok_or_else(|| fail(format!("no ciphertext for input \"{name}\"")))?;
                if c.level() != ty.level.0 as usize || c.slots() != ty.slots.0 as usize {
                    return Err(fail(format!(
                        "input \"{name}\" at level {} with {} slots, the plan expects level {} with {} slots",
                        c.level(),
                        c.slots(),
                        ty.level.0,
                        ty.slots.0
                    )));
                }
                one(c.clone())
            }
            Op::Output { name, value } => {
                outputs.insert(name.clone(), ct(*value)?.clone());
                Ok(vec![])
            }
            Op::Const { value } => Ok(vec![Val::Scalar(*value)]),
            Op::Plain { weight } => {
                let Some(Type::Pt(ty)) = data.results.first().and_then(|&r| m.value_type(r)) else {
                    return Err(fail("result is not a plaintext".into()));
                };
                let values = self
                    .weights
                    .get(&weight.name)
                    .and_then(|w| w.row(weight.index))
                    .ok_or_else(|| {
                        fail(format!(
                            "no row {} in weight \"{}\"",
                            weight.index, weight.name
                        ))
                    })?;
                Ok(vec![Val::Row {
                    values,
                    level: ty.level.0 as usize,
                }])
            }
            Op::Add { lhs, rhs } | Op::Sub { lhs, rhs } => {
                let subtract = matches!(data.op, Op::Sub { .. });
                let a = ct(*lhs)?;
                let out = match get(*rhs)? {
                    Val::Ct(b) => {
                        let drift = (a.scale().log2() - b.scale().log2()).abs();
                        if drift > SCALE_RECONCILE_LOG2 {
                            return Err(fail(format!(
                                "exact scales 2^{:.6} and 2^{:.6} differ",
                                a.scale().log2(),
                                b.scale().log2()
                            )));
                        }
                        let mut b = b.clone();
                        b.set_scale(a.scale());
                        if subtract {
                            eval.sub(a, &b)
                        } else {
                            eval.add(a, &b)
                        }
                        .map_err(at)?
                    }
                    Val::Row { values, level, .. } => {
                        let pt = self
                            .encode_row(values, *level, a.scale(), a.slots())
                            .map_err(at)?;
                        if subtract {
                            eval.sub_plain(a, &pt)
                        } else {
                            eval.add_plain(a, &pt)
                        }
                        .map_err(at)?
                    }
                    Val::Scalar(c) => {
                        let c = if subtract { -c } else { *c };
                        eval.add_const(a, c.into()).map_err(at)?
                    }
                };
                one(out)
            }
            Op::MulPlain { ct: c, pt } => {
                let a = ct(*c)?;
                let Val::Row { values, level, .. } = get(*pt)? else {
                    return Err(fail("operand is not a plaintext".into()));
                };
                let ty = result_ct()?;
                let target = self.product_scale(*level, ty.scale.0);
                let pt = self
                    .encode_row(values, *level, target / a.scale(), a.slots())
                    .map_err(at)?;
                one(eval.mul_plain(a, &pt).map_err(at)?)
            }
            Op::MulConst {
                ct: c,
                constant,
                scale,
            } => {
                let a = ct(*c)?;
                let Val::Scalar(k) = get(*constant)? else {
                    return Err(fail("operand is not a scalar".into()));
                };
                if scale.0 == 0.0 {
                    let int = k.round();
                    if int != *k || int.abs() > i64::MAX as f64 {
                        return Err(fail(format!("constant {k} at scale 2^0 is not an integer")));
                    }
                    return one(eval.mul_int(a, int as i64));
                }
                let ty = result_ct()?;
                let target = self.product_scale(a.level(), ty.scale.0);
                one(eval
                    .mul_const_scaled(a, *k, target / a.scale())
                    .map_err(at)?)
            }
            Op::MulCt { lhs, rhs } => one(eval.mul(ct(*lhs)?, ct(*rhs)?).map_err(at)?),
            Op::Relinearize { input } => one(if rescale {
                eval.relinearize_rescale(ct(*input)?).map_err(at)?
            } else {
                eval.relinearize(ct(*input)?).map_err(at)?
            }),
            Op::Rescale { input } => one(eval.rescale(ct(*input)?).map_err(at)?),
            Op::LevelDrop { input, to } => {
                one(eval.drop_to_level(ct(*input)?, to.0 as usize).map_err(at)?)
            }
            Op::Rotate { input, step } => {
                let a = ct(*input)?;
                one(eval.rotate(a, normalized(step.0 as i64, a)).map_err(at)?)
            }
            Op::RotateHoisted { input, steps } => {
                let a = ct(*input)?;
                let steps: Vec<i64> = steps.iter().map(|s| normalized(s.0 as i64, a)).collect();
                Ok(eval
                    .rotate_hoisted(a, &steps)
                    .map_err(at)?
                    .into_iter()
                    .map(Val::Ct)
                    .collect())
            }
            Op::Conjugate { input } => one(eval.conjugate(ct(*input)?).map_err(at)?),
            Op::KvRead { cache, chunk } => {
                let decl = &m.kv_caches[cache];
                let stored = state.caches.get(cache).and_then(|s| s.chunks.get(chunk));
                one(match stored {
                    Some(c) => c.clone(),
                    None => Ciphertext::zero(
                        self.params().n(),
                        decl.chunk.level.0 as usize,
                        self.nominal_scale(&decl.chunk),
                        decl.chunk.slots.0 as usize,
                    ),
                })
            }
            Op::KvAppend { cache, value } => {
                let decl = &m.kv_caches[cache];
                let entry = state.caches.entry(cache.clone()).or_default();
                let (chunk, position) = (
                    entry.tokens / decl.tokens_per_chunk,
                    entry.tokens % decl.tokens_per_chunk,
                );
                if chunk >= decl.chunks {
                    return Err(fail(format!(
                        "KV cache \"{cache}\" is full ({} tokens)",
                        entry.tokens
                    )));
                }
                let value = ct(*value)?;
                let shift = normalized(-(position as i64) * decl.token_stride as i64, value);
                let placed = eval.rotate(value, shift).map_err(at)?;
                let updated = match entry.chunks.get(&chunk) {
                    Some(old) => {
                        let mut placed = placed;
                        placed.set_scale(old.scale());
                        eval.add(old, &placed).map_err(at)?
                    }
                    None => placed,
                };
                entry.chunks.insert(chunk, updated);
                entry.tokens += 1;
                Ok(vec![])
            }
            Op::LinearTransform {
                input,
                diagonals,
                offsets,
                baby_step,
                ..
            } => {
                let a = ct(*input)?;
                let weight = self
                    .weights
                    .get(diagonals)
                    .ok_or_else(|| fail(format!("no weight \"{diagonals}\"")))?;
                let rows = offsets
                    .iter()
                    .enumerate()
                    .map(|(k, offset)| {
                        let row = weight
                            .row(k as u32)
                            .ok_or_else(|| fail(format!("no row {k} in weight \"{diagonals}\"")))?;
                        Ok((
                            offset.0 as i64,
                            row.into_iter().map(Complex64::from).collect(),
                        ))
                    })
                    .collect::<Result<Vec<_>>>()?;
                let transform =
                    LinearTransform::new(a.slots(), rows, Some(*baby_step as usize)).map_err(at)?;
                let target = self.product_scale(a.level(), result_ct()?.scale.0);
                let encoded = transform
                    .encode_at(&self.encoder, a.level(), target / a.scale())
                    .map_err(at)?;
                one(if rescale {
                    eval.linear_transform_rescaled(a, &encoded).map_err(at)?
                } else {
                    eval.linear_transform_unrescaled(a, &encoded).map_err(at)?
                })
            }
            Op::PolyEval {
                input,
                coeffs,
                interval,
            } => {
                let a = ct(*input)?;
                let poly =
                    Chebyshev::from_coeffs(coeffs.clone(), interval.0, interval.1).map_err(at)?;
                let out = eval.evaluate_chebyshev(a, &poly, a.scale()).map_err(at)?;
                // The evaluator may need fewer levels than declared (trailing zero coefficients).
                one(eval
                    .drop_to_level(&out, result_ct()?.level.0 as usize)
                    .map_err(at)?)
            }
            Op::Bootstrap {
                input,
                target,
                boost,
            } => {
                let a = ct(*input)?;
                let boot = self.bootstrappers.get(&a.slots()).ok_or_else(|| {
                    fail(format!("no bootstrapping circuit for {} slots", a.slots()))
                })?;
                let out = eval.bootstrap_boosted(a, boot, *boost).map_err(at)?;
                one(eval.drop_to_level(&out, target.0 as usize).map_err(at)?)
            }
        }
    }
}

/// A rotation step as the plan's key set names it: a left rotation modulo the ciphertext's slot count
/// (the Galois key of `k mod slots` rotates an `slots`-slot ciphertext by `k`).
fn normalized(step: i64, ct: &Ciphertext) -> i64 {
    step.rem_euclid(ct.slots() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cachemir_ir::text::TextForm;

    #[test]
    fn only_a_producer_read_by_a_rescale_alone_is_fused() {
        let module = Module::from_text(
            r#"
params { log_n=12, log_q=[60, 40, 40], log_p=[61], log_default_scale=40, secret=dense }
keys { rotations=[], conjugate=false, bootstrap=false }
%0 = input "x" : ct<level=2, scale=40, slots=16, layout=strided(len=16, stride=1)>
%1 = mul_ct %0, %0 : ct<level=2, scale=80, slots=16, layout=strided(len=16, stride=1), degree=2>
%2 = relinearize %1 : ct<level=2, scale=80, slots=16, layout=strided(len=16, stride=1)>
%3 = rescale %2 : ct<level=1, scale=40, slots=16, layout=strided(len=16, stride=1)>
%4 = relinearize %1 : ct<level=2, scale=80, slots=16, layout=strided(len=16, stride=1)>
%5 = rescale %4 : ct<level=1, scale=40, slots=16, layout=strided(len=16, stride=1)>
%6 = const 2 : scalar
%7 = mul_const %0, %6, scale=40 : ct<level=2, scale=80, slots=16, layout=strided(len=16, stride=1)>
%8 = rescale %7 : ct<level=1, scale=40, slots=16, layout=strided(len=16, stride=1)>
output "a", %3
output "b", %5
output "b_unrescaled", %4
output "c", %8
"#,
        )
        .unwrap();
        let ops: Vec<OpId> = module.op_ids().collect();
        // %2 → %3 fuses; %4 has a second reader; %7 is no key switch.
        assert_eq!(fused_rescales(&module), HashMap::from([(ops[2], ops[3])]));
    }
}
