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
    /// The cost table predicted seconds come from (`cachemir-run bench cost-model -o FILE`); default:
    /// the built-in table of the plan's parameters, if any.
    #[arg(long)]
    cost_table: Option<PathBuf>,
}

/// Runs the command.
pub fn run(a: Args) -> anyhow::Result<()> {
    let plan = Plan::read_file(&a.plan).with_context(|| format!("reading {}", a.plan.display()))?;
    if a.ir {
        print!("{}", plan.module());
        return Ok(());
    }
    print!("{}", inspect(&plan));
    let table = super::cost_table::cost_table(a.cost_table.as_deref(), &plan.module().params)?;
    println!(
        "predicted seconds per token: {}",
        super::cost_table::describe(table.as_ref())
    );
    if let Some(table) = table {
        let prediction = table
            .predict(plan.module())
            .with_context(|| format!("predicting {}", a.plan.display()))?;
        for (kind, seconds) in prediction.by_kind(plan.module()) {
            if seconds > 0.0 {
                println!("  {kind:<18} {seconds:.2}");
            }
        }
        println!("  {:<18} {:.2}", "total", prediction.total());
    }
    Ok(())
}
