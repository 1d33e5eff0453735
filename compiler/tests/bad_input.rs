//! Bad model files give typed errors naming the file, node, op type and opset — never a panic.

use std::path::{Path, PathBuf};

use cachemir_compiler::onnx::{decode_model, load_model};
use cachemir_compiler::recognize::to_tensor_ir;
use cachemir_compiler::CompileError;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/tiny-llama")
        .join(name)
        .join("model.onnx")
}

fn replace_all(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len(), "same length keeps the protobuf valid");
    let mut out = bytes.to_vec();
    let mut i = 0;
    let mut hits = 0;
    while i + from.len() <= out.len() {
        if &out[i..i + from.len()] == from {
            out[i..i + from.len()].copy_from_slice(to);
            hits += 1;
            i += from.len();
        } else {
            i += 1;
        }
    }
    assert!(hits > 0, "pattern not found");
    out
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn truncated_file_is_a_typed_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(fixture("optimum")).unwrap();
    let p = write(dir.path(), "truncated.onnx", &bytes[..bytes.len() / 2]);
    let e = load_model(&p).unwrap_err();
    assert!(
        matches!(
            e,
            CompileError::NotOnnx { .. }
                | CompileError::BadTensor { .. }
                | CompileError::BadNode { .. }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("truncated.onnx"), "{e}");
}

#[test]
fn non_onnx_bytes_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in [
        (
            "text.onnx",
            b"this is a text file, not a protobuf model\n".to_vec(),
        ),
        ("empty.onnx", Vec::new()),
        ("gguf.onnx", b"GGUF\x03\x00\x00\x00".to_vec()),
    ] {
        let p = write(dir.path(), name, &bytes);
        let e = load_model(&p).unwrap_err();
        assert!(matches!(e, CompileError::NotOnnx { .. }), "{name}: {e:?}");
        assert!(e.to_string().contains(name), "{e}");
    }
}

#[test]
fn missing_file_is_an_io_error() {
    let e = load_model(Path::new("/nonexistent/model.onnx")).unwrap_err();
    assert!(matches!(e, CompileError::Io { .. }), "{e:?}");
}

#[test]
fn unsupported_op_names_node_op_and_opset() {
    let bytes = replace_all(
        &std::fs::read(fixture("optimum")).unwrap(),
        b"Sigmoid",
        b"Sigmoix",
    );
    let e = decode_model(&bytes, Path::new("mutated.onnx")).unwrap_err();
    match &e {
        CompileError::UnsupportedOp {
            node,
            op_type,
            opset,
            ..
        } => {
            assert_eq!(op_type, "Sigmoix");
            assert_eq!(*opset, 18);
            assert!(node.contains("act_fn"), "{node}");
        }
        other => panic!("expected UnsupportedOp, got {other:?}"),
    }
    assert!(e.to_string().contains("opset 18"), "{e}");
}

#[test]
fn wrong_activation_is_not_a_llama_step() {
    // Softmax instead of the SiLU's Sigmoid: still valid ONNX, but not a SwiGLU MLP.
    let bytes = replace_all(
        &std::fs::read(fixture("dynamo-eager-op20")).unwrap(),
        b"Sigmoid",
        b"Softmax",
    );
    let g = decode_model(&bytes, Path::new("softmax-mlp.onnx")).unwrap();
    let e = to_tensor_ir(&g).unwrap_err();
    match &e {
        CompileError::Unrecognized {
            op_type,
            opset,
            block,
            ..
        } => {
            assert_eq!(*opset, 20);
            assert!(block.contains("layer 0"), "{e}");
            assert!(!op_type.is_empty());
        }
        other => panic!("expected Unrecognized, got {other:?}"),
    }
}

#[test]
fn graph_without_past_inputs_is_not_a_decoder_step() {
    let bytes = replace_all(
        &std::fs::read(fixture("torchscript-eager-op17")).unwrap(),
        b"past_key_values.",
        b"pest_key_values.",
    );
    let g = decode_model(&bytes, Path::new("no-past.onnx")).unwrap();
    let e = to_tensor_ir(&g).unwrap_err();
    assert!(matches!(e, CompileError::NotDecoder { .. }), "{e:?}");
    assert!(e.to_string().contains("past_key_values"), "{e}");
}

#[test]
fn wrong_rotate_half_is_caught_numerically() {
    // Every `Neg` of the rotate-half becomes an `Exp`: well-formed, but the RoPE is wrong.
    let bytes = replace_all(
        &std::fs::read(fixture("dynamo-eager-op20")).unwrap(),
        b"Neg",
        b"Exp",
    );
    let g = decode_model(&bytes, Path::new("exp-rope.onnx")).unwrap();
    let e = to_tensor_ir(&g).unwrap_err();
    assert!(matches!(e, CompileError::Unrecognized { .. }), "{e:?}");
    assert!(e.to_string().contains("layer 0 attention"), "{e}");
}

/// Flip and truncate the bytes of a real export at many positions: the loader and the recognizer
/// return `Ok` or a typed error, never panic.
#[test]
fn mutated_files_never_panic() {
    let bytes = std::fs::read(fixture("optimum")).unwrap();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let (mut ok, mut err) = (0, 0);
    for round in 0..400 {
        let mut m = bytes.clone();
        if round % 4 == 0 {
            m.truncate(next(bytes.len()));
        } else {
            for _ in 0..1 + round % 3 {
                let at = if round % 2 == 0 {
                    next(4096.min(m.len()))
                } else {
                    next(m.len())
                };
                m[at] ^= 1 << next(8);
            }
        }
        match decode_model(&m, Path::new("mutant.onnx")) {
            Ok(g) => {
                ok += 1;
                let _ = to_tensor_ir(&g);
            }
            Err(_) => err += 1,
        }
    }
    assert!(err > 0 && ok > 0, "ok {ok}, err {err}");
}
