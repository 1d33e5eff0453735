//! `cachemir inspect PLAN`: what a plan costs and needs, or its FHE IR program as text.

use std::path::PathBuf;

use anyhow::Context;
use cachemir_ir::plan::{inspect, Plan};

/// Arguments of `cachemir inspect`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The `.plan` file.
    plan: PathBuf,
    /// Print the plan's FHE IR program in its text form (what `tests/filetests` read) instead.
    #[arg(long)]
    ir: bool,
}

/// Runs the command.
pub fn run(a: Args) -> anyhow::Result<()> {
    let plan = Plan::read_file(&a.plan).with_context(|| format!("reading {}", a.plan.display()))?;
    if a.ir {
        print!("{}", plan.module());
    } else {
        print!("{}", inspect(&plan));
    }
    Ok(())
}
