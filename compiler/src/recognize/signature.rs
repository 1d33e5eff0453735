//! The decoder-with-past I/O signature: which inputs and outputs a decode step has, and the
//! sample feeds the recognizer folds the graph with.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{CompileError, Result};
use crate::onnx::graph::{Dim, Graph};
use crate::onnx::Tensor;

/// What the signature tells about the model.
#[derive(Debug, Clone)]
pub struct Signature {
    /// Number of layers (pairs of `past_key_values.{i}.key/value` inputs).
    pub layers: usize,
    /// KV heads (dimension 1 of the past tensors).
    pub kv_heads: usize,
    /// Head size (dimension 3 of the past tensors).
    pub head_dim: usize,
    /// Whether the graph has a `position_ids` input.
    pub has_position_ids: bool,
    /// Whether the graph has an `attention_mask` input.
    pub has_attention_mask: bool,
}

fn not_decoder(reason: String) -> CompileError {
    CompileError::NotDecoder { reason }
}

/// Checks the inputs/outputs of a decoder-with-past export.
pub fn signature(g: &Graph) -> Result<Signature> {
    let names: BTreeSet<&str> = g.inputs.iter().map(|i| i.name.as_str()).collect();
    let outs: BTreeSet<&str> = g.outputs.iter().map(|o| o.name.as_str()).collect();
    for required in ["input_ids"] {
        if !names.contains(required) {
            return Err(not_decoder(format!(
                "{}: no `{required}` input (inputs: {names:?})",
                g.path.display()
            )));
        }
    }
    if !outs.contains("logits") {
        return Err(not_decoder(format!(
            "{}: no `logits` output (outputs: {outs:?})",
            g.path.display()
        )));
    }
    let mut layers = 0;
    while names.contains(format!("past_key_values.{layers}.key").as_str()) {
        layers += 1;
    }
    if layers == 0 {
        return Err(not_decoder(format!(
            "{}: no `past_key_values.0.key` input: not a decoder-with-past export (inputs: {names:?})",
            g.path.display()
        )));
    }
    for i in 0..layers {
        for kind in ["key", "value"] {
            let past = format!("past_key_values.{i}.{kind}");
            let present = format!("present.{i}.{kind}");
            if !names.contains(past.as_str()) {
                return Err(not_decoder(format!(
                    "{}: input `{past}` is missing",
                    g.path.display()
                )));
            }
            if !outs.contains(present.as_str()) {
                return Err(not_decoder(format!(
                    "{}: output `{present}` is missing",
                    g.path.display()
                )));
            }
        }
    }
    let known = |n: &str| {
        n == "input_ids"
            || n == "position_ids"
            || n == "attention_mask"
            || n.starts_with("past_key_values.")
    };
    if let Some(other) = names.iter().find(|n| !known(n)) {
        return Err(not_decoder(format!(
            "{}: unexpected input `{other}`",
            g.path.display()
        )));
    }
    let past0 = g
        .inputs
        .iter()
        .find(|i| i.name == "past_key_values.0.key")
        .map(|i| i.dims.clone())
        .unwrap_or_default();
    let (kv_heads, head_dim) = match past0.as_slice() {
        [_, Dim::Fixed(h), _, Dim::Fixed(d)] if *h > 0 && *d > 0 && d % 2 == 0 => (*h, *d),
        other => {
            return Err(not_decoder(format!(
                "{}: `past_key_values.0.key` has dims {other:?}; expected [batch, kv_heads, past, head_dim] with fixed kv_heads and even head_dim",
                g.path.display()
            )))
        }
    };
    Ok(Signature {
        layers,
        kv_heads,
        head_dim,
        has_position_ids: names.contains("position_ids"),
        has_attention_mask: names.contains("attention_mask"),
    })
}

/// Sample inputs of one decode step at past length `past` (B = 1, S = 1): a fixed token, the
/// positions and mask of the decoding convention, and deterministic pseudo-random past K/V.
/// Returns the feeds and the names of the inputs whose data is dynamic.
pub fn sample_feeds(
    sig: &Signature,
    past: usize,
    token: i64,
) -> (BTreeMap<String, Tensor>, BTreeSet<String>) {
    let mut feeds = BTreeMap::new();
    let mut dynamic = BTreeSet::new();
    feeds.insert(
        "input_ids".to_string(),
        Tensor::i64(vec![1, 1], vec![token]),
    );
    dynamic.insert("input_ids".to_string());
    if sig.has_position_ids {
        feeds.insert(
            "position_ids".to_string(),
            Tensor::i64(vec![1, 1], vec![past as i64]),
        );
        dynamic.insert("position_ids".to_string());
    }
    if sig.has_attention_mask {
        feeds.insert(
            "attention_mask".to_string(),
            Tensor::i64(vec![1, past + 1], vec![1; past + 1]),
        );
    }
    let n = sig.kv_heads * past * sig.head_dim;
    for i in 0..sig.layers {
        for (j, kind) in ["key", "value"].iter().enumerate() {
            let name = format!("past_key_values.{i}.{kind}");
            let seed = (2 * i + j) as f32;
            let data = (0..n)
                .map(|k| (k as f32 * 0.7311 + seed * 1.37).sin() * 1.3)
                .collect();
            feeds.insert(
                name.clone(),
                Tensor::f32(vec![1, sig.kv_heads, past, sig.head_dim], data),
            );
            dynamic.insert(name);
        }
    }
    (feeds, dynamic)
}
