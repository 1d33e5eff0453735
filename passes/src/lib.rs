//! cachemir-passes
