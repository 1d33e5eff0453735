//! Passes that refresh ciphertexts by bootstrapping.

mod bootstrap_placement;
mod level_flow;

pub use bootstrap_placement::BootstrapPlacement;
