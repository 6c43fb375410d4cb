//! What a caller of [`shard`](crate::shard) hands in and gets back: the options, the hooks,
//! the report and the errors, kept together so a field added to one is seen beside the others.

use std::io;
use std::path::{Path, PathBuf};

use batchkit_io::{ReadError, ReadOptions, ReadStats};
use batchkit_validate::{Diagnostic, Sink, ValidateError};

use crate::{
    Breach, CapOverrides, FsOutput, Manifest, OutputFactory, TokenCount, MANIFEST, REJECTED,
};

/// How lines are grouped before cutting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SplitBy {
    /// One run of shards, in input order.
    #[default]
    None,
    /// One run of shards per model (OpenAI takes one model per file).
    Model,
    /// One run of shards per endpoint url.
    Url,
}

impl SplitBy {
    /// The name used in the manifest.
    pub fn as_str(self) -> &'static str {
        match self {
            SplitBy::None => "none",
            SplitBy::Model => "model",
            SplitBy::Url => "url",
        }
    }
}

/// What each shard file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Emit {
    /// The request lines, byte-exact (`.jsonl`).
    #[default]
    Jsonl,
    /// The JSON body Anthropic's Message Batches endpoint takes, `{"requests":[...]}`
    /// (`.json`); the byte cap applies to the body.
    AnthropicBody,
}

impl Emit {
    /// The name used in the manifest.
    pub fn as_str(self) -> &'static str {
        match self {
            Emit::Jsonl => "jsonl",
            Emit::AnthropicBody => "anthropic-body",
        }
    }
}

/// Most groups open at once with `--split-by` (one open file each), uncompressed.
pub const MAX_GROUPS: usize = 256;
/// Most groups with compression (each zstd context holds a few MiB).
pub const MAX_GROUPS_COMPRESSED: usize = 32;

/// How to shard.
#[derive(Debug, Clone)]
pub struct ShardOptions {
    /// Output directory (created if missing).
    pub out_dir: PathBuf,
    /// File name stem of the shards (default: the input's file name without extensions).
    pub stem: Option<String>,
    /// Provider name; `None` infers it from the first valid line.
    pub provider: Option<String>,
    /// Caps given explicitly; the rest come from the provider.
    pub caps: CapOverrides,
    /// Grouping.
    pub split_by: SplitBy,
    /// Output layout.
    pub emit: Emit,
    /// zstd level, when compressing.
    pub compress: Option<i32>,
    /// Write invalid lines to `rejected.jsonl` instead of refusing.
    pub skip_invalid: bool,
    /// Write into a non-empty directory (replacing only what a previous run listed in its
    /// manifest, and files of the same names).
    pub force: bool,
    /// Caps above the provider's own are taken (`--allow-over-cap`); otherwise refused.
    pub allow_over_cap: bool,
    /// Most groups with `--split-by` (default [`MAX_GROUPS`] / [`MAX_GROUPS_COMPRESSED`]).
    pub max_groups: Option<usize>,
    /// How to read, and the memory budget (the duplicate-id set takes its tables' share
    /// before it spills to disk).
    pub read: ReadOptions,
}

impl ShardOptions {
    /// Defaults: provider caps, JSONL, no compression, refuse invalid lines.
    pub fn new(out_dir: impl Into<PathBuf>) -> Self {
        ShardOptions {
            out_dir: out_dir.into(),
            stem: None,
            provider: None,
            caps: CapOverrides::default(),
            split_by: SplitBy::None,
            emit: Emit::Jsonl,
            compress: None,
            skip_invalid: false,
            force: false,
            allow_over_cap: false,
            max_groups: None,
            read: ReadOptions::default(),
        }
    }
}

/// Where shard's findings and progress go (see [`Hooks::sink`]): the one [`Sink`] of every
/// batchkit job, failing with an I/O error (a closed pipe).
pub type DiagnosticSink<'a> = Box<dyn Sink<Error = io::Error> + 'a>;

/// Where a run writes and whom it tells: output factory, token counter, progress and the
/// diagnostics callback. `Hooks::default()` writes to disk, counts no tokens and drops
/// diagnostics.
pub struct Hooks<'a> {
    /// Creates the files (tests inject failures here).
    pub output: &'a dyn OutputFactory,
    /// Counts input tokens, needed with `--max-tokens`.
    pub tokens: Option<&'a dyn TokenCount>,
    /// Every finding, in line order (file-level findings last), and the raw bytes consumed
    /// after each chunk. An error (a closed pipe) stops the job with [`ShardError::Report`]
    /// and nothing is written; `Ok(false)` is taken as "go on": a shard needs every line
    /// read before it writes.
    pub sink: DiagnosticSink<'a>,
}

static FS: FsOutput = FsOutput { sync: true };

impl Default for Hooks<'_> {
    fn default() -> Self {
        Hooks {
            output: &FS,
            tokens: None,
            sink: Box::new(|_: &str, _: &Diagnostic| Ok::<bool, io::Error>(true)),
        }
    }
}

/// Why nothing was written although the input could be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Invalid lines and no `--skip-invalid`.
    InvalidLines(u64),
    /// Duplicates found only at the end (after the id set spilled to disk), when their lines
    /// were already placed; deduplicate first (`batchkit dupes --write-unique`).
    LateDuplicates(u64),
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct ShardReport {
    /// What was written; `None` when the run refused.
    pub manifest: Option<Manifest>,
    /// Why nothing was written.
    pub refusal: Option<Refusal>,
    /// Lines with at least one error (refused or rejected).
    pub invalid_lines: u64,
    /// Error findings (lines and file).
    pub errors: u64,
    /// Warning findings.
    pub warnings: u64,
    /// The reader's totals.
    pub stats: ReadStats,
    /// The provider whose rules applied.
    pub provider: Option<String>,
}

impl ShardReport {
    /// Whether the input had problems (exit 1): invalid lines, refused or rejected, or
    /// file-level errors.
    pub fn has_problems(&self) -> bool {
        self.refusal.is_some() || self.invalid_lines > 0 || self.errors > 0
    }
}

/// Errors that stop a run. Each names the path, or the input line.
#[derive(Debug, thiserror::Error)]
pub enum ShardError {
    /// Reading the input failed.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// Validation could not run (unknown provider, spilling ids failed).
    #[error(transparent)]
    Validate(#[from] ValidateError),
    /// The output directory holds files and `force` is off.
    #[error("{}: directory is not empty (pass --force to write into it; only files named like the shards, {REJECTED} and {MANIFEST} are replaced)", dir.display())]
    NotEmpty {
        /// The directory.
        dir: PathBuf,
    },
    /// Writing would overwrite or remove the input.
    #[error("the input {} is {}, which this run would {what}; nothing was written", input.display(), path.display())]
    InputClash {
        /// The input path.
        input: PathBuf,
        /// The output path that is the same file.
        path: PathBuf,
        /// "overwrite" or "remove (--force; listed in manifest.json)".
        what: &'static str,
    },
    /// An output file or directory could not be made.
    #[error(
        "{}: {}",
        batchkit_io::staging::display_path(path),
        batchkit_io::describe(source)
    )]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Cause.
        source: io::Error,
    },
    /// Passing a finding on failed (the printer's output is closed or full).
    #[error("writing findings")]
    Report(#[source] io::Error),
    /// `--max-requests` or `--max-bytes` above the provider's own cap: the provider would
    /// refuse such a shard.
    #[error(
        "--{flag} {value} is above {provider}'s cap of {cap} per file, so it would refuse such a shard; pass --allow-over-cap to write it anyway (or --provider openai-compatible, also named custom, for a host without caps)"
    )]
    OverCap {
        /// The flag, without dashes.
        flag: &'static str,
        /// Its value.
        value: u64,
        /// The provider's display name.
        provider: String,
        /// The provider's cap.
        cap: u64,
    },
    /// One line breaks a cap on its own; it cannot be placed in any shard.
    #[error(
        "{name}:{line}: {}; a line is never split, so this file cannot be sharded",
        breach_text(breach)
    )]
    LineOverCap {
        /// Input name.
        name: String,
        /// 1-based line number.
        line: u64,
        /// Byte offset of the line start.
        offset: u64,
        /// The cap and the line's size.
        breach: Breach,
    },
    /// A line over `--max-line-bytes` is never held, so it cannot be copied to the rejects.
    #[error("{name}:{line}: line is {len} bytes, longer than --max-line-bytes, so it cannot be copied to {REJECTED}; raise --max-line-bytes")]
    Oversized {
        /// Input name.
        name: String,
        /// 1-based line number.
        line: u64,
        /// Length without terminator.
        len: u64,
    },
    /// Too many groups with `--split-by`.
    #[error("{name}:{line}: group {group:?} is number {}, more than {max} (one open file each); shard without --split-by or sort the input by group", max + 1)]
    TooManyGroups {
        /// Input name.
        name: String,
        /// Line where the extra group appeared.
        line: u64,
        /// Its key.
        group: String,
        /// The limit.
        max: usize,
    },
    /// A valid line whose tokens could not be counted.
    #[error("{name}:{line}: cannot count input tokens: {reason}")]
    Tokens {
        /// Input name.
        name: String,
        /// 1-based line number.
        line: u64,
        /// Why.
        reason: String,
    },
}

impl ShardError {
    /// The input that could not be read, when that is what stopped the run.
    pub fn read_error(&self) -> Option<&ReadError> {
        match self {
            ShardError::Read(r) => Some(r),
            ShardError::Validate(v) => v.read_error(),
            _ => None,
        }
    }
}

fn breach_text(b: &Breach) -> String {
    match *b {
        Breach::Bytes { need, cap } => format!(
            "line takes {need} bytes in a shard, over the byte cap of {cap} bytes ({})",
            batchkit_io::format_size(cap)
        ),
        Breach::Tokens { need, cap } => {
            format!("line has {need} input tokens, over the token cap of {cap}")
        }
        Breach::EmbeddingInputs { need, cap } => {
            format!("line has {need} embedding inputs, over the cap of {cap} per batch")
        }
    }
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ShardError + '_ {
    move |source| ShardError::Io {
        path: path.to_path_buf(),
        source,
    }
}
