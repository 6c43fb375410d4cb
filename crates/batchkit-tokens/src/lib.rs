//! batchkit-tokens (being built).
