//! FHE IR.
