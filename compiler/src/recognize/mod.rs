//! Decode-step recognition: from an imported ONNX decoder-with-past graph to a [`Llama`] and
//! its tensor IR.
//!
//! 1. Check the I/O signature (`input_ids`, `past_key_values.{i}.*` → `logits`, `present.{i}.*`).
//! 2. Run the graph once at B = 1, S = 1 and a fixed past length P with sample inputs. The data
//!    of `input_ids`, `position_ids` and the past K/V is *dynamic*; everything else (the shape
//!    plumbing, the causal mask for one new token, the attention-mask bits) folds to constants.
//! 3. Walk the Llama structure along the MatMuls with constant weights (the anchors): embedding
//!    `Gather`, then per layer RMSNorm → q/k/v → attention (RoPE, KV append, GQA, scale) →
//!    o-proj → residual → RMSNorm → gate/up → SwiGLU → down → residual; final norm, LM head.
//!    Each block's nodes are the dynamic nodes between its boundary values; their op types are
//!    checked and the block is checked numerically against our kernels on the run's values.
//! 4. Every live dynamic node must belong to a block; otherwise the node is named in the error.
//! 5. Repeat at a second past length: the result must not depend on P.

mod blocks;
mod signature;
mod view;

use std::collections::BTreeSet;

use cachemir_ir::tensor::Module;

use crate::error::{CompileError, Result};
use crate::llama::{emit, Layer, Llama, Matrix};
use crate::onnx::eval;
use crate::onnx::ops::Op;
use crate::onnx::Graph;
use blocks::WeightMatMul;
pub use signature::{signature, Signature};
use view::View;

/// Past lengths the graph is recognized at (the result must agree).
const PAST_LENGTHS: [usize; 2] = [3, 1];

/// Recognizes the decode step of `graph` and returns its verified tensor IR.
pub fn to_tensor_ir(graph: &Graph) -> Result<Module> {
    emit(&recognize(graph)?)
}

/// Recognizes the Llama decoder in `graph`.
pub fn recognize(graph: &Graph) -> Result<Llama> {
    let sig = signature(graph)?;
    let first = recognize_at(graph, &sig, PAST_LENGTHS[0])?;
    for &p in &PAST_LENGTHS[1..] {
        if recognize_at(graph, &sig, p)? != first {
            return Err(CompileError::NotDecoder {
                reason: format!(
                    "{}: the recognized structure changes with the past length",
                    graph.path.display()
                ),
            });
        }
    }
    Ok(first)
}

fn weight_matmuls(v: &View) -> Vec<WeightMatMul> {
    let mut out = Vec::new();
    for (i, n) in v.graph.nodes.iter().enumerate() {
        if !matches!(n.op, Op::MatMul) || n.raw.inputs.len() != 2 || !v.is_dynamic(&n.raw.inputs[0])
        {
            continue;
        }
        if let Some(t) = v
            .static_f32(&n.raw.inputs[1])
            .filter(|t| t.shape.len() == 2)
        {
            out.push(WeightMatMul {
                node: i,
                input: n.raw.inputs[0].clone(),
                output: n.raw.outputs[0].clone(),
                weight: Matrix {
                    rows: t.shape[0],
                    cols: t.shape[1],
                    data: t.as_f32().map(<[f32]>::to_vec).unwrap_or_default(),
                },
            });
        }
    }
    out
}

/// Takes the next group of weight matmuls (all unused ones reading the same activation as the
/// first unused one) and checks its size.
fn take_group<'a>(
    v: &View,
    mm: &'a [WeightMatMul],
    used: &mut [bool],
    size: usize,
    block: &str,
) -> Result<Vec<&'a WeightMatMul>> {
    let Some(first) = (0..mm.len()).find(|&i| !used[i]) else {
        return Err(CompileError::NotDecoder {
            reason: format!("{block}: no more MatMuls with constant weights"),
        });
    };
    let key = v.canon(&mm[first].input);
    let group: Vec<usize> = (first..mm.len())
        .filter(|&i| !used[i] && v.canon(&mm[i].input) == key)
        .collect();
    if group.len() != size {
        return Err(v.error(
            mm[first].node,
            block,
            format!(
                "{} projections read this activation, expected {size}",
                group.len()
            ),
        ));
    }
    for &i in &group {
        used[i] = true;
    }
    Ok(group.iter().map(|&i| &mm[i]).collect())
}

/// The residual `Add(x, branch)` after `branch`.
fn residual(
    v: &View,
    x: &str,
    branch: &WeightMatMul,
    block: &str,
    claimed: &mut BTreeSet<usize>,
) -> Result<String> {
    let xc = v.canon(x);
    for i in v.consumers(&branch.output) {
        let n = v.node(i);
        if matches!(n.op, Op::Binary(crate::onnx::ops::BinOp::Add))
            && n.raw.inputs.iter().any(|inp| v.canon(inp) == xc)
        {
            let out = n.raw.outputs[0].clone();
            let want: Vec<f32> = v
                .floats(x)
                .iter()
                .zip(v.floats(&branch.output))
                .map(|(a, b)| a + b)
                .collect();
            blocks::close(v, i, block, "the residual sum", &v.floats(&out), &want)?;
            claimed.insert(i);
            return Ok(out);
        }
    }
    Err(v.error(
        branch.node,
        block,
        "no residual Add of this projection and the block input",
    ))
}

fn recognize_at(graph: &Graph, sig: &Signature, past: usize) -> Result<Llama> {
    let (feeds, dynamic) = signature::sample_feeds(sig, past, 1);
    let run = eval::run(graph, &feeds, &dynamic)?;
    let position = sig.has_position_ids.then_some("position_ids");
    let v = View::new(graph, run, position);
    let mut claimed = BTreeSet::new();

    // Embedding.
    let embed_node = v
        .consumers("input_ids")
        .into_iter()
        .find(|&i| {
            matches!(v.node(i).op, Op::Gather(0))
                && v.node(i)
                    .raw
                    .inputs
                    .get(1)
                    .is_some_and(|s| s == "input_ids")
        })
        .ok_or_else(|| CompileError::NotDecoder {
            reason: format!(
                "{}: no embedding Gather reads `input_ids`",
                graph.path.display()
            ),
        })?;
    let en = v.node(embed_node);
    let table = v
        .static_f32(&en.raw.inputs[0])
        .filter(|t| t.shape.len() == 2)
        .ok_or_else(|| {
            v.error(
                embed_node,
                "embedding",
                "the embedding table is not a constant [vocab, hidden] f32 matrix",
            )
        })?;
    let embed = Matrix {
        rows: table.shape[0],
        cols: table.shape[1],
        data: table.as_f32().map(<[f32]>::to_vec).unwrap_or_default(),
    };
    claimed.insert(embed_node);
    let mut x = en.raw.outputs[0].clone();

    let mm = weight_matmuls(&v);
    let mut used = vec![false; mm.len()];
    let mut layers = Vec::with_capacity(sig.layers);
    for layer in 0..sig.layers {
        let block = format!("layer {layer}");
        let qkv = take_group(&v, &mm, &mut used, 3, &format!("{block} q/k/v projections"))?;
        let attn_norm = blocks::rms_norm(
            &v,
            &x,
            &qkv[0].input,
            qkv[0].node,
            &format!("{block} input norm"),
            &mut claimed,
        )?;
        // Which projection feeds the key cache, which the value cache.
        let reaches = |out: &str, present: &str| {
            let stops: BTreeSet<String> = qkv.iter().map(|m| m.output.clone()).collect();
            v.cone(&[present], &stops).1.contains(out)
        };
        let (pk, pvn) = (
            format!("present.{layer}.key"),
            format!("present.{layer}.value"),
        );
        let find = |pred: &dyn Fn(&WeightMatMul) -> bool, what: &str| -> Result<&WeightMatMul> {
            let hits: Vec<&&WeightMatMul> = qkv.iter().filter(|m| pred(m)).collect();
            match hits.as_slice() {
                [one] => Ok(**one),
                _ => Err(v.error(
                    qkv[0].node,
                    &block,
                    format!("{} projections feed {what}", hits.len()),
                )),
            }
        };
        let k = find(&|m| reaches(&m.output, &pk), &format!("`{pk}`"))?;
        let vproj = find(&|m| reaches(&m.output, &pvn), &format!("`{pvn}`"))?;
        let q = find(
            &|m| !reaches(&m.output, &pk) && !reaches(&m.output, &pvn),
            "neither cache (the query)",
        )?;
        for m in &qkv {
            claimed.insert(m.node);
        }
        let o = take_group(&v, &mm, &mut used, 1, &format!("{block} output projection"))?[0];
        claimed.insert(o.node);
        let site = blocks::AttentionSite {
            layer,
            q,
            k,
            v: vproj,
            o,
            kv_heads: sig.kv_heads,
            head_dim: sig.head_dim,
            past,
            position,
        };
        let attn = blocks::attention(&v, &site, &mut claimed)?;
        x = residual(
            &v,
            &x,
            o,
            &format!("{block} attention residual"),
            &mut claimed,
        )?;

        let gu = take_group(
            &v,
            &mm,
            &mut used,
            2,
            &format!("{block} gate/up projections"),
        )?;
        let mlp_norm = blocks::rms_norm(
            &v,
            &x,
            &gu[0].input,
            gu[0].node,
            &format!("{block} post-attention norm"),
            &mut claimed,
        )?;
        let is_gate = |m: &WeightMatMul| {
            v.consumers(&m.output)
                .iter()
                .any(|&i| matches!(v.node(i).op, Op::Unary(crate::onnx::ops::UnOp::Sigmoid)))
        };
        let (gate, up) = match (is_gate(gu[0]), is_gate(gu[1])) {
            (true, false) => (gu[0], gu[1]),
            (false, true) => (gu[1], gu[0]),
            _ => {
                return Err(v.error(
                    gu[0].node,
                    &block,
                    "cannot tell the gate (SiLU) projection from the up projection",
                ))
            }
        };
        let down = take_group(&v, &mm, &mut used, 1, &format!("{block} down projection"))?[0];
        for m in [gate, up, down] {
            claimed.insert(m.node);
        }
        blocks::swiglu(&v, layer, gate, up, down, &mut claimed)?;
        x = residual(&v, &x, down, &format!("{block} MLP residual"), &mut claimed)?;
        layers.push(Layer {
            attn_norm,
            wq: q.weight.clone(),
            wk: k.weight.clone(),
            wv: vproj.weight.clone(),
            wo: o.weight.clone(),
            attn,
            mlp_norm,
            w_gate: gate.weight.clone(),
            w_up: up.weight.clone(),
            w_down: down.weight.clone(),
        });
    }

    let head = take_group(&v, &mm, &mut used, 1, "LM head")?[0];
    let final_norm = blocks::rms_norm(&v, &x, &head.input, head.node, "final norm", &mut claimed)?;
    claimed.insert(head.node);
    if let Some(i) = (0..mm.len()).find(|&i| !used[i]) {
        return Err(v.error(
            mm[i].node,
            "after the LM head",
            "a MatMul with a constant weight that is not part of any Llama block",
        ));
    }
    let stops = BTreeSet::from([head.output.clone()]);
    let (tail, leaves) = v.cone(&["logits"], &stops);
    if leaves != stops {
        return Err(v.error(
            head.node,
            "LM head",
            "`logits` is not computed from the LM head",
        ));
    }
    for &i in &tail {
        if !matches!(
            v.node(i).op,
            Op::Identity
                | Op::Reshape { .. }
                | Op::Squeeze(_)
                | Op::Unsqueeze(_)
                | Op::Cast(_)
                | Op::Flatten(_)
        ) {
            return Err(v.error(i, "LM head", "only reshapes may follow the LM head"));
        }
    }
    claimed.extend(tail);
    blocks::close(
        &v,
        head.node,
        "LM head",
        "`logits`",
        &v.floats("logits"),
        &v.floats(&head.output),
    )?;

    // Every live dynamic node belongs to a block.
    let outputs: Vec<&str> = graph.outputs.iter().map(|o| o.name.as_str()).collect();
    let (live, _) = v.cone(&outputs, &BTreeSet::new());
    if let Some(&i) = live.iter().find(|i| !claimed.contains(i)) {
        return Err(v.error(
            i,
            "the decode step",
            "this node is not part of any recognized Llama block",
        ));
    }

    let lm = head.weight.transposed();
    let lm_head = if lm == embed { None } else { Some(lm) };
    if lm_head.as_ref().is_some_and(|m| m.cols != embed.cols) {
        return Err(v.error(
            head.node,
            "LM head",
            "the LM head width differs from the hidden size",
        ));
    }
    Ok(Llama {
        embed,
        layers,
        final_norm,
        lm_head,
    })
}
