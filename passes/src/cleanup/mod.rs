//! Cleanup passes: remove what no longer contributes to the program's effects.

mod dead_code_elimination;

pub use dead_code_elimination::DeadCodeElimination;
