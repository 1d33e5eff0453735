//! The step executor: runs a tensor-IR module once per token, keeping one KV cache per layer.

use cachemir_ir::tensor::{Module, Op};

use super::kernels;
use crate::error::{CompileError, Result};

/// One layer's KV cache: key rows (after RoPE) and value rows, one per fed token.
type LayerCache = (Vec<Vec<f32>>, Vec<Vec<f32>>);

/// What one op of a step shows an observer (calibration): the op, its operand values and, for attention,
/// the layer's cached keys with this token's key appended.
#[derive(Debug)]
pub struct Observation<'a> {
    /// Index of the op's node in the module.
    pub node: usize,
    /// The op.
    pub op: &'a Op,
    /// The operand values, in argument order.
    pub args: Vec<&'a [f32]>,
    /// For attention: every cached key row (after RoPE), this token's last. Empty otherwise.
    pub cached_keys: &'a [Vec<f32>],
}

/// Runs a verified tensor-IR module token by token.
#[derive(Debug, Clone)]
pub struct Executor<'m> {
    module: &'m Module,
    /// Per layer: cached key rows and value rows (after RoPE for keys).
    cache: Vec<LayerCache>,
    position: usize,
}

fn exec_err(reason: impl Into<String>) -> CompileError {
    CompileError::Execute {
        reason: reason.into(),
    }
}

impl<'m> Executor<'m> {
    /// An executor with an empty KV cache (position 0). The module must verify with weight data.
    pub fn new(module: &'m Module) -> Result<Self> {
        cachemir_ir::tensor::verify::verify(module, true)?;
        Ok(Self {
            module,
            cache: vec![(Vec::new(), Vec::new()); module.num_layers()],
            position: 0,
        })
    }

    /// Number of tokens fed so far (the past length of the next step).
    pub fn position(&self) -> usize {
        self.position
    }

    fn weight(&self, name: &str) -> Result<(&[usize], &[f32])> {
        let w = self
            .module
            .weights
            .get(name)
            .ok_or_else(|| exec_err(format!("weight {name:?} is missing")))?;
        let d = w
            .data
            .as_deref()
            .ok_or_else(|| exec_err(format!("weight {name:?} has no data")))?;
        Ok((&w.shape, d))
    }

    /// Feeds `token` at the current position; returns the values of the `output` ops in order
    /// (the logits) and advances the position.
    pub fn step(&mut self, token: u32) -> Result<Vec<Vec<f32>>> {
        self.step_observed(token, &mut |_| {})
    }

    /// [`Executor::step`], showing every op's operands to `observe` before the op runs.
    pub fn step_observed(
        &mut self,
        token: u32,
        observe: &mut dyn FnMut(Observation<'_>),
    ) -> Result<Vec<Vec<f32>>> {
        let mut vals: Vec<Option<Vec<f32>>> = vec![None; self.module.values.len()];
        let mut outputs = Vec::new();
        let pos = self.position;
        for (id, node) in self.module.nodes.iter() {
            let arg = |i: usize| -> Result<&Vec<f32>> {
                node.args
                    .get(i)
                    .and_then(|a| vals[a.index()].as_ref())
                    .ok_or_else(|| exec_err("operand not computed"))
            };
            let args = || -> Result<Vec<&[f32]>> {
                (0..node.args.len())
                    .map(|i| arg(i).map(Vec::as_slice))
                    .collect()
            };
            if !matches!(node.op, Op::Attention { .. }) {
                observe(Observation {
                    node: id.index(),
                    op: &node.op,
                    args: args()?,
                    cached_keys: &[],
                });
            }
            let out = match &node.op {
                Op::Input { embedding } => {
                    let (shape, d) = self.weight(embedding)?;
                    let (vocab, hidden) = (shape[0], shape[1]);
                    let t = token as usize;
                    if t >= vocab {
                        return Err(exec_err(format!(
                            "token id {token} is outside the vocabulary (size {vocab})"
                        )));
                    }
                    d[t * hidden..(t + 1) * hidden].to_vec()
                }
                Op::MatVec { weight } => {
                    let (shape, d) = self.weight(weight)?;
                    kernels::mat_vec(arg(0)?, d, shape[1])
                }
                Op::RmsNorm { gain, eps } => kernels::rms_norm(arg(0)?, self.weight(gain)?.1, *eps),
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
                    scale,
                } => {
                    let (k, v) = (arg(1)?.clone(), arg(2)?.clone());
                    let q = arg(0)?;
                    let cache = self
                        .cache
                        .get_mut(*layer)
                        .ok_or_else(|| exec_err(format!("no KV cache for layer {layer}")))?;
                    cache.0.push(k);
                    cache.1.push(v);
                    observe(Observation {
                        node: id.index(),
                        op: &node.op,
                        args: args()?,
                        cached_keys: &cache.0,
                    });
                    kernels::attention(
                        q, &cache.0, &cache.1, *q_heads, *kv_heads, *head_dim, *scale,
                    )
                }
                Op::Silu => kernels::silu(arg(0)?),
                Op::Softmax => kernels::softmax(arg(0)?),
                Op::Mul => arg(0)?.iter().zip(arg(1)?).map(|(a, b)| a * b).collect(),
                Op::Add => arg(0)?.iter().zip(arg(1)?).map(|(a, b)| a + b).collect(),
                Op::LmHead { weight } => {
                    let (shape, d) = self.weight(weight)?;
                    kernels::lm_head(arg(0)?, d, shape[0])
                }
                Op::Output => {
                    outputs.push(arg(0)?.clone());
                    continue;
                }
            };
            if let Some(r) = node.result {
                vals[r.index()] = Some(out);
            }
        }
        self.position += 1;
        Ok(outputs)
    }
}

/// The result of greedy generation.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    /// The generated token ids.
    pub generated_ids: Vec<u32>,
    /// One logits row per fed token: the P prompt tokens, then the N generated ones.
    pub logits: Vec<Vec<f32>>,
}

/// Feeds `prompt` one token per step, then generates `max_new` tokens greedily (arg max, lowest
/// id on ties); every generated token is fed too, so `logits` has `P + N` rows.
pub fn generate(module: &Module, prompt: &[u32], max_new: usize) -> Result<Generation> {
    if prompt.is_empty() {
        return Err(exec_err("the prompt is empty"));
    }
    let mut ex = Executor::new(module)?;
    let mut logits = Vec::new();
    let mut generated = Vec::new();
    let mut next = None;
    for &t in prompt {
        let out = ex.step(t)?;
        let row = out
            .into_iter()
            .next()
            .ok_or_else(|| exec_err("the module has no output"))?;
        next = Some(argmax(&row));
        logits.push(row);
    }
    for _ in 0..max_new {
        let t = next.ok_or_else(|| exec_err("no logits"))?;
        generated.push(t);
        let out = ex.step(t)?;
        let row = out
            .into_iter()
            .next()
            .ok_or_else(|| exec_err("the module has no output"))?;
        next = Some(argmax(&row));
        logits.push(row);
    }
    Ok(Generation {
        generated_ids: generated,
        logits,
    })
}

/// Index of the largest entry (first one on ties; NaN never wins).
pub fn argmax(row: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] || row[best].is_nan() {
            best = i;
        }
    }
    best as u32
}
