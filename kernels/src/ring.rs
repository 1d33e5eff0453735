//! The ring `Z_Q[X]/(X^N + 1)` in RNS form: the prime table (Q primes then P primes), their NTTs,
//! the evaluation order (for automorphisms) and cached basis converters.

use crate::basis::BasisConverter;
use crate::{KernelError, Modulus, NttTable, Result};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Source and target primes of a cached basis converter.
type ConverterKey = (Vec<usize>, Vec<usize>);

/// Everything a ring operation needs to know about the moduli: built once per parameter set.
#[derive(Debug)]
pub struct Ring {
    log_n: u32,
    moduli: Vec<Modulus>,
    ntt: Vec<NttTable>,
    q_count: usize,
    /// Evaluation index → odd exponent of its point.
    point_exponent: Vec<u32>,
    /// Odd exponent → evaluation index (entries at even positions unused).
    index_of_exponent: Vec<u32>,
    galois_cache: Mutex<HashMap<u64, Arc<[u32]>>>,
    converter_cache: Mutex<HashMap<ConverterKey, Arc<BasisConverter>>>,
}

impl Ring {
    /// Smallest supported log2 ring degree.
    pub const MIN_LOG_N: u32 = 4;
    /// Largest supported log2 ring degree.
    pub const MAX_LOG_N: u32 = 17;

    /// Builds the ring for degree `2^log_n` over the primes `q` (ciphertext modulus) then `p`
    /// (key-switching special modulus). All primes must be distinct, NTT-friendly and below 2^61.
    pub fn new(log_n: u32, q: &[u64], p: &[u64]) -> Result<Self> {
        if !(Self::MIN_LOG_N..=Self::MAX_LOG_N).contains(&log_n) {
            return Err(KernelError::RingDegree {
                log_n,
                min: Self::MIN_LOG_N,
                max: Self::MAX_LOG_N,
            });
        }
        let n = 1usize << log_n;
        let all: Vec<u64> = q.iter().chain(p).copied().collect();
        for (i, &qi) in all.iter().enumerate() {
            if all[..i].contains(&qi) {
                return Err(KernelError::DuplicatePrime { q: qi });
            }
            if qi >= 1 << Modulus::MAX_BITS || qi % (2 * n as u64) != 1 {
                return Err(KernelError::NotNttFriendly { q: qi, n });
            }
        }
        let ntt = all
            .iter()
            .map(|&qi| NttTable::new(n, qi))
            .collect::<Result<Vec<_>>>()?;
        let point_exponent = ntt[0].point_exponents();
        // Every prime's transform must list its points in the same exponent order, so one
        // permutation serves all limbs.
        debug_assert!(ntt.iter().all(|t| t.point_exponents() == point_exponent));
        let mut index_of_exponent = vec![0u32; 2 * n];
        for (i, &f) in point_exponent.iter().enumerate() {
            index_of_exponent[f as usize] = i as u32;
        }
        Ok(Self {
            log_n,
            moduli: all.iter().map(|&qi| Modulus::new(qi)).collect(),
            ntt,
            q_count: q.len(),
            point_exponent,
            index_of_exponent,
            galois_cache: Mutex::new(HashMap::new()),
            converter_cache: Mutex::new(HashMap::new()),
        })
    }

    /// log2 of the ring degree.
    pub fn log_n(&self) -> u32 {
        self.log_n
    }

    /// The ring degree N.
    pub fn n(&self) -> usize {
        1 << self.log_n
    }

    /// Number of Q primes (ciphertext modulus chain).
    pub fn q_count(&self) -> usize {
        self.q_count
    }

    /// Number of P primes (special modulus).
    pub fn p_count(&self) -> usize {
        self.moduli.len() - self.q_count
    }

    /// Prime-table indices of `q_0 … q_level`.
    pub fn q_indices(&self, level: usize) -> Vec<usize> {
        (0..=level).collect()
    }

    /// Prime-table indices of the P primes.
    pub fn p_indices(&self) -> Vec<usize> {
        (self.q_count..self.moduli.len()).collect()
    }

    /// Prime-table indices of `q_0 … q_level` followed by the P primes.
    pub fn qp_indices(&self, level: usize) -> Vec<usize> {
        (0..=level).chain(self.q_count..self.moduli.len()).collect()
    }

    /// The modulus of prime-table entry `i`.
    #[inline(always)]
    pub fn modulus(&self, i: usize) -> &Modulus {
        &self.moduli[i]
    }

    /// The NTT of prime-table entry `i`.
    #[inline(always)]
    pub fn ntt(&self, i: usize) -> &NttTable {
        &self.ntt[i]
    }

    /// `galois mod 2N`, or an error if `galois` is even (not an automorphism of the ring).
    pub fn galois_residue(&self, galois: u64) -> Result<u64> {
        let two_n = 2 * self.n() as u64;
        if galois.is_multiple_of(2) {
            return Err(KernelError::GaloisElement { galois, two_n });
        }
        Ok(galois % two_n)
    }

    /// The permutation `perm` with `σ_g(a)[i] = a[perm[i]]` in evaluation form, for the automorphism
    /// `X → X^g` (`g` odd). Cached per `g`.
    pub fn galois_permutation(&self, galois: u64) -> Result<Arc<[u32]>> {
        let g = self.galois_residue(galois)?;
        let two_n = 2 * self.n() as u64;
        let mut cache = self.galois_cache.lock().expect("galois cache poisoned");
        Ok(cache
            .entry(g)
            .or_insert_with(|| {
                self.point_exponent
                    .iter()
                    .map(|&f| self.index_of_exponent[((f as u64 * g) % two_n) as usize])
                    .collect()
            })
            .clone())
    }

    /// The fast basis converter from the primes `from` to the primes `to` (prime-table indices), cached.
    pub fn converter(&self, from: &[usize], to: &[usize]) -> Arc<BasisConverter> {
        let key = (from.to_vec(), to.to_vec());
        let mut cache = self
            .converter_cache
            .lock()
            .expect("converter cache poisoned");
        cache
            .entry(key)
            .or_insert_with(|| {
                let f: Vec<Modulus> = from.iter().map(|&i| self.moduli[i]).collect();
                let t: Vec<Modulus> = to.iter().map(|&i| self.moduli[i]).collect();
                Arc::new(BasisConverter::new(&f, &t))
            })
            .clone()
    }
}
