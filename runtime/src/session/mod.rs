//! A client/server session. The [`Client`] holds the secret key: it generates the evaluation keys a plan
//! needs, encrypts each step's inputs and decrypts the outputs. The [`Server`] holds the plan, the
//! evaluation keys and the encrypted KV cache. They speak the protobuf messages of [`protocol`], so they
//! can run in one process (the default, [`generate`]) or on two machines.

mod client;
pub mod generate;
pub mod protocol;
mod server;
pub mod simulate;

pub use client::{Client, StepOutputs};
pub use generate::{generate, GenerationReport, Progress, TokenReport};
pub use server::Server;
pub use simulate::{simulate, NoiseModel};
