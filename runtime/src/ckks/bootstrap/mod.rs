//! Bootstrapping of `n` slots (`n ≤ N/2` a power of two): (encapsulation) → ModRaise → (SubSum) →
//! CoeffsToSlots → EvalMod → SlotsToCoeffs.
//!
//! 0. Sparse-secret encapsulation (Bossuat et al. 2022, when [`BootstrapConfig::ephemeral_hamming_weight`]
//!    is set): the level-0 input is switched from the dense secret `s` to an ephemeral sparse `s'`
//!    (a small key over `q_0 ∪ P`), raised, and switched back to `s` at the top level. The main
//!    secret stays dense (secure), while ModRaise's overflow `I` stays within `(h + 1)/2`.
//! 1. [`Evaluator::mod_raise`]: the level-0 input (scale `Δ`) is re-embedded at the top level and its
//!    scale relabelled `q_0`, so the slots hold the DFT of `(Δ·m + q_0·I)/q_0`.
//!
//!    Sparse packing (`n < N/2`, gap `N/2n`): `q_0·I` has every coefficient, not only the multiples
//!    of the gap the `n`-slot encoding uses. SubSum (the trace to `Z[X^{gap}]`:
//!    `ct += rot_{n·2^j}(ct)` for `2^j < gap`) keeps exactly those, multiplied by the gap, which
//!    CoeffsToSlots divides out. For `n` slots the DFT is the same matrix of size `n`. Two steps
//!    `s = n·2^j` and `2s` run as one stage, `ct + rot_s + rot_{2s} + rot_{3s}`, hoisted
//!    ([`Evaluator::add_rotations`]): one ModUp and one ModDown for both, and one more rotation key.
//! 2. CoeffsToSlots ([`dft::coeffs_to_slots`], `cts_budget` levels of BSGS transforms):
//!    `h = BitRev(U^{−1}·w)/(2K)`, so that `h + conj(h)` holds the low coefficients
//!    `(Δm_k/q_0 + I_k)/K` and `−i·(h − conj(h))` the high ones (in bit-reversed slot order).
//! 3. [`eval_mod::EvalMod`] on both real ciphertexts (side by side when the pool has two threads):
//!    `sin(2πx)` ≈ `2π·Δm_k/q_0`, landing exactly on scale `G·Δ_out·q_0/(2π·Δ)`, which is then
//!    relabelled `Δ_out`: the slots hold `G·m_k` ([`EVAL_MOD_GAIN`]), and SlotsToCoeffs divides by `G`.
//!
//!    With `n ≤ N/4` the two parts share one EvalMod: seen as `2n` slots the ciphertext is `[x, x]`,
//!    the last CoeffsToSlots group writes `[h, −i·h]` ([`LinearTransform::lift_replicated`]), so
//!    `h + conj(h)` holds both real parts side by side, and the first SlotsToCoeffs group folds
//!    `[a, b]` back into `a + i·b` on `n` slots ([`LinearTransform::fold_halves`]).
//! 4. SlotsToCoeffs ([`dft::slots_to_coeffs`], `stc_budget` levels): `U·BitRev(m_lo + i·m_hi)/G` =
//!    the message slots.
//!
//! `K` must bound `|I|`. With a secret of Hamming weight `h`, `I_k` is the rounding of a sum of
//! `h + 1` independent uniforms on `[−1/2, 1/2]` (Irwin–Hall, standard deviation 1.66 for
//! `h = 32`): `|I_k| ≤ (h + 1)/2` always, and `|I_k| ≥ 14` (beyond `K = 13`) has probability
//! 1.3e-21 per coefficient, 2^−53 per bootstrap at `N = 2^16`. Depth: `cts_budget + EvalMod depth
//! + stc_budget`. Not here: the arcsine correction (EvalMod's sine is accurate to 5e-13 without it).

pub mod bench;
pub mod dft;
pub mod eval_mod;
pub mod key_cache;
pub mod message_ratio;
mod mod_raise;

use super::encoder::coeffs_to_poly;
use super::linear::{EncodedLinearTransform, LinearTransform};
use super::{Ciphertext, Encoder, EvaluationKeys, Evaluator, KeyGenerator, Parameters, SecretKey};
use crate::{Result, RuntimeError};
use cachemir_kernels::Backend;
use eval_mod::EvalMod;
use num_complex::Complex64;
use serde::Serialize;
use std::collections::BTreeMap;
use std::f64::consts::PI;
use std::time::Instant;

/// The factor `G` EvalMod's output carries and SlotsToCoeffs divides out (spread over its levels).
///
/// EvalMod leaves the message's coefficients, `≈ 1/√n` for random slots, at the output scale, so
/// its last rescale's noise would stand only ~2^20 below them, a ratio SlotsToCoeffs keeps. Carried
/// 2^15 higher, they lose nothing there (+0.3 bits at full slots, `docs/design/ckks.md`); the
/// diagonals, 2^−5 per level at 42 bits, lose nothing either.
pub const EVAL_MOD_GAIN: f64 = (1u64 << 15) as f64;

/// Bootstrapping settings.
#[derive(Debug, Clone, PartialEq)]
pub struct BootstrapConfig {
    /// Bound `K` on the integer `|I|` at the EvalMod input (see the module docs).
    pub k: u32,
    /// Degree of the scaled-cosine polynomial.
    pub sine_degree: usize,
    /// Double-angle steps.
    pub double_angle: usize,
    /// Scale of the refreshed ciphertext (usually the default scale).
    pub output_scale: f64,
    /// Slots `n` of the ciphertexts to refresh (a power of two ≤ N/2).
    pub slots: usize,
    /// EvalMod is fitted for `|ε| ≤ 2^{−log_message_ratio}`; a level-0 input is first multiplied by
    /// the power of two that brings `q_0/Δ` nearest to `2^{log_message_ratio+1}`
    /// ([`message_ratio::message_ratio`]). Smaller ratios amplify EvalMod's error less (the output
    /// error is EvalMod's times `q_0/(2πΔ)`); the sine's non-linearity costs a coefficient `c` a
    /// relative `(2π·c·Δ/q_0)²/6` ([`cachemir_ir::bootstrap_sine`]).
    pub log_message_ratio: u32,
    /// Levels for CoeffsToSlots (1 ..= log2 n; the butterfly stages are merged into this many).
    pub cts_budget: usize,
    /// Levels for SlotsToCoeffs (1 ..= log2 n).
    pub stc_budget: usize,
    /// Hamming weight of the ephemeral sparse secret of encapsulation; `None` when the main
    /// secret is itself sparse enough for `k` (then no encapsulation keys are used).
    pub ephemeral_hamming_weight: Option<u32>,
}

impl BootstrapConfig {
    /// The configuration for `params` if they are a named bootstrappable set (see
    /// [`Self::for_named_set`]); an error names the set otherwise.
    pub fn for_params(params: &Parameters, slots: usize) -> Result<Self> {
        let name = cachemir_ir::params::named_sets()
            .into_iter()
            .find(|(_, literal)| literal == params.literal())
            .map(|(name, _)| name)
            .ok_or_else(|| RuntimeError::InvalidParameters {
                reason: "custom parameters have no bootstrapping configuration; use a named set"
                    .into(),
            })?;
        Self::for_named_set(name, params, slots)
    }

    /// The configuration of a named bootstrappable set (`cachemir_ir::params::bootstrap_levels`)
    /// for `slots` slots: an ephemeral secret of Hamming weight 32 with `K = 13` (exceeded with
    /// probability 2^−53 per bootstrap, module docs), the degree-31 sine with 3 double-angle steps
    /// (8 levels), the DFT
    /// budgets of the set, `q_0/Δ ≈ 2^9` at ModRaise (see `docs/design/ckks.md` for the trade-off)
    /// and the set's default scale out.
    pub fn for_named_set(name: &str, params: &Parameters, slots: usize) -> Result<Self> {
        let levels = cachemir_ir::params::bootstrap_levels(name).ok_or_else(|| {
            RuntimeError::InvalidParameters {
                reason: format!("parameter set {name} has no bootstrapping levels"),
            }
        })?;
        let config = Self {
            k: 13,
            sine_degree: 31,
            double_angle: 3,
            output_scale: params.default_scale(),
            slots,
            log_message_ratio: cachemir_ir::params::BOOTSTRAP_MESSAGE_RATIO_BITS,
            cts_budget: levels.coeffs_to_slots as usize,
            stc_budget: levels.slots_to_coeffs as usize,
            ephemeral_hamming_weight: Some(32),
        };
        let eval_mod_depth = EvalMod::new(
            config.k,
            config.sine_degree,
            config.double_angle,
            config.log_message_ratio,
        )?
        .depth();
        if eval_mod_depth != levels.eval_mod as usize {
            return Err(RuntimeError::InvalidParameters {
                reason: format!(
                    "{name} reserves {} EvalMod levels, the sine needs {eval_mod_depth}",
                    levels.eval_mod
                ),
            });
        }
        Ok(config)
    }
}

/// Wall time of each phase of one bootstrap, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct BootstrapPhases {
    /// Scaling, encapsulation (both key switches) and ModRaise.
    pub mod_raise_ms: f64,
    /// SubSum (sparse slots only).
    pub sub_sum_ms: f64,
    /// CoeffsToSlots, with the split into real and imaginary parts.
    pub coeffs_to_slots_ms: f64,
    /// EvalMod on both parts.
    pub eval_mod_ms: f64,
    /// SlotsToCoeffs.
    pub slots_to_coeffs_ms: f64,
}

/// Precomputed bootstrapping material for one parameter set (the encoded DFT matrices).
#[derive(Debug, Clone)]
pub struct Bootstrapper {
    config: BootstrapConfig,
    eval_mod: EvalMod,
    cts: Vec<EncodedLinearTransform>,
    stc: Vec<EncodedLinearTransform>,
    rotations: RotationKeys,
    /// SubSum stages: the rotation steps each adds to the ciphertext (none for full packing).
    sub_sum: Vec<Vec<i64>>,
    /// Whether the real and imaginary parts share one EvalMod on `2n` slots (`n ≤ N/4`).
    packed: bool,
}

/// The bootstrapping circuit of a configuration, before encoding: cheap to build, so a client
/// can learn the rotation keys without encoding the DFT matrices.
struct Circuit {
    eval_mod: EvalMod,
    cts: Vec<LinearTransform>,
    stc: Vec<LinearTransform>,
    sub_sum: Vec<Vec<i64>>,
    rotations: RotationKeys,
    packed: bool,
    /// The level SlotsToCoeffs starts at: the top minus CoeffsToSlots' and EvalMod's levels.
    stc_top: usize,
}

/// The rotation keys bootstrapping needs: each step with the highest level a ciphertext is
/// rotated by it at. CoeffsToSlots and SubSum rotate near the top, SlotsToCoeffs below EvalMod's
/// levels, so a key made at its own level (fewer digits over fewer primes) serves it: at
/// `N16_BOOT` a SlotsToCoeffs key is about a third of a top-level one.
pub type RotationKeys = BTreeMap<i64, usize>;

/// Records that `step` is used at `level`: the key must cover the highest such level.
fn need_rotation(keys: &mut RotationKeys, step: i64, level: usize) {
    let key_level = keys.entry(step).or_default();
    *key_level = (*key_level).max(level);
}

impl Circuit {
    fn new(params: &Parameters, config: &BootstrapConfig) -> Result<Self> {
        let n = config.slots;
        if n == 0 || !n.is_power_of_two() || n > params.max_slots() {
            return Err(RuntimeError::InvalidSlots {
                slots: n,
                max: params.max_slots(),
            });
        }
        let gap = params.max_slots() / n;
        let eval_mod = EvalMod::new(
            config.k,
            config.sine_degree,
            config.double_angle,
            config.log_message_ratio,
        )?;
        let needed = eval_mod.depth() + config.cts_budget + config.stc_budget;
        if params.max_level() < needed {
            return Err(RuntimeError::LevelTooLow {
                op: "bootstrap",
                needed,
                level: params.max_level(),
            });
        }
        let mut cts = dft::coeffs_to_slots(
            n,
            0.5 / (gap as f64 * f64::from(config.k)),
            config.cts_budget,
        )?;
        let sub_sum = sub_sum_stages(n, gap);
        let mut stc = dft::slots_to_coeffs(n, 1.0 / EVAL_MOD_GAIN, config.stc_budget)?;
        // Sparse packing with room for 2n slots: one EvalMod on [re, im] instead of two.
        let packed = 2 * n <= params.max_slots();
        if packed {
            let last = cts.len() - 1;
            cts[last] = cts[last].lift_replicated(Complex64::new(0.0, -1.0))?;
            stc[0] = stc[0].fold_halves(Complex64::new(0.0, 1.0))?;
        }
        let top = params.max_level();
        let stc_top = top - config.cts_budget - eval_mod.depth();
        let mut rotations = RotationKeys::new();
        for (i, t) in cts.iter().enumerate() {
            t.rotation_steps()
                .into_iter()
                .for_each(|step| need_rotation(&mut rotations, step, top - i));
        }
        for (i, t) in stc.iter().enumerate() {
            t.rotation_steps()
                .into_iter()
                .for_each(|step| need_rotation(&mut rotations, step, stc_top - i));
        }
        sub_sum
            .iter()
            .flatten()
            .for_each(|&step| need_rotation(&mut rotations, step, top));
        Ok(Self {
            eval_mod,
            cts,
            stc,
            sub_sum,
            rotations,
            packed,
            stc_top,
        })
    }
}

/// SubSum's stages for `n` slots with `gap = N/(2n)`: the steps `n·2^j` for `2^j < gap`, paired
/// into `[s, 2s, 3s]` (one hoisted stage for two), the last one alone if their count is odd.
fn sub_sum_stages(n: usize, gap: usize) -> Vec<Vec<i64>> {
    let steps: Vec<i64> = (0..gap.trailing_zeros()).map(|j| (n << j) as i64).collect();
    steps
        .chunks(2)
        .map(|pair| match *pair {
            [s, double] => vec![s, double, s + double],
            _ => pair.to_vec(),
        })
        .collect()
}

impl BootstrapConfig {
    /// The rotation keys bootstrapping with this configuration needs, each at its level (plus
    /// conjugation).
    pub fn rotation_keys(&self, params: &Parameters) -> Result<RotationKeys> {
        Ok(Circuit::new(params, self)?.rotations)
    }
}

impl Bootstrapper {
    /// Builds and encodes the DFT matrices: CoeffsToSlots at the top level, SlotsToCoeffs at the
    /// level EvalMod leaves.
    pub fn new<B: Backend>(encoder: &Encoder<B>, config: BootstrapConfig) -> Result<Self> {
        let params = encoder.params();
        let circuit = Circuit::new(params, &config)?;
        let top = params.max_level();
        let stc_top = circuit.stc_top;
        let cts = circuit
            .cts
            .iter()
            .enumerate()
            .map(|(i, t)| t.encode(encoder, top - i))
            .collect::<Result<Vec<_>>>()?;
        let stc = circuit
            .stc
            .iter()
            .enumerate()
            .map(|(i, t)| t.encode(encoder, stc_top - i))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            cts,
            stc,
            eval_mod: circuit.eval_mod,
            config,
            rotations: circuit.rotations,
            sub_sum: circuit.sub_sum,
            packed: circuit.packed,
        })
    }

    /// The rotation keys bootstrapping needs, each at its level (plus conjugation).
    pub fn rotation_keys(&self) -> &RotationKeys {
        &self.rotations
    }

    /// Levels consumed from the top: CoeffsToSlots, EvalMod, SlotsToCoeffs.
    pub fn depth(&self) -> usize {
        self.eval_mod.depth() + self.cts.len() + self.stc.len()
    }

    /// Heap bytes of the encoded CoeffsToSlots and SlotsToCoeffs matrices.
    pub fn byte_size(&self) -> usize {
        self.cts
            .iter()
            .chain(&self.stc)
            .map(EncodedLinearTransform::byte_size)
            .sum()
    }

    /// The settings.
    pub fn config(&self) -> &BootstrapConfig {
        &self.config
    }
}

impl<B: Backend> KeyGenerator<B> {
    /// Evaluation keys for bootstrapping with each of `configs` and for a program's own
    /// `rotations`: relinearization, conjugation and the program's rotations at the top level, each
    /// bootstrapping rotation key at the highest level a configuration uses it at
    /// ([`RotationKeys`]), and the encapsulation keys if a configuration uses an ephemeral secret.
    pub fn bootstrapping_keys(
        &mut self,
        sk: &SecretKey,
        configs: &[BootstrapConfig],
        rotations: &[i64],
    ) -> Result<EvaluationKeys> {
        let mut keys = self.evaluation_keys(sk, rotations, true)?;
        let mut needed = RotationKeys::new();
        for config in configs {
            for (step, level) in config.rotation_keys(&self.params)? {
                need_rotation(&mut needed, step, level);
            }
        }
        let mut by_level: BTreeMap<usize, Vec<i64>> = BTreeMap::new();
        needed
            .into_iter()
            .for_each(|(step, level)| by_level.entry(level).or_default().push(step));
        // Highest first, so that a Galois element two steps share is made once, at the higher level.
        for (level, steps) in by_level.into_iter().rev() {
            self.add_rotation_keys(&mut keys, sk, &steps, level)?;
        }
        keys.encapsulation = configs
            .iter()
            .filter_map(|c| c.ephemeral_hamming_weight)
            .max()
            .map(|h| self.encapsulation_keys(sk, h));
        Ok(keys)
    }
}

impl<B: Backend> Evaluator<B> {
    /// Multiplies every slot by `±i` (the monomial `±X^{N/2}`): exact, no level, scale unchanged.
    fn mul_by_i(&self, ct: &Ciphertext, negate: bool) -> Ciphertext {
        let n = self.params.n();
        let mut coeffs = vec![0f64; n];
        coeffs[n / 2] = if negate { -1.0 } else { 1.0 };
        let mono = coeffs_to_poly(&self.params, &self.backend, &coeffs, ct.level());
        let mut out = ct.clone();
        out.polys
            .iter_mut()
            .for_each(|p| self.backend.mul_assign(self.params.ring(), p, &mono));
        out
    }

    /// Refreshes a ciphertext of `config.slots` slots: returns it at level `max_level − depth` with scale
    /// `config.output_scale`. Needs the [`Bootstrapper::rotation_steps`] keys and conjugation.
    pub fn bootstrap(&self, ct: &Ciphertext, boot: &Bootstrapper) -> Result<Ciphertext> {
        Ok(self.bootstrap_scaled(ct, boot, 1.0)?.0)
    }

    /// [`Self::bootstrap`] of `2^boost·ct` (an exact integer product) with the output divided by
    /// `2^boost` in EvalMod's target scale: the values are unchanged and the refresh's absolute error
    /// is divided by `2^boost`, so a small input keeps its relative precision. `2^boost·ct` must stay
    /// inside the bootstrapping range; `boost ≤` [`cachemir_ir::fhe::MAX_BOOST`].
    pub fn bootstrap_boosted(
        &self,
        ct: &Ciphertext,
        boot: &Bootstrapper,
        boost: u32,
    ) -> Result<Ciphertext> {
        if boost > cachemir_ir::fhe::MAX_BOOST {
            return Err(RuntimeError::Execution {
                op: "bootstrap".into(),
                reason: format!("boost {boost} exceeds {}", cachemir_ir::fhe::MAX_BOOST),
            });
        }
        if boost == 0 {
            return self.bootstrap(ct, boot);
        }
        let boosted = self.mul_int(ct, 1i64 << boost);
        Ok(self
            .bootstrap_scaled(&boosted, boot, 0.5f64.powi(boost as i32))?
            .0)
    }

    /// [`Self::bootstrap`], also reporting the time of each phase.
    pub fn bootstrap_timed(
        &self,
        ct: &Ciphertext,
        boot: &Bootstrapper,
    ) -> Result<(Ciphertext, BootstrapPhases)> {
        self.bootstrap_scaled(ct, boot, 1.0)
    }

    /// Refreshes two ciphertexts holding REAL values at once, as the complex ciphertext `a + i·b`
    /// (one bootstrap instead of two; same level and scale required). The output is split back
    /// with a conjugation: the `1/2` of `(z + z̄)/2` is folded into EvalMod's target scale, so both
    /// outputs land exactly at `config.output_scale`. Imaginary parts of the inputs leak into the
    /// other output.
    pub fn bootstrap_real_pair(
        &self,
        a: &Ciphertext,
        b: &Ciphertext,
        boot: &Bootstrapper,
    ) -> Result<(Ciphertext, Ciphertext)> {
        let level = a.level().min(b.level());
        let z = self.add(
            &self.drop_to_level(a, level)?,
            &self.mul_by_i(&self.drop_to_level(b, level)?, false),
        )?;
        let half = self.bootstrap_scaled(&z, boot, 0.5)?.0;
        let conj = self.conjugate(&half)?;
        let re = self.add(&half, &conj)?;
        let im = self.mul_by_i(&self.sub(&half, &conj)?, true);
        Ok((re, im))
    }

    /// Bootstrapping whose output holds `factor·m` (the factor folded into EvalMod's target scale).
    fn bootstrap_scaled(
        &self,
        ct: &Ciphertext,
        boot: &Bootstrapper,
        factor: f64,
    ) -> Result<(Ciphertext, BootstrapPhases)> {
        let mut clock = Instant::now();
        let mut lap = || {
            let ms = clock.elapsed().as_secs_f64() * 1e3;
            clock = Instant::now();
            ms
        };
        let n = boot.config.slots;
        if ct.slots() != n {
            return Err(RuntimeError::SlotMismatch {
                op: "bootstrap",
                left: ct.slots(),
                right: n,
            });
        }
        let q0 = self.params.q()[0] as f64;
        let mut low = self.drop_to_level(ct, 0)?;
        let (_, headroom) =
            message_ratio::message_ratio(q0, low.scale(), boot.config.log_message_ratio);
        if headroom > 0 {
            low = self.mul_int(&low, 1i64 << headroom);
            low.set_scale(low.scale() * (1u64 << headroom) as f64);
        }
        let delta_in = low.scale();
        let encapsulation = match boot.config.ephemeral_hamming_weight {
            Some(_) => Some(
                self.keys
                    .encapsulation
                    .as_ref()
                    .ok_or(RuntimeError::MissingEncapsulationKeys)?,
            ),
            None => None,
        };
        if let Some(keys) = encapsulation {
            low = self.switch_secret(&low, &keys.to_sparse)?;
        }
        let mut raised = self.mod_raise(&low, self.params.max_level())?;
        if let Some(keys) = encapsulation {
            raised = self.switch_secret(&raised, &keys.to_dense)?;
        }
        raised.set_scale(q0);
        let mod_raise_ms = lap();
        for steps in &boot.sub_sum {
            raised = self.add_rotations(&raised, steps)?;
        }
        let sub_sum_ms = lap();
        let mut h = raised;
        for (i, t) in boot.cts.iter().enumerate() {
            if boot.packed && i + 1 == boot.cts.len() {
                h.slots = 2 * n; // [x, x]: the last group writes [h, −i·h]
            }
            h = self.linear_transform(&h, t)?;
        }
        let hc = self.conjugate(&h)?;
        let target = EVAL_MOD_GAIN * factor * boot.config.output_scale * q0 / (2.0 * PI * delta_in);
        let eval_mod = |x: &Ciphertext| -> Result<Ciphertext> {
            let mut y = boot.eval_mod.evaluate(self, x, target)?;
            y.set_scale(boot.config.output_scale);
            Ok(y)
        };
        let (coeffs_to_slots_ms, eval_mod_ms, mut z);
        if boot.packed {
            // h + conj(h) = [2·Re h, 2·Im h]: both real parts in one ciphertext of 2n slots.
            let parts = self.add(&h, &hc)?;
            coeffs_to_slots_ms = lap();
            z = eval_mod(&parts)?;
            eval_mod_ms = lap();
        } else {
            let re = self.add(&h, &hc)?;
            let im = self.mul_by_i(&self.sub(&h, &hc)?, true);
            coeffs_to_slots_ms = lap();
            // Independent: with more than one thread they run side by side.
            let (re, im) = rayon::join(|| eval_mod(&re), || eval_mod(&im));
            let (re, im) = (re?, im?);
            eval_mod_ms = lap();
            z = self.add(&re, &self.mul_by_i(&im, false))?;
        }
        for (i, t) in boot.stc.iter().enumerate() {
            z = self.linear_transform(&z, t)?;
            if boot.packed && i == 0 {
                z.slots = n; // the fold leaves [y, y]
            }
        }
        let phases = BootstrapPhases {
            mod_raise_ms,
            sub_sum_ms,
            coeffs_to_slots_ms,
            eval_mod_ms,
            slots_to_coeffs_ms: lap(),
        };
        Ok((z, phases))
    }
}
