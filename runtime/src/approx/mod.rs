//! Function approximation for the non-linear layers of a Transformer: Chebyshev interpolation of
//! any `f` on an interval with its error measured ([`chebyshev`]), and ready-made approximations of
//! exp (softmax), SiLU, `1/sqrt(x)` (RMSNorm) and `1/x` (softmax normalization) with their
//! intervals and measured error bounds ([`functions`]). Each runs in plaintext (`eval`) and on
//! ciphertexts through [`crate::ckks::Evaluator`].

pub mod chebyshev;
pub mod functions;

pub use chebyshev::{ApproxError, Chebyshev};
