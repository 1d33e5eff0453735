//! cachemir-runtime
