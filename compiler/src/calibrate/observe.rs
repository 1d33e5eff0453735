//! Runs the tensor IR in plaintext (the reference kernels, one token per step with a KV cache) and records
//! the inputs of the ops the lowering approximates.

use super::{Calibration, Quantity};
use crate::error::{CompileError, Result};
use crate::reference::kernels;
use cachemir_ir::tensor::{Module, Op};

/// One layer's cached key rows and value rows.
type LayerCache = (Vec<Vec<f32>>, Vec<Vec<f32>>);

fn err(reason: impl Into<String>) -> CompileError {
    CompileError::Execute {
        reason: reason.into(),
    }
}

fn data<'m>(m: &'m Module, name: &str) -> Result<(&'m [usize], &'m [f32])> {
    let w = m
        .weights
        .get(name)
        .ok_or_else(|| err(format!("weight {name:?} is missing")))?;
    let d = w
        .data
        .as_deref()
        .ok_or_else(|| err(format!("weight {name:?} has no data")))?;
    Ok((&w.shape, d))
}

/// Feeds `tokens` one per step and returns the observed ranges. Two runs: the first measures the mean
/// cached key of every attention ([`Calibration::key_means`]), the second the ranges, with scores taken
/// against centered keys as the lowering computes them.
pub fn observe(module: &Module, tokens: &[u32]) -> Result<Calibration> {
    let first = run(module, tokens, &Calibration::default())?;
    let mut means = Calibration {
        key_means: first.key_sums.clone(),
        ..Default::default()
    };
    for m in means.key_means.values_mut() {
        for v in m.iter_mut() {
            *v /= tokens.len() as f64;
        }
    }
    let mut cal = run(module, tokens, &means)?;
    cal.key_means = means.key_means;
    cal.key_sums.clear();
    Ok(cal)
}

fn run(module: &Module, tokens: &[u32], centering: &Calibration) -> Result<Calibration> {
    cachemir_ir::tensor::verify::verify(module, true)?;
    if tokens.is_empty() {
        return Err(err("no calibration tokens"));
    }
    let mut cal = Calibration::default();
    let mut cache: Vec<LayerCache> = vec![(Vec::new(), Vec::new()); module.num_layers()];
    for (pos, &token) in tokens.iter().enumerate() {
        let mut vals: Vec<Option<Vec<f32>>> = vec![None; module.values.len()];
        for (id, node) in module.nodes.iter() {
            let n = id.index();
            let arg = |i: usize| -> Result<&Vec<f32>> {
                node.args
                    .get(i)
                    .and_then(|a| vals[a.index()].as_ref())
                    .ok_or_else(|| err("operand not computed"))
            };
            let out = match &node.op {
                Op::Input { embedding } => {
                    let (shape, d) = data(module, embedding)?;
                    let (vocab, hidden) = (shape[0], shape[1]);
                    let t = token as usize;
                    if t >= vocab {
                        return Err(err(format!(
                            "calibration token {token} is outside the vocabulary (size {vocab})"
                        )));
                    }
                    d[t * hidden..(t + 1) * hidden].to_vec()
                }
                Op::MatVec { weight } => {
                    let (shape, d) = data(module, weight)?;
                    kernels::mat_vec(arg(0)?, d, shape[1])
                }
                Op::RmsNorm { gain, eps } => {
                    let x = arg(0)?;
                    let s: f64 = x.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
                    cal.record(n, Quantity::SumOfSquares, s);
                    kernels::rms_norm(x, data(module, gain)?.1, *eps)
                }
                Op::Rope {
                    heads,
                    head_dim,
                    inv_freq,
                } => kernels::rope(arg(0)?, *heads, *head_dim, inv_freq, pos),
                Op::Attention {
                    layer,
                    q_heads,
                    kv_heads,
                    head_dim,
                    ..
                } => {
                    let (q, k, v) = (arg(0)?.clone(), arg(1)?.clone(), arg(2)?.clone());
                    let sums = cal.key_sums.entry(n).or_insert_with(|| vec![0.0; k.len()]);
                    for (s, &x) in sums.iter_mut().zip(&k) {
                        *s += f64::from(x);
                    }
                    let mean = centering.key_means.get(&n);
                    let c = cache
                        .get_mut(*layer)
                        .ok_or_else(|| err(format!("no KV cache for layer {layer}")))?;
                    c.0.push(k);
                    c.1.push(v);
                    let group = q_heads / (*kv_heads).max(1);
                    for h in 0..*q_heads {
                        let kh = h / group.max(1);
                        let qh = &q[h * head_dim..(h + 1) * head_dim];
                        let score = |key: &Vec<f32>| -> f64 {
                            (0..*head_dim)
                                .map(|i| {
                                    let r = kh * head_dim + i;
                                    let mu = mean.map_or(0.0, |m| m[r]);
                                    f64::from(qh[i]) * (f64::from(key[r]) - mu)
                                })
                                .sum()
                        };
                        for key in &c.0 {
                            cal.record(n, Quantity::Score, score(key));
                        }
                    }
                    match &node.op {
                        Op::Attention { scale, .. } => kernels::attention(
                            &q, &c.0, &c.1, *q_heads, *kv_heads, *head_dim, *scale,
                        ),
                        _ => unreachable!("matched above"),
                    }
                }
                Op::Silu => {
                    let x = arg(0)?;
                    for &v in x {
                        cal.record(n, Quantity::SiluInput, f64::from(v));
                    }
                    kernels::silu(x)
                }
                Op::Softmax => kernels::softmax(arg(0)?),
                Op::Mul => arg(0)?.iter().zip(arg(1)?).map(|(a, b)| a * b).collect(),
                Op::Add => arg(0)?.iter().zip(arg(1)?).map(|(a, b)| a + b).collect(),
                Op::LmHead { weight } => {
                    let (shape, d) = data(module, weight)?;
                    kernels::lm_head(arg(0)?, d, shape[0])
                }
                Op::Output => continue,
            };
            if let Some(r) = node.result {
                vals[r.index()] = Some(out);
            }
        }
    }
    cal.tokens = tokens.len();
    Ok(cal)
}
