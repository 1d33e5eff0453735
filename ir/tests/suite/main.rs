//! Integration tests of `cachemir-ir`: verifier, text form, interpreter, plan files.

mod common;
mod interp;
mod plan;
mod text;
mod verify;
