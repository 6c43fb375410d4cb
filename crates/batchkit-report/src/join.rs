//! Printers for `batchkit join`.
