//! `cachemir-run`: runs Cachemir plans and benchmarks the CKKS engine.
//!
//! `cachemir-run PLAN --prompt-ids 1,2,3 [--max-new-tokens N] [--json] [--threads K] [--server ADDR]`
//! `cachemir-run serve PLAN... [--listen ADDR] [--max-memory 20G] [--idle-timeout 30m] [--state-dir DIR]`
//! `cachemir-run bench primitives [--params SET] [--limbs Q+P] [--threads K] [--runs R] [--json]`
//! `cachemir-run bench bootstrap [--params SET] [--slots N] [--threads K] [--runs R] [--json]`
//! `cachemir-run bench cost-model [--params SET] [--bootstrap-slots N,…] [--threads K] [-o FILE]`

use anyhow::{bail, Context, Result};
use cachemir_runtime::bench::{primitives, PrimitivesConfig};
use cachemir_runtime::ckks::bootstrap::{bench as bootstrap_bench, BootstrapConfig};
use cachemir_runtime::ckks::Parameters;
use cachemir_runtime::cost_model;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::sync::Arc;

mod generate;
mod serve;

#[derive(Parser)]
#[command(
    name = "cachemir-run",
    version,
    about = "Run Cachemir plans on CKKS-encrypted data",
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    generate: generate::GenerateArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Serve plans over gRPC to remote clients (`cachemir-run PLAN --server ADDR`).
    Serve(serve::ServeArgs),
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
    /// Latency, precision, levels left and key size of one bootstrap (keys generated first).
    Bootstrap {
        /// A bootstrappable parameter set.
        #[arg(long, default_value = "N16_BOOT")]
        params: String,
        /// Slots to refresh (a power of two ≤ N/2); default N/2.
        #[arg(long)]
        slots: Option<usize>,
        /// rayon threads (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
        /// Bootstraps to time (the median is reported).
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Print one JSON object instead of pretty JSON.
        #[arg(long)]
        json: bool,
        /// Allow parameter sets below 128-bit security (named `INSECURE_…`).
        #[arg(long)]
        insecure_test_params: bool,
        /// Read the keys from this directory if a run with the same parameters and slots stored
        /// them there, else generate and store them (the files hold the SECRET key: benchmarks only).
        #[arg(long)]
        key_cache: Option<PathBuf>,
        /// Values uniform in [-A, A] (real and imaginary parts).
        #[arg(long, default_value_t = 1.0)]
        amplitude: f64,
    },
    /// The cost table the compiler predicts seconds from: every primitive at every level, and a
    /// bootstrap per slot count (JSON, format in docs/design/cost-model.md).
    CostModel {
        /// Parameter set.
        #[arg(long, default_value = "N16_BOOT")]
        params: String,
        /// Slot counts to time a bootstrap at, comma-separated; default N/2 for a bootstrappable set.
        #[arg(long, value_delimiter = ',')]
        bootstrap_slots: Option<Vec<usize>>,
        /// rayon threads (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
        /// Repetitions per entry (the median is kept).
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Write the table here instead of printing it.
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
        /// Allow parameter sets below 128-bit security (named `INSECURE_…`).
        #[arg(long)]
        insecure_test_params: bool,
        /// Bootstrapping keys are read from (or stored in) this directory (they hold the SECRET key:
        /// benchmarks only).
        #[arg(long)]
        key_cache: Option<PathBuf>,
    },
}

/// Refuses an `INSECURE_…` set unless the flag allows it (then warns).
fn check_security(params: &str, insecure_test_params: bool) -> Result<()> {
    if params.starts_with("INSECURE_") {
        if !insecure_test_params {
            bail!("parameter set {params} is NOT 128-bit secure; pass --insecure-test-params to use it for testing");
        }
        eprintln!("WARNING: {params} is NOT secure: for tests only");
    }
    Ok(())
}

/// A rayon pool of `threads` threads (default: all cores).
fn thread_pool(threads: Option<usize>) -> Result<rayon::ThreadPool> {
    if threads == Some(0) {
        bail!("--threads must be at least 1");
    }
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(t) = threads {
        pool = pool.num_threads(t);
    }
    pool.build().context("building the thread pool")
}

/// Prints a report as one-line JSON (`compact`) or pretty JSON.
fn print_json<T: serde::Serialize>(report: &T, compact: bool) -> Result<()> {
    if compact {
        println!("{}", serde_json::to_string(report)?);
    } else {
        println!("{}", serde_json::to_string_pretty(report)?);
    }
    Ok(())
}

/// A spinner whose message names the phase under way.
fn spinner() -> indicatif::ProgressBar {
    let spinner = indicatif::ProgressBar::new_spinner();
    spinner.enable_steady_tick(std::time::Duration::from_millis(200));
    spinner
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
    let Some(command) = cli.command else {
        return generate::run(cli.generate);
    };
    match command {
        Command::Serve(args) => serve::run(args)?,
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
            check_security(&params, insecure_test_params)?;
            let limbs = limbs.as_deref().map(parse_limbs).transpose()?;
            let pool = thread_pool(threads)?;
            let config = PrimitivesConfig {
                params,
                limbs,
                runs,
            };
            let spinner = spinner();
            let report = pool
                .install(|| primitives(&config, |phase| spinner.set_message(phase.to_string())))?;
            spinner.finish_and_clear();
            print_json(&report, json)?;
        }
        Command::Bench {
            what:
                Bench::Bootstrap {
                    params: name,
                    slots,
                    threads,
                    runs,
                    json,
                    insecure_test_params,
                    key_cache,
                    amplitude,
                },
        } => {
            check_security(&name, insecure_test_params)?;
            let pool = thread_pool(threads)?;
            let params = Arc::new(Parameters::named(&name)?);
            let slots = slots.unwrap_or(params.max_slots());
            let config = BootstrapConfig::for_named_set(&name, &params, slots)?;
            let spinner = spinner();
            let report = pool.install(|| {
                let cache = key_cache.as_deref();
                bootstrap_bench::bench_at(&name, params, config, runs, cache, amplitude, |phase| {
                    spinner.set_message(phase.to_string())
                })
            })?;
            spinner.finish_and_clear();
            print_json(&report, json)?;
        }
        Command::Bench {
            what:
                Bench::CostModel {
                    params,
                    bootstrap_slots,
                    threads,
                    runs,
                    output,
                    insecure_test_params,
                    key_cache,
                },
        } => {
            check_security(&params, insecure_test_params)?;
            let pool = thread_pool(threads)?;
            let slots = match bootstrap_slots {
                Some(list) => list,
                None if cachemir_ir::params::bootstrap_levels(&params).is_some() => {
                    vec![Parameters::named(&params)?.max_slots()]
                }
                None => vec![],
            };
            let spinner = spinner();
            let table = pool.install(|| {
                cost_model::measure(&params, runs, &slots, key_cache.as_deref(), |phase| {
                    spinner.set_message(phase.to_string())
                })
            })?;
            spinner.finish_and_clear();
            let text = serde_json::to_string_pretty(&table)? + "\n";
            match output {
                Some(path) => std::fs::write(&path, text)
                    .with_context(|| format!("writing {}", path.display()))?,
                None => print!("{text}"),
            }
        }
    }
    Ok(())
}
