//! The messages between client and server, protobuf-encoded with prost, so a client in another
//! language can speak to the server. The schema is `docs/protocol.proto`; keys and ciphertexts travel
//! as the bytes of [`crate::ckks::serialize`] (its format is documented there: magic, version, parameter
//! fingerprint, bit-packed residues, CRC-32).
//!
//! A session: the client sends [`OpenSession`] (the plan it compiled against and its evaluation keys);
//! then, per token, a [`StepRequest`] with the encrypted inputs, answered by a [`StepReply`] with the
//! encrypted outputs. The encrypted KV cache stays on the server.

use std::collections::BTreeMap;

/// First message: binds the session to a plan and carries the evaluation keys.
#[derive(Clone, PartialEq, prost::Message)]
pub struct OpenSession {
    /// CRC-32 of the plan file the client compiled against ([`plan_fingerprint`]).
    #[prost(uint32, tag = "1")]
    pub plan_fingerprint: u32,
    /// Relinearization and Galois keys (`EvaluationKeys::to_bytes`). `Bytes`, so that decoding a
    /// message held in `Bytes` borrows the keys (gigabytes at the secure sets) instead of copying them.
    #[prost(bytes = "bytes", tag = "2")]
    pub evaluation_keys: bytes::Bytes,
}

/// One decode step: the token position and the encrypted inputs by name.
#[derive(Clone, PartialEq, prost::Message)]
pub struct StepRequest {
    /// Position of the token (0 for the first): must equal the number of steps the server has run.
    #[prost(uint32, tag = "1")]
    pub position: u32,
    /// Input ciphertexts (`Ciphertext::to_bytes`) by input name.
    #[prost(btree_map = "string, bytes", tag = "2")]
    pub inputs: BTreeMap<String, Vec<u8>>,
}

/// The answer to a [`StepRequest`].
#[derive(Clone, PartialEq, prost::Message)]
pub struct StepReply {
    /// Output ciphertexts (`Ciphertext::to_bytes`) by output name.
    #[prost(btree_map = "string, bytes", tag = "1")]
    pub outputs: BTreeMap<String, Vec<u8>>,
    /// What the step cost on the server.
    #[prost(message, optional, tag = "2")]
    pub stats: Option<StepStatsMessage>,
}

/// Server-side cost of one step.
#[derive(Clone, PartialEq, prost::Message)]
pub struct StepStatsMessage {
    /// Wall time, milliseconds.
    #[prost(double, tag = "1")]
    pub millis: f64,
    /// Bootstraps.
    #[prost(uint32, tag = "2")]
    pub bootstraps: u32,
    /// Rotations.
    #[prost(uint32, tag = "3")]
    pub rotations: u32,
    /// Key switches.
    #[prost(uint32, tag = "4")]
    pub key_switches: u32,
    /// Wall time by op kind (mnemonic), milliseconds.
    #[prost(btree_map = "string, double", tag = "5")]
    pub op_millis: ::std::collections::BTreeMap<String, f64>,
}

/// The fingerprint that binds a session to a plan: CRC-32 of the plan's bytes.
pub fn plan_fingerprint(plan: &cachemir_ir::plan::Plan) -> u32 {
    crc32fast::hash(&plan.to_bytes())
}
