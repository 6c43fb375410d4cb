//! `batchkit tokens` end to end.
