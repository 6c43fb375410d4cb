//! Printers for `batchkit validate`.
