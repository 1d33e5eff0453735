//! Passes that refresh ciphertexts by bootstrapping: the pass, its placement algorithms (one file
//! each) and the level prediction they share.

mod bootstrap_placement;
mod greedy;
mod ilp;
mod level_flow;

pub use bootstrap_placement::{BootstrapPlacement, Placement};
pub use ilp::IlpLimits;
