//! Runs the tensor IR on the plaintext reference executor (one token per step with a KV cache) and records
//! the inputs of the ops the lowering approximates, through the executor's observer hook.

use super::{Calibration, Quantity};
use crate::error::{CompileError, Result};
use crate::reference::executor::{Executor, Observation};
use cachemir_ir::tensor::{Module, NodeId, Op};

/// Feeds each sequence of `sequences` one token per step (a fresh KV cache each, so every sequence has a
/// first position) and returns the observed ranges. Two runs: the first measures the mean cached key of
/// every attention ([`Calibration::key_means`]), the second the ranges, with scores taken against
/// centered keys as the lowering computes them.
pub fn observe(module: &Module, sequences: &[Vec<u32>]) -> Result<Calibration> {
    let tokens: usize = sequences.iter().map(Vec::len).sum();
    let first = run(module, sequences, &Calibration::default())?;
    let mut means = Calibration {
        key_means: first.key_sums.clone(),
        ..Default::default()
    };
    for m in means.key_means.values_mut() {
        for v in m.iter_mut() {
            *v /= tokens as f64;
        }
    }
    let mut cal = run(module, sequences, &means)?;
    cal.key_means = means.key_means;
    cal.key_sums.clear();
    Ok(cal)
}

fn run(module: &Module, sequences: &[Vec<u32>], centering: &Calibration) -> Result<Calibration> {
    if sequences.iter().all(Vec::is_empty) {
        return Err(CompileError::Execute {
            reason: "no calibration tokens".into(),
        });
    }
    let mut cal = Calibration::default();
    for seq in sequences {
        let mut executor = Executor::new(module)?;
        for (position, &token) in seq.iter().enumerate() {
            executor.step_observed(token, &mut |seen: Observation<'_>| {
                let args = &module.nodes[NodeId::from_index(seen.node as u32)].args;
                for (value, xs) in args.iter().zip(&seen.args) {
                    cal.record_magnitudes(value.index(), xs);
                }
                record(&mut cal, centering, seen, position == 0)
            })?;
        }
        cal.tokens += seq.len();
    }
    Ok(cal)
}

/// Records the inputs of the approximated ops: RMSNorm sums of squares (the `first` position's apart),
/// SiLU inputs, attention scores against the centered cached keys (and the key sums the centering is
/// computed from).
fn record(cal: &mut Calibration, centering: &Calibration, seen: Observation<'_>, first: bool) {
    let n = seen.node;
    match seen.op {
        Op::RmsNorm { .. } => {
            let s: f64 = seen.args[0]
                .iter()
                .map(|&v| f64::from(v) * f64::from(v))
                .sum();
            let q = if first {
                Quantity::FirstSumOfSquares
            } else {
                Quantity::SumOfSquares
            };
            cal.record(n, q, s);
        }
        Op::Silu => seen.args[0]
            .iter()
            .for_each(|&v| cal.record(n, Quantity::SiluInput, f64::from(v))),
        Op::Attention {
            q_heads,
            kv_heads,
            head_dim,
            ..
        } => {
            let (q, k) = (seen.args[0], seen.args[1]);
            let sums = cal.key_sums.entry(n).or_insert_with(|| vec![0.0; k.len()]);
            for (s, &x) in sums.iter_mut().zip(k) {
                *s += f64::from(x);
            }
            let mean = centering.key_means.get(&n);
            let group = (q_heads / (*kv_heads).max(1)).max(1);
            for h in 0..*q_heads {
                let kh = h / group;
                let qh = &q[h * head_dim..(h + 1) * head_dim];
                for key in seen.cached_keys {
                    let score: f64 = (0..*head_dim)
                        .map(|i| {
                            let r = kh * head_dim + i;
                            let mu = mean.map_or(0.0, |m| m[r]);
                            f64::from(qh[i]) * (f64::from(key[r]) - mu)
                        })
                        .sum();
                    cal.record(n, Quantity::Score, score);
                }
            }
        }
        _ => {}
    }
}
