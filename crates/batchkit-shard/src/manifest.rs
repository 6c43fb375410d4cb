//! `manifest.json`: what a run wrote, enough to upload, track and verify every shard.

use serde::{Deserialize, Serialize};

use crate::Caps;

/// The whole manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The input file.
    pub input: InputInfo,
    /// The provider whose rules applied (`None` when it could not be told: no valid line).
    pub provider: Option<String>,
    /// The caps every shard fits.
    pub caps: Caps,
    /// `none`, `model` or `url`.
    pub split_by: String,
    /// `jsonl` or `anthropic-body`.
    pub emit: String,
    /// Whether files are zstd-compressed.
    pub compressed: bool,
    /// The shards, grouped (in order of first appearance) then numbered.
    pub shards: Vec<ShardInfo>,
    /// The invalid lines, with `--skip-invalid` (`None` when there were none).
    pub rejected: Option<RejectedInfo>,
}

/// The input a run read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputInfo {
    /// Name as given (`<stdin>` for stdin).
    pub name: String,
    /// Bytes (decompressed).
    pub bytes: u64,
    /// Lines.
    pub lines: u64,
}

/// One shard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardInfo {
    /// File name inside the output directory.
    pub file: String,
    /// Requests (lines).
    pub requests: u64,
    /// Bytes as the provider sees them (uncompressed), the figure the byte cap applies to.
    pub bytes: u64,
    /// Size on disk, when compressed.
    #[serde(default)]
    pub file_bytes: Option<u64>,
    /// Input tokens, when counted (`--max-tokens`).
    #[serde(default)]
    pub input_tokens: Option<u64>,
    /// Embedding inputs, when the shard has any.
    #[serde(default)]
    pub embedding_inputs: Option<u64>,
    /// Input line number of the first request.
    pub first_line: u64,
    /// Input line number of the last request.
    pub last_line: u64,
    /// SHA-256 of the file as written (hex).
    pub sha256: String,
    /// The model or url of the shard's group (with `--split-by`).
    #[serde(default)]
    pub group: Option<String>,
}

/// The rejected lines file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedInfo {
    /// File name inside the output directory.
    pub file: String,
    /// Lines.
    pub lines: u64,
    /// Bytes.
    pub bytes: u64,
    /// SHA-256 of the file (hex).
    pub sha256: String,
}

impl Manifest {
    /// Every file name the manifest lists, itself excluded.
    pub fn files(&self) -> impl Iterator<Item = &str> {
        self.shards
            .iter()
            .map(|s| s.file.as_str())
            .chain(self.rejected.iter().map(|r| r.file.as_str()))
    }
}
