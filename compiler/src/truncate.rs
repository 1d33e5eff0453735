//! A model truncated to its first decoder layers (`--layers N`): the first `N` layers, then the final
//! norm and the LM head, reading the residual stream after layer `N − 1`. For measuring and testing one
//! real layer encrypted against its plaintext reference.

use crate::error::{CompileError, Result};
use cachemir_ir::tensor::{Module, Op, ValueId};
use std::collections::BTreeMap;

/// The decode step of `m` with only its first `layers` decoder layers (`1 ≤ layers ≤` the model's).
pub fn truncate_layers(m: &Module, layers: usize) -> Result<Module> {
    let available = m.num_layers();
    if layers == 0 || layers > available {
        return Err(CompileError::BadLayerCount {
            requested: layers,
            available,
        });
    }
    // A Llama layer has two RMSNorms; norm number 2·layers (from 0) starts layer `layers`, or is the
    // final norm when all layers are kept. Nodes before it are kept; the final norm and what follows it
    // read the residual stream that norm reads.
    let norms: Vec<usize> = m
        .nodes
        .iter()
        .filter(|(_, n)| matches!(n.op, Op::RmsNorm { .. }))
        .map(|(id, _)| id.index())
        .collect();
    let bad = |reason: &str| CompileError::NotDecoder {
        reason: format!("cannot truncate to {layers} layers: {reason}"),
    };
    let (Some(&cut), Some(&head)) = (norms.get(2 * layers), norms.get(2 * available)) else {
        return Err(bad("expected two RMSNorms per layer and a final one"));
    };
    let nodes: Vec<_> = m.nodes.iter().map(|(_, n)| n).collect();
    let residual = nodes[cut].args[0];
    let mut out = Module::new();
    let mut remap: BTreeMap<ValueId, ValueId> = BTreeMap::new();
    let kept: Vec<_> = nodes[..cut].iter().chain(&nodes[head..]).collect();
    for (name, w) in &m.weights {
        if kept.iter().any(|n| n.op.weights().contains(&name.as_str())) {
            out.add_weight(name.clone(), w.clone());
        }
    }
    for (i, n) in kept.into_iter().enumerate() {
        let args: Vec<ValueId> = n
            .args
            .iter()
            .map(|a| {
                let a = if i == cut { residual } else { *a };
                remap.get(&a).copied().unwrap_or(a)
            })
            .collect();
        let r = out.push(n.op.clone(), &args)?;
        if let (Some(old), Some(new)) = (n.result, r) {
            remap.insert(old, new);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::generate;

    fn tiny() -> Module {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/tiny-llama/optimum/model.onnx"
        );
        crate::model::load_tensor_ir(std::path::Path::new(path)).unwrap()
    }

    #[test]
    fn all_layers_is_the_model_and_fewer_drop_whole_layers() {
        let m = tiny();
        let layers = m.num_layers();
        assert_eq!(truncate_layers(&m, layers).unwrap(), m);
        let one = truncate_layers(&m, 1).unwrap();
        assert_eq!(one.num_layers(), 1);
        cachemir_ir::tensor::verify::verify(&one, true).unwrap();
        // Layer 1's weights are gone, the head's stay.
        assert!(m.weights.keys().any(|k| k.contains("layers.1.")));
        assert!(!one.weights.keys().any(|k| k.contains("layers.1.")));
        assert!(one.weights.contains_key("lm_head") || one.weights.contains_key("embed_tokens"));
        assert!(generate(&one, &[1, 17], 2).is_ok());
    }

    #[test]
    fn zero_or_too_many_layers_is_an_error() {
        let m = tiny();
        for n in [0, m.num_layers() + 1] {
            let e = truncate_layers(&m, n).unwrap_err();
            assert!(matches!(e, CompileError::BadLayerCount { .. }), "{e}");
        }
    }
}
