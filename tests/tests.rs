//! Integration tests: one binary, one module per command, each test with its own temp dir.

#[macro_use]
mod util;

mod answers;
mod answers_prop;
mod budget;
mod compare;
mod content_join;
mod contract;
mod convert;
mod convert_results;
mod dupes;
mod join;
mod key_rows;
#[cfg(target_os = "linux")]
mod memory;
mod partition;
mod providers;
mod safety;
mod shard;
mod sinks;
mod snapshots;
mod targets;
mod tokens;
mod validate;
mod vocabulary;
