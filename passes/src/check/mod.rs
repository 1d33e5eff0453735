//! Checking passes: they change nothing and fail on an invalid module.

mod verify;

pub use verify::Verify;
