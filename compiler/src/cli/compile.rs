//! `cachemir compile`: recognizes the decode step and emits an intermediate form.

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
    /// The form to print.
    #[arg(long, value_enum)]
    emit: Emit,
}

/// Runs the command.
pub fn run(a: Args) -> anyhow::Result<()> {
    let module = load_tensor_ir(&a.model)?;
    match a.emit {
        Emit::TensorIr => print!("{}", cachemir_ir::tensor::print::print(&module)),
    }
    Ok(())
}
