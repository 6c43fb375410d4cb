//! Cuts a batch request file into shards the provider accepts on the first try.
//!
//! [`shard`] streams one input through the `batchkit-io` reader, validates every line with
//! `batchkit-validate` (in parallel, cross-line checks in order), and cuts greedily in input
//! order: each shard takes lines until the next one would break a cap (requests, bytes,
//! input tokens, embedding inputs), so the number of shards is the minimum for contiguous
//! cuts. A line is never split. Shards are written under a hidden staging directory inside
//! the output directory and renamed into place only when the whole input was read and found
//! clean, `manifest.json` last; a failed or interrupted run leaves no file under a final name.
//!
//! Concatenating the shards in order gives back the input bytes exactly (only a missing
//! final newline is added). With [`ShardOptions::skip_invalid`] the invalid lines go,
//! byte-exact and in order, to `rejected.jsonl`, so shards and rejects hold every line once.
//!
//! ```
//! use batchkit_io::Input;
//! use batchkit_shard::{shard, CapOverrides, Hooks, ShardOptions};
//! let dir = tempfile::tempdir().unwrap();
//! let input = dir.path().join("batch.jsonl");
//! let line = |i: u32| format!(
//!     "{{\"custom_id\":\"r{i}\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\
//!       \"body\":{{\"model\":\"gpt-4o\",\"messages\":[]}}}}\n");
//! std::fs::write(&input, (0..5).map(line).collect::<String>()).unwrap();
//! let mut opts = ShardOptions::new(dir.path().join("out"));
//! opts.caps = CapOverrides { max_requests: Some(2), ..Default::default() };
//! let report = shard(&Input::path(&input), &opts, &mut Hooks::default()).unwrap();
//! let manifest = report.manifest.unwrap();
//! let counts: Vec<u64> = manifest.shards.iter().map(|s| s.requests).collect();
//! assert_eq!(counts, vec![2, 2, 1]);
//! assert_eq!(manifest.shards[0].file, "batch-00001.jsonl");
//! assert!(dir.path().join("out/manifest.json").exists());
//! ```

mod api;
mod caps;
mod cutter;
mod manifest;
mod naming;
mod outdir;
mod output;
mod run;
mod tokens;
mod writer;

pub use api::{
    DiagnosticSink, Emit, Hooks, Refusal, ShardError, ShardOptions, ShardReport, SplitBy,
    MAX_GROUPS, MAX_GROUPS_COMPRESSED,
};
pub use caps::{Breach, CapOverrides, Caps, Fit, Measure, Totals};
pub use manifest::{InputInfo, Manifest, RejectedInfo, ShardInfo};
pub use naming::{default_stem, slug, MANIFEST, REJECTED, STAGING_PREFIX};
pub use output::{FsOutput, OutputFactory, ShardWrite};
pub use run::shard;
pub use tokens::{TiktokenCounter, TokenCount};

#[cfg(test)]
mod tests;
