//! The encrypted KV cache a server keeps between decode steps, and its saved form.
//!
//! A server can save the state ([`KvState::to_bytes`]) and resume a session from it
//! ([`KvState::from_bytes`]). Layout (little-endian): magic `CMKV`, version (u16), the parameter
//! fingerprint (u64), the cache count (u32), then per cache its name (u32 length + UTF-8), tokens
//! (u32), chunk count (u32) and per chunk its index (u32) and ciphertext (u64 length +
//! [`Ciphertext::to_bytes`], itself checksummed); a CRC-32 of everything before it closes the
//! file. Loading checks all of it and then every cache against the plan's declarations (names,
//! capacity, chunk level and slots), so a corrupted, truncated or foreign state is an error, never
//! a wrong answer.

use crate::bytes::ByteReader;
use crate::ckks::{Ciphertext, Parameters};
use crate::{Result, RuntimeError};
use cachemir_ir::fhe::Module;
use std::collections::BTreeMap;

const MAGIC: &[u8; 4] = b"CMKV";
const VERSION: u16 = 1;

/// The encrypted contents of every KV cache of a plan, carried from one step to the next.
#[derive(Debug, Clone, Default)]
pub struct KvState {
    /// Per cache name: tokens stored and chunks written (an unwritten chunk reads as zero).
    pub caches: BTreeMap<String, KvCacheState>,
}

/// One encrypted KV cache.
#[derive(Debug, Clone, Default)]
pub struct KvCacheState {
    /// Tokens appended so far.
    pub tokens: u32,
    /// Chunk ciphertexts by index.
    pub chunks: BTreeMap<u32, Ciphertext>,
}

fn corrupt(reason: String) -> RuntimeError {
    RuntimeError::Decode {
        what: "KV-cache state",
        reason,
    }
}

impl KvState {
    /// Heap bytes of all cached ciphertexts.
    pub fn byte_size(&self) -> usize {
        self.caches
            .values()
            .flat_map(|c| c.chunks.values())
            .map(Ciphertext::byte_size)
            .sum()
    }

    /// Tokens stored (the same in every cache), or 0 for a fresh state.
    pub fn tokens(&self) -> u32 {
        self.caches.values().map(|c| c.tokens).max().unwrap_or(0)
    }

    /// Encodes the state (see the module docs).
    pub fn to_bytes(&self, params: &Parameters) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&params.fingerprint().to_le_bytes());
        out.extend_from_slice(&(self.caches.len() as u32).to_le_bytes());
        for (name, cache) in &self.caches {
            out.extend_from_slice(&(name.len() as u32).to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&cache.tokens.to_le_bytes());
            out.extend_from_slice(&(cache.chunks.len() as u32).to_le_bytes());
            for (&index, ct) in &cache.chunks {
                let bytes = ct.to_bytes(params);
                out.extend_from_slice(&index.to_le_bytes());
                out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
                out.extend_from_slice(&bytes);
            }
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Decodes a state saved under `params` and checks it against `module`'s KV-cache declarations.
    pub fn from_bytes(params: &Parameters, module: &Module, bytes: &[u8]) -> Result<Self> {
        let mut r = ByteReader::checked("KV-cache state", bytes)?;
        if r.take(4)? != MAGIC {
            return Err(corrupt("not a Cachemir KV-cache state (bad magic)".into()));
        }
        let version = r.u16()?;
        if version != VERSION {
            return Err(corrupt(format!(
                "version {version}, this build reads {VERSION}"
            )));
        }
        if r.u64()? != params.fingerprint() {
            return Err(corrupt("saved under other CKKS parameters".into()));
        }
        let mut caches = BTreeMap::new();
        for _ in 0..r.u32()? {
            let len = r.u32()? as usize;
            let name = std::str::from_utf8(r.take(len)?)
                .map_err(|_| corrupt("a cache name is not UTF-8".into()))?
                .to_string();
            let decl = module
                .kv_caches
                .get(&name)
                .ok_or_else(|| corrupt(format!("cache \"{name}\" is not declared by the plan")))?;
            let tokens = r.u32()?;
            if tokens as u64 > decl.chunks as u64 * decl.tokens_per_chunk as u64 {
                return Err(corrupt(format!(
                    "cache \"{name}\" holds {tokens} tokens, more than its capacity"
                )));
            }
            let mut chunks = BTreeMap::new();
            for _ in 0..r.u32()? {
                let index = r.u32()?;
                let len = usize::try_from(r.u64()?).map_err(|_| corrupt("huge length".into()))?;
                let ct = Ciphertext::from_bytes(params, r.take(len)?)?;
                let ty = &decl.chunk;
                if index >= decl.chunks
                    || ct.level() != ty.level.0 as usize
                    || ct.slots() != ty.slots.0 as usize
                {
                    return Err(corrupt(format!(
                        "cache \"{name}\" chunk {index}: level {} with {} slots does not match the plan",
                        ct.level(),
                        ct.slots()
                    )));
                }
                chunks.insert(index, ct);
            }
            caches.insert(name, KvCacheState { tokens, chunks });
        }
        r.finish()?;
        let state = Self { caches };
        if state.caches.values().any(|c| c.tokens != state.tokens()) {
            return Err(corrupt("the caches hold different token counts".into()));
        }
        Ok(state)
    }
}
