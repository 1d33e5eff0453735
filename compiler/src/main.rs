//! `cachemir`: the compile-side command line.
//!
//! - `cachemir reference <model> --prompt-ids 1,2,3 --max-new-tokens 8 [--json]`: greedy
//!   generation with the plaintext reference executor, one token per step.
//! - `cachemir compile <model> --emit tensor-ir`: prints the recognized decode step.
//! - `cachemir compile <model> -o PLAN [--params NAME] [--insecure-test-params] [--strategy NAME]
//!   [--calibrate IDS] [--report]`: lowers the decode step and writes a `.plan`.
//! - `cachemir inspect PLAN`: op counts, levels, bootstraps, keys, weights, KV-cache layout of a plan.

mod cli;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
