//! Printers for `batchkit tokens`.
