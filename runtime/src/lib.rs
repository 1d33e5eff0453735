//! `cachemir-runtime`: the CKKS scheme, the plan executor and the client/server session.
//!
//! Audience: whoever runs a `.plan` (the `cachemir-run` CLI, servers, clients) and whoever writes
//! new homomorphic algorithms. Contract: [`ckks`] is a complete RNS-CKKS with hybrid key switching,
//! generic over a [`cachemir_kernels::Backend`]; every ciphertext carries its level, scale and slot
//! count, and every mismatch is a typed [`RuntimeError`]. The secret key type never appears in a
//! server-side API.

pub mod approx;
pub mod bench;
mod bytes;
pub mod ckks;
pub mod cost_model;
mod error;
pub mod executor;
pub mod session;

pub use error::{Result, RuntimeError};
