//! Printer of the tensor-IR text form (grammar in `docs/design/tensor-ir.md`).
//!
//! ```text
//! weight "layers.0.q_proj" : [64, 64]
//! %0 = input embedding="embed_tokens" : vec<64>
//! %1 = rms_norm %0 gain="layers.0.input_layernorm" eps=1e-5 : vec<64>
//! %4 = attention %2, %3, %1 layer=0 q_heads=4 kv_heads=2 head_dim=16 scale=0.25 : vec<64>
//! output %9
//! ```
//! Floats print as the shortest text that parses back to the same f32.

use std::fmt::Write;

use super::module::Module;
use super::op::Op;
use crate::text::quote;

/// The text form of `module` (weights as declarations: names and shapes, no numbers).
pub fn print(module: &Module) -> String {
    let mut s = String::from("; cachemir tensor IR: one decode step\n");
    for (name, w) in &module.weights {
        let dims: Vec<String> = w.shape.iter().map(usize::to_string).collect();
        let _ = writeln!(s, "weight {} : [{}]", quote(name), dims.join(", "));
    }
    for (_, node) in module.nodes.iter() {
        let args: Vec<String> = node
            .args
            .iter()
            .map(|a| format!("%{}", a.index()))
            .collect();
        let mut line = match node.result {
            Some(r) => format!("%{} = {}", r.index(), node.op.keyword()),
            None => node.op.keyword().to_string(),
        };
        if !args.is_empty() {
            line.push(' ');
            line.push_str(&args.join(", "));
        }
        for (key, value) in attributes(&node.op) {
            let _ = write!(line, " {key}={value}");
        }
        if let Some(r) = node.result {
            let _ = write!(line, " : vec<{}>", module.values[r].len);
        }
        s.push_str(&line);
        s.push('\n');
    }
    s
}

fn f32_text(x: f32) -> String {
    format!("{x:?}")
}

/// The `key=value` attributes of an op, in print order.
fn attributes(op: &Op) -> Vec<(&'static str, String)> {
    match op {
        Op::Input { embedding } => vec![("embedding", quote(embedding))],
        Op::MatVec { weight } | Op::LmHead { weight } => vec![("weight", quote(weight))],
        Op::RmsNorm { gain, eps } => vec![("gain", quote(gain)), ("eps", f32_text(*eps))],
        Op::Rope {
            heads,
            head_dim,
            inv_freq,
        } => {
            let f: Vec<String> = inv_freq.iter().map(|&x| f32_text(x)).collect();
            vec![
                ("heads", heads.to_string()),
                ("head_dim", head_dim.to_string()),
                ("inv_freq", format!("[{}]", f.join(", "))),
            ]
        }
        Op::Attention {
            layer,
            q_heads,
            kv_heads,
            head_dim,
            scale,
        } => vec![
            ("layer", layer.to_string()),
            ("q_heads", q_heads.to_string()),
            ("kv_heads", kv_heads.to_string()),
            ("head_dim", head_dim.to_string()),
            ("scale", f32_text(*scale)),
        ],
        Op::Silu | Op::Mul | Op::Add | Op::Softmax | Op::Output => vec![],
    }
}
