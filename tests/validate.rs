//! `batchkit validate` end to end.
