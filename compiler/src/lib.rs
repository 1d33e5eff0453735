//! cachemir-compiler
