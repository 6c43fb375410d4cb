//! `batchkit join` end to end.
