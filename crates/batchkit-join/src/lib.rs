//! batchkit-join (being built).
