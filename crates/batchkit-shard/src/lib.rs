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

mod caps;
mod manifest;
mod output;
mod tokens;
mod writer;

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use batchkit_io::{Chunk, Input, ReadError, ReadOptions, ReadStats, Source};
use batchkit_providers::Provider;
use batchkit_validate::{
    CheckOptions, Checker, Code, Diagnostic, FileChecker, LineReport, Severity, Sink, ValidateError,
};
use sha2::{Digest, Sha256};

pub use caps::{Breach, CapOverrides, Caps, Fit, Measure, Totals};
pub use manifest::{InputInfo, Manifest, RejectedInfo, ShardInfo};
pub use output::{FsOutput, OutputFactory, ShardWrite};
pub use tokens::{TiktokenCounter, TokenCount};

use output::{Layout, BODY_CLOSE, BODY_OPEN};
use writer::{Msg, Writer};

/// Name of the manifest inside the output directory.
pub const MANIFEST: &str = "manifest.json";
/// Name of the rejected-lines file inside the output directory.
pub const REJECTED: &str = "rejected.jsonl";
/// Prefix of the staging directories a run writes into before renaming.
pub const STAGING_PREFIX: &str = batchkit_io::staging::PREFIX;

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
    /// Most groups with `--split-by` (default [`MAX_GROUPS`] / [`MAX_GROUPS_COMPRESSED`]).
    pub max_groups: Option<usize>,
    /// Memory for the duplicate-id set before it spills to disk.
    pub id_memory_limit: u64,
    /// How to read.
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
            max_groups: None,
            id_memory_limit: CheckOptions::default().id_memory_limit,
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

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ShardError + '_ {
    move |source| ShardError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The stem shard names start with: the input's file name without `.zst`, `.jsonl`,
/// `.json`, `.ndjson` (`stdin` for standard input).
pub fn default_stem(input: &Input) -> String {
    let name = match &input.source {
        Source::Stdin => return "stdin".into(),
        Source::Path(p) => p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let mut s = name.as_str();
    for ext in [".zst", ".zstd", ".jsonl", ".ndjson", ".json", ".txt"] {
        if let Some(t) = s.strip_suffix(ext) {
            s = t;
        }
    }
    let slug = slug(s);
    if slug.is_empty() {
        "shard".into()
    } else {
        slug
    }
}

/// A file-name-safe form of a model or url: ASCII letters, digits, `.`, `_` and `-`, at most
/// 64 characters (`/v1/chat/completions` → `v1-chat-completions`).
pub fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
        if out.len() >= 64 {
            break;
        }
    }
    let t = out.trim_end_matches(['-', '.']);
    t.trim_start_matches('.').to_string()
}

/// Per-line results of the parallel stage.
struct ChunkOut {
    reports: Vec<LineReport>,
    tokens: Vec<Result<u64, String>>,
}

struct OpenShard {
    file: usize,
    name: String,
    totals: Totals,
    first_line: u64,
    last_line: u64,
    /// The hash of every byte sent so far, when the shard takes copied byte ranges.
    hasher: Option<Sha256>,
}

struct Group {
    key: Option<String>,
    slug: String,
    next: u64,
    open: Option<OpenShard>,
}

/// The sequential half of a run: validation in order, cutting, writing.
struct Cutter<'a, 's> {
    w: Writer<'s>,
    opts: &'a ShardOptions,
    name: &'a str,
    staging: &'a Path,
    layout: Layout,
    ext: String,
    stem: String,
    overrides: CapOverrides,
    fit: Option<Fit>,
    groups: Vec<Group>,
    group_index: HashMap<Option<String>, usize>,
    slugs: HashMap<String, usize>,
    /// Closed shards: group, number, writer file id, entry (hash filled in at the end).
    done: Vec<(usize, u64, usize, ShardInfo)>,
    rejected: Option<usize>,
    rejected_lines: u64,
    rejected_bytes: u64,
    invalid_lines: u64,
    errors: u64,
    warnings: u64,
    /// Stop writing shards once the run is known to refuse; keep validating to report all.
    refusing: bool,
    /// A run of consecutive bytes of the current chunk bound for one group's open shard.
    run: Option<(usize, usize, usize, u64)>,
    max_groups: usize,
    count_tokens: bool,
    /// Shards are byte ranges of the input file, which the writer copies (see [`copy_source`]).
    copy: bool,
}

impl Cutter<'_, '_> {
    fn fit(&mut self, provider: Option<&'static Provider>) -> Fit {
        *self.fit.get_or_insert_with(|| {
            let overhead = match self.layout {
                Layout::Jsonl => 0,
                // Each line adds its bytes plus one comma; the first comma is not written.
                Layout::Body => (BODY_OPEN.len() + BODY_CLOSE.len()) as u64 - 1,
            };
            Fit {
                caps: Caps::resolve(provider, &self.overrides),
                overhead,
            }
        })
    }

    fn path(&self, file: &str) -> PathBuf {
        self.staging.join(file)
    }

    fn flush_run(&mut self, chunk: &Chunk) -> Result<(), ShardError> {
        if let Some((g, start, end, lines)) = self.run.take() {
            let shard = self.groups[g]
                .open
                .as_mut()
                .expect("a run targets an open shard");
            let id = shard.file;
            let bytes = &chunk.data[start..end];
            let msg = match &mut shard.hasher {
                // Hashed here, from the chunk in memory; the writer copies the same bytes
                // from the input file, file to file.
                Some(h) => {
                    h.update(bytes);
                    Msg::Copy {
                        id,
                        offset: chunk.offset + start as u64,
                        len: bytes.len() as u64,
                    }
                }
                None => Msg::Raw {
                    id,
                    data: bytes.to_vec(),
                    lines,
                },
            };
            self.w.send(msg)?;
        }
        Ok(())
    }

    fn close_shard(&mut self, g: usize) -> Result<(), ShardError> {
        let Some(s) = self.groups[g].open.take() else {
            return Ok(());
        };
        let hash = s.hasher.map(|h| output::hex(&h.finalize()));
        self.w.send(Msg::Close { id: s.file, hash })?;
        let group = &self.groups[g];
        let info = ShardInfo {
            file: s.name,
            requests: s.totals.requests,
            bytes: s.totals.bytes,
            file_bytes: None,
            input_tokens: self.count_tokens.then_some(s.totals.tokens),
            embedding_inputs: (s.totals.embedding_inputs > 0).then_some(s.totals.embedding_inputs),
            first_line: s.first_line,
            last_line: s.last_line,
            sha256: String::new(),
            group: if self.opts.split_by == SplitBy::None {
                None
            } else {
                group.key.clone()
            },
        };
        self.done.push((g, group.next - 1, s.file, info));
        Ok(())
    }

    fn group_of(&mut self, r: &LineReport) -> Result<usize, ShardError> {
        let key = match self.opts.split_by {
            SplitBy::None => None,
            SplitBy::Model => r.model.clone(),
            SplitBy::Url => r.url.clone(),
        };
        if let Some(&g) = self.group_index.get(&key) {
            return Ok(g);
        }
        if self.groups.len() >= self.max_groups {
            return Err(ShardError::TooManyGroups {
                name: self.name.to_string(),
                line: r.line,
                group: key.unwrap_or_default(),
                max: self.max_groups,
            });
        }
        let slug = match (&key, self.opts.split_by) {
            (_, SplitBy::None) => String::new(),
            (Some(k), _) if !slug(k).is_empty() => slug(k),
            (_, SplitBy::Model) => "no-model".into(),
            (_, _) => "no-url".into(),
        };
        // Distinct keys may share a slug (`a/b`, `a:b`): number the later ones.
        let n = self.slugs.entry(slug.clone()).or_insert(0);
        *n += 1;
        let slug = if *n == 1 { slug } else { format!("{slug}~{n}") };
        let g = self.groups.len();
        self.groups.push(Group {
            key: key.clone(),
            slug,
            next: 1,
            open: None,
        });
        self.group_index.insert(key, g);
        Ok(g)
    }

    fn place(
        &mut self,
        chunk: &Chunk,
        line: &batchkit_io::Line<'_>,
        r: &LineReport,
        tokens: u64,
        provider: Option<&'static Provider>,
    ) -> Result<(), ShardError> {
        let fit = self.fit(provider);
        let newline_missing = !line.terminated();
        let m = Measure {
            bytes: match self.layout {
                Layout::Jsonl => line.raw.len() as u64 + u64::from(newline_missing),
                Layout::Body => line.content.len() as u64 + 1,
            },
            tokens,
            embedding_inputs: r.embedding_inputs,
        };
        fit.alone(&m).map_err(|breach| ShardError::LineOverCap {
            name: self.name.to_string(),
            line: line.number,
            offset: line.offset,
            breach,
        })?;
        let g = self.group_of(r)?;
        let needs_new = match &self.groups[g].open {
            None => true,
            Some(s) => !fit.fits(&s.totals, &m),
        };
        if needs_new {
            if self.run.is_some_and(|(rg, ..)| rg == g) {
                self.flush_run(chunk)?;
            }
            self.close_shard(g)?;
            let group = &mut self.groups[g];
            let name = if group.slug.is_empty() {
                format!("{}-{:05}.{}", self.stem, group.next, self.ext)
            } else {
                format!(
                    "{}-{}-{:05}.{}",
                    self.stem, group.slug, group.next, self.ext
                )
            };
            group.next += 1;
            let path = self.staging.join(&name);
            let file = self.w.id();
            let (zstd, layout) = (self.opts.compress, self.layout);
            self.w.send(Msg::Open {
                id: file,
                path,
                zstd,
                layout,
            })?;
            self.groups[g].open = Some(OpenShard {
                file,
                name,
                totals: fit.empty(),
                first_line: line.number,
                last_line: 0,
                hasher: self.copy.then(Sha256::new),
            });
        }
        let shard = self.groups[g].open.as_mut().expect("opened above");
        Fit::add(&mut shard.totals, &m);
        shard.last_line = line.number;
        let start = (line.offset - chunk.offset) as usize;
        let end = start + line.raw.len();
        if self.layout == Layout::Jsonl && !newline_missing {
            match &mut self.run {
                Some((rg, _, e, n)) if *rg == g && *e == start => {
                    *e = end;
                    *n += 1;
                    return Ok(());
                }
                _ => {
                    self.flush_run(chunk)?;
                    self.run = Some((g, start, end, 1));
                    return Ok(());
                }
            }
        }
        self.flush_run(chunk)?;
        let shard = self.groups[g].open.as_mut().expect("opened above");
        let id = shard.file;
        let msg = match self.layout {
            Layout::Jsonl => {
                let mut data = Vec::with_capacity(line.raw.len() + 1);
                data.extend_from_slice(line.raw);
                data.push(b'\n');
                if let Some(h) = &mut shard.hasher {
                    h.update(&data);
                }
                Msg::Raw { id, data, lines: 1 }
            }
            Layout::Body => Msg::BodyLine {
                id,
                content: line.content.to_vec(),
            },
        };
        self.w.send(msg)
    }

    fn reject(&mut self, line: &batchkit_io::Line<'_>) -> Result<(), ShardError> {
        let id = match self.rejected {
            Some(id) => id,
            None => {
                let id = self.w.id();
                let path = self.path(REJECTED);
                self.w.send(Msg::Open {
                    id,
                    path,
                    zstd: None,
                    layout: Layout::Jsonl,
                })?;
                self.rejected = Some(id);
                id
            }
        };
        self.w.send(Msg::Raw {
            id,
            data: line.raw.to_vec(),
            lines: 1,
        })?;
        self.rejected_lines += 1;
        self.rejected_bytes += line.raw.len() as u64;
        Ok(())
    }

    fn count(&mut self, r: &LineReport) {
        for d in &r.diagnostics {
            match d.severity {
                Severity::Error => self.errors += 1,
                Severity::Warning => self.warnings += 1,
            }
        }
    }
}

/// Blank lines held until a request follows (then errors) or the input ends (a warning).
#[derive(Default)]
struct HeldBlanks {
    lines: Vec<(u64, u64, Vec<u8>)>,
    bytes: usize,
}

/// Past this many bytes of consecutive blank lines, they are errors on the spot.
const MAX_HELD_BLANKS: usize = 64 << 10;

/// Shards `input` into `opts.out_dir`. Returns the manifest written, or the reason nothing
/// was written; every finding goes to `hooks.sink` as it is found.
pub fn shard(
    input: &Input,
    opts: &ShardOptions,
    hooks: &mut Hooks<'_>,
) -> Result<ShardReport, ShardError> {
    if opts.caps.max_tokens.is_some() && hooks.tokens.is_none() {
        // Library callers who cap tokens without a counter get the embedded tokenizers.
        static DEFAULT: TiktokenCounter = TiktokenCounter { model: None };
        hooks.tokens = Some(&DEFAULT);
    }
    let split = opts.split_by;
    let check = CheckOptions {
        provider: opts.provider.clone(),
        check_model_mismatch: split != SplitBy::Model,
        check_url_mismatch: split != SplitBy::Url,
        id_memory_limit: opts.id_memory_limit,
        // A shard decides line by line; trailing blank lines are handled here.
        trailing_blank_lines_warn: false,
        max_line_bytes: opts.read.max_line_bytes,
        ..CheckOptions::default()
    };
    let checker = Checker::new(&check)?;
    let out_dir = &opts.out_dir;
    let protect = Protect::of(input);
    if opts.force {
        // What --force would remove: the files the previous manifest lists.
        for f in previous_files(out_dir) {
            protect.check(
                &out_dir.join(f),
                "remove (--force; it is listed in manifest.json)",
            )?;
        }
    }
    protect.check(&out_dir.join(MANIFEST), "overwrite")?;
    protect.check(&out_dir.join(REJECTED), "overwrite")?;
    let created = prepare_dir(out_dir, opts.force)?;
    let staging = match batchkit_io::staging::StagedDir::new_in(Some(out_dir), "shard") {
        Ok(s) => s,
        Err(e) => {
            undo_dir(out_dir, created);
            return Err(ShardError::Io {
                path: out_dir.clone(),
                source: e,
            });
        }
    };
    let factory = hooks.output;
    let src = copy_source(input, opts);
    let result = std::thread::scope(|s| {
        let w = Writer::start(s, factory, src.as_ref());
        let copy = src.is_some();
        run_with_writer(w, copy, input, opts, hooks, &checker, staging.path())
    });
    let result = match result {
        Ok(mut rep) => match &rep.manifest {
            Some(m) => commit(out_dir, staging.path(), m, opts.force, &protect).map(|()| rep),
            None => {
                rep.manifest = None;
                Ok(rep)
            }
        },
        Err(e) => Err(e),
    };
    drop(staging);
    match &result {
        Ok(r) if r.manifest.is_some() => {}
        _ => undo_dir(out_dir, created),
    }
    result
}

/// The input file to copy shard bytes from, when every shard is a run of byte ranges of
/// it: a regular file, not zstd, cut in input order into plain JSONL. Then the lines are
/// validated and hashed from the reader's chunks as usual, but not written from memory:
/// the writer copies their ranges of the file into the shard, file to file, which on Linux
/// the kernel does without passing the bytes through user space (`copy_file_range`).
/// Everything else (stdin, zstd, `--split-by`, `--compress`, Anthropic bodies) is written
/// from memory.
fn copy_source(input: &Input, opts: &ShardOptions) -> Option<fs::File> {
    let Source::Path(p) = &input.source else {
        return None;
    };
    if opts.split_by != SplitBy::None || opts.emit != Emit::Jsonl || opts.compress.is_some() {
        return None;
    }
    let f = fs::File::open(p).ok()?;
    if !f.metadata().ok()?.is_file() {
        return None;
    }
    let mut head = [0u8; 8];
    let n = io::Read::read(&mut &f, &mut head).ok()?;
    if batchkit_io::is_zstd(&head[..n]) {
        return None;
    }
    Some(f)
}

fn run_with_writer(
    w: Writer<'_>,
    copy: bool,
    input: &Input,
    opts: &ShardOptions,
    hooks: &mut Hooks<'_>,
    checker: &Checker,
    staging: &Path,
) -> Result<ShardReport, ShardError> {
    let layout = match opts.emit {
        Emit::Jsonl => Layout::Jsonl,
        Emit::AnthropicBody => Layout::Body,
    };
    let mut ext = match layout {
        Layout::Jsonl => "jsonl".to_string(),
        Layout::Body => "json".to_string(),
    };
    if opts.compress.is_some() {
        ext.push_str(".zst");
    }
    let max_groups = opts.max_groups.unwrap_or(if opts.compress.is_some() {
        MAX_GROUPS_COMPRESSED
    } else {
        MAX_GROUPS
    });
    let mut fc = FileChecker::new(checker, input.name.clone());
    let mut cut = Cutter {
        w,
        opts,
        name: &input.name,
        staging,
        layout,
        ext,
        stem: opts.stem.clone().unwrap_or_else(|| default_stem(input)),
        overrides: opts.caps,
        fit: None,
        groups: Vec::new(),
        group_index: HashMap::new(),
        slugs: HashMap::new(),
        done: Vec::new(),
        rejected: None,
        rejected_lines: 0,
        rejected_bytes: 0,
        invalid_lines: 0,
        errors: 0,
        warnings: 0,
        refusing: false,
        run: None,
        max_groups: max_groups.max(1),
        count_tokens: opts.caps.max_tokens.is_some(),
        copy,
    };
    let tokens = hooks.tokens.filter(|_| opts.caps.max_tokens.is_some());
    let sink_out = &mut hooks.sink;
    let name = input.name.as_str();
    let mut blanks = HeldBlanks::default();
    let process = |chunk: &Chunk| {
        // One parse per line: checked, and counted in the same parse when there is a token
        // cap (the count of an invalid line is not used).
        let (reports, tokens) = match tokens {
            Some(t) if chunk.oversized.is_none() => checker
                .check_chunk_with(chunk, |l, root| t.count_parsed(l.content, root))
                .into_iter()
                .map(|(r, c)| {
                    let c = if r.is_valid() {
                        c.unwrap_or(Ok(0))
                    } else {
                        Ok(0)
                    };
                    (r, c)
                })
                .unzip(),
            _ => (checker.check_chunk(chunk), Vec::new()),
        };
        ChunkOut { reports, tokens }
    };
    let sink = |chunk: &Chunk, out: ChunkOut| -> Result<bool, ShardError> {
        let ChunkOut { reports, tokens } = out;
        if let Some(o) = chunk.oversized {
            let mut r = reports.into_iter().next().unwrap_or_else(|| {
                LineReport::with(
                    o.line,
                    o.offset,
                    o.len,
                    Diagnostic::at(
                        Code::LineTooLarge,
                        Severity::Error,
                        o.line,
                        o.offset,
                        format!("line is {} bytes, longer than --max-line-bytes", o.len),
                    ),
                )
            });
            fc.observe(&mut r)?;
            let fit = cut.fit(fc.provider());
            let m = Measure {
                bytes: o.len + 1,
                ..Measure::default()
            };
            if let Err(breach) = fit.alone(&m) {
                return Err(ShardError::LineOverCap {
                    name: input.name.clone(),
                    line: o.line,
                    offset: o.offset,
                    breach,
                });
            }
            if opts.skip_invalid {
                return Err(ShardError::Oversized {
                    name: input.name.clone(),
                    line: o.line,
                    len: o.len,
                });
            }
            cut.count(&r);
            for d in &r.diagnostics {
                sink_out.finding(name, d).map_err(ShardError::Report)?;
            }
            cut.invalid_lines += 1;
            cut.refusing = true;
            return Ok(true);
        }
        for (i, (line, mut r)) in chunk.lines().zip(reports).enumerate() {
            fc.observe(&mut r)?;
            // A blank line's only finding is `empty_line` (the checker reports it on the spot
            // for a job like this one, which decides line by line).
            let blank = line.is_blank()
                && r.diagnostics
                    .iter()
                    .all(|d| d.code == Code::EmptyLine || d.severity == Severity::Warning);
            if blank && line.terminated() && blanks.bytes < MAX_HELD_BLANKS {
                // Blank lines at the very end are accepted by providers: hold them until
                // it is known whether a request follows.
                blanks.bytes += line.raw.len();
                blanks
                    .lines
                    .push((line.number, line.offset, line.raw.to_vec()));
                continue;
            }
            for (number, offset, raw) in std::mem::take(&mut blanks.lines) {
                let held = batchkit_io::Line {
                    number,
                    offset,
                    raw: &raw,
                    content: raw.trim_ascii_end(),
                    bom: false,
                };
                let mut br = LineReport::with(
                    number,
                    offset,
                    raw.len() as u64,
                    Diagnostic::at(
                        Code::EmptyLine,
                        Severity::Error,
                        number,
                        offset,
                        batchkit_json::syntax::blank_lines(1, number, number, false),
                    )
                    .with_context("a shard holds only requests"),
                );
                cut.count(&br);
                for d in &br.diagnostics {
                    sink_out.finding(name, d).map_err(ShardError::Report)?;
                }
                cut.invalid_lines += 1;
                cut.flush_run(chunk)?;
                if opts.skip_invalid {
                    cut.reject(&held)?;
                } else {
                    cut.refusing = true;
                }
                br.diagnostics.clear();
            }
            blanks.bytes = 0;
            if blank && r.is_valid() {
                r.diagnostics.push(
                    Diagnostic::at(
                        Code::EmptyLine,
                        Severity::Error,
                        line.number,
                        line.offset,
                        batchkit_json::syntax::blank_lines(1, line.number, line.number, false),
                    )
                    .with_context("a shard holds only requests"),
                );
            }
            cut.count(&r);
            for d in &r.diagnostics {
                sink_out.finding(name, d).map_err(ShardError::Report)?;
            }
            if !r.is_valid() {
                cut.invalid_lines += 1;
                cut.flush_run(chunk)?;
                if opts.skip_invalid {
                    cut.reject(&line)?;
                } else {
                    cut.refusing = true;
                }
                continue;
            }
            if cut.refusing {
                continue;
            }
            let t = match tokens.get(i) {
                None => 0,
                Some(Ok(t)) => *t,
                Some(Err(reason)) => {
                    return Err(ShardError::Tokens {
                        name: input.name.clone(),
                        line: line.number,
                        reason: reason.clone(),
                    })
                }
            };
            cut.place(chunk, &line, &r, t, fc.provider())?;
        }
        cut.flush_run(chunk)?;
        sink_out
            .progress(name, chunk.source_pos)
            .map_err(ShardError::Report)?;
        Ok(true)
    };
    let stats = batchkit_io::run(input, &opts.read, process, sink)?;
    if copy && stats.compressed {
        // The file was replaced by a zstd stream between the two opens: the copied ranges
        // are not the lines that were read.
        return Err(ShardError::Io {
            path: PathBuf::from(&input.name),
            source: io::Error::other("the input changed during the run"),
        });
    }
    if let (Some(first), Some(last)) = (blanks.lines.first(), blanks.lines.last()) {
        // Trailing blank lines: providers accept them, a shard holds only requests.
        let n = blanks.lines.len() as u64;
        let d = Diagnostic::at(
            Code::EmptyLine,
            Severity::Warning,
            first.0,
            first.1,
            batchkit_json::syntax::blank_lines(n, first.0, last.0, true),
        )
        .with_context("not copied into a shard: a shard holds only requests");
        cut.warnings += 1;
        hooks
            .sink
            .finding(&input.name, &d)
            .map_err(ShardError::Report)?;
    }
    let provider = fc.provider();
    let mut late_dupes = 0;
    fc.finish(&stats, |d| {
        // The file-wide caps are what sharding resolves; everything else is reported.
        if matches!(d.code, Code::TooManyRequests | Code::FileTooLarge) {
            return Ok::<bool, ShardError>(true);
        }
        if d.code == Code::DuplicateId && d.line.is_some() {
            late_dupes += 1;
        }
        match d.severity {
            Severity::Error => cut.errors += 1,
            Severity::Warning => cut.warnings += 1,
        }
        hooks
            .sink
            .finding(&input.name, d)
            .map_err(ShardError::Report)?;
        Ok(true)
    })?;
    let mut report = ShardReport {
        manifest: None,
        refusal: None,
        invalid_lines: cut.invalid_lines + late_dupes,
        errors: cut.errors,
        warnings: cut.warnings,
        stats: stats.clone(),
        provider: provider.map(|p| p.name.clone()),
    };
    if cut.refusing {
        report.refusal = Some(Refusal::InvalidLines(cut.invalid_lines));
        return Ok(report);
    }
    if late_dupes > 0 {
        report.refusal = Some(Refusal::LateDuplicates(late_dupes));
        return Ok(report);
    }
    for g in 0..cut.groups.len() {
        cut.close_shard(g)?;
    }
    if let Some(id) = cut.rejected {
        cut.w.send(Msg::Close { id, hash: None })?;
    }
    let mut closed = cut.w.finish()?;
    let rejected = cut.rejected.map(|id| RejectedInfo {
        file: REJECTED.into(),
        lines: cut.rejected_lines,
        bytes: cut.rejected_bytes,
        sha256: closed
            .remove(&id)
            .expect("the writer reports every closed file")
            .0,
    });
    let fit = cut.fit(provider);
    let mut done = std::mem::take(&mut cut.done);
    done.sort_by_key(|(g, n, _, _)| (*g, *n));
    for (_, _, id, info) in &mut done {
        let (sha256, file_bytes) = closed
            .remove(id)
            .expect("the writer reports every closed file");
        info.sha256 = sha256;
        info.file_bytes = opts.compress.map(|_| file_bytes);
    }
    let manifest = Manifest {
        input: InputInfo {
            name: input.name.clone(),
            bytes: stats.bytes,
            lines: stats.lines,
        },
        provider: provider.map(|p| p.name.clone()),
        caps: fit.caps,
        split_by: opts.split_by.as_str().into(),
        emit: opts.emit.as_str().into(),
        compressed: opts.compress.is_some(),
        shards: done.into_iter().map(|(_, _, _, s)| s).collect(),
        rejected,
    };
    // A provider with a floor per job (Bedrock: 100 records) refuses a shard below it; the
    // whole input below it was already reported by the file checks.
    if let Some((min, p)) = provider.and_then(|p| Some((p.min_requests?, p))) {
        let total: u64 = manifest.shards.iter().map(|s| s.requests).sum();
        for s in manifest
            .shards
            .iter()
            .filter(|s| total >= min && s.requests < min)
        {
            let d = Diagnostic::file(
                Code::TooFewRequests,
                Severity::Warning,
                format!(
                    "shard {} holds {} requests; {} batch jobs take at least {min}: raise --max-requests or cut by hand",
                    s.file, s.requests, p.label
                ),
            );
            report.warnings += 1;
            hooks
                .sink
                .finding(&input.name, &d)
                .map_err(ShardError::Report)?;
        }
    }
    let mpath = staging.join(MANIFEST);
    let mut w = hooks.output.create(&mpath).map_err(io_err(&mpath))?;
    let mut json = serde_json::to_vec_pretty(&manifest).expect("manifest serialises");
    json.push(b'\n');
    w.write_all(&json)
        .and_then(|()| w.finish())
        .map_err(io_err(&mpath))?;
    report.manifest = Some(manifest);
    Ok(report)
}

/// Makes sure `dir` exists and may be written into; returns whether it was created.
fn prepare_dir(dir: &Path, force: bool) -> Result<bool, ShardError> {
    match fs::read_dir(dir) {
        Ok(entries) => {
            if !force {
                for e in entries {
                    let e = e.map_err(io_err(dir))?;
                    // Staging left by a killed run is hidden and holds no final file.
                    if !e.file_name().to_string_lossy().starts_with(STAGING_PREFIX) {
                        return Err(ShardError::NotEmpty {
                            dir: dir.to_path_buf(),
                        });
                    }
                }
            }
            Ok(false)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(dir).map_err(io_err(dir))?;
            Ok(true)
        }
        Err(e) => Err(ShardError::Io {
            path: dir.to_path_buf(),
            source: e,
        }),
    }
}

fn undo_dir(dir: &Path, created: bool) {
    if created {
        // Only succeeds when empty, which is the point: never remove anything else.
        let _ = fs::remove_dir(dir);
    }
}

/// Renames the staged files into place, the manifest last. With `force`, files a previous
/// run listed in its manifest and this run does not write are removed first, so the
/// directory never mixes two runs' shards.
fn commit(
    dir: &Path,
    staging: &Path,
    m: &Manifest,
    force: bool,
    protect: &Protect,
) -> Result<(), ShardError> {
    for f in m.files().chain([MANIFEST]) {
        protect.check(&dir.join(f), "overwrite")?;
    }
    if force {
        let new: std::collections::HashSet<&str> = m.files().collect();
        for f in previous_files(dir) {
            if !new.contains(f.as_str()) {
                let p = dir.join(&f);
                protect.check(&p, "remove (--force; it is listed in manifest.json)")?;
                match fs::remove_file(&p) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => {
                        return Err(ShardError::Io { path: p, source: e })
                    }
                    _ => {}
                }
            }
        }
    }
    for f in m.files().chain([MANIFEST]) {
        let to = dir.join(f);
        batchkit_io::staging::commit_rename(&staging.join(f), &to).map_err(io_err(&to))?;
    }
    Ok(())
}

/// The plain file names the manifest already in `dir` lists (shards and rejects): the only
/// files `--force` may remove.
fn previous_files(dir: &Path) -> Vec<String> {
    let Ok(bytes) = fs::read(dir.join(MANIFEST)) else {
        return Vec::new();
    };
    let Ok(prev) = serde_json::from_slice::<Manifest>(&bytes) else {
        return Vec::new();
    };
    prev.files()
        // Only plain names a manifest could have written; never follow a path.
        .filter(|f| !f.contains(['/', '\\']) && *f != ".." && *f != "." && !f.is_empty())
        .map(str::to_string)
        .collect()
}

/// The input's identity, so no output replaces or removes it.
struct Protect {
    input: Option<(PathBuf, batchkit_io::paths::FileKey)>,
}

impl Protect {
    fn of(input: &Input) -> Protect {
        Protect {
            input: match &input.source {
                batchkit_io::Source::Path(p) => Some((p.clone(), batchkit_io::paths::file_key(p))),
                batchkit_io::Source::Stdin => None,
            },
        }
    }

    fn check(&self, path: &Path, what: &'static str) -> Result<(), ShardError> {
        let Some((input, key)) = &self.input else {
            return Ok(());
        };
        if matches!(key, batchkit_io::paths::FileKey::Inode { .. })
            && batchkit_io::paths::file_key(path) == *key
        {
            return Err(ShardError::InputClash {
                input: input.clone(),
                path: path.to_path_buf(),
                what,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
