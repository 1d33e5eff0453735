//! Scale and level management passes.

mod rescale_insertion;

pub use rescale_insertion::RescaleInsertion;
