//! Matchers of the Llama blocks on a folded run: RMSNorm, attention (RoPE, GQA, KV append,
//! scale, mask), SwiGLU MLP. Each matcher takes the block's boundary values, collects the dynamic
//! nodes between them, checks their op types, extracts the parameters, and checks the block
//! numerically: our kernel on the run's boundary values must give the run's output value.

use std::collections::BTreeSet;

use super::view::View;
use crate::error::Result;
use crate::llama::{AttentionParams, Matrix, Norm};
use crate::onnx::ops::{BinOp, Op};
use crate::reference::kernels;

/// A MatMul with a constant `[in, out]` weight.
#[derive(Debug, Clone)]
pub struct WeightMatMul {
    /// Node index.
    pub node: usize,
    /// The activation input.
    pub input: String,
    /// The output.
    pub output: String,
    /// The weight.
    pub weight: Matrix,
}

/// Checks `got` against `want` with a tolerance relative to the magnitude of `want`.
pub fn close(
    v: &View,
    node: usize,
    block: &str,
    what: &str,
    got: &[f32],
    want: &[f32],
) -> Result<()> {
    let scale = want.iter().fold(0f32, |m, x| m.max(x.abs()));
    let diff = kernels::max_abs_diff(got, want);
    if diff <= 1e-3 * (1.0 + scale) {
        Ok(())
    } else {
        Err(v.error(node, block, format!("{what} does not match the Llama semantics on a sample step (max |diff| {diff:e}, {} vs {} values)", got.len(), want.len())))
    }
}

fn allowed(v: &View, nodes: &BTreeSet<usize>, block: &str, ops: &[&str]) -> Result<()> {
    for &i in nodes {
        let t = v.node(i).raw.op_type.as_str();
        if !ops.contains(&t) {
            return Err(v.error(i, block, format!("op `{t}` is not expected in this block")));
        }
    }
    Ok(())
}

fn check_leaves(
    v: &View,
    sink_node: usize,
    block: &str,
    leaves: &BTreeSet<String>,
    allowed: &BTreeSet<String>,
) -> Result<()> {
    if let Some(bad) = leaves.iter().find(|l| !allowed.contains(*l)) {
        return Err(v.error(
            sink_node,
            block,
            format!("reads `{bad}`, which is not an input of this block"),
        ));
    }
    Ok(())
}

/// RMSNorm from `x` to `y` (`y` feeds the matmul at node `at`). Returns the norm; claims nodes.
pub fn rms_norm(
    v: &View,
    x: &str,
    y: &str,
    at: usize,
    block: &str,
    claimed: &mut BTreeSet<usize>,
) -> Result<Norm> {
    let stops = BTreeSet::from([x.to_string()]);
    let (nodes, leaves) = v.cone(&[y], &stops);
    check_leaves(v, at, block, &leaves, &stops)?;
    if nodes.is_empty() {
        return Err(v.error(at, block, "no normalization before the projection"));
    }
    allowed(
        v,
        &nodes,
        block,
        &[
            "Cast",
            "Identity",
            "Pow",
            "Mul",
            "ReduceMean",
            "Add",
            "Sqrt",
            "Div",
            "Reciprocal",
            "RMSNormalization",
        ],
    )?;
    let hidden = v.floats(x).len();
    let mut gain = None;
    let mut eps = None;
    for &i in &nodes {
        let n = v.node(i);
        match &n.op {
            Op::RmsNormalization { epsilon, .. } => {
                gain = n
                    .raw
                    .inputs
                    .get(1)
                    .and_then(|s| v.static_f32(s))
                    .and_then(|t| t.as_f32())
                    .map(<[f32]>::to_vec);
                eps = Some(*epsilon);
            }
            Op::Binary(BinOp::Mul) => {
                for inp in &n.raw.inputs {
                    if let Some(t) = v
                        .static_f32(inp)
                        .filter(|t| t.numel() == hidden && hidden > 1)
                    {
                        if gain.is_some() {
                            return Err(v.error(i, block, "two gain vectors"));
                        }
                        gain = t.as_f32().map(<[f32]>::to_vec);
                    }
                }
            }
            Op::Binary(BinOp::Add) => {
                for inp in &n.raw.inputs {
                    if let Some(t) = v.static_f32(inp).filter(|t| t.numel() == 1) {
                        eps = t.as_f32().map(|d| d[0]);
                    }
                }
            }
            _ => {}
        }
    }
    // A norm without a gain multiplies by ones.
    let gain = gain.unwrap_or_else(|| vec![1.0; hidden]);
    let eps = eps.ok_or_else(|| v.error(at, block, "no epsilon found in the normalization"))?;
    let want = kernels::rms_norm(&v.floats(x), &gain, eps);
    close(v, at, block, "the normalization", &v.floats(y), &want)?;
    claimed.extend(nodes);
    Ok(Norm { gain, eps })
}

/// Inputs of the attention matcher.
pub struct AttentionSite<'a> {
    /// Layer index.
    pub layer: usize,
    /// Query, key, value projections.
    pub q: &'a WeightMatMul,
    /// Key projection.
    pub k: &'a WeightMatMul,
    /// Value projection.
    pub v: &'a WeightMatMul,
    /// The output projection (its input is the attention result).
    pub o: &'a WeightMatMul,
    /// KV heads and head size from the signature.
    pub kv_heads: usize,
    /// Head size.
    pub head_dim: usize,
    /// Past length of the run.
    pub past: usize,
    /// Name of the position input.
    pub position: Option<&'a str>,
}

/// Attention from the q/k/v projections to the o-projection input, with the KV append to the
/// `present.{layer}.*` outputs. Claims its nodes and the RoPE table nodes it reads.
pub fn attention(
    v: &View,
    s: &AttentionSite,
    claimed: &mut BTreeSet<usize>,
) -> Result<AttentionParams> {
    let block = format!("layer {} attention", s.layer);
    let block = block.as_str();
    let (pk, pv) = (
        format!("past_key_values.{}.key", s.layer),
        format!("past_key_values.{}.value", s.layer),
    );
    let (ok, ov) = (
        format!("present.{}.key", s.layer),
        format!("present.{}.value", s.layer),
    );
    let mut stops: BTreeSet<String> = [&s.q.output, &s.k.output, &s.v.output, &pk, &pv]
        .into_iter()
        .cloned()
        .collect();
    if let Some(p) = s.position {
        stops.insert(p.to_string());
    }
    let (mut nodes, mut leaves) = v.cone(&[s.o.input.as_str()], &stops);
    for present in [&ok, &ov] {
        let (n2, l2) = v.cone(&[present.as_str()], &stops);
        nodes.extend(n2);
        leaves.extend(l2);
    }
    check_leaves(v, s.o.node, block, &leaves, &stops)?;
    for needed in [&s.q.output, &s.k.output, &s.v.output] {
        if !leaves.contains(needed) {
            return Err(v.error(
                s.o.node,
                block,
                format!("the attention does not read `{needed}`"),
            ));
        }
    }
    allowed(
        v,
        &nodes,
        block,
        &[
            "Reshape",
            "Transpose",
            "Unsqueeze",
            "Squeeze",
            "Expand",
            "Concat",
            "Slice",
            "Neg",
            "Mul",
            "Add",
            "Sub",
            "Div",
            "MatMul",
            "Softmax",
            "Where",
            "IsNaN",
            "Cast",
            "Identity",
            "Cos",
            "Sin",
            "RotaryEmbedding",
            "Attention",
            "Gather",
            "Flatten",
        ],
    )?;
    let hd = s.head_dim;
    let q_len = s.q.weight.cols;
    if !q_len.is_multiple_of(hd)
        || s.k.weight.cols != s.kv_heads * hd
        || s.v.weight.cols != s.kv_heads * hd
    {
        return Err(v.error(
            s.q.node,
            block,
            format!(
                "projection widths q {q_len}, k {}, v {} do not fit {} KV heads of size {hd}",
                s.k.weight.cols, s.v.weight.cols, s.kv_heads
            ),
        ));
    }
    let q_heads = q_len / hd;
    if !q_heads.is_multiple_of(s.kv_heads) {
        return Err(v.error(
            s.q.node,
            block,
            format!(
                "{q_heads} query heads are not a multiple of {} KV heads",
                s.kv_heads
            ),
        ));
    }
    // RoPE inverse frequencies: a constant of head_dim/2 entries times the positions.
    let mut inv_freq = None;
    let mut scale = 1.0f32;
    let mut sdpa_scale = None;
    for &i in &nodes {
        let n = v.node(i);
        let positional_in = n.raw.inputs.iter().any(|x| v.positional.contains(x));
        match &n.op {
            Op::MatMul | Op::Binary(BinOp::Mul) if positional_in => {
                if let Some(t) = n
                    .raw
                    .inputs
                    .iter()
                    .find_map(|x| v.static_f32(x))
                    .filter(|t| t.numel() == hd / 2)
                {
                    let f = t.as_f32().map(<[f32]>::to_vec).unwrap_or_default();
                    if inv_freq.as_ref().is_some_and(|g: &Vec<f32>| *g != f) {
                        return Err(v.error(i, block, "two different RoPE frequency tables"));
                    }
                    inv_freq = Some(f);
                }
            }
            Op::Binary(op @ (BinOp::Mul | BinOp::Div))
                if !n.raw.outputs.iter().any(|o| v.positional.contains(o)) =>
            {
                let dyn_first = v.is_dynamic(&n.raw.inputs[0]);
                let c = n.raw.inputs.iter().find_map(|x| {
                    v.static_f32(x)
                        .filter(|t| t.numel() == 1)
                        .and_then(|t| t.as_f32())
                        .map(|d| d[0])
                });
                match (op, c) {
                    (BinOp::Mul, Some(c)) => scale *= c,
                    (BinOp::Div, Some(c)) if dyn_first => scale /= c,
                    _ => {}
                }
            }
            Op::Attention { scale: sc, .. } => {
                sdpa_scale = Some(sc.unwrap_or(1.0 / (hd as f32).sqrt()))
            }
            _ => {}
        }
    }
    if let Some(sc) = sdpa_scale {
        scale *= sc;
    }
    let inv_freq = inv_freq.ok_or_else(|| {
        v.error(
            s.o.node,
            block,
            format!(
                "no RoPE frequency table ({} constants multiplied with position_ids) found",
                hd / 2
            ),
        )
    })?;
    // Numeric check: RoPE, KV append, GQA attention.
    let pos = s.past;
    let qr = kernels::rope(&v.floats(&s.q.output), q_heads, hd, &inv_freq, pos);
    let kr = kernels::rope(&v.floats(&s.k.output), s.kv_heads, hd, &inv_freq, pos);
    let vv = v.floats(&s.v.output);
    let rows = |cache: &[f32], new: &[f32]| -> Vec<Vec<f32>> {
        let mut out: Vec<Vec<f32>> = (0..s.past)
            .map(|t| {
                (0..s.kv_heads)
                    .flat_map(|h| cache[(h * s.past + t) * hd..][..hd].to_vec())
                    .collect()
            })
            .collect();
        out.push(new.to_vec());
        out
    };
    let keys = rows(&v.floats(&pk), &kr);
    let values = rows(&v.floats(&pv), &vv);
    let heads_major = |rows: &[Vec<f32>]| -> Vec<f32> {
        (0..s.kv_heads)
            .flat_map(|h| {
                rows.iter()
                    .flat_map(move |r| r[h * hd..(h + 1) * hd].to_vec())
            })
            .collect()
    };
    close(
        v,
        s.o.node,
        block,
        &format!("`{ok}` (past keys with the new RoPE'd key appended)"),
        &v.floats(&ok),
        &heads_major(&keys),
    )?;
    close(
        v,
        s.o.node,
        block,
        &format!("`{ov}` (past values with the new value appended)"),
        &v.floats(&ov),
        &heads_major(&values),
    )?;
    let want = kernels::attention(&qr, &keys, &values, q_heads, s.kv_heads, hd, scale);
    close(
        v,
        s.o.node,
        block,
        "the attention output",
        &v.floats(&s.o.input),
        &want,
    )?;
    claimed.extend(nodes);
    Ok(AttentionParams {
        q_heads,
        kv_heads: s.kv_heads,
        head_dim: hd,
        scale,
        inv_freq,
    })
}

/// SwiGLU: `down(silu(gate) ⊙ up)`; checks the nodes between gate/up outputs and the down input.
pub fn swiglu(
    v: &View,
    layer: usize,
    gate: &WeightMatMul,
    up: &WeightMatMul,
    down: &WeightMatMul,
    claimed: &mut BTreeSet<usize>,
) -> Result<()> {
    let block = format!("layer {layer} MLP");
    let stops = BTreeSet::from([gate.output.clone(), up.output.clone()]);
    let (nodes, leaves) = v.cone(&[down.input.as_str()], &stops);
    check_leaves(v, down.node, &block, &leaves, &stops)?;
    if leaves != stops {
        return Err(v.error(
            down.node,
            &block,
            "the down projection does not read both the gate and the up projection",
        ));
    }
    allowed(v, &nodes, &block, &["Sigmoid", "Mul", "Cast", "Identity"])?;
    let g = v.floats(&gate.output);
    let want: Vec<f32> = kernels::silu(&g)
        .iter()
        .zip(v.floats(&up.output))
        .map(|(a, b)| a * b)
        .collect();
    close(
        v,
        down.node,
        &block,
        "silu(gate) · up",
        &v.floats(&down.input),
        &want,
    )?;
    claimed.extend(nodes);
    Ok(())
}
