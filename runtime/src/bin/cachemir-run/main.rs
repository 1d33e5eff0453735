//! `cachemir-run`: runs Cachemir plans and benchmarks the CKKS engine.
//!
//! `cachemir-run bench primitives [--params SET] [--limbs Q+P] [--threads K] [--runs R] [--json]`

use anyhow::{bail, Context, Result};
use cachemir_runtime::bench::{primitives, PrimitivesConfig};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cachemir-run",
    version,
    about = "Run Cachemir plans on CKKS-encrypted data"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Benchmarks of the CKKS engine.
    Bench {
        #[command(subcommand)]
        what: Bench,
    },
}

#[derive(Subcommand)]
enum Bench {
    /// Median latency of each CKKS primitive (NTT, mul+relin, rescale, rotations, encode, encrypt, decrypt).
    Primitives {
        /// Parameter set (see `cachemir_runtime::ckks::params`).
        #[arg(long, default_value = "N16_BOOT")]
        params: String,
        /// Ciphertext shape as `Q+P` limbs, e.g. `25+5`; default: the set's top level.
        #[arg(long)]
        limbs: Option<String>,
        /// rayon threads (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
        /// Repetitions per operation (the median is reported).
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
        /// Allow parameter sets below 128-bit security (named `INSECURE_…`).
        #[arg(long)]
        insecure_test_params: bool,
    },
}

fn parse_limbs(text: &str) -> Result<(usize, usize)> {
    let (q, p) = text
        .split_once('+')
        .with_context(|| format!("--limbs `{text}`: expected Q+P, e.g. 25+5"))?;
    let parse = |s: &str| {
        s.trim()
            .parse::<usize>()
            .with_context(|| format!("--limbs `{text}`: `{s}` is not a count"))
    };
    Ok((parse(q)?, parse(p)?))
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Bench {
            what:
                Bench::Primitives {
                    params,
                    limbs,
                    threads,
                    runs,
                    json,
                    insecure_test_params,
                },
        } => {
            if params.starts_with("INSECURE_") {
                if !insecure_test_params {
                    bail!("parameter set {params} is NOT 128-bit secure; pass --insecure-test-params to use it for testing");
                }
                eprintln!("WARNING: {params} is NOT secure: for tests only");
            }
            let limbs = limbs.as_deref().map(parse_limbs).transpose()?;
            if threads == Some(0) {
                bail!("--threads must be at least 1");
            }
            let mut pool = rayon::ThreadPoolBuilder::new();
            if let Some(t) = threads {
                pool = pool.num_threads(t);
            }
            let pool = pool.build().context("building the thread pool")?;
            let config = PrimitivesConfig {
                params,
                limbs,
                runs,
            };
            let spinner = indicatif::ProgressBar::new_spinner();
            spinner.enable_steady_tick(std::time::Duration::from_millis(200));
            let report = pool
                .install(|| primitives(&config, |phase| spinner.set_message(phase.to_string())))?;
            spinner.finish_and_clear();
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                println!("{}", serde_json::to_string_pretty(&report)?);
            }
        }
    }
    Ok(())
}
