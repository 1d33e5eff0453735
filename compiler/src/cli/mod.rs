//! The subcommands of `cachemir`, one file each.

mod compile;
mod compile_plan;
mod cost_table;
mod inspect;
mod reference;

use clap::{Parser, Subcommand};

/// Cachemir: compile Llama decoders for CKKS-encrypted inference.
#[derive(Debug, Parser)]
#[command(name = "cachemir", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Greedy generation with the plaintext reference executor (one token per step).
    Reference(reference::Args),
    /// Compile a model into a `.plan` (`-o`), or print the recognized decode step (`--emit tensor-ir`).
    Compile(compile::Args),
    /// Print what a plan costs and needs (op counts, levels, bootstraps, keys, weights, KV cache).
    Inspect(inspect::Args),
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Reference(a) => reference::run(a),
        Command::Compile(a) => compile::run(a),
        Command::Inspect(a) => inspect::run(a),
    }
}
