//! Keys: the client's secret key, and the public and evaluation keys it sends to the server.
//!
//! Switching keys use hybrid key switching: for each digit `j` of |P| primes,
//! `(b_j, a_j) = (−a_j·s + e_j + P·g_j·s', a_j)` over `Q ∪ P`, where `g_j ≡ 1` modulo the primes of
//! digit `j` and `≡ 0` modulo the other Q primes. [`SecretKey`] is consumed only by the client-side
//! key generator, encryptor and decryptor: no evaluator API accepts it.
//!
//! Every key draws two fresh 256-bit seeds from the generator's OS-seeded ChaCha20 stream: one expands
//! its uniform halves, one its errors. Keys are therefore independent of each other, and Galois keys
//! are generated in parallel (sampling is serial within a key).

use super::Parameters;
use crate::{Result, RuntimeError};
use cachemir_kernels::{Backend, RnsPoly, Sampler};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The secret key `s` (client side only), in evaluation form over all Q and P primes.
#[derive(Clone)]
pub struct SecretKey {
    pub(crate) poly: RnsPoly,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

/// An RLWE encryption of zero `(b, a) = (−a·s + e, a)` at the top level, for public-key encryption.
/// `a` is expanded from `seed` ([`uniform_halves`]), so only `b` and the seed are transmitted.
#[derive(Debug, Clone, PartialEq)]
pub struct PublicKey {
    pub(crate) b: RnsPoly,
    pub(crate) a: RnsPoly,
    pub(crate) seed: [u8; 32],
}

/// A key that switches a ciphertext component from a secret `s'` to `s`: one `(b_j, a_j)` pair per
/// digit. The `a_j` are expanded from `seed` ([`uniform_halves`]), so serialized keys carry only the
/// `b_j` and the seed: half the bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct SwitchingKey {
    pub(crate) digits: Vec<(RnsPoly, RnsPoly)>,
    pub(crate) seed: [u8; 32],
    /// The highest ciphertext level the key serves: its primes are `Q_level ∪ P`.
    pub(crate) level: usize,
}

/// The uniform halves of a key: polynomials `0..count` of `seed` over `primes`
/// ([`Sampler::uniform_from_seed`], one ChaCha20 stream per limb). Key generation and
/// deserialization both call this, so they agree bit for bit.
pub(crate) fn uniform_halves(
    params: &Parameters,
    seed: [u8; 32],
    count: usize,
    primes: &[usize],
) -> Vec<RnsPoly> {
    (0..count as u32)
        .map(|j| Sampler::uniform_from_seed(params.ring(), seed, j, primes))
        .collect()
}

impl SwitchingKey {
    /// The highest ciphertext level the key serves.
    pub fn level(&self) -> usize {
        self.level
    }

    /// Heap bytes of the key.
    pub fn byte_size(&self) -> usize {
        self.digits
            .iter()
            .map(|(b, a)| b.byte_size() + a.byte_size())
            .sum()
    }
}

/// Everything the server needs to evaluate: relinearization and Galois (rotation/conjugation) keys.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EvaluationKeys {
    /// Switches `s² → s` after a ciphertext product.
    pub relinearization: Option<SwitchingKey>,
    /// Switches `σ_g(s) → s`, by Galois element `g`.
    pub galois: BTreeMap<u64, SwitchingKey>,
    /// Sparse-secret encapsulation for bootstrapping, if generated.
    pub encapsulation: Option<EncapsulationKeys>,
}

/// The two keys of sparse-secret encapsulation (Bossuat et al. 2022): bootstrapping switches its
/// level-0 input to an ephemeral sparse secret `s'`, so that ModRaise adds only a small multiple
/// `q_0·I` (`|I| ≤ (h + 1)/2` for Hamming weight `h`), and switches back to `s` at the top level.
/// `s'` exists only inside the key generator.
#[derive(Debug, Clone, PartialEq)]
pub struct EncapsulationKeys {
    /// Switches `s → s'` at level 0 (primes `q_0 ∪ P`: one digit, small).
    pub to_sparse: SwitchingKey,
    /// Switches `s' → s` at the top level.
    pub to_dense: SwitchingKey,
}

impl EvaluationKeys {
    /// Heap bytes of all keys.
    pub fn byte_size(&self) -> usize {
        self.relinearization
            .iter()
            .chain(self.galois.values())
            .chain(
                self.encapsulation
                    .iter()
                    .flat_map(|e| [&e.to_sparse, &e.to_dense]),
            )
            .map(SwitchingKey::byte_size)
            .sum()
    }
}

/// The Galois element of a left rotation by `step` slots: `5^step mod 2N` (negative steps rotate right).
pub fn galois_element(params: &Parameters, step: i64) -> u64 {
    let two_n = 2 * params.n() as u64;
    let order = (params.n() / 2) as i64; // the order of 5 modulo 2N
    let e = step.rem_euclid(order) as u64;
    let (mut acc, mut base, mut k) = (1u64, 5u64, e);
    while k > 0 {
        if k & 1 == 1 {
            acc = acc * base % two_n;
        }
        base = base * base % two_n;
        k >>= 1;
    }
    acc
}

/// The Galois element of complex conjugation: `2N − 1`.
pub fn conjugation_element(params: &Parameters) -> u64 {
    2 * params.n() as u64 - 1
}

/// Generates keys (client side).
#[derive(Debug)]
pub struct KeyGenerator<B: Backend> {
    pub(crate) params: Arc<Parameters>,
    backend: B,
    sampler: Sampler,
}

impl<B: Backend> KeyGenerator<B> {
    /// A key generator drawing randomness from the operating system.
    pub fn new(params: Arc<Parameters>, backend: B) -> Self {
        Self {
            params,
            backend,
            sampler: Sampler::from_os(),
        }
    }

    /// A fresh secret key from the parameters' secret distribution.
    pub fn secret_key(&mut self) -> SecretKey {
        self.secret_key_with(self.params.literal().secret)
    }

    /// A fresh secret key from `distribution`.
    fn secret_key_with(&mut self, distribution: super::SecretDistribution) -> SecretKey {
        let ring = self.params.ring();
        let n = self.params.n();
        let coeffs = match distribution {
            super::SecretDistribution::Dense => self.sampler.ternary(n),
            super::SecretDistribution::FixedHamming(h) => {
                self.sampler.ternary_fixed_weight(n, h as usize)
            }
        };
        let mut poly =
            RnsPoly::from_signed(ring, &ring.qp_indices(self.params.max_level()), &coeffs);
        self.backend.to_eval(ring, &mut poly);
        SecretKey { poly }
    }

    /// `b = −a·s + e` over `a`'s primes (evaluation form), given `neg_s = −s` over those primes
    /// ([`Self::negated_secret`]) and `e` drawn from `errors`.
    fn rlwe_zero(&self, neg_s: &RnsPoly, a: &RnsPoly, errors: &mut Sampler) -> RnsPoly {
        let ring = self.params.ring();
        let mut b = RnsPoly::from_signed(ring, a.primes(), &errors.gaussian(self.params.n()));
        self.backend.to_eval(ring, &mut b);
        self.backend.mul_add_assign(ring, &mut b, a, neg_s);
        b
    }

    /// `−s` over `primes` (evaluation form), for [`Self::rlwe_zero`].
    fn negated_secret(&self, sk: &SecretKey, primes: &[usize]) -> RnsPoly {
        let positions: Vec<usize> = primes
            .iter()
            .map(|p| {
                sk.poly
                    .primes()
                    .iter()
                    .position(|q| q == p)
                    .expect("secret covers all primes")
            })
            .collect();
        let mut neg_s = sk.poly.select_limbs(&positions);
        self.backend.neg_assign(self.params.ring(), &mut neg_s);
        neg_s
    }

    /// The public key.
    pub fn public_key(&mut self, sk: &SecretKey) -> PublicKey {
        let primes = self.params.ring().q_indices(self.params.max_level());
        let seed = self.sampler.seed();
        let mut errors = Sampler::from_seed(self.sampler.seed());
        let a = uniform_halves(&self.params, seed, 1, &primes).remove(0);
        let b = self.rlwe_zero(&self.negated_secret(sk, &primes), &a, &mut errors);
        PublicKey { b, a, seed }
    }

    /// A key switching from `s_from` (evaluation form over all Q ∪ P primes) to `sk`.
    fn switching_key(&mut self, sk: &SecretKey, s_from: &RnsPoly) -> SwitchingKey {
        self.switching_key_at(sk, s_from, self.params.max_level())
    }

    /// A key switching from `s_from` to `sk` for ciphertexts up to `level` (primes `Q_level ∪ P`).
    fn switching_key_at(&mut self, sk: &SecretKey, s_from: &RnsPoly, level: usize) -> SwitchingKey {
        let seeds = self.key_seeds();
        self.switching_key_seeded(sk, s_from, level, seeds)
    }

    /// Fresh seeds for one key: its uniform halves and its errors.
    fn key_seeds(&mut self) -> ([u8; 32], [u8; 32]) {
        (self.sampler.seed(), self.sampler.seed())
    }

    /// [`Self::switching_key_at`] from given seeds (uniform halves, errors).
    fn switching_key_seeded(
        &self,
        sk: &SecretKey,
        s_from: &RnsPoly,
        level: usize,
        (seed, error_seed): ([u8; 32], [u8; 32]),
    ) -> SwitchingKey {
        let ring = self.params.ring().clone();
        let mut errors = Sampler::from_seed(error_seed);
        let primes = ring.qp_indices(level);
        let alpha = self.params.digit_size();
        let p_mod = self.params.p_mod_q(level);
        let neg_s = self.negated_secret(sk, &primes);
        let digits = uniform_halves(&self.params, seed, (level + 1).div_ceil(alpha), &primes)
            .into_iter()
            .enumerate()
            .map(|(j, a)| {
                let mut b = self.rlwe_zero(&neg_s, &a, &mut errors);
                for (i, &w) in p_mod.iter().enumerate().skip(j * alpha).take(alpha) {
                    let m = ring.modulus(i);
                    let ws = m.shoup(w);
                    let src = s_from.limb(i);
                    for (x, &s) in b.limb_mut(i).iter_mut().zip(src) {
                        *x = m.add(*x, m.mul_shoup(s, w, ws));
                    }
                }
                (b, a)
            })
            .collect();
        SwitchingKey {
            digits,
            seed,
            level,
        }
    }

    /// Sparse-secret encapsulation keys for an ephemeral secret of Hamming weight `hamming_weight`.
    pub fn encapsulation_keys(&mut self, sk: &SecretKey, hamming_weight: u32) -> EncapsulationKeys {
        let sparse = self.secret_key_with(super::SecretDistribution::FixedHamming(hamming_weight));
        EncapsulationKeys {
            to_sparse: self.switching_key_at(&sparse, &sk.poly, 0),
            to_dense: self.switching_key(sk, &sparse.poly),
        }
    }

    /// The relinearization key (`s² → s`).
    pub fn relinearization_key(&mut self, sk: &SecretKey) -> SwitchingKey {
        let ring = self.params.ring().clone();
        let mut s2 = sk.poly.clone();
        self.backend.mul_assign(&ring, &mut s2, &sk.poly);
        self.switching_key(sk, &s2)
    }

    /// The key for the automorphism with Galois element `galois` (`σ_g(s) → s`).
    pub fn galois_key(&mut self, sk: &SecretKey, galois: u64) -> Result<SwitchingKey> {
        let mut keys = self.galois_keys_at(sk, &[galois], self.params.max_level())?;
        Ok(keys.remove(0).1)
    }

    /// The keys for the automorphisms `elements`, serving ciphertexts up to `level`, generated in
    /// parallel.
    fn galois_keys_at(
        &mut self,
        sk: &SecretKey,
        elements: &[u64],
        level: usize,
    ) -> Result<Vec<(u64, SwitchingKey)>> {
        let seeds: Vec<_> = elements.iter().map(|_| self.key_seeds()).collect();
        let ring = self.params.ring();
        elements
            .par_iter()
            .zip(seeds)
            .map(|(&g, seeds)| {
                let s_g = self
                    .backend
                    .automorphism(ring, &sk.poly, g)
                    .map_err(RuntimeError::from)?;
                Ok((g, self.switching_key_seeded(sk, &s_g, level, seeds)))
            })
            .collect()
    }

    /// Adds Galois keys for `rotations` serving ciphertexts up to `level` (smaller than top-level keys:
    /// `⌈(level + 1)/α⌉` digits over `Q_level ∪ P`), except where `keys` already has a key for the
    /// same Galois element at that level or above.
    pub fn add_rotation_keys(
        &mut self,
        keys: &mut EvaluationKeys,
        sk: &SecretKey,
        rotations: &[i64],
        level: usize,
    ) -> Result<()> {
        let level = level.min(self.params.max_level());
        let mut elements: Vec<u64> = rotations
            .iter()
            .map(|&step| galois_element(&self.params, step))
            .filter(|&g| g != 1 && keys.galois.get(&g).is_none_or(|k| k.level < level))
            .collect();
        elements.sort_unstable();
        elements.dedup();
        keys.galois
            .extend(self.galois_keys_at(sk, &elements, level)?);
        Ok(())
    }

    /// Evaluation keys: relinearization, one Galois key per rotation step, and conjugation if asked.
    pub fn evaluation_keys(
        &mut self,
        sk: &SecretKey,
        rotations: &[i64],
        conjugation: bool,
    ) -> Result<EvaluationKeys> {
        let mut keys = EvaluationKeys {
            relinearization: Some(self.relinearization_key(sk)),
            galois: BTreeMap::new(),
            encapsulation: None,
        };
        let mut elements: Vec<u64> = rotations
            .iter()
            .map(|&k| galois_element(&self.params, k))
            .collect();
        if conjugation {
            elements.push(conjugation_element(&self.params));
        }
        elements.retain(|&g| g != 1);
        elements.sort_unstable();
        elements.dedup();
        let top = self.params.max_level();
        keys.galois.extend(self.galois_keys_at(sk, &elements, top)?);
        Ok(keys)
    }
}
