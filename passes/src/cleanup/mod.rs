//! Cleanup passes: remove what no longer contributes to the program's effects, or computes it twice.

mod common_subexpression_elimination;
mod dead_code_elimination;

pub use common_subexpression_elimination::CommonSubexpressionElimination;
pub use dead_code_elimination::DeadCodeElimination;
