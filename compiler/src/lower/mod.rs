//! Lowering: tensor IR → FHE IR through a packing strategy, then level management.
//!
//! - [`Strategy::Cachemir`]: interleaved replicated packing (IRP) for every vector×matrix product and
//!   Cachemir's K/V-cache layouts, with `S` slots per ciphertext (default: all of the ring's slots).
//! - [`Strategy::Diagonal`]: the naive baseline, the same program with `K = 1`: ciphertexts of `D` slots,
//!   the diagonal method (`D` diagonals per product) and one KV chunk per token.
//!
//! One file per concept: [`geometry`] (the layouts), [`matvec`], [`norm`], [`attention`] (RoPE, KV cache,
//! softmax), [`activation`] (polynomials and Newton steps), [`chebyshev`], [`emit`], [`params`]. The
//! driver here walks the tensor IR, then runs `bootstrap-placement` (which ends with `rescale-insertion`),
//! `dead-code-elimination` and `rotation-key-collection` (see `docs/design/packing.md`).

pub mod activation;
pub mod attention;
pub mod chebyshev;
pub mod emit;
pub mod geometry;
pub mod matvec;
pub mod norm;
pub mod params;
pub mod report;
pub mod vector;

use crate::calibrate::{Calibration, Quantity};
use crate::error::{CompileError, Result};
use activation::Approx;
use attention::Heads;
use cachemir_ir::fhe::{Level, Module, ValueId as FheValue};
use cachemir_ir::tensor::{self, Op};
use cachemir_ir::weights::Weights;
use cachemir_passes::bootstrap::BootstrapPlacement;
use cachemir_passes::check::Verify;
use cachemir_passes::cleanup::{CommonSubexpressionElimination, DeadCodeElimination};
use cachemir_passes::keys::RotationKeyCollection;
use cachemir_passes::{Pass, PassCx, PassManager};
use emit::Emitter;
use geometry::Geometry;
use params::ParamSet;
use std::collections::BTreeMap;
use vector::Vector;

/// The packing strategy (`--strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Strategy {
    /// Cachemir: interleaved replicated packing and the K/V-cache layouts over `S` slots.
    Cachemir,
    /// Baseline: dense `D`-slot ciphertexts, the diagonal method, one KV chunk per token.
    Diagonal,
}

impl Strategy {
    /// The CLI name.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Cachemir => "cachemir",
            Strategy::Diagonal => "diagonal",
        }
    }
}

/// Lowering options.
#[derive(Debug, Clone)]
pub struct Options {
    /// Packing strategy.
    pub strategy: Strategy,
    /// Parameter set.
    pub params: ParamSet,
    /// Slots per ciphertext for [`Strategy::Cachemir`] (default: `min(N/2, D²)`).
    pub slots: Option<u32>,
    /// Tokens the KV caches hold at most.
    pub max_context: usize,
    /// Highest level the KV caches persist at (default: the working level); each is kept at the level its
    /// readers spend when that is lower.
    pub cache_level: Option<u32>,
}

/// One polynomial approximation chosen by the lowering.
#[derive(Debug, Clone, PartialEq)]
pub struct ApproxRecord {
    /// Tensor-IR node index.
    pub node: usize,
    /// What it approximates.
    pub quantity: Quantity,
    /// The approximation.
    pub approx: Approx,
}

/// A lowered program with its weights.
#[derive(Debug, Clone)]
pub struct Lowered {
    /// The FHE program, verified, with levels, rescales, bootstraps and keys in place.
    pub module: Module,
    /// The weights it refers to, including the client tables `client.*`.
    pub weights: Weights,
    /// The geometry used.
    pub geometry: Geometry,
    /// The approximations used.
    pub approximations: Vec<ApproxRecord>,
    /// Pass statistics (`bootstrap-placement.bootstraps`, ...).
    pub stats: BTreeMap<String, u64>,
    /// The region (`input`, `layer 0`, …, `head`) of every op the lowering emitted, for [`report`].
    pub regions: BTreeMap<cachemir_ir::fhe::OpId, String>,
}

impl Lowered {
    /// Per-region operation counts.
    pub fn report(&self) -> report::Report {
        report::report(&self.module, &self.regions)
    }
}

fn unsupported(node: usize, op: &Op, reason: impl Into<String>) -> CompileError {
    CompileError::Lower {
        node: format!("#{node} ({})", op.keyword()),
        reason: reason.into(),
    }
}

fn weight_data<'m>(m: &'m tensor::Module, name: &str) -> Option<(&'m [usize], &'m [f32])> {
    let w = m.weights.get(name)?;
    Some((&w.shape, w.data.as_deref()?))
}

/// For each MatVec node feeding an attention's K or V (possibly through RoPE): (q heads, kv heads, head dim).
fn kv_projections(m: &tensor::Module) -> BTreeMap<usize, (usize, usize, usize)> {
    let mut def = BTreeMap::new();
    for (id, n) in m.nodes.iter() {
        if let Some(r) = n.result {
            def.insert(r, id);
        }
    }
    let mut out = BTreeMap::new();
    for (_, n) in m.nodes.iter() {
        if let Op::Attention {
            q_heads,
            kv_heads,
            head_dim,
            ..
        } = n.op
        {
            for &arg in &n.args[1..] {
                let mut id = def.get(&arg).copied();
                if let Some(i) = id {
                    if let Op::Rope { .. } = m.nodes[i].op {
                        id = m.nodes[i].args.first().and_then(|a| def.get(a).copied());
                    }
                }
                if let Some(i) = id {
                    if let Op::MatVec { .. } = m.nodes[i].op {
                        out.insert(i.index(), (q_heads, kv_heads, head_dim));
                    }
                }
            }
        }
    }
    out
}

/// Lowers a decode step. Intervals of the non-linear ops come from `cal`.
pub fn lower(m: &tensor::Module, cal: &Calibration, opts: &Options) -> Result<Lowered> {
    let lit = &opts.params.literal;
    let hidden = m
        .nodes
        .iter()
        .find_map(|(_, n)| match &n.op {
            Op::Input { embedding } => m.weights.get(embedding).map(|w| w.shape[1]),
            _ => None,
        })
        .ok_or_else(|| CompileError::Lower {
            node: "module".into(),
            reason: "no input".into(),
        })?;
    let heads = m.nodes.iter().find_map(|(_, n)| match n.op {
        Op::Attention {
            q_heads, head_dim, ..
        } => Some((q_heads, head_dim)),
        _ => None,
    });
    let q_dim = heads.map_or(0, |(h, d)| h * d);
    let d = (hidden.max(q_dim) as u32).next_power_of_two();
    let slots = match opts.strategy {
        // IRP needs K = S/D ≤ D (at least one diagonal per product): S ≤ D².
        Strategy::Cachemir => opts
            .slots
            .unwrap_or_else(|| lit.max_slots().min(u64::from(d) * u64::from(d)) as u32),
        Strategy::Diagonal => d,
    };
    let bad = |reason: String| CompileError::Lower {
        node: "module".into(),
        reason,
    };
    if u64::from(slots) > lit.max_slots() {
        return Err(bad(format!(
            "{slots} slots exceed the {} slots of {}",
            lit.max_slots(),
            opts.params.name
        )));
    }
    if u64::from(slots) > u64::from(d) * u64::from(d) {
        return Err(bad(format!(
            "{slots} slots exceed D² = {} for D = {d}: interleaved replicated packing needs K = S/D ≤ D",
            u64::from(d) * u64::from(d)
        )));
    }
    let geo = Geometry::new(slots, d).ok_or_else(|| {
        bad(format!(
            "{slots} slots cannot hold blocks of {d} entries (both must be powers of two, D ≤ S)"
        ))
    })?;
    let working = opts.params.working_level;
    let h = heads.map(|(heads, head_dim)| Heads {
        heads,
        head_dim,
        max_context: opts.max_context,
        cache_level: opts.cache_level.unwrap_or(working).min(working),
    });
    let mut em = Emitter::new(lit.clone(), slots, working);
    let expand = kv_projections(m);
    let mut vals: BTreeMap<usize, Vector> = BTreeMap::new();
    let mut approximations = Vec::new();
    let mut rope_in: Option<([FheValue; 3], Vec<f32>)> = None;
    let mut valid: Option<Vec<FheValue>> = None;
    let mut outputs = 0usize;
    let (layers, mut norms) = (m.num_layers(), 0usize);
    for (id, node) in m.nodes.iter() {
        let n = id.index();
        let op = &node.op;
        if let Op::RmsNorm { .. } = op {
            norms += 1;
            em.region = if norms > 2 * layers {
                "head".into()
            } else {
                format!("layer {}", (norms - 1) / 2)
            };
        }
        let arg = |i: usize| -> Result<&Vector> {
            node.args
                .get(i)
                .and_then(|a| vals.get(&a.index()))
                .ok_or_else(|| unsupported(n, op, "operand not lowered"))
        };
        let interval = |q: Quantity| {
            cal.interval(n, q).ok_or_else(|| {
                unsupported(
                    n,
                    op,
                    format!("no calibration for {} (run with --calibrate)", q.name()),
                )
            })
        };
        let missing = |w: &str| unsupported(n, op, format!("weight {w:?} has no data"));
        let out: Option<Vector> = match op {
            Op::Input { embedding } => {
                let (shape, data) = weight_data(m, embedding).ok_or_else(|| missing(embedding))?;
                let cols = shape[1];
                em.weight(cachemir_ir::plan::client::EMBEDDING, || {
                    data.chunks(cols)
                        .map(|r| r.iter().map(|&v| f64::from(v)).collect())
                        .collect()
                });
                let x = em.input("x", geo.strided(hidden as u32));
                if hidden > d as usize {
                    return Err(unsupported(
                        n,
                        op,
                        "hidden size above the packing dimension",
                    ));
                }
                Some(attention::single(x, hidden))
            }
            Op::MatVec { weight } => {
                let (shape, data) = weight_data(m, weight).ok_or_else(|| missing(weight))?;
                let (rows, cols) = (shape[0], shape[1]);
                let x = arg(0)?.clone();
                let name = format!("w.{weight}");
                Some(match expand.get(&n) {
                    Some(&(qh, kvh, hd)) => {
                        let group = qh / kvh.max(1);
                        matvec::matvec(&mut em, &geo, &x, qh * hd, &name, |r, c| {
                            let (head, i) = (c / hd, c % hd);
                            data[r * cols + (head / group) * hd + i]
                        })
                    }
                    None => matvec::matvec(&mut em, &geo, &x, cols, &name, |r, c| {
                        if r < rows {
                            data[r * cols + c]
                        } else {
                            0.0
                        }
                    }),
                })
            }
            Op::LmHead { weight } => {
                let (shape, data) = weight_data(m, weight).ok_or_else(|| missing(weight))?;
                let (vocab, hid) = (shape[0], shape[1]);
                let x = arg(0)?.clone();
                Some(matvec::matvec(
                    &mut em,
                    &geo,
                    &x,
                    vocab,
                    "lm_head",
                    |r, c| data[c * hid + r],
                ))
            }
            Op::RmsNorm { gain, eps } => {
                let (_, g) = weight_data(m, gain).ok_or_else(|| missing(gain))?;
                let x = norm::apply_gain(&mut em, &geo, arg(0)?, &format!("n{n}"));
                let iv = interval(Quantity::SumOfSquares)?;
                let a = activation::rsqrt_mean(x.len as f64, f64::from(*eps), iv);
                approximations.push(ApproxRecord {
                    node: n,
                    quantity: Quantity::SumOfSquares,
                    approx: a.clone(),
                });
                Some(norm::rms_norm(
                    &mut em,
                    &geo,
                    &x,
                    f64::from(*eps),
                    g.to_vec(),
                    &a,
                    &format!("n{n}"),
                ))
            }
            Op::Rope {
                head_dim, inv_freq, ..
            } => {
                let h = h
                    .as_ref()
                    .ok_or_else(|| unsupported(n, op, "RoPE without attention"))?;
                if *head_dim != h.head_dim {
                    return Err(unsupported(
                        n,
                        op,
                        "RoPE head size differs from attention's",
                    ));
                }
                let inputs = match &rope_in {
                    Some((ins, f)) if f == inv_freq => *ins,
                    Some(_) => {
                        return Err(unsupported(n, op, "RoPE frequencies differ between ops"))
                    }
                    None => {
                        let ins = attention::rope_inputs(&mut em, &geo, h, inv_freq);
                        rope_in = Some((ins, inv_freq.clone()));
                        ins
                    }
                };
                let x = arg(0)?;
                if x.blocks.len() != 1 || x.gain.is_some() {
                    return Err(unsupported(
                        n,
                        op,
                        "RoPE operand is not a single plain block",
                    ));
                }
                let y = attention::rope(&mut em, &geo, h, x.blocks[0], inputs);
                Some(attention::single(y, x.len.max(q_dim)))
            }
            Op::Attention {
                layer,
                head_dim,
                scale,
                ..
            } => {
                let h = h.as_ref().expect("attention implies heads");
                if !head_dim.is_power_of_two() || *head_dim < 2 {
                    return Err(unsupported(n, op, "head size must be a power of two ≥ 2"));
                }
                let (q, k, v) = (arg(0)?, arg(1)?, arg(2)?);
                for x in [q, k, v] {
                    if x.blocks.len() != 1 || x.gain.is_some() {
                        return Err(unsupported(
                            n,
                            op,
                            "q/k/v must come from projections (K and V expanded per query head)",
                        ));
                    }
                }
                if k.len != q_dim || v.len != q_dim {
                    return Err(unsupported(
                        n,
                        op,
                        "K/V must come from projections (they are expanded per query head)",
                    ));
                }
                let valid_in = match &valid {
                    Some(v) => v.clone(),
                    None => {
                        let v = attention::valid_inputs(&mut em, &geo, h);
                        valid = Some(v.clone());
                        v
                    }
                };
                let sm = attention::Softmax::new(
                    f64::from(*scale),
                    interval(Quantity::Score)?,
                    opts.max_context,
                );
                approximations.push(ApproxRecord {
                    node: n,
                    quantity: Quantity::Score,
                    approx: sm.exp.clone(),
                });
                let (qb, kb, vb) = (q.blocks[0], k.blocks[0], v.blocks[0]);
                // The calibrated mean key, expanded per query head like the cached keys.
                let (q_heads, kv_heads) = match op {
                    Op::Attention {
                        q_heads, kv_heads, ..
                    } => (*q_heads, *kv_heads),
                    _ => unreachable!("matched above"),
                };
                let group = q_heads / kv_heads.max(1);
                let mean: Option<Vec<f64>> = cal.key_means.get(&n).map(|m| {
                    (0..q_dim)
                        .map(|c| m[(c / head_dim / group) * head_dim + c % head_dim])
                        .collect()
                });
                let y = attention::attention(
                    &mut em,
                    &geo,
                    h,
                    *layer,
                    qb,
                    kb,
                    vb,
                    &valid_in,
                    &sm,
                    mean.as_deref(),
                );
                Some(attention::single(y, q_dim))
            }
            Op::Silu => {
                let x = norm::apply_gain(&mut em, &geo, arg(0)?, &format!("n{n}"));
                let a = activation::silu(interval(Quantity::SiluInput)?);
                approximations.push(ApproxRecord {
                    node: n,
                    quantity: Quantity::SiluInput,
                    approx: a.clone(),
                });
                let blocks = x
                    .blocks
                    .iter()
                    .map(|&b| activation::poly(&mut em, b, &a))
                    .collect();
                Some(Vector {
                    blocks,
                    len: x.len,
                    gain: None,
                })
            }
            Op::Mul | Op::Add => {
                let a = norm::apply_gain(&mut em, &geo, arg(0)?, &format!("n{n}a"));
                let b = norm::apply_gain(&mut em, &geo, arg(1)?, &format!("n{n}b"));
                let blocks = a
                    .blocks
                    .iter()
                    .zip(&b.blocks)
                    .map(|(&x, &y)| {
                        if matches!(op, Op::Mul) {
                            em.mul(x, y)
                        } else {
                            em.add(x, y)
                        }
                    })
                    .collect();
                Some(Vector {
                    blocks,
                    len: a.len,
                    gain: None,
                })
            }
            Op::Softmax => {
                return Err(unsupported(
                    n,
                    op,
                    "a standalone softmax is not lowered yet",
                ))
            }
            Op::Output => {
                let x = norm::apply_gain(&mut em, &geo, arg(0)?, &format!("n{n}"));
                for (b, &blk) in x.blocks.iter().enumerate() {
                    let name = if outputs == 0 {
                        format!("logits.{b}")
                    } else {
                        format!("out{outputs}.{b}")
                    };
                    em.set_layout(blk, geo.strided(geo.block_len(x.len, b)));
                    em.output(&name, blk);
                }
                outputs += 1;
                None
            }
        };
        if let (Some(r), Some(v)) = (node.result, out) {
            vals.insert(r.index(), v);
        }
    }
    let mut module = em.module;
    let stats = manage(&mut module, Level(working))?;
    Ok(Lowered {
        module,
        regions: em.regions,
        weights: em.weights,
        geometry: geo,
        approximations,
        stats,
    })
}

/// The management pipeline after lowering.
pub fn management(working_level: Level) -> Vec<Box<dyn Pass>> {
    vec![
        Box::new(CommonSubexpressionElimination),
        Box::new(DeadCodeElimination),
        Box::new(RotationKeyCollection),
        Box::new(BootstrapPlacement {
            target: Some(working_level),
        }),
        Box::new(DeadCodeElimination),
        Box::new(RotationKeyCollection),
        Box::new(Verify),
    ]
}

fn manage(module: &mut Module, working_level: Level) -> Result<BTreeMap<String, u64>> {
    let mut cx = PassCx::default();
    PassManager::new(management(working_level))
        .verify_each(false)
        .run(module, &mut cx)?;
    Ok(cx.stats)
}

/// Runs the management pipeline (tests of the lowering's pieces).
#[cfg(test)]
pub(crate) fn manage_for_tests(module: &mut Module, working_level: u32) {
    manage(module, Level(working_level)).expect("management passes");
}
