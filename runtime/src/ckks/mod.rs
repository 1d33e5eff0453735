//! RNS-CKKS over a [`cachemir_kernels::Backend`], split by feature as in Lattigo's ladder:
//! [`params`] → [`keys`] → [`Encoder`] → [`Encryptor`]/[`Decryptor`] → [`Evaluator`] (levelled
//! operations in `evaluator.rs`, key switching in `keyswitch.rs`) → [`serialize`].

pub mod bootstrap;
mod ciphertext;
mod decryptor;
mod encoder;
mod encryptor;
mod evaluator;
pub mod keys;
mod keyswitch;
pub mod linear;
pub mod params;
mod plaintext;
pub mod poly_eval;
pub mod serialize;

pub use cachemir_ir::embedding::Embedding;
pub use ciphertext::Ciphertext;
pub use decryptor::Decryptor;
pub use encoder::Encoder;
pub use encryptor::Encryptor;
pub use evaluator::Evaluator;
pub use keys::{
    EncapsulationKeys, EvaluationKeys, KeyGenerator, PublicKey, SecretKey, SwitchingKey,
};
pub use keyswitch::Decomposed;
pub use params::{Parameters, ParametersLiteral, SecretDistribution};
pub use plaintext::Plaintext;
