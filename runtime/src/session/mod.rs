//! A client/server session. The [`Client`] holds the secret key: it generates the evaluation keys a plan
//! needs, encrypts each step's inputs and decrypts the outputs. The [`Server`] holds the plan, the
//! evaluation keys and the encrypted KV cache. They speak the protobuf messages of [`protocol`], so they
//! can run in one process (the default, [`generate`]) or on two machines.

mod client;
pub mod generate;
mod key_store;
pub mod memory;
pub mod protocol;
pub mod remote;
mod server;
pub mod service;
pub mod simulate;

pub use client::{Client, StepOutputs};
pub use key_store::KeyStore;

/// What a client sends to open a session: the plan it compiled against and its evaluation keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionKeys {
    /// [`protocol::plan_fingerprint`] of the plan.
    pub plan_fingerprint: u32,
    /// `EvaluationKeys::to_bytes`: relinearization, rotation and bootstrapping keys.
    pub evaluation_keys: bytes::Bytes,
}
pub use generate::{generate, generate_remote, GenerationReport, Progress, TokenReport};
pub use server::Server;
pub use simulate::{simulate, NoiseModel};
