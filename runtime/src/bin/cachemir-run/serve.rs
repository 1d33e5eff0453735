//! `cachemir-run serve PLAN... --listen ADDR`: the network server
//! (`cachemir_runtime::session::service`), until interrupted.

use crate::thread_pool;
use anyhow::{bail, Context, Result};
use cachemir_ir::plan::Plan;
use cachemir_runtime::ckks::Parameters;
use cachemir_runtime::session::service::{InferenceService, ServeConfig};
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

/// Arguments of the server.
#[derive(Args)]
pub struct ServeArgs {
    /// Plans written by `cachemir compile`; a session names its plan by fingerprint.
    #[arg(required = true)]
    plans: Vec<PathBuf>,
    /// Address to listen on (port 0: any free port; the one taken is printed).
    #[arg(long, default_value = "127.0.0.1:50051")]
    listen: String,
    /// Memory the plans and all sessions may hold, e.g. `20G` or `512M` (default: 90 % of the
    /// machine's memory); a session that would exceed it is refused before it uploads its keys.
    #[arg(long, value_parser = parse_bytes)]
    max_memory: Option<u64>,
    /// A session without a call for this long is closed (e.g. `30m`, `90s`).
    #[arg(long, default_value = "30m", value_parser = humantime::parse_duration)]
    idle_timeout: Duration,
    /// Directory where sessions are saved (keys and KV cache; nothing secret) and resumed from after
    /// a restart.
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Allow plans whose parameters are below 128-bit security.
    #[arg(long)]
    insecure_test_params: bool,
    /// rayon threads for the encrypted steps (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
}

/// `12345`, `512K`, `512M`, `20G`, `1.5GB` (powers of 1024) as bytes.
fn parse_bytes(text: &str) -> Result<u64, String> {
    let t = text.trim().trim_end_matches(['B', 'b']);
    let (number, unit) = match t.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => t.split_at(i),
        None => (t, ""),
    };
    let scale: u64 = match unit.to_ascii_uppercase().as_str() {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        "T" => 1 << 40,
        _ => return Err(format!("`{text}`: unknown unit (K, M, G or T)")),
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a size such as 20G"))?;
    if !(value.is_finite() && value > 0.0) {
        return Err(format!("`{text}` is not a positive size"));
    }
    Ok((value * scale as f64) as u64)
}

/// 90 % of `MemTotal` in /proc/meminfo.
fn default_max_memory() -> Result<u64> {
    let info = std::fs::read_to_string("/proc/meminfo")
        .context("reading /proc/meminfo for the default --max-memory (give --max-memory)")?;
    let kib: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no MemTotal in /proc/meminfo (give --max-memory)")?;
    Ok(kib * 1024 / 10 * 9)
}

/// Runs the server.
pub fn run(args: ServeArgs) -> Result<()> {
    let mut plans = Vec::new();
    for path in &args.plans {
        let plan = Plan::read_file(path)?;
        let params = Parameters::new(plan.params().clone())
            .with_context(|| format!("{}: the plan's CKKS parameters", path.display()))?;
        if !params.is_secure() {
            if !args.insecure_test_params {
                bail!(
                    "{}: the plan's parameters are NOT 128-bit secure; pass --insecure-test-params to serve it for testing",
                    path.display()
                );
            }
            eprintln!("WARNING: {} is NOT secure: for tests only", path.display());
        }
        plans.push(plan);
    }
    let max_memory = match args.max_memory {
        Some(bytes) => bytes,
        None => default_max_memory()?,
    };
    let config = ServeConfig {
        max_memory,
        idle_timeout: args.idle_timeout,
        state_dir: args.state_dir,
    };
    let pool = thread_pool(args.threads)?;
    pool.install(|| {
        let service = InferenceService::new(plans, config)?;
        let runtime = tokio::runtime::Runtime::new().context("starting the network runtime")?;
        runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind(&args.listen)
                .await
                .with_context(|| format!("listening on {}", args.listen))?;
            println!("listening on {}", listener.local_addr()?);
            let shutdown = async {
                // Without a signal handler the server runs until killed.
                if tokio::signal::ctrl_c().await.is_err() {
                    std::future::pending::<()>().await
                }
            };
            service.serve(listener, shutdown).await?;
            eprintln!("interrupted: the server stopped");
            anyhow::Ok(())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::parse_bytes;

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_bytes("12345"), Ok(12345));
        assert_eq!(parse_bytes("512M"), Ok(512 << 20));
        assert_eq!(parse_bytes("1.5GB"), Ok(3 << 29));
        assert!(parse_bytes("12Q").is_err());
        assert!(parse_bytes("-3G").is_err());
        assert!(parse_bytes("").is_err());
    }
}
