//! Output of batchkit jobs: the JSON Lines events (one `{"type": ...}` object per line, the
//! summary last) and the human printers over the same events. Job crates produce typed
//! results; this crate only formats them.

pub mod dupes;
pub mod join;
pub mod shard;
pub mod style;
pub mod tokens;
pub mod validate;
