//! Exact input-token counts and cost of LLM batch files, before upload.
//!
//! Each request line is counted with its model's real tokenizer, embedded in the binary
//! (`o200k_base`, `o200k_harmony`, `cl100k_base`; no download at run time), by the rule of
//! its endpoint: OpenAI's cookbook rule for chat completions (3 per reply, 3 per message, 1
//! per `name`, plus the tokens of every string field; image parts by the tile rule; tool
//! definitions by the cookbook's `num_tokens_for_tools`; `response_format` adds nothing), the
//! tokens of each input for embeddings and completions. Requests to models without a public
//! tokenizer (Claude, Gemini) and parts no published rule covers (tools on models the
//! cookbook does not cover, audio parts, the Responses API) get an estimate made with
//! `o200k_base`, always marked `exact: false`. Endpoints with no text input (audio
//! transcriptions and translations) get no count (`input_tokens: None`).
//!
//! [`count_input`] streams one input through the `batchkit-io` reader (parallel, bounded
//! memory, results in input order) and adds every line to a [`Totals`]; [`Totals::summary`]
//! prices the totals with a [`PriceTable`].
//!
//! ```
//! use batchkit_io::{Input, ReadOptions};
//! use batchkit_tokens::{count_input, Diagnostic, Options, PriceTable, TokensError, Totals};
//! # fn main() -> Result<(), batchkit_tokens::TokensError> {
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("batch.jsonl");
//! std::fs::write(&path, concat!(
//!     r#"{"custom_id":"r1","method":"POST","url":"/v1/chat/completions","body":"#,
//!     r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello world!"}],"max_tokens":100}}"#,
//!     "\n",
//! )).unwrap();
//! let mut totals = Totals::default();
//! let opts = Options { model: None, read: ReadOptions::default(), ..Options::default() };
//! // A closure over (file, finding) is a sink that only hears findings.
//! let mut sink = |_: &str, _: &Diagnostic| Ok::<_, TokensError>(true);
//! count_input(&Input::path(&path), &opts, &mut totals, &mut sink)?;
//! let summary = totals.summary(&PriceTable::embedded());
//! assert_eq!(summary.input_tokens, 3 + 3 + 1 + 3); // priming + message + "user" + text
//! assert_eq!(summary.models[0].max_output_tokens, 100);
//! assert!(summary.exact);
//! let cost = summary.cost.unwrap().base;
//! assert!(cost.batch_high > cost.batch_low);
//! # Ok(()) }
//! ```

// A line's outcome is its count or its diagnostic, both a few words: boxing the error would
// only add an allocation per bad line.
#![allow(clippy::result_large_err)]

mod bpe;
mod cache;
mod encoding;
mod image;
mod prices;
mod request;
mod split;
mod targets;
mod tools;
mod totals;

pub use batchkit_line::{BlankRun, Code, Diagnostic, Severity, Sink};
pub use cache::{
    cache_policy, BreakpointHint, CachePolicy, CacheRule, ModelCache, PrefixTable, Prefixes,
    SharedPrefix, Ttl, DEFAULT_TABLE_SLOTS, PREFIX_STEP,
};
pub use encoding::{normalize_model, tokenizer_for, Encoding, Tokenizer};
pub use image::{data_url_size, image_size, openai_image_tokens, tiles};
pub use prices::{batch_cache_cost, round_money, CacheTokens, Cost, Price, PriceError, PriceTable};
pub use request::{count_parsed, count_request, count_request_planned, RequestCount};
pub use targets::{cheapest_first, FileCut, LineConverter, Target, TargetSummary, TargetTotals};
pub use totals::{
    Advice, CachePlan, FileTotals, ModelSummary, PlannedCost, PricesUsed, Queue, SharedPrefixes,
    Summary, Totals, DEFAULT_MAX_MODELS, OTHER_MODELS,
};

use batchkit_io::{Chunk, Input, ReadError, ReadOptions};

/// How to count.
#[derive(Debug, Clone)]
pub struct Options {
    /// Count every request as this model (its tokenizer and price) instead of the model the
    /// line names: Azure deployment names, Gemini files that carry no model.
    pub model: Option<String>,
    /// How to read the input.
    pub read: ReadOptions,
    /// Per-model entries kept in the totals (default [`DEFAULT_MAX_MODELS`]); requests of
    /// further models are summed under [`OTHER_MODELS`] and counted in
    /// [`Summary::aggregated_requests`], so memory stays bounded at any number of models.
    pub max_models: usize,
    /// Work out the prompt-cache plan (shared prefixes, see [`Totals::summary`]'s `cache`).
    pub cache_plan: bool,
    /// Providers and models to price the file on as well, each line converted as the target
    /// gets it ([`Totals::targets`], [`Totals::target_summaries`]).
    pub targets: Vec<Target>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            model: None,
            read: ReadOptions::default(),
            max_models: DEFAULT_MAX_MODELS,
            cache_plan: true,
            targets: Vec::new(),
        }
    }
}

/// Errors that stop the count of an input.
#[derive(Debug, thiserror::Error)]
pub enum TokensError {
    /// The input could not be read (names the input, line and byte offset).
    #[error(transparent)]
    Read(#[from] ReadError),
    /// A `--pricing` file could not be used.
    #[error(transparent)]
    Price(#[from] PriceError),
    /// Writing the results failed.
    #[error("writing output: {0}")]
    Output(#[from] std::io::Error),
}

/// A job whose sink fails with `io::Error` (a printer) hands its own errors back inside
/// one: the message is this error's, and `get_ref()` gives it back; a failed write stays
/// the `io::Error` it was.
impl From<TokensError> for std::io::Error {
    fn from(e: TokensError) -> Self {
        match e {
            TokensError::Output(e) => e,
            e => std::io::Error::other(e),
        }
    }
}

/// Why the read of one input stopped: the reader failed, or the sink did.
enum Stop<E> {
    Read(ReadError),
    Sink(E),
}

impl<E> From<ReadError> for Stop<E> {
    fn from(e: ReadError) -> Self {
        Stop::Read(e)
    }
}

impl TokensError {
    /// The input that could not be read, when that is what stopped the count.
    pub fn read_error(&self) -> Option<&ReadError> {
        match self {
            TokensError::Read(r) => Some(r),
            _ => None,
        }
    }
}

/// Where `tokens` puts what it finds: findings (lines not counted, repeated keys) and
/// progress through [`Sink`], and every counted request.
pub trait TokensSink: Sink {
    /// A counted request of `file` at 1-based `line`, starting at byte `offset`.
    fn counted(
        &mut self,
        file: &str,
        line: u64,
        offset: u64,
        count: &RequestCount,
    ) -> Result<bool, Self::Error>;
}

/// A closure over `(file, finding)` hears findings only: counted requests go to the totals.
impl<E, F> TokensSink for F
where
    F: FnMut(&str, &Diagnostic) -> Result<bool, E>,
{
    fn counted(&mut self, _: &str, _: u64, _: u64, _: &RequestCount) -> Result<bool, E> {
        Ok(true)
    }
}

/// One line's outcome: line, offset, count, cache-prefix boundaries, length (with its
/// newline), and its count for each `--target`.
type LineResult = (
    u64,
    u64,
    Result<RequestCount, Diagnostic>,
    Option<Prefixes>,
    u64,
    Vec<targets::TargetLine>,
);
type ChunkResult = Vec<LineResult>;

fn count_chunk(
    chunk: &Chunk,
    opts: &Options,
    max_line: usize,
    plan: bool,
    budget: &batchkit_io::Budget,
) -> ChunkResult {
    let model = opts.model.as_deref();
    if let Some(over) = chunk.oversized {
        let problem = Diagnostic::at(
            Code::LineTooLarge,
            Severity::Error,
            over.line,
            over.offset,
            batchkit_json::syntax::line_too_large(over.len, max_line as u64),
        );
        return vec![(over.line, over.offset, Err(problem), None, 0, Vec::new())];
    }
    chunk
        .lines()
        .map(|l| {
            // A line whose parse would not fit the budget is reported as validate reports it.
            if let Err(need) = budget.parse_fits(l.content) {
                let problem = Diagnostic::at(
                    Code::LineTooLarge,
                    Severity::Error,
                    l.number,
                    l.offset,
                    batchkit_json::syntax::too_big_to_parse(
                        l.content.len(),
                        &batchkit_io::format_size(need),
                        &batchkit_io::format_size(budget.total()),
                    ),
                );
                return (l.number, l.offset, Err(problem), None, 0, Vec::new());
            }
            let (r, p) = count_request_planned(l.content, model, plan);
            let r = r.map_err(|d| d.placed(l.number, l.offset));
            // A line the file's own count refuses is not priced elsewhere either.
            let t = match &r {
                Ok(_) => opts
                    .targets
                    .iter()
                    .map(|t| targets::count_for(t, l.content, plan))
                    .collect(),
                Err(_) => Vec::new(),
            };
            (l.number, l.offset, r, p, l.content.len() as u64 + 1, t)
        })
        .collect()
}

/// Counts every line of `input`, adds it to `totals`, and tells `sink` in input order
/// (whatever the number of threads): each counted request, each line not counted (with what
/// was done: "not counted", or "skipped" for a blank line), each repeated key, and progress
/// after each chunk. `Ok(false)` from the sink stops the count there. Returns the totals of
/// this input.
pub fn count_input<S>(
    input: &Input,
    opts: &Options,
    totals: &mut Totals,
    sink: &mut S,
) -> Result<FileTotals, S::Error>
where
    S: TokensSink,
    S::Error: From<TokensError>,
{
    let max_line = opts.read.max_line_bytes;
    totals.set_max_models(opts.max_models);
    totals.start_targets(&opts.targets, &opts.read.budget);
    totals.files += 1;
    let before = FileTotals::of(totals, &input.name);
    let plan = opts.cache_plan;
    let file = input.name.as_str();
    // Blank lines are reported as validate reports them: a run between requests is one
    // error, a run at the end of the file one warning; either way they are skipped.
    let mut blanks = BlankRun::default();
    // A result file: its first line is reported, the others once at the end, as validate does.
    let mut result_lines = 0u64;
    let stats = batchkit_io::run(
        input,
        &opts.read,
        |chunk| count_chunk(chunk, opts, max_line, plan, &opts.read.budget),
        |chunk, results| -> Result<bool, Stop<S::Error>> {
            if !opts.targets.is_empty() {
                totals.own_provider_from(chunk);
            }
            for (line, offset, result, prefixes, len, counts) in results {
                if matches!(&result, Err(d) if d.code == Code::EmptyLine) {
                    blanks.blank(line, offset);
                    continue;
                }
                if let Some(d) = blanks.before_request() {
                    totals.add(&Err(d.clone()));
                    if !sink
                        .finding(file, &d.with_context("skipped"))
                        .map_err(Stop::Sink)?
                    {
                        return Ok(false);
                    }
                }
                if let Err(d) = &result {
                    if batchkit_json::syntax::is_result_file(&d.message) {
                        result_lines += 1;
                        if result_lines > 1 {
                            continue;
                        }
                    }
                }
                totals.add(&result);
                if result.is_ok() {
                    totals.add_targets(counts, len, file, line);
                }
                let go = match &result {
                    Ok(r) => {
                        if let Some(p) = &prefixes {
                            totals.add_prefixes(r, p, file, line);
                        }
                        for pointer in &r.duplicate_keys {
                            let d = Diagnostic::at(
                                Code::DuplicateKey,
                                Severity::Warning,
                                line,
                                offset,
                                batchkit_json::duplicate_key_message(pointer),
                            )
                            .with_pointer(pointer.as_str());
                            if !sink.finding(file, &d).map_err(Stop::Sink)? {
                                return Ok(false);
                            }
                        }
                        sink.counted(file, line, offset, r).map_err(Stop::Sink)?
                    }
                    Err(d) => sink
                        .finding(file, &d.clone().with_context("not counted"))
                        .map_err(Stop::Sink)?,
                };
                if !go {
                    return Ok(false);
                }
            }
            sink.progress(file, chunk.source_pos).map_err(Stop::Sink)
        },
    )
    .map_err(|e| match e {
        Stop::Read(r) => {
            totals.unreadable += 1;
            S::Error::from(TokensError::Read(r))
        }
        Stop::Sink(e) => e,
    })?;
    if let Some(d) = blanks.at_end() {
        totals.add(&Err(d.clone()));
        sink.finding(file, &d.with_context("skipped"))?;
    }
    if result_lines > 1 {
        let d = Diagnostic::file(
            Code::MissingField,
            Severity::Error,
            batchkit_json::syntax::result_lines(result_lines),
        );
        totals.add(&Err(d.clone()));
        sink.finding(file, &d.with_context("not counted"))?;
    }
    totals.lines += stats.lines;
    totals.bytes += stats.bytes;
    Ok(FileTotals::of(totals, &input.name).minus(&before))
}
