//! Passes that refresh ciphertexts by bootstrapping.

mod bootstrap_placement;

pub use bootstrap_placement::BootstrapPlacement;
