//! `cachemir-kernels`: ring arithmetic for RNS-CKKS — moduli, NTT, RNS basis conversion,
//! automorphisms and sampling — behind a [`Backend`] trait.
//!
//! Audience: the CKKS layer in `cachemir-runtime`, and whoever ports the hot loops to another
//! device. Contract: no scheme logic lives here; every operation is exact modular arithmetic over
//! the primes of a [`Ring`], checked against naive oracles in the tests (O(n²) negacyclic
//! convolution, big-integer CRT). The [`CpuBackend`] is the reference; a CUDA backend implements
//! the same trait.

mod backend;
pub mod basis;
mod cpu;
mod error;
mod modulus;
mod ntt;
mod poly;
pub mod primes;
mod ring;
pub mod sampling;
mod simd;

pub use backend::{Backend, PMultiple};
pub use cpu::CpuBackend;
pub use error::{KernelError, Result};
pub use modulus::Modulus;
pub use ntt::NttTable;
pub use poly::{Form, RnsPoly};
pub use ring::Ring;
pub use sampling::Sampler;
pub use simd::Simd;
