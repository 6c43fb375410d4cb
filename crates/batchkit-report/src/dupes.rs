//! Printers for `batchkit dupes`.
