//! cachemir-tests
