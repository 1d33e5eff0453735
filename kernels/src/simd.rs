//! Which vector instructions the hot loops use, chosen at run time.
//!
//! The machines change (AVX2-only Zen 3, AVX-512 Zen 4), so no fast path is compiled in
//! unconditionally: each kernel asks [`Simd::detected`] once and keeps the portable loop as its
//! fallback and test oracle. `CACHEMIR_SIMD=portable|avx2|avx512` caps the choice (to measure one
//! path against another on the same machine); a path the CPU lacks is never chosen.

use std::sync::OnceLock;

/// A family of vector instructions a kernel may use, slowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Simd {
    /// Scalar 64-bit code, any CPU.
    Portable,
    /// AVX2: four 64-bit lanes.
    Avx2,
    /// AVX-512 F, DQ and IFMA (Ice Lake, Zen 4 and later): eight 64-bit lanes, 64-bit low products
    /// and 52-bit fused multiply-adds. Older AVX-512 CPUs (Skylake-X) run the AVX2 path.
    Avx512,
}

impl Simd {
    /// Every path, slowest first.
    pub const ALL: [Simd; 3] = [Simd::Portable, Simd::Avx2, Simd::Avx512];

    /// The environment variable that caps [`Simd::detected`].
    pub const ENV: &'static str = "CACHEMIR_SIMD";

    /// Whether this CPU can run the path.
    pub fn is_supported(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            match self {
                Simd::Portable => true,
                Simd::Avx2 => has!("avx2"),
                Simd::Avx512 => has!("avx512f") && has!("avx512dq") && has!("avx512ifma"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            self == Simd::Portable
        }
    }

    /// The paths this CPU can run, slowest first.
    pub fn supported() -> Vec<Simd> {
        Self::ALL.into_iter().filter(|s| s.is_supported()).collect()
    }

    /// The path's name as [`Simd::ENV`] spells it.
    pub fn name(self) -> &'static str {
        match self {
            Simd::Portable => "portable",
            Simd::Avx2 => "avx2",
            Simd::Avx512 => "avx512",
        }
    }

    /// The fastest supported path, capped by [`Simd::ENV`] when it names one (an unknown name is
    /// reported once on stderr and ignored). Decided once per process.
    pub fn detected() -> Simd {
        static CHOICE: OnceLock<Simd> = OnceLock::new();
        *CHOICE.get_or_init(|| {
            let cap = std::env::var(Self::ENV).ok().and_then(|v| {
                let found = Self::ALL.into_iter().find(|s| s.name() == v);
                if found.is_none() {
                    eprintln!(
                        "warning: {}={v} names no vector path (portable, avx2, avx512); ignored",
                        Self::ENV
                    );
                }
                found
            });
            Self::supported()
                .into_iter()
                .filter(|&s| cap.is_none_or(|c| s <= c))
                .max()
                .unwrap_or(Simd::Portable)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_portable_path_is_always_supported_and_detection_picks_a_supported_one() {
        assert!(Simd::Portable.is_supported());
        assert!(Simd::detected().is_supported());
        assert_eq!(Simd::supported()[0], Simd::Portable);
    }
}
