//! The encrypted KV cache a server keeps between decode steps.

use crate::ckks::Ciphertext;
use std::collections::BTreeMap;

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

impl KvState {
    /// Heap bytes of all cached ciphertexts.
    pub fn byte_size(&self) -> usize {
        self.caches
            .values()
            .flat_map(|c| c.chunks.values())
            .map(Ciphertext::byte_size)
            .sum()
    }
}
