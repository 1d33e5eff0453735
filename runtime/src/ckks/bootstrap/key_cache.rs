//! A disk cache of bootstrapping keys for tests and benchmarks, so that a re-run loads the secret
//! key and its evaluation keys instead of generating them again (about a minute at `N16_BOOT`).
//!
//! One file per request, named by a CRC-32 of its descriptor (the format version, the parameter
//! literal, the bootstrapping configurations and the rotation keys they need with their levels,
//! which a new build may change for the same configuration); the file repeats the descriptor, so a
//! name collision or a stale file is regenerated, never used. Layout: descriptor length (u32) and text,
//! secret key length (u64) and bytes, then the evaluation keys, each object in its checksummed
//! binary form ([`crate::ckks::serialize`]). A file that fails to decode is regenerated; files are
//! written to a temporary name and renamed, so an interrupted run leaves no half file.
//!
//! The file holds a SECRET KEY in the clear: for tests and benchmarks only, never for real data.

use super::BootstrapConfig;
use crate::ckks::serialize::FORMAT_VERSION;
use crate::ckks::{EvaluationKeys, KeyGenerator, Parameters, SecretKey};
use crate::{Result, RuntimeError};
use cachemir_kernels::CpuBackend;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Keys as the cache returns them.
pub struct CachedKeys {
    /// The secret key the evaluation keys belong to.
    pub secret: SecretKey,
    /// Relinearization, rotation, conjugation and encapsulation keys for the configurations.
    pub keys: EvaluationKeys,
    /// Whether they were read from the cache (else generated and stored).
    pub loaded: bool,
}

/// The secret key and bootstrapping keys for `configs` under `params`, read from `dir` if a file
/// made for exactly this request is there, else generated and written to it.
pub fn load_or_generate(
    dir: &Path,
    params: &Arc<Parameters>,
    configs: &[BootstrapConfig],
) -> Result<CachedKeys> {
    let rotation_keys = configs
        .iter()
        .map(|c| c.rotation_keys(params))
        .collect::<Result<Vec<_>>>()?;
    let descriptor = format!(
        "v{FORMAT_VERSION} {:?} {configs:?} {rotation_keys:?}",
        params.literal()
    );
    let path = dir.join(format!(
        "{:08x}.keys",
        crc32fast::hash(descriptor.as_bytes())
    ));
    if let Ok(bytes) = std::fs::read(&path) {
        if let Some((secret, keys)) = decode(params, &descriptor, &bytes) {
            return Ok(CachedKeys {
                secret,
                keys,
                loaded: true,
            });
        }
    }
    let mut generator = KeyGenerator::new(params.clone(), CpuBackend);
    let secret = generator.secret_key();
    let keys = generator.bootstrapping_keys(&secret, configs, &[])?;
    store(
        &path,
        &descriptor,
        &secret.to_bytes(params),
        &keys.to_bytes(params),
    )?;
    Ok(CachedKeys {
        secret,
        keys,
        loaded: false,
    })
}

/// The keys of a cache file, if it was made for `descriptor` and decodes.
fn decode(
    params: &Parameters,
    descriptor: &str,
    bytes: &[u8],
) -> Option<(SecretKey, EvaluationKeys)> {
    let (len, rest) = bytes.split_first_chunk::<4>()?;
    let (text, rest) = rest.split_at_checked(u32::from_le_bytes(*len) as usize)?;
    if text != descriptor.as_bytes() {
        return None;
    }
    let (len, rest) = rest.split_first_chunk::<8>()?;
    let (secret, keys) = rest.split_at_checked(usize::try_from(u64::from_le_bytes(*len)).ok()?)?;
    Some((
        SecretKey::from_bytes(params, secret).ok()?,
        EvaluationKeys::from_bytes(params, keys).ok()?,
    ))
}

fn store(path: &Path, descriptor: &str, secret: &[u8], keys: &[u8]) -> Result<()> {
    let io = |e: std::io::Error| RuntimeError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let partial = PathBuf::from(format!("{}.partial", path.display()));
    let mut file = std::io::BufWriter::new(std::fs::File::create(&partial).map_err(io)?);
    for part in [
        &(descriptor.len() as u32).to_le_bytes()[..],
        descriptor.as_bytes(),
        &(secret.len() as u64).to_le_bytes(),
        secret,
        keys,
    ] {
        file.write_all(part).map_err(io)?;
    }
    file.into_inner()
        .map_err(|e| io(e.into_error()))?
        .sync_all()
        .map_err(io)?;
    std::fs::rename(&partial, path).map_err(io)
}
