//! Checks of batch request files before upload, and exact duplicate-id detection.
//!
//! [`Checker`] holds the rules (provider, optional JSON Schema) and checks lines in
//! isolation, in parallel; [`FileChecker`] adds the checks that need order (duplicate ids,
//! one url and one model per file, the provider's file caps). [`validate_file`] drives both
//! over one input with the shared reader. [`find_dupes`] is the `dupes` job: every id used
//! more than once across several files, exact, within a memory budget (it spills to disk).
//! [`keys`] splits that job for engines that shuffle rows: [`file_keys`] deals one input's
//! ids to parts as compact key rows, [`part_duplicates`] finds one part's duplicated ids.
//!
//! ```
//! use batchkit_io::{Input, ReadOptions};
//! use batchkit_validate::{validate_file, CheckOptions, Checker, Code, Diagnostic, ValidateError};
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("in.jsonl");
//! let line = |id: &str| format!(
//!     r#"{{"custom_id":"{id}","method":"POST","url":"/v1/chat/completions","body":{{"model":"gpt-4o","messages":[]}}}}"#);
//! std::fs::write(&path, format!("{}\n{}\n", line("a"), line("a"))).unwrap();
//! let checker = Checker::new(&CheckOptions::default()).unwrap();
//! let mut found = Vec::new();
//! // The sink (here a closure over file and finding) says whether to go on (a closed pipe
//! // would say no) or fails; a printer's sink also takes progress.
//! let mut sink = |_: &str, d: &Diagnostic| {
//!     found.push((d.code, d.line, d.first_line));
//!     Ok::<_, ValidateError>(true)
//! };
//! let summary = validate_file(&checker, &Input::path(&path), &ReadOptions::default(), &mut sink)
//!     .unwrap();
//! assert_eq!(found, vec![(Code::DuplicateId, Some(2), Some(1))]);
//! assert_eq!((summary.requests, summary.errors, summary.ok), (2, 1, false));
//! ```

mod check;

mod dupes;
mod ids;
mod infer;
pub mod keys;
mod sort;

use std::path::PathBuf;

use batchkit_io::{Input, ReadError, ReadOptions, ReadStats};
use batchkit_providers::{Provider, Style};
use serde::{Deserialize, Serialize};

pub use batchkit_line::{Code, Diagnostic, Severity, Sink};
pub use dupes::{
    find_dupes, CollectDuplicates, DupesOptions, DupesReport, DupesSink, Duplicate, InputStats,
};
pub use ids::{id_hash, DupGroup, Dups, IdIndex, Insert, LateDuplicate, Occurrence, Track};
pub use keys::{file_keys, part_duplicates, FileKeys, KeyRow};

/// Errors that stop a job (as opposed to findings about the input).
#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    /// `--provider` names no known provider.
    #[error("unknown provider {0:?} (known: auto, {known})", known = Provider::names().join(", "))]
    UnknownProvider(String),
    /// The JSON Schema could not be used.
    #[error("schema: {0}")]
    Schema(String),
    /// Reading an input failed.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// Temporary or output files failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The provider's format has no request id.
    #[error("{0} requests have no id field, so duplicates cannot be checked")]
    NoIdField(String),
}

/// A job whose sink fails with `io::Error` (a printer) hands its own errors back inside
/// one: the message is this error's, and `get_ref()` gives it back.
impl From<ValidateError> for std::io::Error {
    fn from(e: ValidateError) -> Self {
        std::io::Error::other(e)
    }
}

impl ValidateError {
    /// The input that could not be read, when that is what stopped the job.
    pub fn read_error(&self) -> Option<&ReadError> {
        match self {
            ValidateError::Read(r) => Some(r),
            _ => None,
        }
    }

    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> ValidateError {
        let context = context.into();
        move |source| ValidateError::Io { context, source }
    }
}

/// What to check.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// Provider name; `None` (or `auto`) infers the format from the first valid line.
    pub provider: Option<String>,
    /// A JSON Schema every request line must satisfy.
    pub schema: Option<serde_json::Value>,
    /// Report `model_mismatch` where the provider takes one model per file.
    pub check_model_mismatch: bool,
    /// Report `url_mismatch` where the provider takes one url per file.
    pub check_url_mismatch: bool,
    /// The job's memory budget: the id set takes its tables' share before it spills to
    /// disk, and a line whose parse would not fit its long-line share is reported.
    pub budget: batchkit_io::Budget,
    /// Where spilled ids go (the system temp dir when `None`).
    pub temp_dir: Option<PathBuf>,
    /// Longest line accepted.
    pub max_line_bytes: usize,
    /// Hold blank lines until the next request: between requests they are errors, at the
    /// very end of the file a warning (providers accept them). Off, every blank line is an
    /// error on the spot (what a job that must decide line by line needs).
    pub trailing_blank_lines_warn: bool,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            provider: None,
            schema: None,
            check_model_mismatch: true,
            check_url_mismatch: true,
            budget: batchkit_io::Budget::default(),
            temp_dir: None,
            max_line_bytes: 64 << 20,
            trailing_blank_lines_warn: true,
        }
    }
}

/// The rules, ready to check lines from any number of threads.
pub struct Checker {
    pub(crate) provider: Option<&'static Provider>,
    pub(crate) schema: Option<jsonschema::Validator>,
    pub(crate) max_line_bytes: usize,
    opts: CheckOptions,
}

/// Resolves a `--provider` value (`auto` or empty means infer).
pub fn resolve_provider(name: Option<&str>) -> Result<Option<&'static Provider>, ValidateError> {
    match name {
        None => Ok(None),
        Some(n) if n.eq_ignore_ascii_case("auto") || n.is_empty() => Ok(None),
        Some(n) => Provider::get(n)
            .map(Some)
            .ok_or_else(|| ValidateError::UnknownProvider(n.to_string())),
    }
}

impl Checker {
    /// Builds the rules; fails on an unknown provider or an unusable schema.
    pub fn new(opts: &CheckOptions) -> Result<Self, ValidateError> {
        let provider = resolve_provider(opts.provider.as_deref())?;
        let schema = match &opts.schema {
            None => None,
            Some(s) => Some(
                jsonschema::validator_for(s).map_err(|e| ValidateError::Schema(e.to_string()))?,
            ),
        };
        Ok(Checker {
            provider,
            schema,
            max_line_bytes: opts.max_line_bytes,
            opts: opts.clone(),
        })
    }

    /// The provider given, if not inferred.
    pub fn provider(&self) -> Option<&'static Provider> {
        self.provider
    }
}

/// What the checks found on one line.
#[derive(Debug, Clone, PartialEq)]
pub struct LineReport {
    /// 1-based line number.
    pub line: u64,
    /// Byte offset of the line start.
    pub offset: u64,
    /// Bytes of the line, terminator included.
    pub bytes: u64,
    /// Findings, in the order found.
    pub diagnostics: Vec<Diagnostic>,
    /// Whether the line is a JSON object.
    pub parsed: bool,
    /// The shape the line was checked as.
    pub style: Option<Style>,
    /// The request id, by the one id rule (`custom_id`, `key`, `recordId`, `metadata.key`).
    pub id: Option<String>,
    /// Where the id stands (its field in `styles.toml`).
    pub id_path: Option<&'static batchkit_providers::Path>,
    /// The model named in the line.
    pub model: Option<String>,
    /// The endpoint (OpenAI-style `url`).
    pub url: Option<String>,
    /// Embedding inputs (OpenAI `/v1/embeddings`; array items counted).
    pub embedding_inputs: u64,
    /// Under `--provider auto`, the provider this line's shape and endpoint point to.
    pub inferred: Option<&'static Provider>,
    /// The line is a result (an answer), not a request.
    pub result_line: bool,
}

impl LineReport {
    pub(crate) fn empty(line: u64, offset: u64, bytes: u64) -> Self {
        LineReport {
            line,
            offset,
            bytes,
            diagnostics: Vec::new(),
            parsed: false,
            style: None,
            id: None,
            id_path: None,
            model: None,
            url: None,
            embedding_inputs: 0,
            inferred: None,
            result_line: false,
        }
    }

    /// A report of a line that was not parsed, with one finding.
    pub fn with(line: u64, offset: u64, bytes: u64, finding: Diagnostic) -> Self {
        let mut r = Self::empty(line, offset, bytes);
        r.diagnostics.push(finding);
        r
    }

    /// No error-severity findings.
    pub fn is_valid(&self) -> bool {
        !self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Whether `d` says a line's shape is broken: an error about a field of the shape itself
/// (`/url`, `/body`, `/params`...: one level deep), or about the whole line (another
/// provider's format), not one inside the payload.
fn broken_shape(d: &Diagnostic) -> bool {
    d.is_error()
        && matches!(d.code, Code::MissingField | Code::WrongType)
        && d.pointer.as_deref().is_some_and(|p| {
            p.is_empty() || p.strip_prefix('/').is_some_and(|key| !key.contains('/'))
        })
}

/// The totals of one validated file, or of several ([`FileSummary::overall`]): the
/// `summary` record of `batchkit validate --format json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename = "summary")]
pub struct FileSummary {
    /// Input name; `None` for the summary of several files.
    pub file: Option<String>,
    /// Files covered.
    pub files: u64,
    /// The provider whose rules applied (`None` when nothing could be parsed).
    pub provider: Option<String>,
    /// Under `--provider auto`, when the file's shape fits several providers, all of them
    /// (only what every one would reject was reported); empty otherwise.
    #[serde(default)]
    pub candidates: Vec<String>,
    /// Lines read.
    pub lines: u64,
    /// Lines that are JSON objects.
    pub requests: u64,
    /// Bytes read (decompressed).
    pub bytes: u64,
    /// Error findings.
    pub errors: u64,
    /// Warning findings.
    pub warnings: u64,
    /// No errors.
    pub ok: bool,
}

impl FileSummary {
    /// The summary of several files: their sums, the provider (and candidates) when they
    /// share them.
    pub fn overall(all: &[FileSummary]) -> Self {
        let first = all.first().and_then(|s| s.provider.clone());
        let same = all.iter().all(|s| s.provider == first);
        let candidates = all
            .first()
            .map(|s| s.candidates.clone())
            .unwrap_or_default();
        let same_candidates = same && all.iter().all(|s| s.candidates == candidates);
        FileSummary {
            file: None,
            files: all.iter().map(|s| s.files).sum(),
            provider: if same { first } else { None },
            candidates: if same_candidates {
                candidates
            } else {
                Vec::new()
            },
            lines: all.iter().map(|s| s.lines).sum(),
            requests: all.iter().map(|s| s.requests).sum(),
            bytes: all.iter().map(|s| s.bytes).sum(),
            errors: all.iter().map(|s| s.errors).sum(),
            warnings: all.iter().map(|s| s.warnings).sum(),
            ok: all.iter().all(|s| s.ok),
        }
    }

    /// The summary of an input that could not be read: one error, not ok.
    pub fn unreadable(file: impl Into<String>) -> Self {
        FileSummary {
            file: Some(file.into()),
            files: 1,
            provider: None,
            candidates: Vec::new(),
            lines: 0,
            requests: 0,
            bytes: 0,
            errors: 1,
            warnings: 0,
            ok: false,
        }
    }
}

/// Greedy count of the shards `shard` would cut (valid lines, provider caps).
#[derive(Debug, Default)]
struct Greedy {
    shards: u64,
    reqs: u64,
    bytes: u64,
    inputs: u64,
}

impl Greedy {
    fn add(&mut self, p: &Provider, bytes: u64, inputs: u64) {
        let over = |cap: Option<u64>, now: u64, add: u64| cap.is_some_and(|c| now + add > c);
        if self.shards == 0
            || over(p.max_requests, self.reqs, 1)
            || over(p.max_bytes, self.bytes, bytes)
            || (inputs > 0 && over(p.max_embedding_inputs, self.inputs, inputs))
        {
            self.shards += 1;
            self.reqs = 0;
            self.bytes = 0;
            self.inputs = 0;
        }
        self.reqs += 1;
        self.bytes += bytes;
        self.inputs += inputs;
    }
}

/// The finding for a run of blank lines: an error between requests, a warning at the end.
/// The checks that need to see lines in order: one per input file.
pub struct FileChecker<'c> {
    checker: &'c Checker,
    name: String,
    provider: Option<&'static Provider>,
    style_line: u64,
    /// The shape of the first request (under `--provider auto`, every line must have it).
    first_style: Option<Style>,
    /// Under auto, an OpenAI-style file whose models are not OpenAI's: the hosts that take
    /// mixed models and every url seen (`urls_seen`) are its candidates.
    foreign_models: bool,
    urls_seen: Vec<String>,
    ids: IdIndex,
    first_url: Option<(String, u64)>,
    first_model: Option<(String, u64)>,
    requests: u64,
    errors: u64,
    warnings: u64,
    embedding_inputs: u64,
    greedy: Greedy,
    /// A run of blank lines not yet known to be between requests: (first line, its offset,
    /// last line, count).
    blank_run: batchkit_line::BlankRun,
    /// Result lines seen (a result file given as requests).
    result_lines: u64,
    /// Whether a Vertex line without an id was seen (said once per file).
    joined_by_content: bool,
    /// Where the first id stood: the field named by duplicates found after the id set
    /// spilled (each one found before is named by its own line's field).
    id_path: Option<&'static batchkit_providers::Path>,
}

/// The id field a duplicate-id finding names: where the id stood (`metadata.key`), else the
/// provider's shape's (`custom_id` for a shape without one, such as Vertex's).
fn id_name(at: Option<&batchkit_providers::Path>, provider: Option<&Provider>) -> String {
    match at {
        Some(p) => p.0.join("."),
        None => provider
            .and_then(|p| p.id_field())
            .unwrap_or("custom_id")
            .to_string(),
    }
}

impl<'c> FileChecker<'c> {
    /// Starts checking the input called `name`.
    pub fn new(checker: &'c Checker, name: impl Into<String>) -> Self {
        FileChecker {
            checker,
            name: name.into(),
            provider: checker.provider,
            style_line: 0,
            first_style: None,
            foreign_models: false,
            urls_seen: Vec::new(),
            ids: IdIndex::new(
                checker.opts.budget.tables(),
                checker.opts.temp_dir.clone(),
                Track::First,
            ),
            first_url: None,
            first_model: None,
            requests: 0,
            errors: 0,
            warnings: 0,
            embedding_inputs: 0,
            greedy: Greedy::default(),
            blank_run: Default::default(),
            id_path: None,
            result_lines: 0,
            joined_by_content: false,
        }
    }

    /// The provider whose rules apply (inferred from the first request under `auto`).
    pub fn provider(&self) -> Option<&'static Provider> {
        self.provider
    }

    /// Adds the cross-line findings for the next line, in input order.
    pub fn observe(&mut self, r: &mut LineReport) -> Result<(), ValidateError> {
        if r.result_line {
            // A result file: said on its first line, and for the others once at the end (one
            // finding, one error: the summary counts what it prints).
            self.result_lines += 1;
            if self.result_lines > 1 {
                r.diagnostics.clear();
                return Ok(());
            }
        }
        if r.parsed && !r.result_line {
            self.requests += 1;
        }
        let inferred = r.inferred;
        if let (Some(p), Some(i)) = (self.provider, inferred) {
            if self.checker.provider.is_none() && infer::upgrade(p, i) {
                // The file's endpoints say whose it is (Azure, Groq): its rules from here on.
                self.provider = Some(i);
            }
        }
        if let Some(style) = r.style {
            match self.provider {
                None => {
                    self.provider = Some(inferred.unwrap_or_else(|| style.auto_provider()));
                    self.style_line = r.line;
                    self.first_style = Some(style);
                }
                Some(_)
                    if self.checker.provider.is_none()
                        && self.first_style.is_some_and(|first| first != style) =>
                {
                    let mut d = Diagnostic::at(
                        Code::MissingField,
                        Severity::Error,
                        r.line,
                        r.offset,
                        format!(
                            "this line is {}, but the file is {} (from line {}); one file holds one format",
                            style.describe(),
                            self.first_style.map_or("", Style::describe),
                            self.style_line
                        ),
                    );
                    d.pointer = Some(String::new());
                    r.diagnostics.push(d);
                }
                Some(_) => {}
            }
        }
        if !self.joined_by_content {
            if let Some(d) = check::joined_by_content(r) {
                self.joined_by_content = true;
                r.diagnostics.push(d);
            }
        }
        if let (Some(id), true) = (&r.id, r.parsed) {
            self.id_path = self.id_path.or(r.id_path);
            let occ = Occurrence {
                file: 0,
                line: r.line,
                offset: r.offset,
            };
            let found = self
                .ids
                .insert(id.as_bytes(), occ)
                .map_err(ValidateError::io("spilling ids"))?;
            if let Insert::Duplicate(first) = found {
                let mut d = Diagnostic::at(
                    Code::DuplicateId,
                    Severity::Error,
                    r.line,
                    r.offset,
                    format!(
                        "{} {id:?} already used on line {}",
                        id_name(r.id_path.or(self.id_path), self.provider),
                        first.line
                    ),
                );
                d.first_line = Some(first.line);
                r.diagnostics.push(d);
            }
        }
        if let Some(p) = self.provider {
            let clean = r.is_valid();
            // A line whose shape is broken (one of its shape's own fields missing or
            // mistyped, or another provider's format) takes no part in the url and model
            // checks, as an unparsed line does not: its url or model says nothing about the
            // file. A line whose shape is whole is still compared when it is wrong elsewhere
            // (a bad id, a body field its endpoint needs).
            let compared = !r.diagnostics.iter().any(broken_shape);
            // Under auto, models that are not OpenAI's in OpenAI-style lines mean a Groq,
            // Parasail, Doubleword or self-hosted file, where models and endpoints mix.
            let models_mix = self.checker.provider.is_none()
                && p.name == "openai"
                && self
                    .first_model
                    .as_ref()
                    .map(|(m, _)| m.as_str())
                    .or(r.model.as_deref())
                    .is_some_and(|m| !infer::looks_openai_model(m));
            if models_mix && compared {
                self.foreign_models = true;
            }
            if let Some(url) = r.url.as_ref().filter(|_| self.checker.provider.is_none()) {
                // A file uses a handful of endpoints; the list stays small.
                if self.urls_seen.len() < 64 && !self.urls_seen.contains(url) {
                    self.urls_seen.push(url.clone());
                }
            }
            if p.one_url && self.checker.opts.check_url_mismatch && !models_mix && compared {
                if let Some(url) = &r.url {
                    match &self.first_url {
                        None if clean => self.first_url = Some((url.clone(), r.line)),
                        Some((first, at)) if first != url => r.diagnostics.push(Diagnostic::at(
                            Code::UrlMismatch,
                            Severity::Error,
                            r.line,
                            r.offset,
                            format!("url {url:?} differs from {first:?} (line {at}); {} takes one endpoint per file", p.label),
                        )),
                        _ => {}
                    }
                }
            }
            if p.one_model && self.checker.opts.check_model_mismatch && !models_mix && compared {
                if let Some(model) = &r.model {
                    match &self.first_model {
                        None if clean => self.first_model = Some((model.clone(), r.line)),
                        Some((first, at)) if first != model => r.diagnostics.push(Diagnostic::at(
                            Code::ModelMismatch,
                            Severity::Error,
                            r.line,
                            r.offset,
                            format!("model {model:?} differs from {first:?} (line {at}); {} takes one model per file", p.label),
                        )),
                        _ => {}
                    }
                }
            }
            if r.is_valid() && r.parsed {
                self.embedding_inputs += r.embedding_inputs;
                self.greedy.add(p, r.bytes, r.embedding_inputs);
            }
        }
        let defer = self.checker.opts.trailing_blank_lines_warn;
        if defer
            && !r.parsed
            && r.diagnostics.len() == 1
            && r.diagnostics[0].code == Code::EmptyLine
        {
            // Blank: an error only if a request follows.
            r.diagnostics.clear();
            self.blank_run.blank(r.line, r.offset);
            return Ok(());
        }
        for d in &mut r.diagnostics {
            if d.custom_id.is_none() {
                d.custom_id.clone_from(&r.id);
            }
            match d.severity {
                Severity::Error => self.errors += 1,
                Severity::Warning => self.warnings += 1,
            }
        }
        if let Some(d) = self.blank_run.before_request() {
            self.errors += 1;
            r.diagnostics.insert(0, d);
        }
        Ok(())
    }

    /// Late duplicates (found after the id set spilled), ordered by line, then file-level
    /// findings: each passed to `on_diag`. Returns the summary. `stats` are the reader's
    /// totals for this input.
    ///
    /// `on_diag` is a sink: `Ok(false)` stops passing findings on (a closed pipe), an error
    /// stops the job with that error.
    pub fn finish<E: From<ValidateError>>(
        mut self,
        stats: &ReadStats,
        mut on_diag: impl FnMut(&Diagnostic) -> Result<bool, E>,
    ) -> Result<FileSummary, E> {
        let mut go_on = true;
        let mut sink_err: Option<E> = None;
        let field = id_name(self.id_path, self.provider);
        let ids = std::mem::replace(&mut self.ids, IdIndex::new(1, None, Track::First));
        let mut late_errors = 0;
        ids.finish_late(|late| {
            let id = String::from_utf8_lossy(late.id);
            let mut d = Diagnostic::at(
                Code::DuplicateId,
                Severity::Error,
                late.at.line,
                late.at.offset,
                format!("{field} {id:?} already used on line {}", late.first.line),
            );
            d.first_line = Some(late.first.line);
            d.custom_id = Some(id.into_owned());
            late_errors += 1;
            if go_on {
                match on_diag(&d) {
                    Ok(more) => go_on = more,
                    Err(e) => {
                        sink_err = Some(e);
                        go_on = false;
                    }
                }
            }
            true
        })
        .map_err(ValidateError::io("reading spilled ids"))?;
        if let Some(e) = sink_err {
            return Err(e);
        }
        self.errors += late_errors;
        let mut out = Vec::new();
        if let Some(d) = self.blank_run.at_end() {
            out.push(d.with_context("`shard` keeps them out of the shards"));
        }
        if self.result_lines > 1 {
            out.push(Diagnostic::file(
                Code::MissingField,
                Severity::Error,
                batchkit_json::syntax::result_lines(self.result_lines),
            ));
        }
        if let Some(p) = self.provider {
            if let Some(max) = p.max_requests {
                if self.requests > max {
                    out.push(Diagnostic::file(
                        Code::TooManyRequests,
                        Severity::Error,
                        format!(
                            "{} requests; {} takes at most {max} per batch: `batchkit shard` would make {} files",
                            self.requests, p.label, self.greedy.shards
                        ),
                    ));
                }
            }
            if let Some(min) = p.min_requests {
                if self.requests > 0 && self.requests < min {
                    out.push(Diagnostic::file(
                        Code::TooFewRequests,
                        Severity::Error,
                        format!(
                            "{} requests; {} batch jobs take at least {min}: add requests or put files together",
                            self.requests, p.label
                        ),
                    ));
                }
            }
            if let Some(max) = p.max_embedding_inputs {
                if self.embedding_inputs > max {
                    out.push(Diagnostic::file(
                        Code::TooManyRequests,
                        Severity::Error,
                        format!(
                            "{} embedding inputs; {} takes at most {max} per batch: `batchkit shard` would make {} files",
                            self.embedding_inputs, p.label, self.greedy.shards
                        ),
                    ));
                }
            }
            if let Some(max) = p.max_bytes {
                if stats.bytes > max {
                    out.push(Diagnostic::file(
                        Code::FileTooLarge,
                        Severity::Error,
                        format!(
                            "{} bytes; {} takes at most {max} bytes ({}) per batch file: `batchkit shard` would make {} files",
                            stats.bytes,
                            p.label,
                            batchkit_io::format_size(max),
                            self.greedy.shards
                        ),
                    ));
                }
            }
        }
        if self.requests == 0 && self.result_lines == 0 {
            out.push(Diagnostic::file(
                Code::EmptyFile,
                Severity::Error,
                "no requests: providers reject an empty batch",
            ));
        }
        for d in &out {
            match d.severity {
                Severity::Error => self.errors += 1,
                Severity::Warning => self.warnings += 1,
            }
            if go_on {
                go_on = on_diag(d)?;
            }
        }
        // A shape several providers use as their own ({custom_id, body}: Mistral, Together,
        // Fireworks, Novita, OpenRouter) was checked by the rules all of them apply: every
        // one is named.
        // An OpenAI-style file of other models is one of the hosts that take mixed models
        // and serve every endpoint it uses.
        let candidates = match self.provider {
            Some(p) if self.checker.provider.is_none() && !p.candidates.is_empty() => {
                p.candidates.clone()
            }
            Some(p)
                if self.checker.provider.is_none() && p.name == "openai" && self.foreign_models =>
            {
                let hosts: Vec<String> = Style::OpenAi
                    .providers()
                    .filter(|o| !o.one_model && self.urls_seen.iter().all(|u| o.url_allowed(u)))
                    .map(|o| o.name.clone())
                    .collect();
                if hosts.len() > 1 {
                    hosts
                } else {
                    Vec::new()
                }
            }
            _ => Vec::new(),
        };
        let summary = FileSummary {
            file: Some(self.name),
            files: 1,
            provider: self.provider.map(|p| p.name.clone()),
            candidates,
            lines: stats.lines,
            requests: self.requests,
            bytes: stats.bytes,
            errors: self.errors,
            warnings: self.warnings,
            ok: self.errors == 0,
        };
        Ok(summary)
    }
}

/// Checks one input: every finding, then its progress after each chunk, goes to `sink` in
/// input order; `Ok(false)` from the sink stops the read (the summary then covers what was
/// read), an error from it stops the job with that error.
pub fn validate_file<S>(
    checker: &Checker,
    input: &Input,
    read: &ReadOptions,
    sink: &mut S,
) -> Result<FileSummary, S::Error>
where
    S: Sink,
    S::Error: From<ValidateError>,
{
    let mut fc = FileChecker::new(checker, input.name.clone());
    let name = input.name.as_str();
    let mut stopped = false;
    let mut sink_err: Option<S::Error> = None;
    let stats = batchkit_io::run(
        input,
        read,
        |chunk| checker.check_chunk(chunk),
        |chunk, reports| -> Result<bool, ValidateError> {
            let mut told = |r: Result<bool, S::Error>| match r {
                Ok(true) => true,
                Ok(false) => {
                    stopped = true;
                    false
                }
                Err(e) => {
                    sink_err = Some(e);
                    false
                }
            };
            for mut r in reports {
                fc.observe(&mut r)?;
                for d in &r.diagnostics {
                    if !told(sink.finding(name, d)) {
                        return Ok(false);
                    }
                }
            }
            Ok(told(sink.progress(name, chunk.source_pos)))
        },
    )?;
    if let Some(e) = sink_err {
        return Err(e);
    }
    if stopped {
        return fc.finish(&stats, |_| Ok::<bool, S::Error>(false));
    }
    fc.finish(&stats, |d| sink.finding(name, d))
}

#[cfg(test)]
mod tests;
