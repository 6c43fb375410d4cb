//! `batchkit shard` end to end.
