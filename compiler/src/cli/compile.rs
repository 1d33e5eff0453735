//! `cachemir compile`: recognizes the decode step and emits an intermediate form, or compiles a `.plan`
//! (see [`super::compile_plan`]).

use std::path::PathBuf;

use anyhow::Context;
use cachemir_compiler::model::load_tensor_ir;
use cachemir_compiler::truncate::truncate_layers;

/// What `cachemir compile` prints.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Emit {
    /// The tensor IR text form of the recognized decode step.
    TensorIr,
}

/// Arguments of `cachemir compile`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The model: `.onnx` or `.gguf`.
    model: PathBuf,
    /// Print an intermediate form instead of compiling a plan.
    #[arg(long, value_enum)]
    emit: Option<Emit>,
    /// Keep only the first N decoder layers (then the final norm and the LM head).
    #[arg(long)]
    layers: Option<usize>,
    /// Plan options.
    #[command(flatten)]
    plan: super::compile_plan::PlanArgs,
}

/// Runs the command.
pub fn run(a: Args) -> anyhow::Result<()> {
    let mut module = load_tensor_ir(&a.model)?;
    if let Some(n) = a.layers {
        module = truncate_layers(&module, n).with_context(|| a.model.display().to_string())?;
    }
    match a.emit {
        Some(Emit::TensorIr) => print!("{}", cachemir_ir::tensor::print::print(&module)),
        None => super::compile_plan::run(&a.model, &module, &a.plan)?,
    }
    Ok(())
}
