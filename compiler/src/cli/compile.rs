//! `cachemir compile`: recognizes the decode step and emits an intermediate form, or compiles a `.plan`
//! (see [`super::compile_plan`]).

use std::path::PathBuf;

use cachemir_compiler::model::load_tensor_ir;

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
    /// Plan options.
    #[command(flatten)]
    plan: super::compile_plan::PlanArgs,
}

/// Runs the command.
pub fn run(a: Args) -> anyhow::Result<()> {
    let module = load_tensor_ir(&a.model)?;
    match a.emit {
        Some(Emit::TensorIr) => print!("{}", cachemir_ir::tensor::print::print(&module)),
        None => super::compile_plan::run(&a.model, &module, &a.plan)?,
    }
    Ok(())
}
