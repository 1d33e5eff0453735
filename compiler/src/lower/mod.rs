//! Lowering: tensor IR → FHE IR through a packing strategy, then level management.
//!
//! - [`Strategy::Cachemir`]: interleaved replicated packing (IRP) for every vector×matrix product and
//!   Cachemir's K/V-cache layouts, with `S` slots per ciphertext (default: all of the ring's slots).
//! - [`Strategy::Diagonal`]: the naive baseline, the same program with `K = 1`: ciphertexts of `D` slots,
//!   the diagonal method (`D` diagonals per product) and one KV chunk per token.
//!
//! One file per concept: [`geometry`] (the layouts), [`matvec`], [`norm`], [`attention`] (RoPE, KV cache,
//! softmax), [`activation`] (polynomials and Newton steps), [`chebyshev`], [`range`] (the scaled units
//! that keep every ciphertext where bootstrapping refreshes it), [`emit`], [`params`]. The
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
pub mod range;
pub mod report;
pub mod vector;

use crate::calibrate::{Calibration, Quantity};
use crate::error::{CompileError, Result};
use activation::Approx;
use attention::Heads;
use cachemir_ir::cost::CostTable;
use cachemir_ir::fhe::{Level, Module, ValueId as FheValue};
use cachemir_ir::tensor::{self, Op};
use cachemir_ir::weights::Weights;
use cachemir_passes::bootstrap::{BootstrapPlacement, Placement};
use cachemir_passes::check::Verify;
use cachemir_passes::cleanup::{CommonSubexpressionElimination, DeadCodeElimination};
use cachemir_passes::keys::RotationKeyCollection;
use cachemir_passes::{Pass, PassCx, PassManager};
use emit::Emitter;
use geometry::Geometry;
use params::ParamSet;
use range::Ranges;
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
    /// How bootstraps are placed.
    pub placement: Placement,
    /// The cost table placement weighs bootstraps with (default: the built-in one of the parameters).
    pub costs: Option<CostTable>,
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
    /// The tensor-IR node every op the lowering emitted comes from (ops inserted by passes have none).
    pub nodes: BTreeMap<cachemir_ir::fhe::OpId, usize>,
}

impl Lowered {
    /// The tensor-IR node op `op` was lowered from: its own, or for an op a pass inserted (a rescale, a
    /// bootstrap) that of the nearest op up its chain of first operands.
    pub fn tensor_node(&self, op: cachemir_ir::fhe::OpId) -> Option<usize> {
        let mut id = op;
        loop {
            if let Some(&n) = self.nodes.get(&id) {
                return Some(n);
            }
            let first = *self.module.op(id).op.operands().first()?;
            id = self.module.value(first)?.def;
        }
    }

    /// Per-region operation counts, with `prediction`'s seconds.
    pub fn report(&self, prediction: Option<&cachemir_ir::cost::Prediction>) -> report::Report {
        report::report(&self.module, &self.regions, prediction)
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

/// For each tensor-IR value (by index): the nodes reading it, with the operand position.
fn readers(m: &tensor::Module) -> BTreeMap<usize, Vec<(usize, usize)>> {
    let mut out: BTreeMap<usize, Vec<(usize, usize)>> = BTreeMap::new();
    for (id, n) in m.nodes.iter() {
        for (i, a) in n.args.iter().enumerate() {
            out.entry(a.index()).or_default().push((id.index(), i));
        }
    }
    out
}

/// Lowers a decode step. Intervals of the non-linear ops come from `cal`, and so do the magnitudes
/// that decide which vectors travel in scaled units ([`range`]).
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
    let ranges = Ranges::new(lit);
    let readers = readers(m);
    let stream = range::residual_stream(m);
    let bounds = product_bounds(m, cal);
    // The residual stream's units cover its values and the partial sums of the products added to it.
    let into_stream = m.nodes.iter().filter(|(_, n)| {
        matches!(n.op, Op::Add) && n.result.is_some_and(|r| stream.contains(&r.index()))
    });
    let added = into_stream
        .flat_map(|(_, n)| n.args.clone())
        .filter_map(|a| def_node(m, a).and_then(|d| bounds.get(&d)));
    let residual_gain = ranges.gains(&range::max_magnitudes(
        stream
            .iter()
            .filter_map(|&v| cal.magnitude(v))
            .chain(added.map(Vec::as_slice)),
    ));
    let mut vals: BTreeMap<usize, Vector> = BTreeMap::new();
    let mut approximations = Vec::new();
    let mut rope_in: Option<([FheValue; 3], Vec<f32>)> = None;
    let mut valid: Option<Vec<FheValue>> = None;
    let mut first_position: Option<FheValue> = None;
    let mut outputs = 0usize;
    let (layers, mut norms) = (m.num_layers(), 0usize);
    for (id, node) in m.nodes.iter() {
        let n = id.index();
        let op = &node.op;
        em.node = Some(n);
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
                // The client encrypts the residual stream in its scaled units.
                let unit = |c: usize| residual_gain.as_ref().map_or(1.0, |g| f64::from(g[c]));
                em.weight(cachemir_ir::plan::client::EMBEDDING, || {
                    data.chunks(cols)
                        .map(|r| {
                            r.iter()
                                .enumerate()
                                .map(|(c, &v)| f64::from(v) / unit(c))
                                .collect()
                        })
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
                Some(Vector {
                    gain: residual_gain.clone(),
                    ..attention::single(x, hidden)
                })
            }
            Op::MatVec { weight } => {
                let (shape, data) = weight_data(m, weight).ok_or_else(|| missing(weight))?;
                let (rows, cols) = (shape[0], shape[1]);
                let x = arg(0)?.clone();
                let name = format!("w.{weight}");
                let out_len = expand.get(&n).map_or(cols, |&(qh, _, hd)| qh * hd);
                let out_gain = node.result.and_then(|r| {
                    let bound = bounds.get(&n).map(Vec::as_slice);
                    output_gain(m, cal, &ranges, &readers, &vals, r.index(), bound, out_len)
                });
                let unit = |c: usize| out_gain.as_ref().map_or(1.0, |g| g[c]);
                let y = match expand.get(&n) {
                    Some(&(qh, kvh, hd)) => {
                        let group = qh / kvh.max(1);
                        matvec::matvec(&mut em, &geo, &x, qh * hd, &name, |r, c| {
                            let (head, i) = (c / hd, c % hd);
                            data[r * cols + (head / group) * hd + i] / unit(c)
                        })
                    }
                    None => matvec::matvec(&mut em, &geo, &x, cols, &name, |r, c| {
                        if r < rows {
                            data[r * cols + c] / unit(c)
                        } else {
                            0.0
                        }
                    }),
                };
                Some(Vector {
                    gain: out_gain,
                    ..y
                })
            }
            Op::LmHead { weight } => {
                let (shape, data) = weight_data(m, weight).ok_or_else(|| missing(weight))?;
                let (vocab, hid) = (shape[0], shape[1]);
                let x = arg(0)?.clone();
                let out_gain = node.result.and_then(|r| {
                    let bound = bounds.get(&n).map(Vec::as_slice);
                    output_gain(m, cal, &ranges, &readers, &vals, r.index(), bound, vocab)
                });
                let unit = |c: usize| out_gain.as_ref().map_or(1.0, |g| g[c]);
                let y = matvec::matvec(&mut em, &geo, &x, vocab, "lm_head", |r, c| {
                    data[c * hid + r] / unit(c)
                });
                Some(Vector {
                    gain: out_gain,
                    ..y
                })
            }
            Op::RmsNorm { gain, eps } => {
                let (_, g) = weight_data(m, gain).ok_or_else(|| missing(gain))?;
                let x = arg(0)?.clone();
                let later = cal.interval(n, Quantity::SumOfSquares);
                let first = cal.interval(n, Quantity::FirstSumOfSquares);
                if later.is_none() && first.is_none() {
                    interval(Quantity::SumOfSquares)?;
                }
                let units = norm::NormUnits::new(x.len as f64, f64::from(*eps), later, first);
                approximations.push(ApproxRecord {
                    node: n,
                    quantity: Quantity::SumOfSquares,
                    approx: units.approx.clone(),
                });
                let indicator = match (units.first_top, first_position) {
                    (None, _) => None,
                    (Some(_), Some(v)) => Some(v),
                    (Some(_), None) => {
                        let v = norm::first_position_input(&mut em, &geo, opts.max_context);
                        first_position = Some(v);
                        Some(v)
                    }
                };
                Some(norm::rms_norm(
                    &mut em,
                    &geo,
                    &x,
                    g.to_vec(),
                    &units,
                    &ranges,
                    indicator,
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
                let Some(unit) = range::uniform(x.gain.as_deref()).filter(|_| x.blocks.len() == 1)
                else {
                    return Err(unsupported(
                        n,
                        op,
                        "RoPE operand is not a single block in uniform units",
                    ));
                };
                // RoPE is linear: a uniform gain passes through.
                let y = attention::rope(&mut em, &geo, h, x.blocks[0], inputs);
                Some(scaled(y, x.len.max(q_dim), unit))
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
                let mut units = [1.0; 3];
                for (x, u) in [q, k, v].into_iter().zip(&mut units) {
                    match range::uniform(x.gain.as_deref()) {
                        Some(g) if x.blocks.len() == 1 => *u = g,
                        _ => return Err(unsupported(
                            n,
                            op,
                            "q/k/v must come from projections (K and V expanded per query head)",
                        )),
                    }
                }
                // Scores of `q/σq` and `k/σk` are the scores over σq·σk: the softmax scale takes the
                // factor back, and the output carries v's units.
                let [unit_q, unit_k, unit_v] = units;
                let score_unit = unit_q * unit_k;
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
                let raw = interval(Quantity::Score)?;
                let sm = attention::Softmax::new(
                    f64::from(*scale) * score_unit,
                    (raw.0 / score_unit, raw.1 / score_unit),
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
                        .map(|c| m[(c / head_dim / group) * head_dim + c % head_dim] / unit_k)
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
                Some(scaled(y, q_dim, unit_v))
            }
            Op::Silu => {
                // A uniform gain folds into the polynomial's argument; others are applied first.
                let x = arg(0)?;
                let (x, unit) = match range::uniform(x.gain.as_deref()) {
                    Some(u) => (x.clone(), u),
                    None => (norm::apply_gain(&mut em, &geo, x, &format!("n{n}")), 1.0),
                };
                let iv = interval(Quantity::SiluInput)?;
                let a = activation::silu(unit, (iv.0 / unit, iv.1 / unit));
                approximations.push(ApproxRecord {
                    node: n,
                    quantity: Quantity::SiluInput,
                    approx: a.clone(),
                });
                let blocks = x
                    .blocks
                    .iter()
                    .map(|&b| activation::poly_folded(&mut em, b, &a))
                    .collect();
                Some(Vector {
                    blocks,
                    len: x.len,
                    gain: None,
                })
            }
            Op::Mul => {
                // Pending gains multiply: the product's blocks are the blocks' product.
                let (a, b) = (arg(0)?, arg(1)?);
                let blocks = a
                    .blocks
                    .iter()
                    .zip(&b.blocks)
                    .map(|(&x, &y)| em.mul(x, y))
                    .collect();
                Some(Vector {
                    blocks,
                    len: a.len,
                    gain: range::combine(a.gain.as_deref(), b.gain.as_deref()),
                })
            }
            Op::Add => {
                // Operands in the same units add as they are; otherwise both are brought to plain units.
                let (a, b) = match (arg(0)?, arg(1)?) {
                    (a, b) if a.gain == b.gain => (a.clone(), b.clone()),
                    (a, b) => (
                        norm::apply_gain(&mut em, &geo, a, &format!("n{n}a")),
                        norm::apply_gain(&mut em, &geo, b, &format!("n{n}b")),
                    ),
                };
                let blocks = a
                    .blocks
                    .iter()
                    .zip(&b.blocks)
                    .map(|(&x, &y)| em.add(x, y))
                    .collect();
                Some(Vector {
                    blocks,
                    len: a.len,
                    gain: a.gain,
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
    let placement = BootstrapPlacement {
        target: Some(Level(working)),
        placement: opts.placement,
        costs: opts.costs.clone(),
    };
    let stats = manage(&mut module, placement)?;
    Ok(Lowered {
        module,
        regions: em.regions,
        nodes: em.nodes,
        weights: em.weights,
        geometry: geo,
        approximations,
        stats,
    })
}

/// The pending gain a projection gives its result (tensor-IR value `result`, `len` entries), folded into
/// its columns: the units of the residual operand when it feeds a residual `add` (so the sum needs no
/// product), the per-entry units its magnitudes, partial sums (`bound`) and product need when it feeds a
/// `mul` (the MLP's up projection), and otherwise one uniform power of two covering its partial sums
/// (RoPE, attention and SiLU fold a uniform gain; the logits' is applied at the output).
#[allow(clippy::too_many_arguments)]
fn output_gain(
    m: &tensor::Module,
    cal: &Calibration,
    ranges: &Ranges,
    readers: &BTreeMap<usize, Vec<(usize, usize)>>,
    vals: &BTreeMap<usize, Vector>,
    result: usize,
    bound: Option<&[f64]>,
    len: usize,
) -> Option<Vec<f32>> {
    let own = cal.magnitude(result).into_iter().chain(bound);
    if let [(reader, pos)] = readers.get(&result)?.as_slice() {
        let node = &m.nodes[tensor::NodeId::from_index(*reader as u32)];
        match node.op {
            Op::Add => return vals.get(&node.args.get(1 - pos)?.index())?.gain.clone(),
            Op::Mul => {
                let product = node.result.and_then(|r| cal.magnitude(r.index()));
                return ranges.gains(&range::max_magnitudes(own.chain(product)));
            }
            _ => {}
        }
    }
    let peak = range::max_magnitudes(own).into_iter().fold(0.0, f64::max);
    let unit = ranges.gains(&[peak])?[0];
    Some(vec![unit; len])
}

/// The tensor-IR node defining value `v`.
fn def_node(m: &tensor::Module, v: tensor::ValueId) -> Option<usize> {
    m.nodes
        .iter()
        .find(|(_, n)| n.result == Some(v))
        .map(|(id, _)| id.index())
}

/// For every projection (`mat_vec`, `lm_head`) whose input was calibrated: the bound on its partial sums
/// per output entry ([`range::partial_sum_bound`]).
fn product_bounds(m: &tensor::Module, cal: &Calibration) -> BTreeMap<usize, Vec<f64>> {
    let mut out = BTreeMap::new();
    for (id, n) in m.nodes.iter() {
        let (Op::MatVec { weight } | Op::LmHead { weight }) = &n.op else {
            continue;
        };
        let Some(input) = n.args.first().and_then(|a| cal.magnitude(a.index())) else {
            continue;
        };
        let Some((shape, data)) = weight_data(m, weight) else {
            continue;
        };
        let (rows, cols) = (shape[0], shape[1]);
        let bound = match n.op {
            Op::MatVec { .. } => {
                range::partial_sum_bound(input, rows, cols, |r, c| data[r * cols + c])
            }
            _ => range::partial_sum_bound(input, cols, rows, |r, c| data[c * cols + r]),
        };
        out.insert(id.index(), bound);
    }
    out
}

/// A single-block vector in uniform units `unit` (no gain when 1).
fn scaled(block: FheValue, len: usize, unit: f64) -> Vector {
    Vector {
        gain: (unit != 1.0).then(|| vec![unit as f32; len]),
        ..attention::single(block, len)
    }
}

/// The management pipeline after lowering, with `placement` placing the bootstraps.
pub fn management(placement: BootstrapPlacement) -> Vec<Box<dyn Pass>> {
    vec![
        Box::new(CommonSubexpressionElimination),
        Box::new(DeadCodeElimination),
        Box::new(RotationKeyCollection),
        Box::new(placement),
        Box::new(DeadCodeElimination),
        Box::new(RotationKeyCollection),
        Box::new(Verify),
    ]
}

fn manage(module: &mut Module, placement: BootstrapPlacement) -> Result<BTreeMap<String, u64>> {
    let mut cx = PassCx::default();
    PassManager::new(management(placement))
        .verify_each(false)
        .run(module, &mut cx)?;
    Ok(cx.stats)
}

/// Runs the management pipeline (tests of the lowering's pieces).
#[cfg(test)]
pub(crate) fn manage_for_tests(module: &mut Module, working_level: u32) {
    let placement = BootstrapPlacement {
        target: Some(Level(working_level)),
        ..BootstrapPlacement::default()
    };
    manage(module, placement).expect("management passes");
}
