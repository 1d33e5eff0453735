//! Noise-aware simulation: a plan run on the FHE IR's cleartext interpreter with the engine's errors
//! injected where the engine makes them, so precision problems show in minutes, before hours are spent
//! encrypted. The output is an encrypted run's ([`GenerationReport`]), without keys or timings.
//!
//! The error model ([`NoiseModel`]), each a Gaussian added to the real and imaginary part of every slot,
//! with the mean absolute error `2^−bits` the engine's benchmarks measure for values in `[−1, 1]`
//! (`cachemir-run bench primitives|bootstrap --json`; `docs/design/simulation.md`):
//! - a fresh encryption, a rotation or conjugation: one key switch (32.9 bits at `N16_BOOT`, 34.4 at
//!   `INSECURE_N12_BOOT`);
//! - a relinearized product with its rescale: 31.4 / 30.4 bits; a polynomial, that times the sum of its
//!   Chebyshev coefficients' magnitudes (each basis value carries a product's error into the sum);
//! - a BSGS linear transform: one rotation's error times the square root of its diagonals;
//! - a bootstrap: EvalMod's sine applied exactly to every coefficient of the input's preimage
//!   ([`bootstrap_sine::apply`] at the message ratio `q_0/Δ = 2^9` bootstrapping brings its inputs
//!   to), then its noise floor, measured at the slot count for inputs uniform in `[−1, 1]`
//!   (`N16_BOOT`: 21.8 bits at 2^15 slots … 25.2 at 2^10; `INSECURE_N12_BOOT`: 27.5 bits, measured at
//!   amplitude 1/4 where the sine adds nothing).

use super::generate::{greedy, GenerationReport, Progress, TokenReport};
use crate::{Result, RuntimeError};
use cachemir_ir::bootstrap_sine;
use cachemir_ir::embedding::Embedding;
use cachemir_ir::fhe::interp::{Interpreter, KvState};
use cachemir_ir::fhe::{Module, Op, Type};
use cachemir_ir::plan::client::{logits, step_inputs};
use cachemir_ir::plan::Plan;
use cachemir_kernels::Sampler;
use num_complex::Complex64;

/// Mean absolute errors of the engine's operations, in bits (`2^−bits`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoiseModel {
    /// A fresh encryption, a rotation, a conjugation.
    pub key_switch_bits: f64,
    /// A relinearized product with its rescale; each level of a polynomial.
    pub product_bits: f64,
    /// A bootstrap's noise floor (its error for small inputs).
    pub bootstrap_bits: f64,
    /// The message ratio `q_0/Δ` of bootstrapping's sine (infinite: no distortion).
    pub message_ratio: f64,
}

/// Bootstrapping precision (mean bits) at `N16_BOOT` by log2 of the slot count, from
/// `cachemir-run bench bootstrap --slots n` (README table, 2026-11-25).
const N16_BOOTSTRAP_BITS: [(u32, f64); 12] = [
    (15, 21.8),
    (14, 22.2),
    (13, 23.2),
    (12, 24.2),
    (11, 25.1),
    (10, 25.2),
    (9, 24.3),
    (8, 23.5),
    (7, 22.5),
    (6, 22.2),
    (5, 20.4),
    (4, 20.2),
];

impl NoiseModel {
    /// The engine's errors for `module`: the `INSECURE_N12_BOOT` figures for a ring of 2^12, else the
    /// `N16_BOOT` figures at its bootstraps' slot count.
    pub fn for_module(module: &Module) -> Self {
        if module.params.log_n == 12 {
            return Self {
                key_switch_bits: 34.4,
                product_bits: 30.4,
                bootstrap_bits: 27.5,
                message_ratio: bootstrap_sine::MESSAGE_RATIO,
            };
        }
        let slots = module.op_ids().find_map(|id| match &module.op(id).op {
            Op::Bootstrap { input, .. } => module
                .value_type(*input)
                .and_then(Type::as_ct)
                .map(|t| t.slots.0),
            _ => None,
        });
        let log_slots = slots.map_or(15, |s| s.max(1).ilog2());
        let bootstrap_bits = N16_BOOTSTRAP_BITS
            .iter()
            .find(|(l, _)| *l == log_slots.clamp(4, 15))
            .map_or(21.8, |(_, b)| *b);
        Self {
            key_switch_bits: 32.9,
            product_bits: 31.4,
            bootstrap_bits,
            message_ratio: bootstrap_sine::MESSAGE_RATIO,
        }
    }

    /// The standard deviation of an error whose mean absolute value is `2^−bits` (Gaussian: `σ·√(2/π)`).
    fn sigma(bits: f64) -> f64 {
        2f64.powf(-bits) * (std::f64::consts::PI / 2.0).sqrt()
    }

    /// The noise `op` adds to its result (standard deviation per real component), if any; the
    /// bootstrap's sine is applied apart.
    fn sigma_of(&self, op: &Op) -> Option<f64> {
        let key_switch = Self::sigma(self.key_switch_bits);
        match op {
            Op::Input { .. } | Op::Rotate { .. } | Op::Conjugate { .. } => Some(key_switch),
            Op::RotateHoisted { .. } => Some(key_switch),
            Op::Relinearize { .. } => Some(Self::sigma(self.product_bits)),
            // Each Chebyshev basis value carries a product's error, weighted by its coefficient.
            Op::PolyEval { coeffs, .. } => {
                let weight: f64 = coeffs.iter().map(|c| c.abs()).sum();
                Some(Self::sigma(self.product_bits) * weight.max(1.0))
            }
            Op::LinearTransform { offsets, .. } => {
                Some(key_switch * (offsets.len().max(1) as f64).sqrt())
            }
            Op::Bootstrap { .. } => Some(Self::sigma(self.bootstrap_bits)),
            _ => None,
        }
    }
}

/// Gaussian samples by Box–Muller from the engine's seeded sampler.
struct Gaussian {
    sampler: Sampler,
}

impl Gaussian {
    fn add(&mut self, x: &mut [Complex64], sigma: f64) {
        let u = self
            .sampler
            .uniform_reals(2 * x.len(), f64::MIN_POSITIVE, 1.0);
        let v = self.sampler.uniform_reals(2 * x.len(), 0.0, 1.0);
        for (i, z) in x.iter_mut().enumerate() {
            let g = |k: usize| {
                (-2.0 * u[k].ln()).sqrt() * (2.0 * std::f64::consts::PI * v[k]).cos() * sigma
            };
            *z += Complex64::new(g(2 * i), g(2 * i + 1));
        }
    }
}

/// Greedy generation as [`super::generate`] does it, on the cleartext interpreter with `noise` injected
/// (seeded by `seed`, so a run reproduces). The report's timings are the interpreter's, and its counts
/// are the plan's `bootstrap`, `rotate` and `relinearize` ops (a linear transform's rotations, which the
/// executor counts, are not).
pub fn simulate(
    plan: &Plan,
    prompt: &[u32],
    max_new_tokens: usize,
    stop_at: Option<u32>,
    noise: &NoiseModel,
    seed: u64,
    mut progress: impl FnMut(Progress),
) -> Result<GenerationReport> {
    let plan_error = |e: cachemir_ir::IrError| RuntimeError::Plan {
        reason: e.to_string(),
    };
    if prompt.is_empty() {
        return Err(RuntimeError::Plan {
            reason: "the prompt is empty".into(),
        });
    }
    let module = plan.module();
    let interp = Interpreter::new(module, plan.weights()).map_err(plan_error)?;
    let mut counts = StepCounts::default();
    for id in module.op_ids() {
        counts.add(&module.op(id).op);
    }
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let mut gauss = Gaussian {
        sampler: Sampler::from_seed(seed_bytes),
    };
    let steps = prompt.len() + max_new_tokens;
    progress(Progress::Started { steps });
    let embedding = Embedding::new(module.params.max_slots() as usize);
    let mut state = KvState::default();
    greedy(prompt, steps, stop_at, &mut progress, |position, token| {
        let start = std::time::Instant::now();
        let inputs = step_inputs(module, plan.weights(), token, position).map_err(plan_error)?;
        let outputs = interp
            .run_observed(&inputs, &mut state, &mut |id, x| {
                let op = &module.op(id).op;
                // A boosted bootstrap refreshes `2^boost·x`: the sine and the floor act there.
                let boost = match op {
                    Op::Bootstrap { boost, .. } => Some(2f64.powi(*boost as i32)),
                    _ => None,
                };
                if let Some(gain) = boost {
                    x.iter_mut().for_each(|z| *z *= gain);
                    if noise.message_ratio.is_finite() {
                        bootstrap_sine::apply(x, noise.message_ratio, &embedding);
                    }
                }
                if let Some(s) = noise.sigma_of(op) {
                    gauss.add(x, s);
                }
                if let Some(gain) = boost {
                    x.iter_mut().for_each(|z| *z /= gain);
                }
            })
            .map_err(plan_error)?;
        let millis = start.elapsed().as_secs_f64() * 1e3;
        let report = TokenReport {
            position,
            token,
            millis,
            server_millis: millis,
            bootstraps: counts.bootstraps,
            rotations: counts.rotations,
            key_switches: counts.rotations + counts.relinearizations,
            op_millis: Default::default(),
        };
        Ok((logits(&outputs), report))
    })
}

/// Op counts of one step.
#[derive(Debug, Default)]
struct StepCounts {
    bootstraps: u32,
    rotations: u32,
    relinearizations: u32,
}

impl StepCounts {
    fn add(&mut self, op: &Op) {
        match op {
            Op::Bootstrap { .. } => self.bootstraps += 1,
            Op::Rotate { .. } | Op::Conjugate { .. } => self.rotations += 1,
            Op::RotateHoisted { steps, .. } => self.rotations += steps.len() as u32,
            Op::Relinearize { .. } => self.relinearizations += 1,
            _ => {}
        }
    }
}
