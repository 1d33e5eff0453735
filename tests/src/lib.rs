//! `cachemir-tests`: the home of cross-crate test data and, as they arrive, end-to-end tests.
//!
//! Today this folder holds data the crates' own tests read: `fixtures/` (ONNX exports of a tiny Llama with
//! onnxruntime references, copied from the shared fixtures with their scripts) and `filetests/` (FHE IR
//! inputs and expectations per pass, run by `cachemir-passes`). The encrypted end-to-end run (compile →
//! plan → encrypted generation) is `tests/encrypted_generation.rs`.
