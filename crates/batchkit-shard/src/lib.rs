//! batchkit-shard (being built).
