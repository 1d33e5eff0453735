//! `cachemir compile --report`: per-region (input, each layer, head) counts of the lowered program's
//! plaintext and ciphertext multiplies, rotations, key switches, bootstraps, polynomials and levels,
//! and its predicted seconds when a cost table covers its parameters.

use cachemir_ir::cost::{bsgs_steps, Prediction};
use cachemir_ir::fhe::{Module, Op, OpId, Type};
use std::collections::BTreeMap;
use std::fmt;

/// Counts of one region.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    /// Plaintext and scalar multiplies (each diagonal of a linear transform counts one).
    pub pt_mults: u64,
    /// Ciphertext × ciphertext multiplies.
    pub ct_mults: u64,
    /// Rotations (a BSGS transform counts its distinct baby and giant steps; a KV append one).
    pub rotations: u64,
    /// Key switches: rotations plus relinearizations.
    pub key_switches: u64,
    /// Bootstraps.
    pub bootstraps: u64,
    /// Polynomial evaluations.
    pub polys: u64,
    /// Lowest and highest ciphertext level produced.
    pub levels: Option<(u32, u32)>,
    /// Predicted seconds (`None` without a cost table).
    pub seconds: Option<f64>,
}

/// The report: regions in program order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// `(region, counts)` in order of first appearance.
    pub regions: Vec<(String, Counts)>,
}

impl Report {
    /// The totals over all regions.
    pub fn total(&self) -> Counts {
        let mut t = Counts::default();
        for (_, c) in &self.regions {
            t.pt_mults += c.pt_mults;
            t.ct_mults += c.ct_mults;
            t.rotations += c.rotations;
            t.key_switches += c.key_switches;
            t.bootstraps += c.bootstraps;
            t.polys += c.polys;
            t.seconds = match (t.seconds, c.seconds) {
                (Some(a), Some(b)) => Some(a + b),
                (x, y) => x.or(y),
            };
            t.levels = match (t.levels, c.levels) {
                (Some((a, b)), Some((c0, d0))) => Some((a.min(c0), b.max(d0))),
                (x, None) => x,
                (None, y) => y,
            };
        }
        t
    }
}

/// Counts the ops of `module`, attributing each op to the region of `regions` it or the nearest earlier
/// op has (ops inserted by passes inherit the region they sit in), with `prediction`'s seconds.
pub fn report(
    module: &Module,
    regions: &BTreeMap<OpId, String>,
    prediction: Option<&Prediction>,
) -> Report {
    let seconds: Option<BTreeMap<OpId, f64>> = prediction.map(|p| p.ops.iter().copied().collect());
    let mut out: Vec<(String, Counts)> = Vec::new();
    let mut current = "input".to_string();
    for id in module.op_ids() {
        if let Some(r) = regions.get(&id) {
            current = r.clone();
        }
        if out.last().is_none_or(|(r, _)| *r != current) {
            match out.iter().position(|(r, _)| *r == current) {
                Some(i) => {
                    let e = out.remove(i);
                    out.push(e);
                }
                None => out.push((current.clone(), Counts::default())),
            }
        }
        let c = &mut out.last_mut().expect("pushed above").1;
        if let Some(s) = &seconds {
            *c.seconds.get_or_insert(0.0) += s.get(&id).copied().unwrap_or(0.0);
        }
        let data = module.op(id);
        match &data.op {
            Op::MulPlain { .. } | Op::MulConst { .. } => c.pt_mults += 1,
            Op::LinearTransform {
                input,
                offsets,
                baby_step,
                ..
            } => {
                c.pt_mults += offsets.len() as u64;
                let slots = module
                    .value_type(*input)
                    .and_then(Type::as_ct)
                    .map_or(1, |t| t.slots.0);
                let (baby, giant) =
                    bsgs_steps(offsets.iter().map(|o| i64::from(o.0)), *baby_step, slots);
                let r = (baby + giant) as u64;
                c.rotations += r;
                c.key_switches += r;
            }
            Op::MulCt { .. } => c.ct_mults += 1,
            Op::Relinearize { .. } => c.key_switches += 1,
            Op::Rotate { .. } => {
                c.rotations += 1;
                c.key_switches += 1;
            }
            Op::RotateHoisted { steps, .. } => {
                c.rotations += steps.len() as u64;
                c.key_switches += steps.len() as u64;
            }
            Op::KvAppend { cache, .. }
                if module
                    .kv_caches
                    .get(cache)
                    .is_some_and(|d| d.tokens_per_chunk > 1) =>
            {
                c.rotations += 1;
                c.key_switches += 1;
            }
            Op::Bootstrap { .. } => c.bootstraps += 1,
            Op::PolyEval { .. } => c.polys += 1,
            _ => {}
        }
        for &r in &data.results {
            if let Some(Type::Ct(t)) = module.value_type(r) {
                let l = t.level.0;
                c.levels = Some(c.levels.map_or((l, l), |(a, b)| (a.min(l), b.max(l))));
            }
        }
    }
    Report { regions: out }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<10} {:>8} {:>8} {:>9} {:>11} {:>10} {:>6} {:>8} {:>10}",
            "region",
            "pt-mul",
            "ct-mul",
            "rotation",
            "key-switch",
            "bootstrap",
            "poly",
            "levels",
            "seconds"
        )?;
        let total = self.total();
        for (name, c) in self
            .regions
            .iter()
            .chain(std::iter::once(&("total".to_string(), total)))
        {
            let levels = c.levels.map_or("-".into(), |(a, b)| format!("{a}..{b}"));
            let seconds = c.seconds.map_or("-".into(), |s| format!("{s:.1}"));
            writeln!(
                f,
                "{:<10} {:>8} {:>8} {:>9} {:>11} {:>10} {:>6} {:>8} {:>10}",
                name,
                c.pt_mults,
                c.ct_mults,
                c.rotations,
                c.key_switches,
                c.bootstraps,
                c.polys,
                levels,
                seconds
            )?;
        }
        Ok(())
    }
}
