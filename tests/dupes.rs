//! `batchkit dupes` end to end.
