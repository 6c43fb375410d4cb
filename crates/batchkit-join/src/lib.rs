//! Joins the results of an LLM batch back to its requests by id, in bounded memory.
//!
//! Results come back in any order, split over output and error files, some requests missing
//! entirely. [`join`] gives every request exactly once, in request order, with its
//! [`Status`], writes the request lines that did not succeed (byte-exact) to a retry file, the
//! results that match no request to an orphans file, and totals the usage the provider
//! reported.
//!
//! Memory stays under the budget of [`JoinOptions::read`] at any input size: while the results fit,
//! they are held in memory and the requests are streamed past them once; when they do not, a
//! partitioned (grace) hash join spills to a temporary directory that is removed on success
//! and on failure. Results read from plain (uncompressed) files are held as offsets, not
//! bytes: their lines are read back by position when the merged lines are written. Both paths
//! write byte-identical outputs, whatever the number of threads.
//!
//! Statuses come from the provider's envelope (HTTP status, error codes) and then from its own
//! stop-reason field (`finish_reason`, `stop_reason`, `finishReason`...; the table is
//! `batchkit_providers::stop_reasons`): an answer cut by the output cap is `truncated`, a
//! refused or filtered one `refused`. The merged line keeps the value as `stop_reason`.
//! A finished answer is then checked against the structured output its request asked for
//! (`answer`: JSON Schema, Gemini's OpenAPI subset, a forced tool's input schema;
//! [`JoinOptions::answer_schema`] and [`JoinOptions::expect_json`] set or add to it): one that
//! is not JSON or breaks the schema is `invalid_answer`, its first violation in the merged
//! line as `answer_problem` and reported as [`Event::InvalidAnswer`].
//!
//! Duplicate results (several result lines for one id, as after rounds of retries): the
//! merged line takes the best status (succeeded > truncated > refused > errored > expired >
//! canceled, before the answer check; a finished answer that then fails it is still better
//! than a truncated one), among equals the line of the result file given later (the newer round), and
//! within one file the earlier line; every other line goes to
//! [`JoinOptions::duplicates`] when given, else to the orphans file, and is reported as
//! [`Event::DuplicateResult`]. A request whose id an earlier request line already used gets no
//! result (status `missing`, problem `duplicate_id`, with the first line) and is kept out of
//! the retry file, which so never holds an id twice (providers reject a batch that does).
//!
//! Results without an id join by content: a Vertex AI output row echoes the request it
//! answers and carries no id unless the request had one (`custom_id`, `key`, LiteLLM's
//! `request.labels.litellm_custom_id`, or `key` for a job that set `instanceConfig.keyField`:
//! those are ids, used first). A request line without one is matched to the rows by a
//! canonical form of its `request` (a legacy embedding line: the line itself, echoed as
//! `instance`): member order, `snake_case` or `camelCase` names, nulls, how numbers and strings
//! are written do not matter. Identical requests are matched in order, the first row to the
//! first request not yet matched; the merged line's `custom_id` is `null`, and the summary
//! counts them ([`JoinSummary::matched_by_content`]). The content key lives in the same
//! tables and partitions as ids, so both paths and the memory bound hold alike.
//!
//! A results file may also be one JSON document with a top-level `results` array
//! (OpenRouter's inline results, saved from `GET /api/v1/batches/{id}`, pretty-printed or
//! not): its items are streamed to JSON Lines first and read as any results file, a finding's
//! line being the item's place in `results`.
//!
//! Every merged line is JSON: a request line that is not valid UTF-8 or not one JSON value is
//! reported ([`Problem::InvalidUtf8`], [`Problem::InvalidJson`]) and kept out of the merged
//! and retry files (counted in [`JoinSummary::invalid_requests`]); such a result line is
//! reported and goes to the orphans file, never into a merged line. The retry file is ready to
//! upload: a request line that cannot be sent again as it is (not JSON, not an object, no id,
//! no payload or an empty one where its shape keeps one) is reported and goes to
//! [`JoinOptions::rejects`] instead. An input on the wrong side (a result file as requests, a
//! request file as results) is refused, and the outputs are put in place together or not at
//! all.
//!
//! ```
//! use batchkit_join::{join, JoinOptions, Status};
//! use batchkit_io::Input;
//! # fn main() -> Result<(), batchkit_join::JoinError> {
//! let dir = tempfile::tempdir().unwrap();
//! let req = dir.path().join("req.jsonl");
//! let res = dir.path().join("out.jsonl");
//! std::fs::write(&req, "{\"custom_id\":\"a\",\"body\":{\"n\":1}}\n{\"custom_id\":\"b\",\"body\":{\"n\":2}}\n{\"body\":{\"n\":3}}\n").unwrap();
//! std::fs::write(&res, "{\"custom_id\":\"b\",\"response\":{\"status_code\":200,\"body\":{}},\"error\":null}\n").unwrap();
//! let mut opts = JoinOptions::new(vec![Input::path(&req)], vec![Input::path(&res)], dir.path().join("merged.jsonl"));
//! opts.retry = Some(dir.path().join("retry.jsonl"));
//! opts.rejects = Some(dir.path().join("rejects.jsonl"));
//! // Events go to a sink; an error from it (a closed pipe) stops the join.
//! let summary = join(&opts, &mut batchkit_join::Events(|_: &batchkit_join::Event| Ok(())))?;
//! assert_eq!((summary.count(Status::Succeeded), summary.count(Status::Missing)), (1, 2));
//! // The retry file is ready to upload: the line without an id goes to the rejects.
//! assert_eq!(std::fs::read(dir.path().join("retry.jsonl")).unwrap(), b"{\"custom_id\":\"a\",\"body\":{\"n\":1}}\n");
//! assert_eq!(std::fs::read(dir.path().join("rejects.jsonl")).unwrap(), b"{\"body\":{\"n\":3}}\n");
//! # Ok(()) }
//! ```

mod answer;
mod content;
mod cost;
mod document;
mod engine;
pub mod keys;
mod parse;
mod part;
mod partition;
mod probe;
pub mod raise;
mod render;
mod store;

use std::path::PathBuf;

use batchkit_io::{Input, ReadError, ReadOptions};
pub use batchkit_line::Sink;
use serde::Serialize;

pub use cost::{batch_cost, default_prices, BatchPrice, NoPrices, Prices};
pub use engine::join;
pub use keys::{Decided, Dest, KeyRow, ResultSide};
pub use parse::{result_info, ResultInfo, Stop, Text, Unjoinable, Usage};

/// The usage result line `line` reports and the model it names, as the join totals them
/// (`None` when it reports no usage or is not a result line): what `compare` adds up from the
/// `result` of merged lines.
pub fn result_usage(line: &[u8]) -> Option<(Usage, Option<String>)> {
    let info = parse::result_info(line);
    let usage = info.usage?;
    Some((usage, info.model.map(std::borrow::Cow::into_owned)))
}

/// The first tool call of result line `line` as JSON text (a `tool_use` input, a function
/// call's arguments), for an answer that is a call rather than text: what `compare` compares
/// when a merged line's `output_text` is null.
pub fn result_tool_call(line: &[u8]) -> Option<String> {
    answer::tool_call(line)
}

/// Bench and test access to the line parsers (not a stable API).
#[doc(hidden)]
pub mod hot {
    /// Parses one result line; returns (id, status) as the join sees them.
    pub fn result_status(line: &[u8]) -> (Option<String>, Option<crate::Status>) {
        let i = crate::parse::result_info(line);
        (i.id.map(|c| c.into_owned()), i.status)
    }
    /// Parses one result line; returns the answer text as the merged line would hold it (a
    /// JSON string literal), when it has one.
    pub fn result_text(line: &[u8]) -> Option<Vec<u8>> {
        match crate::parse::result_info(line).text? {
            crate::parse::Text::Raw { start, len } => Some(line[start..start + len].to_vec()),
            crate::parse::Text::Owned(s) => Some(s.into_bytes()),
        }
    }
    /// The answer checker of a join with default options (no `--answer-schema`, no
    /// `--expect-json`), its schemas compiled once and kept, as a join keeps them.
    pub struct AnswerCheck(crate::answer::Checker);

    impl Default for AnswerCheck {
        fn default() -> Self {
            AnswerCheck(crate::answer::Checker::new(None, false, 16 << 20).expect("no schema"))
        }
    }

    impl AnswerCheck {
        /// What a join says of the answer in `result` to `request` (both lines, without their
        /// line ends): `None` when it fits what the request asked for (or nothing was asked),
        /// else the first violation's message.
        pub fn check(&self, request: &[u8], result: &[u8]) -> Option<String> {
            let want = batchkit_line::read(request, |root| self.0.want(root)).ok()?;
            let info = crate::parse::result_info(result);
            let text = match &info.text {
                Some(crate::parse::Text::Raw { start, len }) => {
                    Some(result[*start..start + len].to_vec())
                }
                Some(crate::parse::Text::Owned(s)) => Some(s.clone().into_bytes()),
                None => None,
            };
            let stop = info
                .stop
                .as_ref()
                .map(|s| result[s.start..s.start + s.len].to_vec());
            self.0
                .check(&want, text.as_deref(), result, stop.as_deref())
                .map(|p| p.message)
        }
    }
    /// Parses one request line; returns its id.
    pub fn request_id(line: &[u8]) -> Option<String> {
        match crate::parse::request_id(line) {
            crate::parse::RequestId::Id { id, .. } => Some(id.into_owned()),
            _ => None,
        }
    }
    /// The id hash used for partitions and the probe table.
    pub fn hash_id(id: &[u8]) -> u64 {
        crate::store::hash_id(id)
    }
    /// Renders the merged line of a succeeded request joined to `result` (its content, and
    /// answer text as a JSON string literal) into `out`, as every join path does.
    pub fn render_merged(
        out: &mut Vec<u8>,
        request: &[u8],
        id_raw: &[u8],
        result: &[u8],
        text: Option<&[u8]>,
    ) {
        let rb = crate::render::ResultBytes {
            content: result,
            text,
            stop: None,
            answer_problem: None,
        };
        crate::render::render_line(
            out,
            Some(request),
            Some(id_raw),
            crate::Status::Succeeded,
            Some(&rb),
            None,
            1,
        );
    }
    /// Builds the duplicate-result table over `ids` (all succeeded) and finds each again;
    /// returns how many were found (duplicates count once).
    pub fn result_table(ids: &[&[u8]]) -> usize {
        struct K<'a>(&'a [&'a [u8]], Vec<u64>);
        impl crate::probe::Keys for K<'_> {
            fn id(&self, i: u32) -> &[u8] {
                self.0[i as usize]
            }
            fn hash(&self, i: u32) -> u64 {
                self.1[i as usize]
            }
            fn status(&self, _: u32) -> crate::Status {
                crate::Status::Succeeded
            }
            fn file(&self, _: u32) -> u32 {
                0
            }
        }
        let k = K(ids, ids.iter().map(|i| hash_id(i)).collect());
        let mut t = crate::probe::ResultTable::with_capacity(ids.len());
        for i in 0..ids.len() as u32 {
            t.insert(i, &k);
        }
        (0..ids.len())
            .filter(|&i| t.find(k.1[i], ids[i], &k) == Some(i as u32))
            .count()
    }
}

/// What became of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// The provider answered with a 2xx / `succeeded` / a response, and the model finished on
    /// its own (or with a stop reason batchkit does not know).
    Succeeded,
    /// Answered, but cut by the output cap or the context window (`length`, `max_tokens`,
    /// `MAX_TOKENS`, Responses `incomplete` with `max_output_tokens`...).
    Truncated,
    /// Answered, but refused or filtered (`content_filter`, `message.refusal`, Anthropic
    /// `refusal`, Gemini `SAFETY`, a blocked prompt...).
    Refused,
    /// Finished, but the request asked for structured output and the answer is not JSON or
    /// breaks the schema.
    InvalidAnswer,
    /// The provider reported an error for it (HTTP 4xx/5xx included, even with `"error": null`).
    Errored,
    /// The batch expired before the request ran.
    Expired,
    /// The batch was cancelled before the request ran.
    Canceled,
    /// No result names it (or the request line could not be joined at all).
    Missing,
}

impl Status {
    /// Every status, in report order.
    pub const ALL: [Status; 8] = [
        Status::Succeeded,
        Status::Truncated,
        Status::Refused,
        Status::InvalidAnswer,
        Status::Errored,
        Status::Expired,
        Status::Canceled,
        Status::Missing,
    ];

    /// The name used in outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Succeeded => "succeeded",
            Status::Truncated => "truncated",
            Status::Refused => "refused",
            Status::InvalidAnswer => "invalid_answer",
            Status::Errored => "errored",
            Status::Expired => "expired",
            Status::Canceled => "canceled",
            Status::Missing => "missing",
        }
    }

    fn to_u8(self) -> u8 {
        self as u8
    }

    fn from_u8(b: u8) -> Status {
        match b {
            0 => Status::Succeeded,
            1 => Status::Truncated,
            2 => Status::Refused,
            3 => Status::InvalidAnswer,
            4 => Status::Errored,
            5 => Status::Expired,
            6 => Status::Canceled,
            _ => Status::Missing,
        }
    }

    /// A status by its output name.
    pub fn parse(name: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// How good a result with this status is when several results name one id: succeeded
    /// beats invalid_answer, truncated, refused, errored, expired and canceled, in that order
    /// (higher is better).
    pub fn rank(self) -> u8 {
        match self {
            Status::Succeeded => 7,
            Status::InvalidAnswer => 6,
            Status::Truncated => 5,
            Status::Refused => 4,
            Status::Errored => 3,
            Status::Expired => 2,
            Status::Canceled => 1,
            Status::Missing => 0,
        }
    }
}

/// A set of statuses: which ones go to the retry file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusSet(u8);

impl StatusSet {
    /// No status.
    pub const EMPTY: StatusSet = StatusSet(0);

    /// The default of `--retry-on`: every status but `succeeded` and `refused`.
    pub const DEFAULT_RETRY: StatusSet = StatusSet(
        1 << Status::Truncated as u8
            | 1 << Status::InvalidAnswer as u8
            | 1 << Status::Errored as u8
            | 1 << Status::Expired as u8
            | 1 << Status::Canceled as u8
            | 1 << Status::Missing as u8,
    );

    /// `self` with `s` added.
    pub fn with(self, s: Status) -> StatusSet {
        StatusSet(self.0 | 1 << s as u8)
    }

    /// Whether `s` is in the set.
    pub fn contains(self, s: Status) -> bool {
        self.0 & (1 << s as u8) != 0
    }

    /// Parses a comma-separated list of status names (`errored,truncated`).
    pub fn parse(list: &str) -> Result<StatusSet, String> {
        let mut set = StatusSet::EMPTY;
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match Status::parse(name) {
                Some(s) => set = set.with(s),
                None => {
                    return Err(format!(
                        "unknown status {name:?} (one of: {})",
                        Status::ALL.map(Status::as_str).join(", ")
                    ))
                }
            }
        }
        Ok(set)
    }

    /// The statuses of the set, in [`Status::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Status> {
        Status::ALL.into_iter().filter(move |s| self.contains(*s))
    }
}

impl Default for StatusSet {
    fn default() -> Self {
        StatusSet::DEFAULT_RETRY
    }
}

/// Why a request or result line could not take part in the join normally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// Not one JSON value.
    InvalidJson,
    /// Not valid UTF-8.
    InvalidUtf8,
    /// A result line that is valid JSON but not an object.
    NotObject,
    /// No `custom_id` / `key`.
    MissingId,
    /// The id is not a string.
    InvalidId,
    /// A request whose id an earlier request line already used; it gets no result.
    DuplicateId,
    /// Longer than `--max-line-bytes`: reported, its bytes never held (so not copied anywhere).
    LineTooLarge,
    /// Vertex output rows carry no request id unless the request had a `custom_id`/`key`.
    VertexNoId,
}

/// The finding of a line of `loc` with problem `p` (not [`Problem::VertexNoId`], which is
/// reported once per file) in the one shape of every command.
pub(crate) fn problem_event(
    side: Side,
    p: Problem,
    loc: Loc,
    custom_id: Option<String>,
    first: Option<Loc>,
    said: render::Said,
) -> Event {
    let code = p
        .diagnostic_code()
        .unwrap_or(batchkit_line::Code::MissingField);
    let mut d =
        batchkit_line::Diagnostic::unplaced(code, batchkit_line::Severity::Error, said.message);
    d.line = Some(loc.line);
    d.offset = loc.offset;
    d.column = said.column;
    d.custom_id = custom_id;
    d.first_line = first.as_ref().map(|f| f.line);
    d.context = said.context.map(str::to_string);
    Event::Problem {
        side,
        file: loc.file,
        diagnostic: d,
        first,
    }
}

impl Problem {
    /// The stable code used in outputs.
    pub fn code(self) -> &'static str {
        self.diagnostic_code()
            .map_or("vertex_no_id", batchkit_line::Code::as_str)
    }

    /// The code of the diagnostic a line with this problem gets (`None` for
    /// [`Problem::VertexNoId`], reported once per file as its own event).
    pub fn diagnostic_code(self) -> Option<batchkit_line::Code> {
        use batchkit_line::Code;
        Some(match self {
            Problem::InvalidJson => Code::InvalidJson,
            Problem::InvalidUtf8 => Code::InvalidUtf8,
            Problem::NotObject => Code::NotObject,
            // validate's vocabulary: a request without an id misses a required field; an id
            // that is not a string has the wrong type.
            Problem::MissingId => Code::MissingField,
            Problem::InvalidId => Code::WrongType,
            Problem::DuplicateId => Code::DuplicateId,
            Problem::LineTooLarge => Code::LineTooLarge,
            Problem::VertexNoId => return None,
        })
    }

    fn to_u8(self) -> u8 {
        self as u8 + 1
    }

    fn from_u8(b: u8) -> Option<Problem> {
        Some(match b {
            1 => Problem::InvalidJson,
            2 => Problem::InvalidUtf8,
            3 => Problem::NotObject,
            4 => Problem::MissingId,
            5 => Problem::InvalidId,
            6 => Problem::DuplicateId,
            7 => Problem::LineTooLarge,
            8 => Problem::VertexNoId,
            _ => return None,
        })
    }

    /// A line that is not JSON at all: never copied into a merged or retry line.
    pub fn not_json(self) -> bool {
        matches!(self, Problem::InvalidJson | Problem::InvalidUtf8)
    }
}

/// A place in an input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Loc {
    /// Input name.
    pub file: String,
    /// 1-based line number.
    pub line: u64,
    /// Byte offset of the line start, when known.
    pub offset: Option<u64>,
}

/// Which side of the join a line belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// A `--requests` file.
    Request,
    /// A `--results` file.
    Result,
}

/// Something found while joining, reported as it is found (in a fixed order: result-file
/// problems, then request-file problems in request order, then duplicate results in result
/// order).
///
/// Serialises as a `batchkit join --format json` record, `{"type":"vertex_no_id",...}` or
/// `{"type":"duplicate_result",...}`; a [`Event::Problem`] is printed in the shape of every
/// command's findings instead, and does not serialise.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A line that could not be joined normally.
    #[serde(skip)]
    Problem {
        /// Request or result side.
        side: Side,
        /// The input the line is in.
        file: String,
        /// The finding, in the one shape of every command (validate's code and words; the
        /// join's doing in `context`; `first_line` for a repeated request id).
        diagnostic: batchkit_line::Diagnostic,
        /// For a repeated request id: the first request line with it (possibly in another
        /// request file).
        first: Option<Loc>,
    },
    /// Vertex rows without an id in one results file (one event per file, not per row).
    VertexNoId {
        /// The first such row.
        #[serde(flatten)]
        first: Loc,
        /// How many rows.
        count: u64,
    },
    /// A finished answer that is not the structured output its request asked for (status
    /// `invalid_answer`), in request order.
    InvalidAnswer {
        /// The request's id.
        custom_id: String,
        /// The request line.
        #[serde(flatten)]
        request: Loc,
        /// Where in the answer (a JSON pointer; empty for the whole answer).
        pointer: String,
        /// What is wrong.
        message: String,
    },
    /// Two results for one id.
    DuplicateResult {
        /// The id.
        custom_id: String,
        /// The result joined to the request.
        kept: Loc,
        /// The other one (written to the duplicates or orphans file).
        dropped: Loc,
    },
}

/// An id an earlier request file used first ([`JoinOptions::earlier`]): the decoded id, and
/// the file and line that used it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EarlierId {
    pub id: Vec<u8>,
    pub file: String,
    pub line: u64,
}

/// Global line indexes from here on stand for [`JoinOptions::earlier`]'s ids.
pub(crate) const EARLIER_BASE: u64 = 1 << 62;

/// What to join and where to write.
#[derive(Debug, Clone)]
pub struct JoinOptions {
    /// Request files, in order.
    pub requests: Vec<Input>,
    /// Result files (output and error files, any provider, any order).
    pub results: Vec<Input>,
    /// The merged file: one line per request, in request order.
    pub out: PathBuf,
    /// Request lines, byte-exact, of every request whose status is in [`JoinOptions::retry_on`]
    /// (a truncated one's output cap raised when [`JoinOptions::raise_max_tokens`] says so).
    pub retry: Option<PathBuf>,
    /// The statuses whose request lines go to the retry file (default
    /// [`StatusSet::DEFAULT_RETRY`]; `succeeded` is never retried).
    pub retry_on: StatusSet,
    /// Result lines whose id matches no request, and result lines without a usable id.
    pub orphans: Option<PathBuf>,
    /// Result lines that lost to another result for the same id (else they go to `orphans`).
    pub duplicates: Option<PathBuf>,
    /// Request lines that cannot be sent again as they are (no id, not an object, no payload
    /// where the line's shape needs one), byte-exact; they never go to the retry file.
    pub rejects: Option<PathBuf>,
    /// Where spill files go (default: the directory of `out`).
    pub temp_dir: Option<PathBuf>,
    /// The JSON Schema every finished answer must fit (`--answer-schema`), instead of the one
    /// its request asks for; a forced tool's input is checked against it too.
    pub answer_schema: Option<serde_json::Value>,
    /// Answers of requests that ask for no structured output must be JSON (`--expect-json`).
    pub expect_json: bool,
    /// `batchkit convert --id-map`'s file (`{"id":new,"original":old}` lines): a result
    /// naming a new id is joined to the request with the original one.
    pub id_map: Option<PathBuf>,
    /// `--raise-max-tokens`: the output cap of each `truncated` request line written to the
    /// retry file is multiplied by this factor (a finite number above 1), rounded up, and held
    /// to the model's output limit where the models table knows it; every other byte of the
    /// line is kept ([`raise::raise_cap`]). `None`: retry lines are copied as they are.
    pub raise_max_tokens: Option<f64>,
    /// `--partition`: join only the request and result lines of this part (the whole by
    /// default). The summaries of all parts add up to the whole run's, and their outputs,
    /// interleaved in request (or result) order, are the whole run's.
    pub partition: batchkit_io::part::Part,
    /// Ids whose first request line is in a file before these requests: a line naming one is
    /// a duplicate of that line (`duplicate_id`, never retried), as in one join over all the
    /// files. A join run per request file ([`keys`]) passes the ids earlier files used.
    pub earlier: Vec<EarlierId>,
    /// How to read the inputs, and the memory budget: the join keeps its partitions and its
    /// reader within [`Budget::join`](batchkit_io::Budget::join) (outputs and spill files are
    /// on disk).
    pub read: ReadOptions,
}

impl JoinOptions {
    /// Options with the defaults: 256 MiB, no retry/orphans/duplicates files.
    pub fn new(requests: Vec<Input>, results: Vec<Input>, out: impl Into<PathBuf>) -> Self {
        JoinOptions {
            requests,
            results,
            out: out.into(),
            retry: None,
            retry_on: StatusSet::DEFAULT_RETRY,
            orphans: None,
            duplicates: None,
            rejects: None,
            temp_dir: None,
            answer_schema: None,
            expect_json: false,
            id_map: None,
            raise_max_tokens: None,
            partition: batchkit_io::part::Part::WHOLE,
            earlier: Vec::new(),
            read: ReadOptions::default(),
        }
    }
}

/// Totals of one model's results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelUsage {
    /// Model name as the results report it (`(unknown)` when they don't).
    pub model: String,
    /// Summed usage.
    #[serde(flatten)]
    pub usage: Usage,
    /// What it cost at batch prices, USD rounded to 1e-9 (see [`JoinSummary::price`]);
    /// `None` when the model has no price, or before the summary is priced.
    pub cost_usd: Option<f64>,
    /// How many of its results (those that reported usage) stopped for each reason, the
    /// provider's own value (`{"stop": 9, "length": 1}`).
    pub stop_reasons: std::collections::BTreeMap<String, u64>,
}

/// What a join found: serialises as the `summary` record of `batchkit join --format json`
/// (without its `type` and `ok`), the statuses as one count each.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct JoinSummary {
    /// Request lines with a merged line each: every non-blank line but the invalid ones.
    pub requests: u64,
    /// Requests per status, indexed like [`Status::ALL`].
    #[serde(flatten, serialize_with = "per_status")]
    pub statuses: [u64; 8],
    /// Request lines that could not be joined normally (invalid UTF-8 or JSON, no id,
    /// duplicate id, too long), and runs of blank lines between requests (an error, as in
    /// validate; blank lines at the end of a file are only a warning).
    pub request_problems: u64,
    /// Request lines that are not valid UTF-8 or not JSON: reported, in neither the merged
    /// nor the retry file.
    pub invalid_requests: u64,
    /// Request lines whose status is one of [`JoinOptions::retry_on`] and that go to the retry
    /// file (counted even when no retry file is written).
    pub to_retry: u64,
    /// Request lines that did not succeed but are kept out of the retry file: too long to
    /// copy, an id an earlier line already used, or not sendable as they are (not an object,
    /// no id, no payload: those go to [`JoinOptions::rejects`]). (A status not in
    /// [`JoinOptions::retry_on`], `refused` by default, is counted in neither.)
    pub not_in_retry: u64,
    /// Finished answers checked against the structured output their request asked for (or
    /// `--answer-schema`, `--expect-json`); those that break it are `invalid_answer`.
    pub answers_checked: u64,
    /// Truncated request lines written to the retry file with their output cap raised
    /// ([`JoinOptions::raise_max_tokens`]).
    pub raised: u64,
    /// Truncated request lines written to the retry file unchanged although
    /// [`JoinOptions::raise_max_tokens`] asked to raise them: no cap field holding an integer,
    /// or the cap already at the model's output limit (retried as they are, they will likely
    /// be cut again).
    pub raise_unchanged: u64,
    /// Result lines read (blank lines excluded).
    pub results: u64,
    /// Results joined to a request.
    pub joined: u64,
    /// Of those, results joined by content: Vertex rows without an id, matched to the request
    /// they echo (identical requests in order).
    pub matched_by_content: u64,
    /// Results whose id matches no request.
    pub orphans: u64,
    /// Results that lost to another result for the same id.
    pub duplicates: u64,
    /// Result lines without a usable id (invalid UTF-8 or JSON, no id, Vertex rows).
    pub unjoinable: u64,
    /// Usage over every result line that reported one.
    pub usage: Usage,
    /// Usage per model, by model name.
    pub models: Vec<ModelUsage>,
    /// Total cost at batch prices over the priced models, USD rounded to 1e-9 (see
    /// [`JoinSummary::price`]); `None` when there is usage and no model of it has a price
    /// (unknown, not free), or before the summary is priced.
    pub cost_usd: Option<f64>,
    /// Whether some reported usage has no price.
    pub cost_incomplete: bool,
    /// Date of the prices the summary was priced with.
    pub prices_as_of: Option<String>,
    /// Whether the join spilled to disk.
    pub spilled: bool,
    /// Partitions used when it spilled.
    pub partitions: u32,
}

impl JoinSummary {
    /// Requests with `status`.
    pub fn count(&self, status: Status) -> u64 {
        self.statuses[status as usize]
    }

    /// Prices the usage at `prices`: each model's cost, the total, whether some usage has
    /// no price, and the date of the prices. [`join`] leaves the cost unknown: where prices
    /// come from is the caller's choice ([`default_prices`] for the embedded table).
    pub fn price(&mut self, prices: &dyn Prices) {
        let (per, total) = batch_cost(&self.models, prices);
        self.cost_incomplete = per.iter().any(Option::is_none);
        for (m, c) in self.models.iter_mut().zip(per) {
            m.cost_usd = c;
        }
        self.cost_usd = total;
        self.prices_as_of = prices.as_of();
    }

    /// Whether everything succeeded and every result was joined exactly once.
    pub fn clean(&self) -> bool {
        self.count(Status::Succeeded) == self.requests
            && self.orphans == 0
            && self.duplicates == 0
            && self.unjoinable == 0
            && self.request_problems == 0
    }
}

/// The counts per status as `"succeeded": n, "errored": n, ...`, in [`Status::ALL`] order.
fn per_status<S: serde::Serializer>(statuses: &[u64; 8], ser: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = ser.serialize_map(Some(statuses.len()))?;
    for (status, n) in Status::ALL.iter().zip(statuses) {
        map.serialize_entry(status.as_str(), n)?;
    }
    map.end()
}

/// Where a join puts what it finds: the one [`Sink`] of every batchkit job (progress after
/// each chunk of each input, results first, then requests, then again for a spilled join's
/// second pass), plus the join's own events (a line that could not be joined, with its side;
/// Vertex rows without an id; duplicate results). An error (a closed pipe) stops the join
/// with [`JoinError::Report`]; `Ok(false)` is taken as "go on": a join writes its outputs
/// whole.
pub trait JoinSink: Sink<Error = std::io::Error> {
    /// One event, in the order they are found (see [`Event`]).
    fn event(&mut self, e: &Event) -> std::io::Result<()>;
}

/// The sink a join is given.
pub type EventSink<'a> = dyn JoinSink + 'a;

/// A closure over events is a join sink that drops progress: `join(&opts, &mut Events(|e|
/// ...))`.
pub struct Events<F>(pub F);

impl<F: FnMut(&Event) -> std::io::Result<()>> Sink for Events<F> {
    type Error = std::io::Error;

    fn finding(&mut self, _: &str, _: &batchkit_line::Diagnostic) -> std::io::Result<bool> {
        Ok(true)
    }
}

impl<F: FnMut(&Event) -> std::io::Result<()>> JoinSink for Events<F> {
    fn event(&mut self, e: &Event) -> std::io::Result<()> {
        (self.0)(e)
    }
}

/// Errors that stop a join. Each names the file (and line when there is one).
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    /// An input could not be read.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// Passing an event on failed (the printer's output is closed or full).
    #[error("writing findings")]
    Report(#[source] std::io::Error),
    /// An output or spill file could not be written or read back.
    #[error("{path}: {}", batchkit_io::describe(source))]
    Io {
        /// The file.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// An output file could not be written: the flag that named it and the cause (which
    /// names the file).
    #[error("{flag} {}", batchkit_io::describe(source))]
    Output {
        /// The flag (`--out`, `--retry`, ...).
        flag: &'static str,
        /// Cause.
        source: std::io::Error,
    },
    /// The options cannot work.
    #[error("{0}")]
    Usage(String),
}

impl JoinError {
    /// The input that could not be read, when that is what stopped the join.
    pub fn read_error(&self) -> Option<&ReadError> {
        match self {
            JoinError::Read(r) => Some(r),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_priced_summary_serialises_as_the_summary_record() {
        struct Flat;
        impl Prices for Flat {
            fn batch_price(&self, model: &str) -> Option<BatchPrice> {
                (model == "m").then_some(BatchPrice {
                    input: 1.0,
                    cached_input: None,
                    cache_write: None,
                    cache_write_1h: None,
                    output: 2.0,
                })
            }
            fn as_of(&self) -> Option<String> {
                Some("2026-01-01".into())
            }
        }
        let usage = Usage {
            input: 1_000_000,
            output: 500_000,
            results: 1,
            ..Usage::default()
        };
        let model = |name: &str| ModelUsage {
            model: name.into(),
            usage,
            cost_usd: None,
            stop_reasons: Default::default(),
        };
        let mut s = JoinSummary {
            requests: 2,
            statuses: [1, 0, 0, 0, 0, 0, 0, 1],
            models: vec![model("m"), model("x")],
            ..JoinSummary::default()
        };
        s.price(&Flat);
        assert_eq!(s.models[0].cost_usd, Some(2.0));
        assert_eq!(s.models[1].cost_usd, None);
        assert_eq!((s.cost_usd, s.cost_incomplete), (Some(2.0), true));
        let json = serde_json::to_string(&s).unwrap();
        assert!(
            json.starts_with(
                r#"{"requests":2,"succeeded":1,"truncated":0,"refused":0,"invalid_answer":0,"errored":0,"expired":0,"canceled":0,"missing":1,"request_problems":0,"#
            ),
            "{json}"
        );
        assert!(
            json.contains(r#"{"model":"m","input_tokens":1000000,"cached_tokens":0,"cache_write_tokens":0,"cache_write_1h_tokens":0,"output_tokens":500000,"reasoning_tokens":0,"results_with_usage":1,"cost_usd":2.0,"stop_reasons":{}}"#),
            "{json}"
        );
        assert!(
            json.ends_with(r#""cost_usd":2.0,"cost_incomplete":true,"prices_as_of":"2026-01-01","spilled":false,"partitions":0}"#),
            "{json}"
        );
    }
}
