//! Initializers in an external data file (`model.onnx.data`): loaded like embedded ones; a
//! missing or short data file is a typed error naming the tensor and the file.

use std::path::{Path, PathBuf};

use cachemir_compiler::onnx::load_model;
use cachemir_compiler::CompileError;
use onnx_protobuf::{tensor_proto::DataLocation, Message, ModelProto, StringStringEntryProto};

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/tiny-llama/dynamo-eager-op20/model.onnx")
}

/// Rewrites the fixture with every initializer's raw data moved to `model.onnx.data`.
fn externalize(dir: &Path) -> PathBuf {
    let mut model = ModelProto::parse_from_bytes(&std::fs::read(fixture()).unwrap()).unwrap();
    let mut data = Vec::new();
    let graph = model.graph.as_mut().unwrap();
    let mut moved = 0;
    for t in &mut graph.initializer {
        if t.raw_data.len() < 64 {
            continue;
        }
        let entry = |k: &str, v: String| StringStringEntryProto {
            key: k.into(),
            value: v,
            ..Default::default()
        };
        let offset = data.len();
        data.extend_from_slice(&t.raw_data);
        t.external_data = vec![
            entry("location", "model.onnx.data".into()),
            entry("offset", offset.to_string()),
            entry("length", t.raw_data.len().to_string()),
        ];
        t.data_location = DataLocation::EXTERNAL.into();
        t.raw_data.clear();
        moved += 1;
    }
    assert!(moved > 10);
    let p = dir.join("model.onnx");
    std::fs::write(&p, model.write_to_bytes().unwrap()).unwrap();
    std::fs::write(dir.join("model.onnx.data"), data).unwrap();
    p
}

#[test]
fn external_data_loads_like_embedded_data() {
    let dir = tempfile::tempdir().unwrap();
    let p = externalize(dir.path());
    let external = load_model(&p).unwrap();
    let embedded = load_model(&fixture()).unwrap();
    assert_eq!(external.initializers, embedded.initializers);
    assert_eq!(external.nodes, embedded.nodes);
}

#[test]
fn missing_external_data_names_tensor_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = externalize(dir.path());
    std::fs::remove_file(dir.path().join("model.onnx.data")).unwrap();
    let e = load_model(&p).unwrap_err();
    match &e {
        CompileError::ExternalData {
            tensor, location, ..
        } => {
            assert!(!tensor.is_empty());
            assert_eq!(location, "model.onnx.data");
        }
        other => panic!("expected ExternalData, got {other:?}"),
    }
    assert!(e.to_string().contains("model.onnx.data"), "{e}");
}

#[test]
fn short_external_data_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let p = externalize(dir.path());
    let data = dir.path().join("model.onnx.data");
    let len = std::fs::metadata(&data).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&data)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let e = load_model(&p).unwrap_err();
    assert!(matches!(e, CompileError::ExternalData { .. }), "{e:?}");
}
