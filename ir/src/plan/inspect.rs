//! The `cachemir inspect` report: what a plan costs and needs, at a glance.

use super::Plan;
use crate::fhe::{RotStep, Type};
use std::collections::BTreeMap;
use std::fmt;

/// One KV cache's persistent layout.
#[derive(Debug, Clone, PartialEq)]
pub struct KvSummary {
    /// Cache name.
    pub name: String,
    /// Ciphertexts.
    pub chunks: u32,
    /// Tokens per ciphertext.
    pub tokens_per_chunk: u32,
    /// Slot distance between tokens.
    pub token_stride: u32,
    /// Level the cache persists at.
    pub level: u32,
    /// log2 scale the cache persists at.
    pub scale: f64,
    /// Slots per chunk.
    pub slots: u32,
}

/// Summary of a plan: op counts, levels, bootstraps, keys, weight bytes and KV-cache layout.
#[derive(Debug, Clone, PartialEq)]
pub struct InspectReport {
    /// log2 N.
    pub log_n: u32,
    /// Top level of the modulus chain.
    pub max_level: u32,
    /// Total ops.
    pub ops: usize,
    /// Ops by kind (mnemonic).
    pub op_counts: BTreeMap<&'static str, usize>,
    /// Ciphertext results by level.
    pub ct_levels: BTreeMap<u32, usize>,
    /// Number of bootstraps.
    pub bootstraps: usize,
    /// Rotation keys (normalized left steps).
    pub rotation_keys: Vec<RotStep>,
    /// Whether the conjugation key is needed.
    pub conjugation_key: bool,
    /// Whether bootstrapping keys are needed.
    pub bootstrap_keys: bool,
    /// Number of weights.
    pub weights: usize,
    /// Bytes of weight numbers.
    pub weight_bytes: u64,
    /// KV caches.
    pub kv_caches: Vec<KvSummary>,
    /// Inputs (name, level, layout as text).
    pub inputs: Vec<(String, u32, String)>,
    /// Outputs (name, level, layout as text).
    pub outputs: Vec<(String, u32, String)>,
}

/// Builds the `cachemir inspect` report of a plan.
pub fn inspect(plan: &Plan) -> InspectReport {
    let m = plan.module();
    let mut op_counts = BTreeMap::new();
    let mut ct_levels = BTreeMap::new();
    for id in m.op_ids() {
        let data = m.op(id);
        *op_counts.entry(data.op.mnemonic()).or_insert(0) += 1;
        for &r in &data.results {
            if let Some(Type::Ct(t)) = m.value_type(r) {
                *ct_levels.entry(t.level.0).or_insert(0) += 1;
            }
        }
    }
    let bootstraps = op_counts.get("bootstrap").copied().unwrap_or(0);
    let io = plan.client_io();
    let layout = |t: &crate::fhe::CtType| crate::fhe::print::layout_to_string(&t.layout);
    InspectReport {
        log_n: m.params.log_n,
        max_level: m.params.max_level().unwrap_or(0),
        ops: m.num_ops(),
        op_counts,
        ct_levels,
        bootstraps,
        rotation_keys: m.keys.rotations.iter().copied().collect(),
        conjugation_key: m.keys.conjugate,
        bootstrap_keys: m.keys.bootstrap,
        weights: plan.weights().len(),
        weight_bytes: plan
            .weights()
            .values()
            .map(crate::weights::Weight::byte_len)
            .sum(),
        kv_caches: m
            .kv_caches
            .iter()
            .map(|(name, kv)| KvSummary {
                name: name.clone(),
                chunks: kv.chunks,
                tokens_per_chunk: kv.tokens_per_chunk,
                token_stride: kv.token_stride,
                level: kv.chunk.level.0,
                scale: kv.chunk.scale.0,
                slots: kv.chunk.slots.0,
            })
            .collect(),
        inputs: io
            .inputs
            .iter()
            .map(|d| (d.name.clone(), d.ty.level.0, layout(&d.ty)))
            .collect(),
        outputs: io
            .outputs
            .iter()
            .map(|d| (d.name.clone(), d.ty.level.0, layout(&d.ty)))
            .collect(),
    }
}

impl fmt::Display for InspectReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "parameters: log N = {}, top level {}",
            self.log_n, self.max_level
        )?;
        writeln!(f, "ops: {}", self.ops)?;
        for (kind, n) in &self.op_counts {
            writeln!(f, "  {kind:<18} {n}")?;
        }
        writeln!(f, "ciphertext results by level:")?;
        for (level, n) in self.ct_levels.iter().rev() {
            writeln!(f, "  level {level:<3} {n}")?;
        }
        writeln!(f, "bootstraps: {}", self.bootstraps)?;
        let steps: Vec<String> = self.rotation_keys.iter().map(|s| s.0.to_string()).collect();
        writeln!(f, "rotation keys: {} [{}]", steps.len(), steps.join(", "))?;
        writeln!(
            f,
            "conjugation key: {}",
            if self.conjugation_key { "yes" } else { "no" }
        )?;
        writeln!(
            f,
            "bootstrapping keys: {}",
            if self.bootstrap_keys { "yes" } else { "no" }
        )?;
        writeln!(f, "weights: {} ({} bytes)", self.weights, self.weight_bytes)?;
        writeln!(f, "KV caches: {}", self.kv_caches.len())?;
        for kv in &self.kv_caches {
            writeln!(
                f,
                "  \"{}\": {} chunks × {} tokens (stride {}), level {}, scale 2^{}, {} slots",
                kv.name,
                kv.chunks,
                kv.tokens_per_chunk,
                kv.token_stride,
                kv.level,
                kv.scale,
                kv.slots
            )?;
        }
        for (what, list) in [("inputs", &self.inputs), ("outputs", &self.outputs)] {
            writeln!(f, "{what}:")?;
            for (name, level, layout) in list {
                writeln!(f, "  \"{name}\" at level {level}, layout {layout}")?;
            }
        }
        Ok(())
    }
}
