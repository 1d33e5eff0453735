//! Tensor IR (owned by the frontend work).
