//! The `.plan` file.
