//! cachemir-kernels
