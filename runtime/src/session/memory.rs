//! What a session costs the server in memory, estimated before it is admitted, so a server under its
//! `--max-memory` refuses a session up front instead of being killed for running out of memory.
//!
//! A session holds, at its peak (while the keys are loaded): the uploaded key bytes; the decoded
//! keys, whose `b` halves are bit-packed on the wire and whose `a` halves travel as seeds, so in
//! memory each wire residue becomes two 8-byte words: a key over `Q_l ∪ P` takes `128 / w̄_l` times
//! its wire size, `w̄_l` the mean prime width of `Q_l ∪ P`, and the smallest `w̄_l` bounds them all;
//! the full KV cache; and the step's live ciphertexts, counted at three polynomials each along the
//! program order. The plan's bootstrapping circuits are shared by its
//! sessions and counted once, by the server ([`circuit_bytes`]).

use crate::ckks::Parameters;
use crate::executor::Bootstrappers;
use cachemir_ir::fhe::{Module, Type};
use std::collections::HashMap;

/// Bytes of a ciphertext with `polys` polynomials at `level`.
fn ciphertext_bytes(params: &Parameters, level: u32, polys: u64) -> u64 {
    polys * (level as u64 + 1) * params.n() as u64 * 8
}

/// Upper bound of a session's memory on the server for `module` with `key_bytes` of serialized
/// evaluation keys.
pub fn session_bytes(module: &Module, params: &Parameters, key_bytes: u64) -> u64 {
    let (log_q, log_p) = (&params.literal().log_q, &params.literal().log_p);
    let p_bits: u64 = log_p.iter().map(|&b| b as u64).sum();
    // The smallest mean prime width of Q_l ∪ P over the levels, as (bits, limbs): compared exactly.
    let (bits, limbs) = (0..log_q.len())
        .map(|l| {
            let q_bits: u64 = log_q[..=l].iter().map(|&b| b as u64).sum();
            (q_bits + p_bits, (l + 1 + log_p.len()) as u64)
        })
        .min_by(|a, b| (a.0 * b.1).cmp(&(b.0 * a.1)))
        .unwrap_or((1, 1));
    let keys = (key_bytes as u128 * 128 * limbs as u128).div_ceil(bits.max(1) as u128);
    let keys = u64::try_from(keys).unwrap_or(u64::MAX);
    let kv: u64 = module
        .kv_caches
        .values()
        .map(|c| c.chunks as u64 * ciphertext_bytes(params, c.chunk.level.0, 2))
        .sum();
    // Saturating: the key size is the client's word.
    key_bytes
        .saturating_add(keys)
        .saturating_add(kv)
        .saturating_add(peak_live_bytes(module, params))
}

/// The most bytes of ciphertexts alive at once while `module` runs in program order (each value
/// dropped after its last use, as the executor does).
fn peak_live_bytes(module: &Module, params: &Parameters) -> u64 {
    let mut remaining: HashMap<_, u32> = HashMap::new();
    for id in module.op_ids() {
        module
            .op(id)
            .op
            .visit_operands(|&v| *remaining.entry(v).or_default() += 1);
    }
    let size = |v| match module.value_type(v) {
        Some(Type::Ct(t)) => ciphertext_bytes(params, t.level.0, 3),
        _ => 0,
    };
    let (mut live, mut peak) = (0u64, 0u64);
    for id in module.op_ids() {
        let data = module.op(id);
        live += data.results.iter().map(|&v| size(v)).sum::<u64>();
        peak = peak.max(live);
        data.op.visit_operands(|&v| {
            if let Some(uses) = remaining.get_mut(&v) {
                *uses -= 1;
                if *uses == 0 {
                    live -= size(v);
                }
            }
        });
        // A result nobody reads is dropped at once.
        for &v in &data.results {
            if !remaining.contains_key(&v) {
                live -= size(v);
            }
        }
    }
    peak
}

/// Bytes of a plan's encoded bootstrapping circuits.
pub fn circuit_bytes(bootstrappers: &Bootstrappers) -> u64 {
    bootstrappers.values().map(|b| b.byte_size() as u64).sum()
}
