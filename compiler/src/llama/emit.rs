//! [`Llama`] → tensor IR: the one place that spells out a Llama decode step.

use cachemir_ir::tensor::{verify::verify, Module, Op, ValueId, Weight};

use super::{Llama, Matrix, Norm};
use crate::error::{CompileError, Result};

fn weight(m: &Matrix) -> Result<Weight> {
    Weight::new(vec![m.rows, m.cols], m.data.clone()).ok_or_else(|| CompileError::NotDecoder {
        reason: format!(
            "a {}×{} matrix holds {} numbers",
            m.rows,
            m.cols,
            m.data.len()
        ),
    })
}

fn norm(module: &mut Module, name: String, n: &Norm, x: ValueId) -> Result<ValueId> {
    module.add_weight(
        name.clone(),
        Weight {
            shape: vec![n.gain.len()],
            data: Some(n.gain.clone()),
        },
    );
    Ok(module.push_value(
        Op::RmsNorm {
            gain: name,
            eps: n.eps,
        },
        &[x],
    )?)
}

fn mat_vec(module: &mut Module, name: String, w: &Matrix, x: ValueId) -> Result<ValueId> {
    module.add_weight(name.clone(), weight(w)?);
    Ok(module.push_value(Op::MatVec { weight: name }, &[x])?)
}

/// The tensor IR of one decode step of `model`, verified (weights carry their data).
///
/// Weight names: `embed_tokens`, `layers.{i}.{input_layernorm, q_proj, k_proj, v_proj, o_proj,
/// post_attention_layernorm, gate_proj, up_proj, down_proj}`, `norm`, `lm_head` (absent when tied).
pub fn emit(model: &Llama) -> Result<Module> {
    let mut m = Module::new();
    m.add_weight("embed_tokens", weight(&model.embed)?);
    let mut x = m.push_value(
        Op::Input {
            embedding: "embed_tokens".into(),
        },
        &[],
    )?;
    for (i, l) in model.layers.iter().enumerate() {
        let p = format!("layers.{i}");
        let xn = norm(&mut m, format!("{p}.input_layernorm"), &l.attn_norm, x)?;
        let q = mat_vec(&mut m, format!("{p}.q_proj"), &l.wq, xn)?;
        let k = mat_vec(&mut m, format!("{p}.k_proj"), &l.wk, xn)?;
        let v = mat_vec(&mut m, format!("{p}.v_proj"), &l.wv, xn)?;
        let a = &l.attn;
        let qr = m.push_value(
            Op::Rope {
                heads: a.q_heads,
                head_dim: a.head_dim,
                inv_freq: a.inv_freq.clone(),
            },
            &[q],
        )?;
        let kr = m.push_value(
            Op::Rope {
                heads: a.kv_heads,
                head_dim: a.head_dim,
                inv_freq: a.inv_freq.clone(),
            },
            &[k],
        )?;
        let att = m.push_value(
            Op::Attention {
                layer: i,
                q_heads: a.q_heads,
                kv_heads: a.kv_heads,
                head_dim: a.head_dim,
                scale: a.scale,
            },
            &[qr, kr, v],
        )?;
        let o = mat_vec(&mut m, format!("{p}.o_proj"), &l.wo, att)?;
        x = m.push_value(Op::Add, &[x, o])?;
        let yn = norm(
            &mut m,
            format!("{p}.post_attention_layernorm"),
            &l.mlp_norm,
            x,
        )?;
        let g = mat_vec(&mut m, format!("{p}.gate_proj"), &l.w_gate, yn)?;
        let u = mat_vec(&mut m, format!("{p}.up_proj"), &l.w_up, yn)?;
        let s = m.push_value(Op::Silu, &[g])?;
        let h = m.push_value(Op::Mul, &[s, u])?;
        let d = mat_vec(&mut m, format!("{p}.down_proj"), &l.w_down, h)?;
        x = m.push_value(Op::Add, &[x, d])?;
    }
    let xn = norm(&mut m, "norm".into(), &model.final_norm, x)?;
    let table = match &model.lm_head {
        Some(head) => {
            m.add_weight("lm_head", weight(head)?);
            "lm_head"
        }
        None => "embed_tokens",
    };
    let logits = m.push_value(
        Op::LmHead {
            weight: table.into(),
        },
        &[xn],
    )?;
    m.push(Op::Output, &[logits])?;
    verify(&m, true)?;
    Ok(m)
}
