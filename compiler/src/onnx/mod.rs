//! ONNX input: loading (protobuf, external data), op import, and a graph interpreter.
//!
//! Protobuf decoding uses `onnx-protobuf` 0.2.3 (rust-protobuf 3 code generated from the official
//! `onnx.proto`, no `protoc` and no build script), pinned with `protobuf = "=3.4.0"` because
//! later rust-protobuf releases no longer build it. It was chosen over `prost` + `protox`
//! because it needs no build-time `.proto` compilation (faster, simpler builds) and decodes
//! large models quickly; the protobuf types stay inside [`load`], so switching is local.

pub mod eval;
pub mod graph;
pub mod load;
pub mod ops;
pub mod tensor;

pub use graph::Graph;
pub use load::{decode_model, load_model};
pub use tensor::Tensor;
