//! The subcommands of `cachemir`, one file each.

mod compile;
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
    /// Compile a model; `--emit tensor-ir` prints the recognized decode step.
    Compile(compile::Args),
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Reference(a) => reference::run(a),
        Command::Compile(a) => compile::run(a),
    }
}
