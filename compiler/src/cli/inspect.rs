//! `cachemir inspect PLAN`: what a plan costs and needs.

use std::path::PathBuf;

use anyhow::Context;
use cachemir_ir::plan::{inspect, Plan};

/// Arguments of `cachemir inspect`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The `.plan` file.
    plan: PathBuf,
}

/// Runs the command.
pub fn run(a: Args) -> anyhow::Result<()> {
    let plan = Plan::read_file(&a.plan).with_context(|| format!("reading {}", a.plan.display()))?;
    print!("{}", inspect(&plan));
    Ok(())
}
