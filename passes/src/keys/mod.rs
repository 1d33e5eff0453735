//! Passes over the evaluation-key declarations.

mod rotation_key_collection;

pub use rotation_key_collection::RotationKeyCollection;
