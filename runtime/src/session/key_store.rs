//! The client's keys on disk, one directory per plan, so a client that runs a plan again skips key
//! generation (minutes at the secure sets): the secret key (`secret.key`, readable by its owner
//! only) and the serialized evaluation keys (`evaluation.keys`) it made for the plan. The files
//! carry the parameter fingerprint and a CRC-32 of their own ([`crate::ckks::serialize`]), so keys
//! of other parameters or damaged files are refused, never used.

use super::protocol::plan_fingerprint;
use super::SessionKeys;
use crate::ckks::{EvaluationKeys, Parameters, SecretKey};
use crate::{Result, RuntimeError};
use cachemir_ir::plan::Plan;
use std::path::{Path, PathBuf};

/// The key files of one plan.
#[derive(Debug, Clone)]
pub struct KeyStore {
    dir: PathBuf,
}

fn io_error(path: &Path, e: std::io::Error) -> RuntimeError {
    RuntimeError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

/// Writes a file readable and writable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| io_error(path, e))?;
    file.write_all(bytes).map_err(|e| io_error(path, e))
}

impl KeyStore {
    /// The store for `plan` under `root` (a directory per plan fingerprint).
    pub fn new(root: &Path, plan: &Plan) -> Self {
        Self {
            dir: root.join(format!("{:08x}", plan_fingerprint(plan))),
        }
    }

    /// `$XDG_CACHE_HOME/cachemir/keys`, else `$HOME/.cache/cachemir/keys`.
    pub fn default_root() -> Option<PathBuf> {
        let cache = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
        Some(cache.join("cachemir/keys"))
    }

    /// The directory of the plan's keys.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The stored secret key and session keys for `plan`, if both are there.
    pub fn load(
        &self,
        params: &Parameters,
        plan: &Plan,
    ) -> Result<Option<(SecretKey, SessionKeys)>> {
        let (secret_path, keys_path) = (
            self.dir.join("secret.key"),
            self.dir.join("evaluation.keys"),
        );
        if !(secret_path.exists() && keys_path.exists()) {
            return Ok(None);
        }
        let read = |path: &Path| std::fs::read(path).map_err(|e| io_error(path, e));
        let secret = SecretKey::from_bytes(params, &read(&secret_path)?)?;
        let evaluation_keys = read(&keys_path)?;
        // Checked here, so a damaged file is reported on this side and not by the server.
        EvaluationKeys::check_bytes(params, &evaluation_keys)?;
        Ok(Some((
            secret,
            SessionKeys {
                plan_fingerprint: plan_fingerprint(plan),
                evaluation_keys: evaluation_keys.into(),
            },
        )))
    }

    /// Stores the secret key and the session keys made with it.
    pub fn save(&self, params: &Parameters, secret: &SecretKey, keys: &SessionKeys) -> Result<()> {
        std::fs::create_dir_all(&self.dir).map_err(|e| io_error(&self.dir, e))?;
        write_private(&self.dir.join("secret.key"), &secret.to_bytes(params))?;
        write_private(&self.dir.join("evaluation.keys"), &keys.evaluation_keys)
    }
}
