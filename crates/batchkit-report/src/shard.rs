//! Printers for `batchkit shard`.
