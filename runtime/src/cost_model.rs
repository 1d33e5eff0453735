//! `cachemir-run bench cost-model`: measures the engine's [`CostTable`] on this machine, the table
//! the compiler's cost model predicts a plan's seconds from (`cachemir_ir::cost`).
//!
//! Every entry is the median of `runs` timings at full slots on the current rayon pool, inputs
//! public-key encryptions of values uniform in [−1, 1] at the default scale, the keys made at the top
//! level as the plan's rotation keys are. Derived entries:
//! - `relinearize` is the fused relinearize-and-rescale less a rescale (at level 0, where nothing
//!   rescales, the relinearization alone);
//! - `rotate_hoisted` is (seven hoisted rotations − one rotation) / 6;
//! - `lt_diagonal` and `lt_rotation` solve `T = diagonals·d + rotations·r` from two transforms of
//!   8 baby steps, their encoding included: offsets `0..8` (8 diagonals, 7 baby rotations) and
//!   `0..64` (64 diagonals, 7 baby and 7 giant rotations).
//!
//! Bootstraps are measured at each requested slot count by [`bootstrap::bench`].

use crate::ckks::bootstrap::{bench as bootstrap_bench, BootstrapConfig};
use crate::ckks::linear::LinearTransform;
use crate::ckks::{Ciphertext, Encoder, Encryptor, Evaluator, KeyGenerator, Parameters};
use crate::Result;
use cachemir_ir::cost::{CostTable, LevelCosts};
use cachemir_kernels::{CpuBackend, Sampler};
use num_complex::Complex64;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// Baby steps of the measured linear transforms.
const BABY: i64 = 8;

fn median_seconds(runs: usize, mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    let mut times = Vec::with_capacity(runs.max(1));
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        f()?;
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

/// The CPU's model name from `/proc/cpuinfo`, or `"unknown CPU"`.
fn machine() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, name)| name.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

struct Probe<'a> {
    eval: &'a Evaluator<CpuBackend>,
    encoder: &'a Encoder<CpuBackend>,
    row: &'a [f64],
    runs: usize,
}

impl Probe<'_> {
    fn level(&self, x: &Ciphertext, y: &Ciphertext) -> Result<LevelCosts> {
        let (eval, encoder, runs) = (self.eval, self.encoder, self.runs);
        let level = x.level();
        let scale = x.scale();
        let tensor = eval.mul(x, y)?;
        let rescale = if level > 0 {
            let product = eval.relinearize(&tensor)?;
            median_seconds(runs, || eval.rescale(&product).map(drop))?
        } else {
            0.0
        };
        let relinearize = if level > 0 {
            let fused = median_seconds(runs, || eval.relinearize_rescale(&tensor).map(drop))?;
            (fused - rescale).max(0.0)
        } else {
            median_seconds(runs, || eval.relinearize(&tensor).map(drop))?
        };
        let rotate = median_seconds(runs, || eval.rotate(x, 1).map(drop))?;
        let hoisted: Vec<i64> = (1..BABY).collect();
        let batch = median_seconds(runs, || eval.rotate_hoisted(x, &hoisted).map(drop))?;
        let (lt_diagonal, lt_rotation) = self.linear_transform(x)?;
        Ok(LevelCosts {
            add: median_seconds(runs, || eval.add(x, y).map(drop))?,
            add_plain: median_seconds(runs, || {
                let pt = encoder.encode_real(self.row, level, scale)?;
                eval.add_plain(x, &pt).map(drop)
            })?,
            mul_plain: median_seconds(runs, || {
                let pt = encoder.encode_real(self.row, level, scale)?;
                eval.mul_plain(x, &pt).map(drop)
            })?,
            mul_const: median_seconds(runs, || eval.mul_const_scaled(x, 0.7, scale).map(drop))?,
            mul_ct: median_seconds(runs, || eval.mul(x, y).map(drop))?,
            relinearize,
            rescale,
            level_drop: if level > 0 {
                median_seconds(runs, || eval.drop_to_level(x, level - 1).map(drop))?
            } else {
                0.0
            },
            rotate,
            rotate_hoisted: ((batch - rotate) / (hoisted.len() - 1) as f64).max(0.0),
            lt_diagonal,
            lt_rotation,
        })
    }

    /// `(diagonal, rotation)` seconds of a linear transform at `x`'s level (module doc).
    fn linear_transform(&self, x: &Ciphertext) -> Result<(f64, f64)> {
        let diagonal: Vec<Complex64> = self.row.iter().map(|&v| Complex64::from(v)).collect();
        let time = |offsets: Vec<i64>| -> Result<f64> {
            let rows = offsets.into_iter().map(|k| (k, diagonal.clone()));
            let lt = LinearTransform::new(x.slots(), rows, Some(BABY as usize))?;
            median_seconds(self.runs, || {
                let encoded = lt.encode_at(self.encoder, x.level(), x.scale())?;
                self.eval.linear_transform_unrescaled(x, &encoded).map(drop)
            })
        };
        let small = time((0..BABY).collect())?;
        let dense = time((0..BABY * BABY).collect())?;
        // small = 8d + 7r, dense = 64d + 14r.
        let (n, k) = (BABY as f64, (BABY - 1) as f64);
        let d = ((dense - 2.0 * small) / (n * n - 2.0 * n)).max(0.0);
        let r = ((small - n * d) / k).max(0.0);
        Ok((d, r))
    }
}

/// Measures the table of the named parameter set `name`: every level, then a bootstrap at each of
/// `bootstrap_slots` (none for a set without bootstrapping levels). `progress` hears each phase.
pub fn measure(
    name: &str,
    runs: usize,
    bootstrap_slots: &[usize],
    key_cache: Option<&Path>,
    mut progress: impl FnMut(&str),
) -> Result<CostTable> {
    let params = Arc::new(Parameters::named(name)?);
    let mut levels = Vec::new();
    {
        progress("generating keys (relinearization, 14 rotations)");
        let mut kg = KeyGenerator::new(params.clone(), CpuBackend);
        let sk = kg.secret_key();
        let pk = kg.public_key(&sk);
        let steps: Vec<i64> = (1..BABY).chain((1..BABY).map(|j| j * BABY)).collect();
        let keys = Arc::new(kg.evaluation_keys(&sk, &steps, false)?);
        let eval = Evaluator::new(params.clone(), CpuBackend, keys);
        let encoder = Encoder::new(params.clone(), CpuBackend);
        let mut encryptor = Encryptor::new(params.clone(), CpuBackend, pk);
        let slots = params.max_slots();
        let mut sampler = Sampler::from_os();
        let (xs, ys, row) = (
            sampler.uniform_reals(slots, -1.0, 1.0),
            sampler.uniform_reals(slots, -1.0, 1.0),
            sampler.uniform_reals(slots, -1.0, 1.0),
        );
        let probe = Probe {
            eval: &eval,
            encoder: &encoder,
            row: &row,
            runs,
        };
        for level in 0..=params.max_level() {
            progress(&format!("level {level} of {}", params.max_level()));
            let scale = params.default_scale();
            let x = encryptor.encrypt(&encoder.encode_real(&xs, level, scale)?);
            let y = encryptor.encrypt(&encoder.encode_real(&ys, level, scale)?);
            levels.push(probe.level(&x, &y)?);
        }
    }
    let mut bootstrap = BTreeMap::new();
    for &slots in bootstrap_slots {
        progress(&format!("bootstrapping {slots} slots"));
        let config = BootstrapConfig::for_named_set(name, &params, slots)?;
        let report = bootstrap_bench::bench(name, params.clone(), config, runs, key_cache, |_| {})?;
        bootstrap.insert(slots as u32, report.bootstrap_ms / 1e3);
    }
    Ok(CostTable {
        params_name: name.to_string(),
        params: params.literal().clone(),
        threads: rayon::current_num_threads(),
        machine: machine(),
        measured_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        levels,
        bootstrap,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_covers_every_level_of_its_parameters_and_round_trips_as_json() {
        // Timings are not asserted (they are noisy); the table's shape and values' sanity are.
        let table = measure("INSECURE_N12", 1, &[], None, |_| {}).unwrap();
        let literal = Parameters::named("INSECURE_N12").unwrap().literal().clone();
        assert_eq!(table.levels.len(), literal.log_q.len());
        assert_eq!(table.params, literal);
        assert!(table.bootstrap.is_empty());
        for (l, c) in table.levels.iter().enumerate() {
            let all = [
                c.add,
                c.add_plain,
                c.mul_plain,
                c.mul_const,
                c.mul_ct,
                c.relinearize,
                c.rescale,
                c.level_drop,
                c.rotate,
                c.rotate_hoisted,
                c.lt_diagonal,
                c.lt_rotation,
            ];
            assert!(
                all.iter().all(|s| s.is_finite() && *s >= 0.0),
                "level {l}: {c:?}"
            );
            assert!(c.rotate > 0.0 && c.mul_ct > 0.0, "level {l}: {c:?}");
        }
        let json = serde_json::to_string(&table).unwrap();
        assert_eq!(CostTable::from_json(&json, "test").unwrap(), table);
    }
}
