//! The one error type of `cachemir-kernels`.

/// Errors of the ring layer: bad parameters handed to it (it trusts nothing from outside).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KernelError {
    /// A prime size outside what the kernels support.
    #[error(
        "prime size {bits} bits is unsupported at N = 2^{log_n} (must be in {log_n}+2..={max})"
    )]
    PrimeBits {
        /// Requested bits.
        bits: u32,
        /// log2 of the ring degree.
        log_n: u32,
        /// Largest supported size.
        max: u32,
    },
    /// No unused NTT-friendly prime of the requested size exists.
    #[error("no unused NTT-friendly prime of {bits} bits for N = 2^{log_n} (prime #{index})")]
    NoPrime {
        /// Requested bits.
        bits: u32,
        /// log2 of the ring degree.
        log_n: u32,
        /// Position of the prime in the request.
        index: usize,
    },
    /// A modulus that is not prime, or not ≡ 1 mod 2N.
    #[error("modulus {q} does not support a negacyclic NTT of size {n}")]
    NotNttFriendly {
        /// The modulus.
        q: u64,
        /// The ring degree.
        n: usize,
    },
    /// A ring degree that is not a power of two in the supported range.
    #[error("ring degree 2^{log_n} is unsupported (supported: 2^{min}..=2^{max})")]
    RingDegree {
        /// Requested log2 degree.
        log_n: u32,
        /// Smallest supported.
        min: u32,
        /// Largest supported.
        max: u32,
    },
    /// The same prime appears twice in a basis.
    #[error("prime {q} appears twice in the modulus chain")]
    DuplicatePrime {
        /// The repeated prime.
        q: u64,
    },
    /// A Galois element that is not odd modulo 2N.
    #[error("Galois element {galois} is not an odd residue mod 2N = {two_n}")]
    GaloisElement {
        /// The element.
        galois: u64,
        /// 2N.
        two_n: u64,
    },
    /// A vector path this CPU cannot run.
    #[error("this CPU does not support the {simd} vector path")]
    UnsupportedSimd {
        /// The path's name.
        simd: &'static str,
    },
}

/// Result with [`KernelError`].
pub type Result<T, E = KernelError> = std::result::Result<T, E>;
