//! The messages and the gRPC service between client and server, generated from
//! `docs/protocol.proto` (the schema and the session's sequence of calls are documented there) by
//! prost and tonic, so a client in another language can speak to the server. Keys and ciphertexts
//! travel as the bytes of [`crate::ckks::serialize`] (magic, version, parameter fingerprint,
//! bit-packed residues, CRC-32).
#![allow(missing_docs)]

tonic::include_proto!("cachemir.session.v1");

/// The fingerprint that binds a session to a plan: CRC-32 of the plan's bytes.
pub fn plan_fingerprint(plan: &cachemir_ir::plan::Plan) -> u32 {
    crc32fast::hash(&plan.to_bytes())
}
